#include "pki/cms.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <algorithm>

namespace aaj::pki {
namespace {

constexpr const char* kClientAuth = "1.3.6.1.5.5.7.3.2";
constexpr const char* kEmailProtection = "1.3.6.1.5.5.7.3.4";
constexpr const char* kAnyEku = "2.5.29.37.0";

bool contains(const std::vector<std::string>& v, const char* s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::string algor_oid(const X509_ALGOR* alg) {
  const ASN1_OBJECT* obj = nullptr;
  if (alg != nullptr) X509_ALGOR_get0(&obj, nullptr, nullptr, alg);
  return oid_text(obj);
}

// "" when the digest is acceptable, else why not. SHA-1 and MD5 are refused: collisions are
// practical, and NCALayer signs with SHA-256 (RSA) anyway.
std::string digest_problem(const X509_ALGOR* alg) {
  std::string oid = algor_oid(alg);
  if (is_gost_oid(oid)) return "GOST digest " + oid + " is not supported";
  const ASN1_OBJECT* obj = nullptr;
  X509_ALGOR_get0(&obj, nullptr, nullptr, alg);
  switch (OBJ_obj2nid(obj)) {
    case NID_sha224:
    case NID_sha256:
    case NID_sha384:
    case NID_sha512:
    case NID_sha512_224:
    case NID_sha512_256:
    case NID_sha3_224:
    case NID_sha3_256:
    case NID_sha3_384:
    case NID_sha3_512:
      return "";
    case NID_sha1:
    case NID_md5:
      return "weak digest " + oid + " is not accepted";
    default:
      return "digest algorithm " + oid + " is not supported";
  }
}

std::string signature_problem(const X509_ALGOR* alg) {
  std::string oid = algor_oid(alg);
  if (is_gost_oid(oid)) return "GOST signature algorithm " + oid + " is not supported";
  const ASN1_OBJECT* obj = nullptr;
  X509_ALGOR_get0(&obj, nullptr, nullptr, alg);
  switch (OBJ_obj2nid(obj)) {
    case NID_rsaEncryption:
    case NID_sha224WithRSAEncryption:
    case NID_sha256WithRSAEncryption:
    case NID_sha384WithRSAEncryption:
    case NID_sha512WithRSAEncryption:
    case NID_rsassaPss:
    case NID_X9_62_id_ecPublicKey:
    case NID_ecdsa_with_SHA224:
    case NID_ecdsa_with_SHA256:
    case NID_ecdsa_with_SHA384:
    case NID_ecdsa_with_SHA512:
      return "";
    case NID_ED25519:
    case NID_ED448:
      return "EdDSA signatures in CMS are not supported";
    case NID_sha1WithRSAEncryption:
    case NID_ecdsa_with_SHA1:
    case NID_md5WithRSAEncryption:
      return "weak signature algorithm " + oid + " is not accepted";
    default:
      return "signature algorithm " + oid + " is not supported";
  }
}

std::optional<time::Instant> signing_time_of(CMS_SignerInfo* si) {
  int idx = CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1);
  if (idx < 0) return std::nullopt;
  X509_ATTRIBUTE* attr = CMS_signed_get_attr(si, idx);
  ASN1_TYPE* t = attr != nullptr ? X509_ATTRIBUTE_get0_type(attr, 0) : nullptr;
  if (t == nullptr || (t->type != V_ASN1_UTCTIME && t->type != V_ASN1_GENERALIZEDTIME))
    return std::nullopt;
  return from_asn1_time(t->value.utctime);
}

std::string chain_reason(int err, X509* at_cert) {
  switch (err) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return "expired";
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return "not_yet_valid";
    case X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY:
      return "unsupported_algorithm";
    case X509_V_ERR_CERT_SIGNATURE_FAILURE: {
      // A GOST-signed certificate "fails" because OpenSSL cannot check it, not because it is
      // forged: say so precisely.
      const X509_ALGOR* alg = nullptr;
      if (at_cert != nullptr) X509_get0_signature(nullptr, &alg, at_cert);
      return is_gost_oid(algor_oid(alg)) ? "unsupported_algorithm" : "untrusted";
    }
    default:
      return "untrusted";
  }
}

}  // namespace

