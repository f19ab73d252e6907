#include "auth/webauthn.h"

#include <cbor.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "core/json_limits.h"
#include "pki/openssl_util.h"

namespace aaj::auth::webauthn {
namespace {

using pki::BignumPtr;
using pki::EvpMdCtxPtr;
using pki::EvpPkeyCtxPtr;
using pki::EvpPkeyPtr;
using pki::X509Ptr;

Error err(std::string code, std::string detail) {
  return Error{std::move(code), std::move(detail)};
}

const unsigned char* u8(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

std::string sha256(std::string_view data) {
  unsigned char md[32];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1 || len != 32) {
    pki::clear_openssl_errors();
    return {};  // never equal to a 32-byte hash; only happens without a working provider
  }
  return std::string(reinterpret_cast<char*>(md), len);
}

bool equal_bytes(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// ---------------------------------------------------------------------------------------------
// CBOR. libcbor builds a tree and frees it recursively, and allocates arrays/maps at their
// declared size before reading the elements, so hostile input is first walked here without
// allocation: definite lengths only (CTAP2 canonical form never uses indefinite ones), every
// declared length must fit in the remaining bytes, nesting is capped, no tags.

// Byte length of the one well-formed data item at the start of `in`, or nullopt.
std::optional<size_t> cbor_item_length(std::string_view in, int max_depth) {
  const size_t n = in.size();
  size_t pos = 0;
  std::vector<uint64_t> todo{1};  // items still to read at each open level
  while (!todo.empty()) {
    if (todo.back() == 0) {
      todo.pop_back();
      continue;
    }
    --todo.back();
    if (pos >= n) return std::nullopt;
    const auto ib = static_cast<uint8_t>(in[pos++]);
    const int major = ib >> 5, ai = ib & 0x1f;
    uint64_t val = 0;
    if (ai < 24) {
      val = static_cast<uint64_t>(ai);
    } else if (ai <= 27) {
      const size_t len = size_t{1} << (ai - 24);
      if (n - pos < len) return std::nullopt;
      for (size_t i = 0; i < len; ++i) val = (val << 8) | static_cast<uint8_t>(in[pos + i]);
      pos += len;
    } else {
      return std::nullopt;  // 28..30 reserved, 31 indefinite length / break
    }
    switch (major) {
      case 0:  // unsigned int
      case 1:  // negative int
        break;
      case 2:  // byte string
      case 3:  // text string
        if (val > n - pos) return std::nullopt;
        pos += static_cast<size_t>(val);
        break;
      case 4:  // array: each element takes at least one byte
        if (val > n - pos) return std::nullopt;
        todo.push_back(val);
        break;
      case 5:  // map: each pair takes at least two bytes
        if (val > (n - pos) / 2) return std::nullopt;
        todo.push_back(val * 2);
        break;
      case 6:  // tag: WebAuthn structures never carry one
        return std::nullopt;
      default:  // 7: simple values and floats; one-byte simple values below 32 are invalid
        if (ai == 24 && val < 32) return std::nullopt;
        break;
    }
    if (todo.size() > static_cast<size_t>(max_depth) + 1) return std::nullopt;
  }
  return pos;
}

struct CborDeleter {
  void operator()(cbor_item_t* p) const { cbor_decref(&p); }
};
using CborPtr = std::unique_ptr<cbor_item_t, CborDeleter>;

// Decodes exactly one item filling all of `in`; nullptr when malformed.
CborPtr cbor_decode_exact(std::string_view in) {
  auto len = cbor_item_length(in, kMaxCborDepth);
  if (!len || *len != in.size()) return nullptr;
  cbor_load_result res{};
  CborPtr item(cbor_load(u8(in), in.size(), &res));
  if (!item || res.error.code != CBOR_ERR_NONE || res.read != in.size()) return nullptr;
  return item;
}

// Typed reads of a (possibly null) item; false when absent or of another type. (Out-parameters
// rather than std::optional: GCC 12 reports false -Wmaybe-uninitialized on the latter.)
bool cbor_bytes(const cbor_item_t* it, std::string_view* out) {
  if (!it || !cbor_isa_bytestring(it) || !cbor_bytestring_is_definite(it)) return false;
  *out = std::string_view(reinterpret_cast<const char*>(cbor_bytestring_handle(it)),
                          cbor_bytestring_length(it));
  return true;
}

bool cbor_text(const cbor_item_t* it, std::string_view* out) {
  if (!it || !cbor_isa_string(it) || !cbor_string_is_definite(it)) return false;
  *out = std::string_view(reinterpret_cast<const char*>(cbor_string_handle(it)),
                          cbor_string_length(it));
  return true;
}

bool cbor_int64(const cbor_item_t* it, int64_t* out) {
  if (!it || !cbor_is_int(it)) return false;
  const uint64_t v = cbor_get_int(it);
  if (v > static_cast<uint64_t>(INT64_MAX)) return false;
  *out = cbor_isa_uint(it) ? static_cast<int64_t>(v) : -1 - static_cast<int64_t>(v);
  return true;
}

// Looks up a text key in a definite map. Sets *dup when the key occurs twice (a duplicate key
// could make two parsers disagree, so it is treated as malformed).
const cbor_item_t* map_get_text(const cbor_item_t* map, std::string_view key, bool* dup) {
  const cbor_item_t* found = nullptr;
  const size_t n = cbor_map_size(map);
  const cbor_pair* pairs = cbor_map_handle(map);
  for (size_t i = 0; i < n; ++i) {
    std::string_view k;
    if (cbor_text(pairs[i].key, &k) && k == key) {
      if (found) *dup = true;
      found = pairs[i].value;
    }
  }
  return found;
}

const cbor_item_t* map_get_int(const cbor_item_t* map, int64_t key, bool* dup) {
  const cbor_item_t* found = nullptr;
  const size_t n = cbor_map_size(map);
  const cbor_pair* pairs = cbor_map_handle(map);
  for (size_t i = 0; i < n; ++i) {
    int64_t k = 0;
    if (cbor_int64(pairs[i].key, &k) && k == key) {
      if (found) *dup = true;
      found = pairs[i].value;
    }
  }
  return found;
}

// ---------------------------------------------------------------------------------------------
// clientDataJSON (WebAuthn L2 §5.8.1).

// JSON-quoted, shortened copy of an untrusted string for Error::detail.
std::string printable(std::string_view s) {
  std::string cut(s.substr(0, 64));
  return nlohmann::json(cut).dump(-1, ' ', true, nlohmann::json::error_handler_t::replace) +
         (s.size() > 64 ? "..." : "");
}

Status check_client_data(const RelyingParty& rp, std::string_view type,
                         std::string_view expected_challenge, std::string_view cdj) {
  if (cdj.empty() || cdj.size() > kMaxClientDataJson || json_limits::too_deep(cdj))
    return err("malformed", "clientDataJSON empty, too large or too deeply nested");
  auto j = nlohmann::json::parse(cdj, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    return err("malformed", "clientDataJSON is not an object");
  auto str = [&](const char* key) -> const std::string* {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get_ptr<const std::string*>() : nullptr;
  };
  const std::string* t = str("type");
  const std::string* c = str("challenge");
  const std::string* o = str("origin");
  if (!t || !c || !o) return err("malformed", "clientDataJSON lacks type, challenge or origin");
  if (*t != type) return err("wrong_type", "clientDataJSON.type is " + printable(*t));
  // Compare the text (as the spec does): base64url_encode output is canonical.
  if (!equal_bytes(*c, base64url_encode(expected_challenge)))
    return err("challenge_mismatch", "clientDataJSON.challenge differs from the one issued");
  bool origin_ok = false;
  for (const auto& allowed : rp.origins) origin_ok = origin_ok || allowed == *o;
  if (!origin_ok) return err("origin_mismatch", "origin " + printable(*o) + " is not accepted");
  // A ceremony run inside a cross-origin iframe is another site acting for the user.
  if (auto it = j.find("crossOrigin"); it != j.end()) {
    if (!it->is_boolean()) return err("malformed", "clientDataJSON.crossOrigin is not a boolean");
    if (it->get<bool>()) return err("origin_mismatch", "cross-origin ceremony refused");
  }
  if (j.contains("topOrigin")) return err("origin_mismatch", "cross-origin ceremony refused");
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// authenticatorData (WebAuthn L2 §6.1).

constexpr uint8_t kFlagUp = 0x01, kFlagUv = 0x04, kFlagBe = 0x08, kFlagBs = 0x10, kFlagAt = 0x40,
                  kFlagEd = 0x80;

struct AuthData {
  std::string_view rp_id_hash;
  uint8_t flags = 0;
  uint32_t sign_count = 0;
  // Present when AT is set.
  std::string_view aaguid, credential_id, cose_key;
};

// Splits authenticatorData; every length comes from the input, so every read is bounds-checked
// and nothing may follow the last declared part.
Result<AuthData> parse_auth_data(std::string_view ad) {
  if (ad.size() < 37) return err("malformed", "authenticatorData shorter than 37 bytes");
  if (ad.size() > kMaxAuthenticatorData) return err("malformed", "authenticatorData too large");
  AuthData out;
  out.rp_id_hash = ad.substr(0, 32);
  out.flags = static_cast<uint8_t>(ad[32]);
  out.sign_count = (uint32_t{static_cast<uint8_t>(ad[33])} << 24) |
                   (uint32_t{static_cast<uint8_t>(ad[34])} << 16) |
                   (uint32_t{static_cast<uint8_t>(ad[35])} << 8) | static_cast<uint8_t>(ad[36]);
  size_t pos = 37;
  if (out.flags & kFlagAt) {
    if (ad.size() - pos < 18) return err("malformed", "attested credential data truncated");
    out.aaguid = ad.substr(pos, 16);
    const size_t id_len =
        (size_t{static_cast<uint8_t>(ad[pos + 16])} << 8) | static_cast<uint8_t>(ad[pos + 17]);
    pos += 18;
    if (id_len == 0 || id_len > kMaxCredentialId)
      return err("malformed", "credential id length " + std::to_string(id_len) + " not in 1..1023");
    if (ad.size() - pos < id_len) return err("malformed", "credential id truncated");
    out.credential_id = ad.substr(pos, id_len);
    pos += id_len;
    auto key_len = cbor_item_length(ad.substr(pos), kMaxCborDepth);
    if (!key_len) return err("malformed", "credential public key is not well-formed CBOR");
    out.cose_key = ad.substr(pos, *key_len);
    pos += *key_len;
  }
  if (out.flags & kFlagEd) {
    auto rest = ad.substr(pos);
    auto ext_len = cbor_item_length(rest, kMaxCborDepth);
    if (!ext_len || (static_cast<uint8_t>(rest[0]) >> 5) != 5)
      return err("malformed", "extensions are not a well-formed CBOR map");
    pos += *ext_len;
  }
  if (pos != ad.size()) return err("malformed", "trailing bytes after authenticatorData");
  if ((out.flags & kFlagBs) && !(out.flags & kFlagBe))
    return err("malformed", "backup state set without backup eligibility");
  return out;
}

Status check_flags(const RelyingParty& rp, const AuthData& ad, bool require_uv) {
  if (!equal_bytes(ad.rp_id_hash, sha256(rp.id)))
    return err("rp_mismatch", "rpIdHash is not SHA-256 of the RP ID " + printable(rp.id));
  if (!(ad.flags & kFlagUp)) return err("user_not_present", "UP flag not set");
  if (require_uv && !(ad.flags & kFlagUv)) return err("user_not_verified", "UV flag not set");
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Keys and signatures.

Result<std::string> spki_der(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(key, &der);
  if (len <= 0) {
    pki::clear_openssl_errors();
    return err("malformed", "cannot encode the public key");
  }
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

// Checks that `key` is usable with COSE `alg`: P-256 for ES256, RSA >= 2048 bits for RS256.
Status check_key_for_alg(EVP_PKEY* key, int alg) {
  if (alg == kEs256) {
    char group[64] = {0};
    size_t glen = 0;
    if (EVP_PKEY_is_a(key, "EC") &&
        EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                       &glen) == 1 &&
        std::string_view(group, glen) == "prime256v1")
      return Status::Ok();
    pki::clear_openssl_errors();
    return err("unsupported_algorithm", "ES256 needs a P-256 key");
  }
  if (alg == kRs256) {
    if (EVP_PKEY_is_a(key, "RSA") && EVP_PKEY_get_bits(key) >= 2048) return Status::Ok();
    return err("unsupported_algorithm", "RS256 needs an RSA key of at least 2048 bits");
  }
  return err("unsupported_algorithm", "COSE algorithm " + std::to_string(alg) + " not supported");
}

// Verifies `sig` over `data` (SHA-256 inside). bad_signature on any mismatch.
Status verify_signature(EVP_PKEY* key, int alg, std::string_view data, std::string_view sig) {
  if (auto st = check_key_for_alg(key, alg); !st) return st;
  if (sig.empty() || sig.size() > kMaxSignature) return err("bad_signature", "signature size");
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  bool ok = ctx && EVP_DigestVerifyInit(ctx.get(), &pctx, EVP_sha256(), nullptr, key) == 1;
  if (ok && alg == kRs256) ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1;
  // ES256: OpenSSL parses the DER ECDSA-Sig-Value strictly (re-encodes and compares).
  ok = ok && EVP_DigestVerify(ctx.get(), u8(sig), sig.size(), u8(data), data.size()) == 1;
  pki::clear_openssl_errors();
  if (!ok) return err("bad_signature", "signature does not verify");
  return Status::Ok();
}

Result<EvpPkeyPtr> key_from_params(const char* type, OSSL_PARAM_BLD* bld) {
  std::unique_ptr<OSSL_PARAM, pki::OsslDeleter<OSSL_PARAM_free>> params(
      OSSL_PARAM_BLD_to_param(bld));
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    pki::clear_openssl_errors();
    return err("malformed", std::string("invalid ") + type + " public key");
  }
  EvpPkeyPtr key(raw);
  // fromdata decodes an EC point on the curve already; the explicit check also covers RSA
  // (odd modulus, e > 1) and costs microseconds.
  EvpPkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    pki::clear_openssl_errors();
    return err("malformed", std::string("invalid ") + type + " public key");
  }
  return key;
}

struct CoseKey {
  EvpPkeyPtr key;
  int alg = 0;
};

// COSE_Key (RFC 9053) to an EVP_PKEY. Labels: 1 kty, 3 alg; EC2: -1 crv, -2 x, -3 y;
// RSA: -1 n, -2 e.
Result<CoseKey> parse_cose_key(std::string_view cbor) {
  CborPtr map = cbor_decode_exact(cbor);
  if (!map || !cbor_isa_map(map.get()) || !cbor_map_is_definite(map.get()))
    return err("malformed", "credential public key is not a CBOR map");
  bool dup = false;
  auto get = [&](int64_t label) { return map_get_int(map.get(), label, &dup); };
  const cbor_item_t *kty_i = get(1), *alg_i = get(3), *m1 = get(-1), *m2 = get(-2), *m3 = get(-3);
  if (dup) return err("malformed", "duplicate label in COSE key");
  int64_t kty = 0, alg = 0;
  if (!cbor_int64(kty_i, &kty) || !cbor_int64(alg_i, &alg))
    return err("malformed", "COSE key lacks kty or alg");
  if (kty == 2 && alg == kEs256) {
    int64_t crv = 0;
    if (!cbor_int64(m1, &crv)) return err("malformed", "COSE EC2 key lacks crv");
    if (crv != 1) return err("unsupported_algorithm", "ES256 key not on P-256");
    std::string_view x, y;
    if (!cbor_bytes(m2, &x) || !cbor_bytes(m3, &y) || x.size() != 32 || y.size() != 32)
      return err("malformed", "COSE EC2 key needs 32-byte x and y");
    std::string point = "\x04" + std::string(x) + std::string(y);
    std::unique_ptr<OSSL_PARAM_BLD, pki::OsslDeleter<OSSL_PARAM_BLD_free>> bld(
        OSSL_PARAM_BLD_new());
    if (!bld ||
        OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) !=
            1 ||
        OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                         point.size()) != 1)
      return err("malformed", "cannot build EC key parameters");
    auto key = key_from_params("EC", bld.get());
    if (!key) return key.error();
    return CoseKey{std::move(*key), kEs256};
  }
  if (kty == 3 && alg == kRs256) {
    std::string_view n, e;
    if (!cbor_bytes(m1, &n) || !cbor_bytes(m2, &e) || n.empty() || e.empty() || e.size() > 8 ||
        n.size() > 1024)
      return err("malformed", "COSE RSA key needs n (<= 8192 bits) and e (<= 64 bits)");
    BignumPtr bn_n(BN_bin2bn(u8(n), static_cast<int>(n.size()), nullptr));
    BignumPtr bn_e(BN_bin2bn(u8(e), static_cast<int>(e.size()), nullptr));
    if (!bn_n || !bn_e) return err("malformed", "cannot read RSA n/e");
    if (BN_num_bits(bn_n.get()) < 2048)
      return err("unsupported_algorithm", "RSA key shorter than 2048 bits");
    std::unique_ptr<OSSL_PARAM_BLD, pki::OsslDeleter<OSSL_PARAM_BLD_free>> bld(
        OSSL_PARAM_BLD_new());
    if (!bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1)
      return err("malformed", "cannot build RSA key parameters");
    auto key = key_from_params("RSA", bld.get());
    if (!key) return key.error();
    return CoseKey{std::move(*key), kRs256};
  }
  return err("unsupported_algorithm", "COSE key kty " + std::to_string(kty) + " alg " +
                                          std::to_string(alg) + " not supported");
}

// ---------------------------------------------------------------------------------------------
// Attestation statements (WebAuthn L2 §8.2 "packed", §8.7 "none").

// id-fido-gen-ce-aaguid: the AAGUID an attestation certificate vouches for.
constexpr const char* kOidFidoAaguid = "1.3.6.1.4.1.45724.1.1.4";

// The attestation certificate requirements of §8.2.1 that do not depend on trusting a chain.
Status check_attestation_cert(X509* cert, std::string_view aaguid) {
  if (X509_get_version(cert) != 2) return err("malformed", "attestation certificate is not v3");
  // X509_get_extension_flags caches the extensions and flags bad ones as EXFLAG_INVALID.
  const uint32_t ex = X509_get_extension_flags(cert);
  if (ex & EXFLAG_INVALID) return err("malformed", "attestation certificate extensions invalid");
  if (ex & EXFLAG_CA) return err("malformed", "attestation certificate is a CA");
  bool ou_ok = false;
  X509_NAME* subject = X509_get_subject_name(cert);
  for (int i = -1; (i = X509_NAME_get_index_by_NID(subject, NID_organizationalUnitName, i)) >= 0;) {
    const ASN1_STRING* v = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i));
    ou_ok = ou_ok || std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(v)),
                                      static_cast<size_t>(ASN1_STRING_length(v))) ==
                         "Authenticator Attestation";
  }
  if (!ou_ok)
    return err("malformed", "attestation certificate OU is not Authenticator Attestation");
  pki::Asn1ObjectPtr oid(OBJ_txt2obj(kOidFidoAaguid, 1));
  if (!oid) return err("malformed", "cannot build the AAGUID OID");
  int idx = X509_get_ext_by_OBJ(cert, oid.get(), -1);
  if (idx >= 0) {
    if (X509_get_ext_by_OBJ(cert, oid.get(), idx) >= 0)
      return err("malformed", "attestation certificate repeats the AAGUID extension");
    X509_EXTENSION* ext = X509_get_ext(cert, idx);
    if (X509_EXTENSION_get_critical(ext))
      return err("malformed", "AAGUID extension must not be critical");
    const ASN1_OCTET_STRING* outer = X509_EXTENSION_get_data(ext);
    const unsigned char* p = ASN1_STRING_get0_data(outer);
    const long len = ASN1_STRING_length(outer);
    std::unique_ptr<ASN1_OCTET_STRING, pki::OsslDeleter<ASN1_OCTET_STRING_free>> inner(
        d2i_ASN1_OCTET_STRING(nullptr, &p, len));
    if (!inner || p != ASN1_STRING_get0_data(outer) + len ||
        !equal_bytes(
            std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(inner.get())),
                             static_cast<size_t>(ASN1_STRING_length(inner.get()))),
            aaguid)) {
      pki::clear_openssl_errors();
      return err("malformed", "attestation certificate AAGUID differs from authenticatorData");
    }
  }
  return Status::Ok();
}

