#include "pki/system_key.h"

#include <openssl/cms.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <ctime>

#include "pki/certificate.h"
#include "pki/der.h"
#include "pki/issue.h"

namespace aaj::pki {

// The parts of a detached SignedData made by sign_cms() for this key that do not depend on the
// content or the time, as OpenSSL encoded them (RFC 5652 §5): sign() re-assembles the structure
// around a new signingTime, messageDigest and signature, with the signed attributes in DER's
// SET OF order as OpenSSL writes them.
struct SystemKey::Template {
  std::string content_type_oid;  // ContentInfo.contentType (id-signedData), whole TLV
  std::string sd_version, digest_algorithms, encap_content_info, certificates;
  std::string si_version, sid, digest_algorithm, signature_algorithm;
  std::string content_type_attr;  // the contentType attribute, whole TLV (never changes)
  EvpMdCtxPtr prepared;           // EVP_DigestSignInit'ed for the key and SHA-256; copied per use

  static std::unique_ptr<Template> build(std::string_view reference, EVP_PKEY* key);
  Result<std::string> sign(std::string_view content) const;
};

namespace {

// 1.2.840.113549.1.9.{3,4,5}: contentType, messageDigest, signingTime.
constexpr std::string_view kContentTypeOid = "\x2a\x86\x48\x86\xf7\x0d\x01\x09\x03";
constexpr std::string_view kMessageDigestOid = "\x2a\x86\x48\x86\xf7\x0d\x01\x09\x04";
constexpr std::string_view kSigningTimeOid = "\x2a\x86\x48\x86\xf7\x0d\x01\x09\x05";

void append_tlv(std::string& out, uint8_t tag, std::string_view content) {
  out += static_cast<char>(tag);
  const size_t n = content.size();
  if (n < 0x80) {
    out += static_cast<char>(n);
  } else {
    int bytes = 0;
    for (size_t m = n; m != 0; m >>= 8) ++bytes;
    out += static_cast<char>(0x80 | bytes);
    for (int i = bytes - 1; i >= 0; --i) out += static_cast<char>((n >> (8 * i)) & 0xff);
  }
  out.append(content);
}

std::string tlv(uint8_t tag, std::string_view content) {
  std::string out;
  out.reserve(content.size() + 6);
  append_tlv(out, tag, content);
  return out;
}

std::string attribute(std::string_view oid, std::string_view value_tlv) {
  std::string body = tlv(der::kOid, oid);
  append_tlv(body, der::kSet, value_tlv);
  return tlv(der::kSequence, body);
}

// The signingTime attribute's value as CMS_sign encodes it: OpenSSL's own ASN1_TIME_set (UTCTime
// for 1950-2049, GeneralizedTime otherwise), DER. Empty on failure.
std::string signing_time_tlv(std::time_t now) {
  Asn1TimePtr t(ASN1_TIME_set(nullptr, now));
  unsigned char* der = nullptr;
  const int n = t ? i2d_ASN1_TIME(t.get(), &der) : -1;
  if (n <= 0) return {};
  std::string out(reinterpret_cast<const char*>(der), static_cast<size_t>(n));
  OPENSSL_free(der);
  return out;
}

// Whether OpenSSL's CMS_verify accepts `cms_der` as a detached signature over `content` by its
// embedded signer certificate (no chain: the key is ours; this checks the signature's encoding).
bool openssl_accepts(std::string_view cms_der, std::string_view content) {
  const auto* p = reinterpret_cast<const unsigned char*>(cms_der.data());
  CmsPtr cms(d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(cms_der.size())));
  BioPtr in(BIO_new_mem_buf(content.data(), static_cast<int>(content.size())));
  const bool ok = cms && in &&
                  CMS_verify(cms.get(), nullptr, nullptr, in.get(), nullptr,
                             CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY) == 1;
  clear_openssl_errors();
  return ok;
}

// DER's SET OF order (X.690 §11.6): encodings compared as octet strings, the shorter padded with
// zeros.
bool der_set_less(const std::string& a, const std::string& b) {
  const int c = std::memcmp(a.data(), b.data(), std::min(a.size(), b.size()));
  return c != 0 ? c < 0 : a.size() < b.size();
}

}  // namespace

