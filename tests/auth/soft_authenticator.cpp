#include "soft_authenticator.h"

#include <cbor.h>
#include <openssl/core_names.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace aaj::auth::test {
namespace {

void need(bool ok, const char* what) {
  if (!ok)
    throw std::runtime_error(std::string("soft authenticator: ") + what + ": " +
                             pki::last_openssl_error());
}

struct CborDeleter {
  void operator()(cbor_item_t* p) const { cbor_decref(&p); }
};
using CborPtr = std::unique_ptr<cbor_item_t, CborDeleter>;

// Smallest encoding, as CTAP2 canonical CBOR requires.
cbor_item_t* cbor_int(int64_t v) {
  const bool neg = v < 0;
  const uint64_t u = neg ? static_cast<uint64_t>(-1 - v) : static_cast<uint64_t>(v);
  if (u <= 0xff) return neg ? cbor_build_negint8(static_cast<uint8_t>(u)) : cbor_build_uint8(u);
  if (u <= 0xffff)
    return neg ? cbor_build_negint16(static_cast<uint16_t>(u)) : cbor_build_uint16(u);
  if (u <= 0xffffffff)
    return neg ? cbor_build_negint32(static_cast<uint32_t>(u)) : cbor_build_uint32(u);
  return neg ? cbor_build_negint64(u) : cbor_build_uint64(u);
}

cbor_item_t* cbor_bstr(std::string_view b) {
  return cbor_build_bytestring(reinterpret_cast<cbor_data>(b.data()), b.size());
}

// Adds key/value in call order; callers pass keys already in canonical order.
void put(cbor_item_t* map, cbor_item_t* key, cbor_item_t* value) {
  need(key && value && cbor_map_add(map, cbor_pair{cbor_move(key), cbor_move(value)}),
       "cbor_map_add");
}

std::string serialize(const cbor_item_t* item) {
  unsigned char* buf = nullptr;
  size_t cap = 0;
  size_t len = cbor_serialize_alloc(item, &buf, &cap);
  need(len > 0, "cbor_serialize_alloc");
  std::string out(reinterpret_cast<char*>(buf), len);
  free(buf);
  return out;
}

std::string b64url(std::string_view bytes) {
  std::string s = pki::base64_encode(bytes);
  while (!s.empty() && s.back() == '=') s.pop_back();
  for (char& c : s) c = c == '+' ? '-' : c == '/' ? '_' : c;
  return s;
}

std::string sha256(std::string_view d) {
  unsigned char md[32];
  need(EVP_Digest(d.data(), d.size(), md, nullptr, EVP_sha256(), nullptr) == 1, "sha256");
  return std::string(reinterpret_cast<char*>(md), 32);
}

std::string bn_param(EVP_PKEY* key, const char* name, int pad) {
  BIGNUM* raw = nullptr;
  need(EVP_PKEY_get_bn_param(key, name, &raw) == 1, name);
  pki::BignumPtr bn(raw);
  std::string out(pad > 0 ? pad : BN_num_bytes(bn.get()), '\0');
  need(BN_bn2binpad(bn.get(), reinterpret_cast<unsigned char*>(out.data()),
                    static_cast<int>(out.size())) >= 0,
       "BN_bn2binpad");
  return out;
}

int cose_alg(SoftAuthenticator::Alg a) {
  switch (a) {
    case SoftAuthenticator::Alg::ES256:
      return -7;
    case SoftAuthenticator::Alg::RS256:
      return -257;
    case SoftAuthenticator::Alg::ES384:
      return -35;
    case SoftAuthenticator::Alg::EdDSA:
      return -8;
  }
  return 0;
}

const EVP_MD* digest_for(SoftAuthenticator::Alg a) {
  return a == SoftAuthenticator::Alg::ES384   ? EVP_sha384()
         : a == SoftAuthenticator::Alg::EdDSA ? nullptr  // Ed25519 hashes internally
                                              : EVP_sha256();
}

// A self-signed attestation certificate meeting WebAuthn §8.2.1 for `aaguid`.
pki::X509Ptr make_attestation_cert(EVP_PKEY* key, std::string_view aaguid) {
  pki::X509Ptr x(X509_new());
  need(x && X509_set_version(x.get(), 2) == 1 &&
           ASN1_INTEGER_set(X509_get_serialNumber(x.get()), 1) == 1 &&
           X509_gmtime_adj(X509_getm_notBefore(x.get()), 0) &&
           X509_gmtime_adj(X509_getm_notAfter(x.get()), 86400) &&
           X509_set_pubkey(x.get(), key) == 1,
       "X509 fields");
  X509_NAME* name = X509_get_subject_name(x.get());
  for (auto [field, value] : {std::pair{"C", "KZ"},
                              {"O", "aaj tests"},
                              {"OU", "Authenticator Attestation"},
                              {"CN", "aaj soft authenticator"}})
    need(X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                    reinterpret_cast<const unsigned char*>(value), -1, -1, 0) == 1,
         "subject");
  need(X509_set_issuer_name(x.get(), name) == 1, "issuer");
  pki::X509ExtensionPtr bc(
      X509V3_EXT_conf_nid(nullptr, nullptr, NID_basic_constraints, "critical,CA:FALSE"));
  need(bc && X509_add_ext(x.get(), bc.get(), -1) == 1, "basicConstraints");
  // id-fido-gen-ce-aaguid: extnValue = OCTET STRING { OCTET STRING aaguid }.
  std::unique_ptr<ASN1_OCTET_STRING, pki::OsslDeleter<ASN1_OCTET_STRING_free>> inner(
      ASN1_OCTET_STRING_new()),
      outer(ASN1_OCTET_STRING_new());
  need(inner && outer &&
           ASN1_OCTET_STRING_set(inner.get(), reinterpret_cast<const unsigned char*>(aaguid.data()),
                                 static_cast<int>(aaguid.size())) == 1,
       "aaguid");
  unsigned char* der = nullptr;
  int der_len = i2d_ASN1_OCTET_STRING(inner.get(), &der);
  need(der_len > 0 && ASN1_OCTET_STRING_set(outer.get(), der, der_len) == 1, "aaguid der");
  OPENSSL_free(der);
  pki::Asn1ObjectPtr oid(OBJ_txt2obj("1.3.6.1.4.1.45724.1.1.4", 1));
  pki::X509ExtensionPtr ext(X509_EXTENSION_create_by_OBJ(nullptr, oid.get(), 0, outer.get()));
  need(ext && X509_add_ext(x.get(), ext.get(), -1) == 1, "aaguid extension");
  need(X509_sign(x.get(), key, EVP_sha256()) > 0, "X509_sign");
  return x;
}

}  // namespace