Status verify_attestation(std::string_view fmt, const cbor_item_t* att_stmt,
                          std::string_view auth_data, std::string_view client_data_hash,
                          const AuthData& ad, const CoseKey& cred) {
  if (!cbor_isa_map(att_stmt) || !cbor_map_is_definite(att_stmt))
    return err("malformed", "attStmt is not a map");
  if (fmt == "none") {
    if (cbor_map_size(att_stmt) != 0) return err("malformed", "attStmt of \"none\" is not empty");
    return Status::Ok();
  }
  if (fmt != "packed")
    return err("unsupported_attestation", "attestation format " + printable(fmt));
  bool dup = false;
  const cbor_item_t* alg_i = map_get_text(att_stmt, "alg", &dup);
  const cbor_item_t* sig_i = map_get_text(att_stmt, "sig", &dup);
  const cbor_item_t* x5c_i = map_get_text(att_stmt, "x5c", &dup);
  const cbor_item_t* ecdaa_i = map_get_text(att_stmt, "ecdaaKeyId", &dup);
  if (dup) return err("malformed", "duplicate key in attStmt");
  if (ecdaa_i) return err("unsupported_attestation", "ECDAA attestation");
  int64_t alg = 0;
  std::string_view sig;
  if (!cbor_int64(alg_i, &alg) || !cbor_bytes(sig_i, &sig))
    return err("malformed", "packed attStmt lacks alg or sig");
  if (alg != kEs256 && alg != kRs256)
    return err("unsupported_algorithm", "attestation alg " + std::to_string(alg));
  const std::string signed_data = std::string(auth_data) + std::string(client_data_hash);
  if (!x5c_i) {  // self attestation: signed by the credential key itself
    if (alg != cred.alg) return err("malformed", "self attestation alg differs from the key's");
    return verify_signature(cred.key.get(), cred.alg, signed_data, sig);
  }
  // Full attestation. Only the leaf is used: the chain is deliberately not validated (policy:
  // attestation trust is not required), so a forged certificate proves nothing, and nothing
  // here is treated as proof of the authenticator model.
  if (!cbor_isa_array(x5c_i) || !cbor_array_is_definite(x5c_i) || cbor_array_size(x5c_i) == 0)
    return err("malformed", "x5c is not a non-empty array");
  std::string_view leaf_der;
  for (size_t i = 0; i < cbor_array_size(x5c_i); ++i) {
    CborPtr elem(cbor_array_get(x5c_i, i));  // takes a reference; the array keeps its own
    std::string_view der;
    if (!cbor_bytes(elem.get(), &der)) return err("malformed", "x5c element is not a byte string");
    if (i == 0) leaf_der = der;
  }
  const unsigned char* p = u8(leaf_der);
  X509Ptr leaf(d2i_X509(nullptr, &p, static_cast<long>(leaf_der.size())));
  if (!leaf || p != u8(leaf_der) + leaf_der.size()) {
    pki::clear_openssl_errors();
    return err("malformed", "x5c leaf is not a DER certificate");
  }
  EVP_PKEY* leaf_key = X509_get0_pubkey(leaf.get());
  if (!leaf_key) {
    pki::clear_openssl_errors();
    return err("unsupported_algorithm", "x5c leaf key unreadable");
  }
  if (auto st = check_attestation_cert(leaf.get(), ad.aaguid); !st) return st;
  return verify_signature(leaf_key, static_cast<int>(alg), signed_data, sig);
}

}  // namespace