std::string key_usage_problem(const CertInfo& s, Usage usage) {
  switch (usage) {
    case Usage::Any:
      if (s.has_key_usage && !s.digital_signature)
        return "the certificate's KeyUsage lacks digitalSignature";
      return "";
    case Usage::Authentication:
      if (s.profile != KeyProfile::Authentication && s.profile != KeyProfile::Unspecified)
        return "a " + std::string(to_string(s.profile)) +
               " certificate cannot be used for authentication (use the AUTH key)";
      if (!s.ekus.empty() && !contains(s.ekus, kClientAuth) && !contains(s.ekus, kAnyEku))
        return "the certificate's ExtendedKeyUsage lacks clientAuth";
      return "";
    case Usage::Signing:
      if (s.profile != KeyProfile::Signing && s.profile != KeyProfile::Unspecified)
        return "a " + std::string(to_string(s.profile)) +
               " certificate cannot sign requests (use the signing key with nonRepudiation)";
      if (!s.ekus.empty() && !contains(s.ekus, kEmailProtection) && !contains(s.ekus, kAnyEku))
        return "the certificate's ExtendedKeyUsage lacks emailProtection";
      return "";
  }
  return "unknown usage";
}

nlohmann::json to_json(const VerifyResult& r) {
  nlohmann::json j = {
      {"valid", r.valid},
      {"reason", r.reason},
      {"signer",
       {{"iin", r.signer.iin},
        {"common_name", r.signer.common_name},
        {"serial", r.signer.serial_hex}}},
      {"signing_time", nullptr},
      {"content", base64_encode(r.content)},
      {"revocation", r.revocation},
      {"detail", r.detail},
      {"cms_sha256", r.cms_sha256_hex},
  };
  if (r.signing_time) j["signing_time"] = time::format_utc(*r.signing_time);
  if (!r.signer.bin.empty()) j["signer"]["bin"] = r.signer.bin;  // organisation certificates only
  return j;
}

VerifyResult CmsVerifier::verify(std::string_view cms, const VerifyOptions& opts) const {
  return run(cms, std::nullopt, opts, true);
}

VerifyResult CmsVerifier::verify_detached(std::string_view cms, std::string_view content,
                                          const VerifyOptions& opts) const {
  return run(cms, content, opts, true);
}

VerifyResult CmsVerifier::verify_uncached(std::string_view cms, const VerifyOptions& opts) const {
  return run(cms, std::nullopt, opts, false);
}

VerifyResult CmsVerifier::verify_detached_uncached(std::string_view cms, std::string_view content,
                                                   const VerifyOptions& opts) const {
  return run(cms, content, opts, false);
}

CmsVerifier::ChainOutcome CmsVerifier::verify_chain(X509* signer, STACK_OF(X509) * untrusted,
                                                    time::Instant at) const {
  ChainOutcome out;
  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), trust_->store(), signer, untrusted) != 1) {
    out.reason = "untrusted";
    out.detail = "cannot set up chain verification: " + last_openssl_error();
    return out;
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_time(param, static_cast<time_t>(time::to_micros(at) / 1000000));
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
  // Purpose ANY: CMS's default "smimesign" purpose rejects NCA AUTH certificates (clientAuth
  // only); key usage is checked per operation by key_usage_problem() instead. (Set on the
  // param: X509_STORE_CTX_set_purpose() would not override a purpose inherited from the store.)
  X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_ANY);
  if (X509_verify_cert(ctx.get()) != 1) {
    int err = X509_STORE_CTX_get_error(ctx.get());
    int depth = X509_STORE_CTX_get_error_depth(ctx.get());
    X509* bad = X509_STORE_CTX_get_current_cert(ctx.get());
    out.reason = chain_reason(err, bad);
    out.detail = std::string(X509_verify_cert_error_string(err)) + " at depth " +
                 std::to_string(depth) +
                 (bad != nullptr ? " (" + name_to_string(X509_get_subject_name(bad)) + ")" : "") +
                 " as of " + time::format_utc(at);
    clear_openssl_errors();
    return out;
  }
  STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(ctx.get());
  X509* issuer = sk_X509_num(chain) > 1 ? sk_X509_value(chain, 1) : sk_X509_value(chain, 0);
  if (issuer != nullptr && X509_up_ref(issuer) == 1) out.issuer.reset(issuer);
  return out;
}