SoftAuthenticator::SoftAuthenticator(std::string rp_id, Alg alg, int rsa_bits)
    : rp_id_(std::move(rp_id)), alg_(alg), aaguid_("aaj-soft-authn01") {
  switch (alg) {
    case Alg::ES256:
      key_.reset(EVP_EC_gen("P-256"));
      break;
    case Alg::ES384:
      key_.reset(EVP_EC_gen("P-384"));
      break;
    case Alg::RS256:
      key_.reset(EVP_RSA_gen(static_cast<unsigned>(rsa_bits)));
      break;
    case Alg::EdDSA:
      key_.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
      break;
  }
  need(key_ != nullptr, "key generation");
  credential_id_.resize(32);
  need(RAND_bytes(reinterpret_cast<unsigned char*>(credential_id_.data()), 32) == 1, "RAND");
}

std::string SoftAuthenticator::public_key_der() const {
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(key_.get(), &der);
  need(len > 0, "i2d_PUBKEY");
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

std::string SoftAuthenticator::cose_key() const {
  CborPtr m;
  switch (alg_) {
    case Alg::ES256:
    case Alg::ES384: {
      const int size = alg_ == Alg::ES256 ? 32 : 48;
      m.reset(cbor_new_definite_map(5));
      need(m != nullptr, "map");
      put(m.get(), cbor_int(1), cbor_int(2));  // kty EC2
      put(m.get(), cbor_int(3), cbor_int(cose_alg(alg_)));
      put(m.get(), cbor_int(-1), cbor_int(alg_ == Alg::ES256 ? 1 : 2));  // crv P-256 / P-384
      put(m.get(), cbor_int(-2), cbor_bstr(bn_param(key_.get(), OSSL_PKEY_PARAM_EC_PUB_X, size)));
      put(m.get(), cbor_int(-3), cbor_bstr(bn_param(key_.get(), OSSL_PKEY_PARAM_EC_PUB_Y, size)));
      break;
    }
    case Alg::RS256:
      m.reset(cbor_new_definite_map(4));
      need(m != nullptr, "map");
      put(m.get(), cbor_int(1), cbor_int(3));  // kty RSA
      put(m.get(), cbor_int(3), cbor_int(-257));
      put(m.get(), cbor_int(-1), cbor_bstr(bn_param(key_.get(), OSSL_PKEY_PARAM_RSA_N, 0)));
      put(m.get(), cbor_int(-2), cbor_bstr(bn_param(key_.get(), OSSL_PKEY_PARAM_RSA_E, 0)));
      break;
    case Alg::EdDSA: {
      std::string x(32, '\0');
      size_t len = x.size();
      need(EVP_PKEY_get_raw_public_key(key_.get(), reinterpret_cast<unsigned char*>(x.data()),
                                       &len) == 1 &&
               len == 32,
           "Ed25519 public key");
      m.reset(cbor_new_definite_map(4));
      need(m != nullptr, "map");
      put(m.get(), cbor_int(1), cbor_int(1));  // kty OKP
      put(m.get(), cbor_int(3), cbor_int(-8));
      put(m.get(), cbor_int(-1), cbor_int(6));  // crv Ed25519
      put(m.get(), cbor_int(-2), cbor_bstr(x));
      break;
    }
  }
  return serialize(m.get());
}

std::string SoftAuthenticator::auth_data(bool user_verified, bool with_credential) const {
  std::string out = sha256(rp_id_);
  uint8_t flags = (user_present_ ? 0x01 : 0) | (user_verified ? 0x04 : 0) | (be_ ? 0x08 : 0) |
                  (bs_ ? 0x10 : 0) | (with_credential ? 0x40 : 0);
  out.push_back(static_cast<char>(flags));
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(counter_ >> shift));
  if (with_credential) {
    out += aaguid_;
    out.push_back(static_cast<char>(credential_id_.size() >> 8));
    out.push_back(static_cast<char>(credential_id_.size() & 0xff));
    out += credential_id_;
    out += cose_key();
  }
  return out;
}