// ---------------------------------------------------------------------------------------------

std::string base64url_encode(std::string_view bytes) {
  std::string s = pki::base64_encode(bytes);
  while (!s.empty() && s.back() == '=') s.pop_back();
  for (char& c : s) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return s;
}

Result<std::string> base64url_decode(std::string_view text) {
  std::string std64(text);
  for (char& c : std64) {
    const bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (c == '-')
      c = '+';
    else if (c == '_')
      c = '/';
    else if (!alnum)
      return err("malformed", "not base64url text");
  }
  auto out = pki::base64_decode(std64);
  // Re-encoding rejects non-zero padding bits and a dangling sixth character.
  if (!out || base64url_encode(*out) != text) return err("malformed", "not base64url text");
  return std::move(*out);
}

Result<Credential> verify_registration(const RelyingParty& rp, std::string_view expected_challenge,
                                       std::string_view client_data_json,
                                       std::string_view attestation_object,
                                       bool require_user_verification) {
  if (auto st = check_client_data(rp, "webauthn.create", expected_challenge, client_data_json); !st)
    return st.error();
  if (attestation_object.size() > kMaxAttestationObject)
    return err("malformed", "attestationObject larger than 64 KiB");
  CborPtr obj = cbor_decode_exact(attestation_object);
  if (!obj || !cbor_isa_map(obj.get()) || !cbor_map_is_definite(obj.get()))
    return err("malformed", "attestationObject is not a well-formed CBOR map");
  bool dup = false;
  const cbor_item_t* fmt_i = map_get_text(obj.get(), "fmt", &dup);
  const cbor_item_t* stmt_i = map_get_text(obj.get(), "attStmt", &dup);
  const cbor_item_t* ad_i = map_get_text(obj.get(), "authData", &dup);
  if (dup) return err("malformed", "duplicate key in attestationObject");
  std::string_view fmt, auth_data;
  if (!cbor_text(fmt_i, &fmt) || !stmt_i || !cbor_bytes(ad_i, &auth_data))
    return err("malformed", "attestationObject lacks fmt, attStmt or authData");

  auto ad = parse_auth_data(auth_data);
  if (!ad) return ad.error();
  if (auto st = check_flags(rp, *ad, require_user_verification); !st) return st.error();
  if (!(ad->flags & kFlagAt)) return err("malformed", "no attested credential data (AT clear)");
  auto key = parse_cose_key(ad->cose_key);
  if (!key) return key.error();
  if (auto st = verify_attestation(fmt, stmt_i, auth_data, sha256(client_data_json), *ad, *key);
      !st)
    return st.error();

  auto der = spki_der(key->key.get());
  if (!der) return der.error();
  Credential c;
  c.id = std::string(ad->credential_id);
  c.public_key_der = std::move(*der);
  c.alg = key->alg;
  c.sign_count = ad->sign_count;
  c.aaguid_hex = pki::to_hex(ad->aaguid);
  c.backup_eligible = (ad->flags & kFlagBe) != 0;
  return c;
}