std::unique_ptr<SystemKey::Template> SystemKey::Template::build(std::string_view reference,
                                                                EVP_PKEY* key) {
  auto t = std::make_unique<Template>();
  der::Tlv ci, oid, explicit0, sd;
  if (!der::parse_single(reference, ci) || ci.tag != der::kSequence) return nullptr;
  der::Reader cr(ci.value);
  if (!cr.next(der::kOid, oid) || !cr.next(der::kContext0, explicit0) || !cr.empty())
    return nullptr;
  t->content_type_oid = std::string(oid.all);
  if (!der::parse_single(explicit0.value, sd) || sd.tag != der::kSequence) return nullptr;
  der::Reader sr(sd.value);
  der::Tlv version, digests, encap, certs, infos;
  if (!sr.next(der::kInteger, version) || !sr.next(der::kSet, digests) ||
      !sr.next(der::kSequence, encap) || !sr.next(der::kContext0, certs) ||
      !sr.next(der::kSet, infos) || !sr.empty())
    return nullptr;  // CRLs or an unexpected shape: CMS_sign stays in use
  t->sd_version = std::string(version.all);
  t->digest_algorithms = std::string(digests.all);
  t->encap_content_info = std::string(encap.all);
  t->certificates = std::string(certs.all);
  der::Reader ir(infos.value);
  der::Tlv info;
  if (!ir.next(der::kSequence, info) || !ir.empty()) return nullptr;
  der::Reader fr(info.value);
  der::Tlv si_version, sid, digest_alg, attrs, sig_alg, signature;
  if (!fr.next(der::kInteger, si_version) || !fr.next(der::kSequence, sid) ||
      !fr.next(der::kSequence, digest_alg) || !fr.next(der::kContext0, attrs) ||
      !fr.next(der::kSequence, sig_alg) || !fr.next(der::kOctetString, signature) || !fr.empty())
    return nullptr;  // unsigned attributes, or no signed ones
  t->si_version = std::string(si_version.all);
  t->sid = std::string(sid.all);
  t->digest_algorithm = std::string(digest_alg.all);
  t->signature_algorithm = std::string(sig_alg.all);
  // Exactly contentType, messageDigest and signingTime; contentType is kept as it is.
  der::Reader ar(attrs.value);
  int seen = 0;
  for (der::Tlv a; !ar.empty();) {
    der::Tlv a_oid;
    if (!ar.next(der::kSequence, a)) return nullptr;
    der::Reader one(a.value);
    if (!one.next(der::kOid, a_oid)) return nullptr;
    if (a_oid.value == kContentTypeOid) {
      t->content_type_attr = std::string(a.all);
      seen |= 1;
    } else if (a_oid.value == kMessageDigestOid) {
      seen |= 2;
    } else if (a_oid.value == kSigningTimeOid) {
      seen |= 4;
    } else {
      return nullptr;
    }
  }
  if (seen != 7) return nullptr;
  t->prepared.reset(EVP_MD_CTX_new());
  if (!t->prepared ||
      EVP_DigestSignInit(t->prepared.get(), nullptr, sha256_md(), nullptr, key) != 1) {
    clear_openssl_errors();
    return nullptr;
  }
  return t;
}