std::string SoftAuthenticator::client_data(std::string_view type, std::string_view challenge,
                                           const std::string& origin) const {
  // Same member order and compact form as Chromium.
  nlohmann::ordered_json j;
  j["type"] = std::string(type);
  j["challenge"] = b64url(challenge);
  j["origin"] = origin;
  j["crossOrigin"] = false;
  return j.dump();
}

std::string SoftAuthenticator::sign(EVP_PKEY* key, std::string_view data) const {
  pki::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  const EVP_MD* md = key == key_.get() ? digest_for(alg_) : EVP_sha256();
  size_t len = 0;
  need(ctx && EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, key) == 1 &&
           EVP_DigestSign(ctx.get(), nullptr, &len,
                          reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1,
       "sign init");
  std::string sig(len, '\0');
  need(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                      reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1,
       "sign");
  sig.resize(len);
  return sig;
}

SoftAuthenticator::Created SoftAuthenticator::create(std::string_view challenge,
                                                     const std::string& origin, bool user_verified,
                                                     const std::string& fmt) {
  Created out;
  out.credential_id = credential_id_;
  out.client_data_json = client_data("webauthn.create", challenge, origin);
  const std::string ad = auth_data(user_verified, /*with_credential=*/true);
  const std::string signed_data = ad + sha256(out.client_data_json);

  CborPtr stmt;
  std::string fmt_out = fmt;
  if (fmt == "packed") {
    stmt.reset(cbor_new_definite_map(2));
    need(stmt != nullptr, "map");
    put(stmt.get(), cbor_build_string("alg"), cbor_int(cose_alg(alg_)));
    put(stmt.get(), cbor_build_string("sig"), cbor_bstr(sign(key_.get(), signed_data)));
  } else if (fmt == "packed+x5c") {
    fmt_out = "packed";
    pki::EvpPkeyPtr att_key(EVP_EC_gen("P-256"));
    need(att_key != nullptr, "attestation key");
    pki::X509Ptr cert = make_attestation_cert(att_key.get(), aaguid_);
    unsigned char* der = nullptr;
    int der_len = i2d_X509(cert.get(), &der);
    need(der_len > 0, "i2d_X509");
    std::string cert_der(reinterpret_cast<char*>(der), static_cast<size_t>(der_len));
    OPENSSL_free(der);
    CborPtr x5c(cbor_new_definite_array(1));
    need(x5c && cbor_array_push(x5c.get(), cbor_move(cbor_bstr(cert_der))), "x5c");
    stmt.reset(cbor_new_definite_map(3));
    need(stmt != nullptr, "map");
    put(stmt.get(), cbor_build_string("alg"), cbor_int(-7));
    put(stmt.get(), cbor_build_string("sig"), cbor_bstr(sign(att_key.get(), signed_data)));
    put(stmt.get(), cbor_build_string("x5c"), cbor_incref(x5c.get()));
  } else {
    stmt.reset(cbor_new_definite_map(0));
    need(stmt != nullptr, "map");
  }

  CborPtr obj(cbor_new_definite_map(3));
  need(obj != nullptr, "map");
  put(obj.get(), cbor_build_string("fmt"), cbor_build_string(fmt_out.c_str()));
  put(obj.get(), cbor_build_string("attStmt"), cbor_incref(stmt.get()));
  put(obj.get(), cbor_build_string("authData"), cbor_bstr(ad));
  out.attestation_object = serialize(obj.get());
  return out;
}

SoftAuthenticator::Asserted SoftAuthenticator::get(std::string_view challenge,
                                                   const std::string& origin, bool user_verified) {
  if (!frozen_) ++counter_;
  Asserted out;
  out.credential_id = credential_id_;
  out.client_data_json = client_data("webauthn.get", challenge, origin);
  out.authenticator_data = auth_data(user_verified, /*with_credential=*/false);
  out.signature = sign(key_.get(), out.authenticator_data + sha256(out.client_data_json));
  return out;
}

}  // namespace aaj::auth::test