Result<AssertionResult> verify_assertion(
    const RelyingParty& rp, std::string_view expected_challenge, const Credential& credential,
    std::string_view client_data_json, std::string_view authenticator_data,
    std::string_view signature, bool require_user_verification) {
  if (auto st = check_client_data(rp, "webauthn.get", expected_challenge, client_data_json); !st)
    return st.error();
  auto ad = parse_auth_data(authenticator_data);
  if (!ad) return ad.error();
  if (auto st = check_flags(rp, *ad, require_user_verification); !st) return st.error();
  if (((ad->flags & kFlagBe) != 0) != credential.backup_eligible)
    return err("malformed", "backup eligibility differs from registration");

  const std::string& der = credential.public_key_der;
  const unsigned char* p = u8(der);
  EvpPkeyPtr key(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
  if (!key || p != u8(der) + der.size()) {
    pki::clear_openssl_errors();
    return err("malformed", "stored public key is not SubjectPublicKeyInfo DER");
  }
  const std::string signed_data = std::string(authenticator_data) + sha256(client_data_json);
  if (auto st = verify_signature(key.get(), credential.alg, signed_data, signature); !st)
    return st.error();

  // §6.1.1: a counter that does not grow means two copies of the private key exist.
  if ((ad->sign_count != 0 || credential.sign_count != 0) &&
      ad->sign_count <= credential.sign_count)
    return err("counter_regression", "signature counter " + std::to_string(ad->sign_count) +
                                         " not above stored " +
                                         std::to_string(credential.sign_count));
  return AssertionResult{ad->sign_count, (ad->flags & kFlagUv) != 0, (ad->flags & kFlagBs) != 0};
}

}  // namespace aaj::auth::webauthn