Result<std::string> SystemKey::Template::sign(std::string_view content) const {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (EVP_Digest(content.data(), content.size(), md, &md_len, sha256_md(), nullptr) != 1)
    return Error{"sign_failed", last_openssl_error()};
  const std::string signing_time = signing_time_tlv(std::time(nullptr));
  if (signing_time.empty()) return Error{"sign_failed", last_openssl_error()};
  std::string attrs[3] = {
      content_type_attr, attribute(kSigningTimeOid, signing_time),
      attribute(kMessageDigestOid,
                tlv(der::kOctetString, std::string_view(reinterpret_cast<char*>(md), md_len)))};
  std::sort(std::begin(attrs), std::end(attrs), der_set_less);
  std::string attrs_content;
  for (const auto& a : attrs) attrs_content += a;
  // Signed as a SET OF (RFC 5652 §5.4), carried as [0] IMPLICIT.
  const std::string signed_bytes = tlv(der::kSet, attrs_content);
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  size_t sig_len = 0;
  if (!ctx || EVP_MD_CTX_copy_ex(ctx.get(), prepared.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &sig_len,
                     reinterpret_cast<const unsigned char*>(signed_bytes.data()),
                     signed_bytes.size()) != 1)
    return Error{"sign_failed", last_openssl_error()};
  std::string sig(sig_len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &sig_len,
                     reinterpret_cast<const unsigned char*>(signed_bytes.data()),
                     signed_bytes.size()) != 1)
    return Error{"sign_failed", last_openssl_error()};
  sig.resize(sig_len);

  std::string info = si_version + sid + digest_algorithm;
  append_tlv(info, der::kContext0, attrs_content);
  info += signature_algorithm;
  append_tlv(info, der::kOctetString, sig);
  std::string signed_data = sd_version + digest_algorithms + encap_content_info + certificates;
  append_tlv(signed_data, der::kSet, tlv(der::kSequence, info));
  std::string ci = content_type_oid;
  append_tlv(ci, der::kContext0, tlv(der::kSequence, signed_data));
  return tlv(der::kSequence, ci);
}

Result<std::shared_ptr<const SystemKey>> SystemKey::load(const std::filesystem::path& cert_pem,
                                                         const std::filesystem::path& key_pem) {
  init_openssl();
  auto certs = load_certificates(cert_pem);
  if (!certs) return certs.error();
  if (certs->empty())
    return Error{"malformed_certificate", cert_pem.string() + " holds no certificate"};
  auto key_text = read_file(key_pem);
  if (!key_text) return key_text.error();
  auto key = KeyPair::from_pem(*key_text);
  if (!key) return key.error();
  std::shared_ptr<SystemKey> k(new SystemKey());
  k->cert_ = std::move((*certs)[0]);
  for (size_t i = 1; i < certs->size(); ++i) k->chain_.push_back(std::move((*certs)[i]));
  if (X509_check_private_key(k->cert_.get(), key->get()) != 1)
    return Error{"key_mismatch", key_pem.string() + " is not the key of " + cert_pem.string()};
  if (EVP_PKEY_up_ref(key->get()) != 1) return Error{"malformed_key", "cannot hold the key"};
  k->key_.reset(key->get());
  // The template comes from OpenSSL's own output for this key (see Template).
  auto reference = k->sign_base64_reference("");
  if (!reference) return reference.error();
  auto reference_der = base64_decode(*reference);
  if (reference_der) k->template_ = Template::build(*reference_der, k->key_.get());
  // Used only once OpenSSL accepts what it writes: a key whose signing defaults differ from what
  // the reference encodes (RSA-PSS parameters, say) would otherwise sign every head wrongly.
  if (k->template_) {
    const std::string probe = "aaj system key template check";
    auto der = k->template_->sign(probe);
    if (!der || !openssl_accepts(*der, probe)) k->template_.reset();
  }
  return std::shared_ptr<const SystemKey>(std::move(k));
}

Result<std::string> SystemKey::sign_base64_reference(std::string_view content) const {
  std::vector<X509*> extra;
  for (const auto& c : chain_) extra.push_back(c.get());
  auto der = sign_cms(content, cert_.get(), key_.get(), extra, /*attach=*/false);
  if (!der) return der.error();
  return base64_encode(*der);
}

Result<std::string> SystemKey::sign_base64(std::string_view content) const {
  if (!template_) return sign_base64_reference(content);
  auto der = template_->sign(content);
  if (!der) return der.error();
  return base64_encode(*der);
}

}  // namespace aaj::pki