VerifyResult CmsVerifier::run(std::string_view input, std::optional<std::string_view> detached,
                              const VerifyOptions& opts, bool allow_fast) const {
  VerifyResult r;
  r.revocation = "not_checked";
  clear_openssl_errors();
  auto der = decode_der_or_base64(input);
  if (!der.ok()) {
    r.cms_sha256_hex = sha256_hex(input);
    r.reason = "malformed_cms";
    r.detail = der.error().detail;
    clear_openssl_errors();
    return r;
  }
  r.cms_sha256_hex = sha256_hex(*der);
  if (allow_fast && cache_) {
    if (auto fast = run_fast(*der, detached, opts, r)) return std::move(*fast);
  }
  return run_slow(*der, detached, opts, std::move(r));
}

VerifyResult CmsVerifier::run_slow(const std::string& der, std::optional<std::string_view> detached,
                                   const VerifyOptions& opts, VerifyResult r) const {
  auto fail = [&r](std::string reason, std::string detail) -> VerifyResult& {
    r.valid = false;
    r.reason = std::move(reason);
    r.detail = std::move(detail);
    clear_openssl_errors();
    return r;
  };
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  CmsPtr cms(d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(der.size())));
  if (!cms) return fail("malformed_cms", "not a CMS ContentInfo: " + last_openssl_error());
  if (p != reinterpret_cast<const unsigned char*>(der.data()) + der.size())
    return fail("malformed_cms", "trailing bytes after the CMS structure");

  int type = OBJ_obj2nid(CMS_get0_type(cms.get()));
  if (type != NID_pkcs7_signed)
    return fail("not_signed_data",
                "CMS content type is " + oid_text(CMS_get0_type(cms.get())) + ", not SignedData");
  STACK_OF(CMS_SignerInfo)* sis = CMS_get0_SignerInfos(cms.get());
  int n_signers = sis != nullptr ? sk_CMS_SignerInfo_num(sis) : 0;
  if (n_signers == 0)
    return fail("not_signed_data", "SignedData without any SignerInfo (a certificate bundle?)");
  if (n_signers > 1)
    return fail("multiple_signers",
                std::to_string(n_signers) + " SignerInfos; exactly one is required");
  CMS_SignerInfo* si = sk_CMS_SignerInfo_value(sis, 0);

  ASN1_OCTET_STRING** pos = CMS_get0_content(cms.get());
  bool attached = pos != nullptr && *pos != nullptr;
  if (!attached && !detached)
    return fail("no_content", "detached CMS: the signed content is not attached");
  if (attached && detached) {
    std::string_view inside(reinterpret_cast<const char*>(ASN1_STRING_get0_data(*pos)),
                            static_cast<size_t>(ASN1_STRING_length(*pos)));
    if (inside != *detached)
      return fail("bad_signature", "the attached content differs from the expected content");
  }

  // Algorithms first, so that GOST/EdDSA get a precise reason instead of a verify failure.
  X509_ALGOR* digest_alg = nullptr;
  X509_ALGOR* sig_alg = nullptr;
  CMS_SignerInfo_get0_algs(si, nullptr, nullptr, &digest_alg, &sig_alg);
  if (std::string why = digest_problem(digest_alg); !why.empty())
    return fail("unsupported_algorithm", why);
  if (std::string why = signature_problem(sig_alg); !why.empty())
    return fail("unsupported_algorithm", why);

  X509StackPtr certs(CMS_get1_certs(cms.get()));
  X509* signer = nullptr;
  for (int i = 0; certs && i < sk_X509_num(certs.get()); ++i) {
    X509* x = sk_X509_value(certs.get(), i);
    if (CMS_SignerInfo_cert_cmp(si, x) != 0) continue;
    // Two different certificates answering to the same issuer+serial (or key id) would let the
    // signature be checked with one while the chain is built for the other.
    if (signer != nullptr && X509_cmp(signer, x) != 0)
      return fail("untrusted", "several different certificates match the SignerInfo");
    signer = x;
  }
  if (signer == nullptr) return fail("untrusted", "the signer certificate is not in the CMS");
  // Pin it, so CMS_verify checks the signature with exactly the certificate verified below.
  CMS_SignerInfo_set1_signer_cert(si, signer);
  auto info = describe(signer);
  if (!info.ok()) return fail("malformed_cms", "signer certificate: " + info.error().detail);
  r.signer = std::move(info).value();
  if (r.signer.key_algorithm == "gost")
    return fail("unsupported_algorithm", "the signer has a GOST key, which OpenSSL cannot verify");
  if (r.signer.key_algorithm == "ed25519" || r.signer.key_algorithm == "ed448")
    return fail("unsupported_algorithm", "EdDSA signer keys are not supported in CMS");
  if (X509_get0_pubkey(signer) == nullptr)
    return fail("unsupported_algorithm",
                "cannot decode the signer's " + r.signer.key_algorithm + " key");

  // Signature only: the chain is verified below with our own store, time and purpose.
  BioPtr dcont;
  if (!attached) {
    dcont.reset(BIO_new_mem_buf(detached->data(), static_cast<int>(detached->size())));
    if (!dcont) return fail("malformed_cms", "out of memory");
  }
  if (CMS_verify(cms.get(), nullptr, nullptr, dcont.get(), nullptr,
                 CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY) != 1) {
    unsigned long e = ERR_peek_last_error();
    std::string why = last_openssl_error();
    bool unsupported = ERR_GET_REASON(e) == ERR_R_UNSUPPORTED ||
                       (ERR_GET_LIB(e) == ERR_LIB_EVP &&
                        (ERR_GET_REASON(e) == EVP_R_UNSUPPORTED_ALGORITHM ||
                         ERR_GET_REASON(e) == EVP_R_UNSUPPORTED_PRIVATE_KEY_ALGORITHM)) ||
                       (ERR_GET_LIB(e) == ERR_LIB_CMS &&
                        (ERR_GET_REASON(e) == CMS_R_UNKNOWN_DIGEST_ALGORITHM ||
                         ERR_GET_REASON(e) == CMS_R_UNSUPPORTED_SIGNATURE_ALGORITHM));
    return fail(unsupported ? "unsupported_algorithm" : "bad_signature", why);
  }
  if (attached)
    r.content.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(*pos)),
                     static_cast<size_t>(ASN1_STRING_length(*pos)));
  else
    r.content.assign(detached->data(), detached->size());
  r.signing_time = signing_time_of(si);

  ChainOutcome chain = verify_chain(signer, certs.get(), opts.at);
  if (!chain.reason.empty()) return fail(chain.reason, chain.detail);

  if (std::string why = key_usage_problem(r.signer, opts.usage); !why.empty())
    return fail("wrong_key_usage", why);

  if (opts.check_revocation && crls_) {
    RevocationStatus st = crls_->status(signer, chain.issuer.get(), opts.at);
    r.revocation = std::string(to_string(st.kind));
    switch (st.kind) {
      case RevocationStatus::Kind::Revoked:
        return fail("revoked", st.detail);
      case RevocationStatus::Kind::Unknown:
        return fail("revocation_unavailable", st.detail);
      case RevocationStatus::Kind::Good:
        r.detail = st.detail;
        break;
    }
  }
  r.valid = true;
  r.reason.clear();
  clear_openssl_errors();
  return r;
}

}  // namespace aaj::pki
