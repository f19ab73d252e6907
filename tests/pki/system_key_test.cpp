#include "pki/system_key.h"

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <atomic>
#include <cstring>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

#include "pki/certificate.h"
#include "pki/cms.h"
#include "test_util.h"

namespace aaj::pki {
namespace {

using test::Holder;
using test::make_holder;
using test::person_spec;
using test::test_ca;
using test::write_text;

Holder rsa_system_holder() {
  auto key = KeyPair::rsa(2048);
  EXPECT_TRUE(key.ok());
  auto issued = test_ca().ca.issue(person_spec(CertKind::Signing), *key);
  EXPECT_TRUE(issued.ok());
  return Holder{std::move(issued).value(), std::move(key).value()};
}

// The key's certificate followed by the CA's (its chain, sent along in each signature).
std::shared_ptr<const SystemKey> load_key(const test::TempDir& dir, const Holder& h) {
  write_text(dir.path() / "system.pem", h.issued.cert_pem + test_ca().ca.cert_pem());
  write_text(dir.path() / "system.key", h.key.private_pem());
  auto k = SystemKey::load(dir.path() / "system.pem", dir.path() / "system.key");
  EXPECT_TRUE(k.ok()) << (k ? "" : k.error().detail);
  return k ? *k : nullptr;
}

CmsPtr decode(const std::string& b64) {
  auto der = base64_decode(b64);
  EXPECT_TRUE(der.ok());
  const auto* p = reinterpret_cast<const unsigned char*>(der->data());
  return CmsPtr(d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(der->size())));
}

std::string i2d(CMS_ContentInfo* cms) {
  unsigned char* out = nullptr;
  int n = i2d_CMS_ContentInfo(cms, &out);
  std::string s(reinterpret_cast<char*>(out), static_cast<size_t>(std::max(n, 0)));
  OPENSSL_free(out);
  return s;
}

// OpenSSL's own CMS_verify, detached content, chain to the test CA.
bool openssl_verifies(CMS_ContentInfo* cms, const std::string& content) {
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, test_ca().ca.cert());
  BioPtr in(BIO_new_mem_buf(content.data(), static_cast<int>(content.size())));
  int ok =
      CMS_verify(cms, nullptr, store, in.get(), nullptr, CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY);
  X509_STORE_free(store);
  ERR_clear_error();
  return ok == 1;
}

// What OpenSSL's CMS_sign would write, the template writes: OpenSSL re-encodes it to the same
// bytes (so the DER and the SET OF order are right), with the same certificates, signer and
// algorithms as the reference, the three signed attributes with this content's digest and the
// time now, and a signature that OpenSSL, our verifier's fast path and its reference path accept.
void check_templated(const SystemKey& key) {
  ASSERT_TRUE(key.templated());
  const std::string content = "{\"head\":{\"size\":42,\"root\":\"кириллица\"}}";
  const std::time_t before = std::time(nullptr);
  auto ours = key.sign_base64(content);
  auto reference = key.sign_base64_reference(content);
  const std::time_t after = std::time(nullptr);
  ASSERT_TRUE(ours.ok());
  ASSERT_TRUE(reference.ok());
  CmsPtr a = decode(*ours), b = decode(*reference);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(i2d(a.get()), *base64_decode(*ours));

  EXPECT_TRUE(openssl_verifies(a.get(), content));
  EXPECT_FALSE(openssl_verifies(a.get(), content + " "));

  // Same certificates in the same order, same signer identifier and algorithms.
  auto certs_of = [](CMS_ContentInfo* c) {
    std::vector<std::string> out;
    STACK_OF(X509)* s = CMS_get1_certs(c);
    out.reserve(static_cast<size_t>(sk_X509_num(s)));
    for (int i = 0; i < sk_X509_num(s); ++i) out.push_back(to_pem(sk_X509_value(s, i)));
    sk_X509_pop_free(s, X509_free);
    return out;
  };
  EXPECT_EQ(certs_of(a.get()), certs_of(b.get()));
  EXPECT_EQ(certs_of(a.get()).size(), 2u);
  CMS_SignerInfo* sa = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(a.get()), 0);
  CMS_SignerInfo* sb = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(b.get()), 0);
  ASSERT_TRUE(sa && sb);
  EXPECT_EQ(CMS_SignerInfo_cert_cmp(sa, key.cert()), 0);
  X509_ALGOR *da, *ga, *db, *gb;
  CMS_SignerInfo_get0_algs(sa, nullptr, nullptr, &da, &ga);
  CMS_SignerInfo_get0_algs(sb, nullptr, nullptr, &db, &gb);
  EXPECT_EQ(X509_ALGOR_cmp(da, db), 0);
  EXPECT_EQ(X509_ALGOR_cmp(ga, gb), 0);
  EXPECT_EQ(CMS_get0_eContentType(a.get()) != nullptr, true);
  EXPECT_EQ(OBJ_obj2nid(CMS_get0_eContentType(a.get())), NID_pkcs7_data);
  EXPECT_EQ(CMS_get0_content(a.get()) == nullptr || *CMS_get0_content(a.get()) == nullptr, true);

  // The signed attributes: contentType, signingTime (now), messageDigest (this content's).
  EXPECT_EQ(CMS_signed_get_attr_count(sa), 3);
  EXPECT_EQ(CMS_signed_get_attr_count(sb), 3);
  auto* t = static_cast<ASN1_TIME*>(
      CMS_signed_get0_data_by_OBJ(sa, OBJ_nid2obj(NID_pkcs9_signingTime), -3, V_ASN1_UTCTIME));
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->type, V_ASN1_UTCTIME);
  EXPECT_GE(ASN1_TIME_cmp_time_t(t, before), 0);
  EXPECT_LE(ASN1_TIME_cmp_time_t(t, after), 0);
  auto* md = static_cast<ASN1_OCTET_STRING*>(CMS_signed_get0_data_by_OBJ(
      sa, OBJ_nid2obj(NID_pkcs9_messageDigest), -3, V_ASN1_OCTET_STRING));
  ASSERT_NE(md, nullptr);
  unsigned char expect[32];
  SHA256(reinterpret_cast<const unsigned char*>(content.data()), content.size(), expect);
  ASSERT_EQ(md->length, 32);
  EXPECT_EQ(std::memcmp(md->data, expect, 32), 0);
  EXPECT_EQ(CMS_signed_get_attr_by_NID(sa, NID_pkcs9_contentType, -1) >= 0, true);

  // Our verifier, both paths.
  CmsVerifier v(test_ca().trust, nullptr);
  VerifyOptions o;
  o.at = time::now();
  o.usage = Usage::Any;
  auto fast = v.verify_detached(*ours, content, o);
  auto slow = v.verify_detached_uncached(*ours, content, o);
  EXPECT_TRUE(fast.valid) << fast.reason << " " << fast.detail;
  EXPECT_TRUE(slow.valid) << slow.reason << " " << slow.detail;
  EXPECT_EQ(v.verify_detached(*ours, content + "x", o).reason, "bad_signature");
}

TEST(SystemKey, TemplatedSignatureIsWhatCmsSignWritesForEc) {
  test::TempDir dir;
  Holder h = make_holder(test_ca().ca, person_spec(CertKind::Signing));
  auto key = load_key(dir, h);
  ASSERT_TRUE(key);
  check_templated(*key);
}

TEST(SystemKey, TemplatedSignatureIsWhatCmsSignWritesForRsa) {
  test::TempDir dir;
  Holder h = rsa_system_holder();
  auto key = load_key(dir, h);
  ASSERT_TRUE(key);
  check_templated(*key);
}

// Each signature is its own: concurrent signers share only the prepared context, read-only.
TEST(SystemKey, ConcurrentSignaturesAllVerify) {
  test::TempDir dir;
  Holder h = make_holder(test_ca().ca, person_spec(CertKind::Signing));
  auto key = load_key(dir, h);
  ASSERT_TRUE(key);
  CmsVerifier v(test_ca().trust, nullptr);
  std::atomic<int> bad{0};
  std::vector<std::thread> ts;
  ts.reserve(4);
  for (int k = 0; k < 4; ++k)
    ts.emplace_back([&, k] {
      for (int i = 0; i < 50; ++i) {
        const std::string content = "head " + std::to_string(k) + "/" + std::to_string(i);
        auto s = key->sign_base64(content);
        VerifyOptions o;
        o.at = time::now();
        o.usage = Usage::Any;
        if (!s || !v.verify_detached(*s, content, o).valid) ++bad;
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(bad.load(), 0);
}

}  // namespace
}  // namespace aaj::pki
