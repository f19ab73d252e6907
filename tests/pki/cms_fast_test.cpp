// The CMS fast path (cms_fast.cpp) must decide exactly like the reference path for every input:
// each test runs both (verify vs verify_uncached) and compares the whole VerifyResult, and
// checks through cache_stats() that the fast path really decided the cases it is meant for.
#include <openssl/cms.h>
#include <openssl/err.h>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <random>
#include <thread>

#include "pki/certificate.h"
#include "pki/cms.h"
#include "pki/der.h"
#include "test_util.h"

namespace aaj::pki {
namespace {

using test::days_from_now;
using test::Holder;
using test::make_holder;
using test::person_spec;
using test::sign;
using test::TempDir;
using test::test_ca;

constexpr std::string_view kPayload = "{\"request\":\"payload-0123456789\",\"n\":1}";

VerifyOptions at_time(time::Instant at, Usage usage = Usage::Any) {
  VerifyOptions o;
  o.at = at;
  o.usage = usage;
  return o;
}
VerifyOptions at_now(Usage usage = Usage::Any) {
  return at_time(time::now(), usage);
}

std::string i2d(CMS_ContentInfo* cms) {
  unsigned char* out = nullptr;
  int n = i2d_CMS_ContentInfo(cms, &out);
  EXPECT_GT(n, 0);
  std::string der(reinterpret_cast<char*>(out), static_cast<size_t>(std::max(n, 0)));
  OPENSSL_free(out);
  return der;
}

CmsPtr d2i(const std::string& der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  return CmsPtr(d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(der.size())));
}

// A CMS signed with OpenSSL directly, for shapes sign_cms() does not produce.
std::string sign_with(const Holder& h, std::string_view content, unsigned extra_flags,
                      const EVP_MD* md = EVP_sha256()) {
  BioPtr in(BIO_new_mem_buf(content.data(), static_cast<int>(content.size())));
  unsigned flags = CMS_BINARY | CMS_PARTIAL | extra_flags;
  CmsPtr cms(CMS_sign(nullptr, nullptr, nullptr, nullptr, flags));
  EXPECT_TRUE(cms);
  EXPECT_TRUE(CMS_add1_signer(cms.get(), h.cert(), h.key.get(), md, flags));
  EXPECT_EQ(CMS_final(cms.get(), in.get(), nullptr, flags), 1);
  return i2d(cms.get());
}

Holder rsa_holder(const Authority& ca, const IssueSpec& spec) {
  auto key = KeyPair::rsa(2048);
  EXPECT_TRUE(key.ok());
  auto issued = ca.issue(spec, *key);
  EXPECT_TRUE(issued.ok());
  return Holder{std::move(issued).value(), std::move(key).value()};
}

// Runs both paths and expects identical results; returns the fast path's.
VerifyResult both(const CmsVerifier& v, std::string_view cms, const VerifyOptions& o,
                  std::optional<std::string_view> detached = std::nullopt,
                  const std::string& what = "") {
  VerifyResult fast = detached ? v.verify_detached(cms, *detached, o) : v.verify(cms, o);
  VerifyResult slow =
      detached ? v.verify_detached_uncached(cms, *detached, o) : v.verify_uncached(cms, o);
  EXPECT_EQ(fast.valid, slow.valid) << what;
  EXPECT_EQ(fast.reason, slow.reason) << what << " | " << fast.detail << " | " << slow.detail;
  EXPECT_EQ(fast.detail, slow.detail) << what;
  EXPECT_EQ(to_json(fast.signer), to_json(slow.signer)) << what;
  EXPECT_EQ(fast.signing_time.has_value(), slow.signing_time.has_value()) << what;
  if (fast.signing_time && slow.signing_time) {
    EXPECT_EQ(*fast.signing_time, *slow.signing_time) << what;
  }
  EXPECT_EQ(fast.content, slow.content) << what;
  EXPECT_EQ(fast.revocation, slow.revocation) << what;
  EXPECT_EQ(fast.cms_sha256_hex, slow.cms_sha256_hex) << what;
  EXPECT_EQ(to_json(fast), to_json(slow)) << what;
  return fast;
}

class CmsFastTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ec_ = new Holder(make_holder(test_ca().ca, person_spec(CertKind::Signing)));
    rsa_ = new Holder(rsa_holder(test_ca().ca, person_spec(CertKind::Signing)));
    auth_ = new Holder(make_holder(test_ca().ca, person_spec(CertKind::Authentication)));
  }
  static void TearDownTestSuite() {
    delete ec_;
    delete rsa_;
    delete auth_;
  }

  CmsVerifier verifier() const { return CmsVerifier(test_ca().trust, nullptr); }

  // Number of results decided by the fast path while running `f`.
  template <class F>
  static uint64_t fast_count(const CmsVerifier& v, F&& f) {
    uint64_t before = v.cache_stats().fast;
    f();
    return v.cache_stats().fast - before;
  }

  static Holder* ec_;
  static Holder* rsa_;
  static Holder* auth_;
  TempDir dir_;
};
Holder* CmsFastTest::ec_ = nullptr;
Holder* CmsFastTest::rsa_ = nullptr;
Holder* CmsFastTest::auth_ = nullptr;

TEST(DerReader, StrictDer) {
  der::Tlv t;
  EXPECT_TRUE(der::parse_single(std::string("\x04\x02\x61\x62", 4), t));
  EXPECT_EQ(t.value, "ab");
  EXPECT_FALSE(der::parse_single(std::string("\x04\x81\x02\x61\x62", 5), t));  // not minimal
  EXPECT_FALSE(der::parse_single(std::string("\x30\x80\x00\x00", 4), t));      // indefinite
  EXPECT_FALSE(der::parse_single(std::string("\x04\x03\x61\x62", 4), t));      // too long
  EXPECT_FALSE(der::parse_single(std::string("\x04\x01\x61\x62", 4), t));      // trailing
  EXPECT_FALSE(der::parse_single(std::string("\x1f\x01\x01\x00", 4), t));      // high tag
  EXPECT_FALSE(der::parse_single(std::string("\x04\x82\x00\x90", 4), t));      // leading 0
  std::string big = std::string("\x04\x81\x80", 3) + std::string(128, 'x');
  EXPECT_TRUE(der::parse_single(big, t));
  EXPECT_EQ(t.value.size(), 128u);
  EXPECT_FALSE(der::parse_single(std::string(), t));
  EXPECT_TRUE(der::minimal_integer(std::string("\x00\x80", 2)));
  EXPECT_FALSE(der::minimal_integer(std::string("\x00\x7f", 2)));
  EXPECT_FALSE(der::minimal_integer(std::string("\xff\x80", 2)));
  EXPECT_FALSE(der::minimal_integer(""));
  EXPECT_TRUE(der::valid_oid("\x2a\x86\x48"));
  EXPECT_FALSE(der::valid_oid("\x2a\x86"));
  EXPECT_FALSE(der::valid_oid("\x2a\x80\x01"));
  EXPECT_TRUE(der::strict_time(der::kUtcTime, "240101120000Z"));
  EXPECT_FALSE(der::strict_time(der::kUtcTime, "2401011200Z"));
  EXPECT_FALSE(der::strict_time(der::kGeneralizedTime, "20240101120000.5Z"));
}

TEST_F(CmsFastTest, ValidEcAndRsaAreDecidedByTheFastPath) {
  auto v = verifier();
  for (const Holder* h : {ec_, rsa_}) {
    std::string cms = sign(*h, kPayload);
    uint64_t n = fast_count(v, [&] {
      for (int i = 0; i < 3; ++i) {
        auto r = both(v, cms, at_now(Usage::Signing));
        EXPECT_TRUE(r.valid) << r.reason << ": " << r.detail;
        EXPECT_EQ(r.content, kPayload);
        EXPECT_TRUE(r.signing_time.has_value());
      }
    });
    EXPECT_EQ(n, 3u);
  }
  auto s = v.cache_stats();
  EXPECT_EQ(s.built, 2u);  // one entry per signer, then hits
  EXPECT_EQ(s.entries, 2u);
  EXPECT_EQ(s.fallback, 0u);
  // A fresh signature by the same signer (new content, new signing time) reuses the entry.
  auto r = both(v, sign(*ec_, "other content"), at_now());
  EXPECT_TRUE(r.valid);
  EXPECT_EQ(v.cache_stats().built, 2u);
}

TEST_F(CmsFastTest, OtherDigestsSmimeCapabilitiesAndKeyIdentifier) {
  auto v = verifier();
  for (const EVP_MD* md : {EVP_sha384(), EVP_sha512(), EVP_sha224()}) {
    for (const Holder* h : {ec_, rsa_}) {
      std::string cms = sign_with(*h, kPayload, 0, md);  // with SMIMECapabilities
      EXPECT_EQ(fast_count(v, [&] { EXPECT_TRUE(both(v, cms, at_now()).valid); }), 1u)
          << EVP_MD_get0_name(md);
    }
  }
  // SignerIdentifier = subjectKeyIdentifier.
  std::string keyid = sign_with(*ec_, kPayload, CMS_USE_KEYID | CMS_NOSMIMECAP);
  EXPECT_EQ(fast_count(v, [&] { EXPECT_TRUE(both(v, keyid, at_now()).valid); }), 1u);
  std::string keyid_rsa = sign_with(*rsa_, kPayload, CMS_USE_KEYID);
  EXPECT_EQ(fast_count(v, [&] { EXPECT_TRUE(both(v, keyid_rsa, at_now()).valid); }), 1u);
}

TEST_F(CmsFastTest, TamperedInputsAreBadSignatureOnBothPaths) {
  auto v = verifier();
  for (const Holder* h : {ec_, rsa_}) {
    std::string good = sign(*h, kPayload);
    EXPECT_TRUE(both(v, good, at_now()).valid);  // cached first

    std::string content = good;
    size_t pos = content.find("payload-0123456789");
    ASSERT_NE(pos, std::string::npos);
    content[pos + 3] ^= 0x01;
    EXPECT_EQ(both(v, content, at_now()).reason, "bad_signature");

    std::string signature = good;
    signature[signature.size() - 5] ^= 0x40;  // inside the signature value
    EXPECT_EQ(both(v, signature, at_now()).reason, "bad_signature");

    // A changed signed attribute (signing time), re-encoded by OpenSSL.
    CmsPtr cms = d2i(good);
    ASSERT_TRUE(cms);
    CMS_SignerInfo* si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms.get()), 0);
    int idx = CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1);
    ASSERT_GE(idx, 0);
    X509_ATTRIBUTE_free(CMS_signed_delete_attr(si, idx));
    Asn1TimePtr t(ASN1_TIME_set(nullptr, 1000000000));
    ASSERT_EQ(CMS_signed_add1_attr_by_NID(si, NID_pkcs9_signingTime, t->type, t.get(), -1), 1);
    EXPECT_EQ(both(v, i2d(cms.get()), at_now()).reason, "bad_signature");
  }
}

TEST_F(CmsFastTest, KeyUsageIsCheckedPerCall) {
  auto v = verifier();
  std::string by_auth = sign(*auth_, kPayload);
  std::string by_sign = sign(*ec_, kPayload);
  uint64_t n = fast_count(v, [&] {
    EXPECT_EQ(both(v, by_auth, at_now(Usage::Signing)).reason, "wrong_key_usage");
    EXPECT_TRUE(both(v, by_auth, at_now(Usage::Authentication)).valid);
    EXPECT_EQ(both(v, by_sign, at_now(Usage::Authentication)).reason, "wrong_key_usage");
    EXPECT_TRUE(both(v, by_sign, at_now(Usage::Any)).valid);
  });
  EXPECT_EQ(n, 4u);
  // The CA key itself (no digitalSignature), a self-signed signer.
  Holder ca_as_signer{Issued{test_ca().ca.cert_pem(), "", X509Ptr(X509_dup(test_ca().ca.cert()))},
                      KeyPair::from_pem(test_ca().ca.key_pem()).value()};
  EXPECT_EQ(both(v, sign(ca_as_signer, kPayload), at_now()).reason, "wrong_key_usage");
}

TEST_F(CmsFastTest, ValidityIsDecidedPerCallAgainstAt) {
  auto v = verifier();
  std::string cms = sign(*ec_, kPayload);
  CertInfo info = describe(ec_->cert()).value();
  const auto second = std::chrono::seconds(1);
  struct Case {
    time::Instant at;
    const char* want;
  } cases[] = {
      {time::now(), ""},
      {days_from_now(400), "expired"},
      {days_from_now(-31), "not_yet_valid"},
      {info.not_after, "expired"},  // notAfter itself is already expired for OpenSSL
      {info.not_after - second, ""},
      {info.not_before, ""},
      {info.not_before - second, "not_yet_valid"},
      {info.not_before + std::chrono::microseconds(999999), ""},
      {days_from_now(-400), "not_yet_valid"},  // before the root too: the root is reported
      {days_from_now(6 * 365), "expired"},
      {time::from_micros(-86400LL * 1000000 * 365 * 30), "not_yet_valid"},  // 1940: slow path
  };
  for (const auto& c : cases) {
    auto r = both(v, cms, at_time(c.at), std::nullopt, time::format_utc(c.at));
    EXPECT_EQ(r.reason, c.want) << time::format_utc(c.at) << ": " << r.detail;
  }
  // The expired one at depth 1 (the root) names it.
  auto root_expired = both(v, cms, at_time(days_from_now(6 * 365)));
  EXPECT_NE(root_expired.detail.find("depth 1"), std::string::npos) << root_expired.detail;
  EXPECT_EQ(v.cache_stats().built, 1u);

  auto old = make_holder(test_ca().ca, person_spec(CertKind::Signing, -400, -10));
  EXPECT_EQ(both(v, sign(old, kPayload), at_now()).reason, "expired");
  auto future = make_holder(test_ca().ca, person_spec(CertKind::Signing, 10, 100));
  EXPECT_EQ(both(v, sign(future, kPayload), at_now()).reason, "not_yet_valid");
}

TEST_F(CmsFastTest, RevocationOfACachedSignerIsSeenWithoutRestart) {
  const auto now = time::now();
  test::write_text(
      dir_ / "ca.crl",
      test_ca().ca.make_crl({}, now - std::chrono::hours(2), days_from_now(7)).value());
  auto store = CrlStore::open(dir_.path(), test_ca().trust).value();
  CmsVerifier v(test_ca().trust, store);
  std::string cms = sign(*ec_, kPayload);
  std::string other = sign(*rsa_, kPayload);
  auto good = both(v, cms, at_now(Usage::Signing));
  EXPECT_TRUE(good.valid) << good.reason << ": " << good.detail;
  EXPECT_EQ(good.revocation, "good");
  EXPECT_TRUE(both(v, other, at_now()).valid);

  // The operator drops a newer CRL listing the signer; the store reloads; the next request is
  // refused although the signer is cached.
  test::write_text(dir_ / "ca.crl",
                   test_ca()
                       .ca
                       .make_crl({{ec_->issued.serial_hex, now - std::chrono::minutes(30)}},
                                 now - std::chrono::hours(1), days_from_now(7))
                       .value());
  auto report = store->reload();
  ASSERT_EQ(report["loaded"].size(), 1u) << report.dump(1);
  uint64_t n = fast_count(v, [&] {
    auto r = both(v, cms, at_now(Usage::Signing));
    EXPECT_EQ(r.reason, "revoked") << r.detail;
    EXPECT_EQ(r.revocation, "revoked");
    // Before the revocation date it was good; the other signer is unaffected.
    EXPECT_TRUE(both(v, cms, at_time(now - std::chrono::minutes(45))).valid);
    EXPECT_TRUE(both(v, other, at_now()).valid);
    // A time after nextUpdate: stale CRL, fail closed.
    EXPECT_EQ(both(v, other, at_time(days_from_now(8))).reason, "revocation_unavailable");
    VerifyOptions skip = at_now();
    skip.check_revocation = false;
    EXPECT_EQ(both(v, cms, skip).revocation, "not_checked");
  });
  EXPECT_EQ(n, 5u);
}

TEST_F(CmsFastTest, UntrustedAndAmbiguousSigners) {
  auto v = verifier();
  auto other = Authority::create("AAJ Test Root", days_from_now(-10), days_from_now(100));
  ASSERT_TRUE(other.ok());  // same name as ours, other key
  auto h = make_holder(*other, person_spec(CertKind::Signing));
  std::string cms = sign(h, kPayload);
  for (int i = 0; i < 2; ++i) EXPECT_EQ(both(v, cms, at_now()).reason, "untrusted");
  auto stranger = Authority::create("Stranger CA", days_from_now(-10), days_from_now(100));
  auto s = make_holder(*stranger, person_spec(CertKind::Signing));
  EXPECT_EQ(both(v, sign(s, kPayload), at_now()).reason, "untrusted");
  // The untrusted root carried inside the CMS does not help.
  EXPECT_EQ(both(v, sign(s, kPayload, true, {stranger->cert()}), at_now()).reason, "untrusted");

  // A forged certificate with the legitimate signer's issuer and serial, listed second.
  auto forger = Authority::create("AAJ Test Root", days_from_now(-1), days_from_now(10));
  auto forged = make_holder(*forger, person_spec(CertKind::Signing));
  ASSERT_EQ(X509_set_serialNumber(forged.issued.cert.get(),
                                  const_cast<ASN1_INTEGER*>(X509_get0_serialNumber(ec_->cert()))),
            1);
  ASSERT_GT(X509_sign(forged.issued.cert.get(), forger->key(), EVP_sha256()), 0);
  BioPtr in(BIO_new_mem_buf(kPayload.data(), static_cast<int>(kPayload.size())));
  unsigned flags = CMS_BINARY | CMS_PARTIAL | CMS_NOCERTS;
  CmsPtr two(CMS_sign(nullptr, nullptr, nullptr, nullptr, flags));
  ASSERT_TRUE(CMS_add1_signer(two.get(), forged.cert(), forged.key.get(), EVP_sha256(), flags));
  ASSERT_EQ(CMS_add1_cert(two.get(), ec_->cert()), 1);
  ASSERT_EQ(CMS_add1_cert(two.get(), forged.cert()), 1);
  ASSERT_EQ(CMS_final(two.get(), in.get(), nullptr, flags), 1);
  EXPECT_EQ(both(v, i2d(two.get()), at_now()).reason, "untrusted");

  // Another verifier with another trust store never sees this one's cached chains.
  auto trust2 = TrustStore::from_pem(stranger->cert_pem()).value();
  CmsVerifier v2(trust2, nullptr);
  std::string ours = sign(*ec_, kPayload);
  EXPECT_TRUE(both(v, ours, at_now()).valid);
  EXPECT_EQ(both(v2, ours, at_now()).reason, "untrusted");
  EXPECT_TRUE(both(v2, sign(s, kPayload), at_now()).valid);
}

TEST_F(CmsFastTest, IntermediatesInsideTheCms) {
  auto v = verifier();
  auto sub = test_ca().ca.subordinate("AAJ Test Sub", days_from_now(-10), days_from_now(200));
  ASSERT_TRUE(sub.ok());
  auto h = make_holder(*sub, person_spec(CertKind::Signing));
  std::string with = sign(h, kPayload, true, {sub->cert()});
  std::string without = sign(h, kPayload);
  uint64_t n = fast_count(v, [&] {
    for (int i = 0; i < 2; ++i) {
      EXPECT_TRUE(both(v, with, at_now(Usage::Signing)).valid);
      // Same signer, other certificate set: its own entry, no path to the anchor.
      EXPECT_EQ(both(v, without, at_now()).reason, "untrusted");
    }
    // The intermediate's validity ends before the leaf's.
    EXPECT_EQ(both(v, with, at_time(days_from_now(250))).reason, "expired");
  });
  EXPECT_EQ(n, 5u);
  // Root and intermediate both inside the CMS, in any order.
  EXPECT_TRUE(both(v, sign(h, kPayload, true, {test_ca().ca.cert(), sub->cert()}), at_now()).valid);
  EXPECT_TRUE(both(v, sign(h, kPayload, true, {sub->cert(), test_ca().ca.cert()}), at_now()).valid);

  auto old_sub = test_ca().ca.subordinate("AAJ Old Sub", days_from_now(-100), days_from_now(-1));
  auto h2 = make_holder(*old_sub, person_spec(CertKind::Signing, -50, 100));
  auto r = both(v, sign(h2, kPayload, true, {old_sub->cert()}), at_now());
  EXPECT_EQ(r.reason, "expired");
  EXPECT_NE(r.detail.find("depth 1"), std::string::npos) << r.detail;

  // Two different intermediates with the same name: the chain depends on the time, so it is
  // verified per call; both paths still agree.
  auto sub2 = test_ca().ca.subordinate("AAJ Test Sub", days_from_now(-300), days_from_now(-5));
  ASSERT_TRUE(sub2.ok());
  std::string twins = sign(h, kPayload, true, {sub2->cert(), sub->cert()});
  for (auto at : {time::now(), days_from_now(-20), days_from_now(-200), days_from_now(300)})
    both(v, twins, at_time(at), std::nullopt, "twins " + time::format_utc(at));
}

TEST_F(CmsFastTest, ShapesTheFastPathLeavesToTheReferencePath) {
  auto v = verifier();
  // No certificates in the CMS.
  BioPtr in(BIO_new_mem_buf(kPayload.data(), static_cast<int>(kPayload.size())));
  CmsPtr nocerts(
      CMS_sign(ec_->cert(), ec_->key.get(), nullptr, in.get(), CMS_BINARY | CMS_NOCERTS));
  ASSERT_TRUE(nocerts);
  EXPECT_EQ(both(v, i2d(nocerts.get()), at_now()).reason, "untrusted");
  // No signed attributes.
  std::string noattr = sign_with(*ec_, kPayload, CMS_NOATTR);
  EXPECT_TRUE(both(v, noattr, at_now()).valid);
  // Two signers.
  BioPtr in2(BIO_new_mem_buf(kPayload.data(), static_cast<int>(kPayload.size())));
  unsigned flags = CMS_BINARY | CMS_PARTIAL;
  CmsPtr two(CMS_sign(nullptr, nullptr, nullptr, nullptr, flags));
  ASSERT_TRUE(CMS_add1_signer(two.get(), ec_->cert(), ec_->key.get(), EVP_sha256(), flags));
  ASSERT_TRUE(CMS_add1_signer(two.get(), auth_->cert(), auth_->key.get(), EVP_sha256(), flags));
  ASSERT_EQ(CMS_final(two.get(), in2.get(), nullptr, flags), 1);
  EXPECT_EQ(both(v, i2d(two.get()), at_now()).reason, "multiple_signers");
  // Not SignedData.
  BioPtr in3(BIO_new_mem_buf(kPayload.data(), static_cast<int>(kPayload.size())));
  CmsPtr data(CMS_data_create(in3.get(), CMS_BINARY));
  EXPECT_EQ(both(v, i2d(data.get()), at_now()).reason, "not_signed_data");
  // SHA-1 is refused.
  EXPECT_EQ(both(v, sign_with(*ec_, kPayload, 0, EVP_sha1()), at_now()).reason,
            "unsupported_algorithm");
  // An unsigned attribute (e.g. a timestamp) does not change the verdict.
  CmsPtr unsigned_attr = d2i(sign(*ec_, kPayload));
  CMS_SignerInfo* si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(unsigned_attr.get()), 0);
  ASSERT_EQ(
      CMS_unsigned_add1_attr_by_txt(si, "1.2.840.113549.1.9.16.2.14", MBSTRING_UTF8, "token", -1),
      1);
  EXPECT_TRUE(both(v, i2d(unsigned_attr.get()), at_now()).valid);
  // Signature algorithm OIDs swapped: Ed25519 / GOST named; an RSA OID on an EC signature.
  for (const char* oid : {"1.3.101.112", "1.2.398.3.10.1.1.2.3.2", "1.2.840.113549.1.1.11",
                          "1.2.840.113549.1.1.10"}) {
    CmsPtr cms = d2i(sign(*ec_, kPayload));
    CMS_SignerInfo* s = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms.get()), 0);
    X509_ALGOR* sig_alg = nullptr;
    CMS_SignerInfo_get0_algs(s, nullptr, nullptr, nullptr, &sig_alg);
    ASSERT_EQ(X509_ALGOR_set0(sig_alg, OBJ_txt2obj(oid, 1), V_ASN1_UNDEF, nullptr), 1);
    both(v, i2d(cms.get()), at_now(), std::nullopt, oid);
  }
  // An EC OID on an RSA signature.
  {
    CmsPtr cms = d2i(sign(*rsa_, kPayload));
    CMS_SignerInfo* s = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms.get()), 0);
    X509_ALGOR* sig_alg = nullptr;
    CMS_SignerInfo_get0_algs(s, nullptr, nullptr, nullptr, &sig_alg);
    ASSERT_EQ(
        X509_ALGOR_set0(sig_alg, OBJ_txt2obj("1.2.840.10045.4.3.2", 1), V_ASN1_UNDEF, nullptr), 1);
    EXPECT_EQ(both(v, i2d(cms.get()), at_now()).reason, "bad_signature");
  }
  // Another eContentType (contentType attribute follows it).
  {
    BioPtr in4(BIO_new_mem_buf(kPayload.data(), static_cast<int>(kPayload.size())));
    unsigned f = CMS_BINARY | CMS_PARTIAL;
    CmsPtr cms(CMS_sign(nullptr, nullptr, nullptr, nullptr, f));
    ASSERT_EQ(CMS_set1_eContentType(cms.get(), OBJ_txt2obj("1.2.840.113549.1.9.16.1.4", 1)), 1);
    ASSERT_TRUE(CMS_add1_signer(cms.get(), ec_->cert(), ec_->key.get(), EVP_sha256(), f));
    ASSERT_EQ(CMS_final(cms.get(), in4.get(), nullptr, f), 1);
    both(v, i2d(cms.get()), at_now(), std::nullopt, "tstinfo content type");
  }
  // Trailing bytes, base64 and PEM armour.
  std::string good = sign(*ec_, kPayload);
  EXPECT_EQ(both(v, good + "x", at_now()).reason, "malformed_cms");
  EXPECT_TRUE(both(v, base64_encode(good), at_now()).valid);
  EXPECT_TRUE(
      both(v, "-----BEGIN CMS-----\n" + base64_encode(good) + "\n-----END CMS-----\n", at_now())
          .valid);
}

TEST_F(CmsFastTest, DetachedCms) {
  auto v = verifier();
  std::string detached = sign(*auth_, kPayload, /*attach=*/false);
  EXPECT_EQ(both(v, detached, at_now()).reason, "no_content");
  uint64_t n = fast_count(v, [&] {
    auto ok = both(v, detached, at_now(Usage::Authentication), kPayload);
    EXPECT_TRUE(ok.valid) << ok.reason << ": " << ok.detail;
    EXPECT_EQ(ok.content, kPayload);
    EXPECT_TRUE(both(v, detached, at_now(Usage::Authentication), kPayload).valid);
  });
  EXPECT_EQ(n, 2u);
  EXPECT_EQ(both(v, detached, at_now(), std::string_view("other challenge")).reason,
            "bad_signature");
  EXPECT_EQ(both(v, detached, at_now(), std::string_view("", 0)).reason, "bad_signature");
  // A null view is refused by BIO_new_mem_buf on the reference path ("malformed_cms");
  // the fast path leaves it to it.
  both(v, detached, at_now(), std::string_view());
  std::string attached = sign(*auth_, kPayload);
  EXPECT_TRUE(both(v, attached, at_now(), kPayload).valid);
  EXPECT_EQ(both(v, attached, at_now(), std::string_view("other")).reason, "bad_signature");
  // Empty content, attached and detached.
  EXPECT_TRUE(both(v, sign(*auth_, ""), at_now()).valid);
  EXPECT_TRUE(both(v, sign(*auth_, "", false), at_now(), std::string_view("", 0)).valid);
}

TEST_F(CmsFastTest, MalformedInputsNeverCrash) {
  auto v = verifier();
  for (std::string bad :
       {std::string("garbage"), std::string(), std::string("\x30\x05\x01", 3), std::string("MIIB"),
        std::string("\x30\x80\x00\x00", 4), std::string("\x30\x00", 2), to_der(ec_->cert())}) {
    EXPECT_EQ(both(v, bad, at_now()).reason, "malformed_cms");
  }
  std::string cms = sign(*ec_, kPayload);
  for (size_t len = 0; len < cms.size(); len += 7)
    EXPECT_FALSE(both(v, cms.substr(0, len), at_now()).valid) << len;
  std::mt19937 rng(7);
  for (int i = 0; i < 200; ++i) {
    std::string junk(rng() % 600, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    if (i % 2 == 0 && junk.size() > 4) {  // a plausible SEQUENCE header
      junk[0] = 0x30;
      junk[1] = static_cast<char>(0x82);
      junk[2] = static_cast<char>((junk.size() - 4) >> 8);
      junk[3] = static_cast<char>((junk.size() - 4) & 0xff);
    }
    EXPECT_FALSE(both(v, junk, at_now()).valid);
  }
}

// Random byte flips, insertions and truncations of valid CMS: both paths agree on everything.
TEST_F(CmsFastTest, FuzzedCmsAgree) {
  const auto now = time::now();
  test::write_text(
      dir_ / "ca.crl",
      test_ca().ca.make_crl({}, now - std::chrono::hours(2), days_from_now(7)).value());
  auto store = CrlStore::open(dir_.path(), test_ca().trust).value();
  CmsVerifier v(test_ca().trust, store);
  auto sub = test_ca().ca.subordinate("AAJ Fuzz Sub", days_from_now(-10), days_from_now(200));
  auto h = make_holder(*sub, person_spec(CertKind::Signing));
  std::vector<std::string> bases = {sign(*ec_, kPayload), sign(*rsa_, kPayload),
                                    sign_with(*ec_, kPayload, CMS_USE_KEYID),
                                    sign(h, kPayload, true, {sub->cert()})};
  // AAJ_FUZZ_ITERATIONS raises the per-CMS count for a longer run (default 400).
  const char* env = std::getenv("AAJ_FUZZ_ITERATIONS");
  const int iterations = env != nullptr ? std::max(1, std::atoi(env)) : 400;
  std::mt19937 rng(env != nullptr ? std::random_device{}() : 20240601);
  int valid = 0, fast_before = static_cast<int>(v.cache_stats().fast);
  for (const std::string& base : bases) {
    for (int i = 0; i < iterations; ++i) {
      std::string m = base;
      switch (rng() % 4) {
        case 0:  // flip 1-3 bytes anywhere
        case 1:
          for (unsigned k = 0, n = 1 + rng() % 3; k < n; ++k)
            m[rng() % m.size()] ^= static_cast<char>(1 + rng() % 255);
          break;
        case 2: {  // flip a byte in the last 400 (SignerInfo, signed attributes)
          size_t tail = std::min<size_t>(400, m.size());
          m[m.size() - 1 - rng() % tail] ^= static_cast<char>(1 + rng() % 255);
          break;
        }
        case 3:
          if (rng() % 2 == 0)
            m.resize(rng() % m.size());
          else
            m.insert(m.begin() + static_cast<long>(rng() % m.size()), static_cast<char>(rng()));
          break;
      }
      VerifyOptions o = at_now(rng() % 2 == 0 ? Usage::Signing : Usage::Any);
      if (rng() % 4 == 0) o.at = days_from_now(static_cast<int>(rng() % 800) - 400);
      if (both(v, m, o, std::nullopt, "mutation " + std::to_string(i)).valid) ++valid;
      if (HasFailure()) {
        ADD_FAILURE() << "first disagreement at mutation " << i << ": " << base64_encode(m);
        return;
      }
    }
  }
  std::cout << "fuzz: " << valid << " still valid, fast path decided "
            << v.cache_stats().fast - static_cast<uint64_t>(fast_before) << ", fallback "
            << v.cache_stats().fallback << ", entries " << v.cache_stats().entries << "\n";
}

TEST_F(CmsFastTest, CacheIsBounded) {
  CmsVerifier v(test_ca().trust, nullptr, SignerCacheOptions{true, 4});
  std::vector<Holder> holders;
  for (int i = 0; i < 10; ++i)
    holders.push_back(make_holder(test_ca().ca, person_spec(CertKind::Signing)));
  for (int round = 0; round < 2; ++round)
    for (const auto& h : holders) EXPECT_TRUE(both(v, sign(h, kPayload), at_now()).valid);
  EXPECT_LE(v.cache_stats().entries, 4u);
  EXPECT_EQ(v.cache_stats().fallback, 0u);

  CmsVerifier off(test_ca().trust, nullptr, SignerCacheOptions{false, 100});
  EXPECT_TRUE(off.verify(sign(*ec_, kPayload), at_now()).valid);
  EXPECT_EQ(off.cache_stats().fast, 0u);
  EXPECT_EQ(off.cache_stats().entries, 0u);
}

TEST_F(CmsFastTest, ConcurrentFastPathWhileCrlReloads) {
  const auto now = time::now();
  test::write_text(
      dir_ / "ca.crl",
      test_ca().ca.make_crl({}, now - std::chrono::hours(2), days_from_now(7)).value());
  auto store = CrlStore::open(dir_.path(), test_ca().trust).value();
  CmsVerifier v(test_ca().trust, store, SignerCacheOptions{true, 8});
  std::vector<std::string> cms;
  for (int i = 0; i < 4; ++i) cms.push_back(sign(*ec_, "request " + std::to_string(i)));
  cms.push_back(sign(*rsa_, kPayload));
  std::atomic<int> failures{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 150; ++i) {
        auto r = v.verify(cms[static_cast<size_t>(i + t) % cms.size()], at_now(Usage::Signing));
        if (!r.valid) ++failures;
      }
    });
  std::thread reloader([&] {
    while (!stop) store->reload();
  });
  for (auto& t : threads) t.join();
  stop = true;
  reloader.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(v.cache_stats().fallback, 0u);
  EXPECT_EQ(v.cache_stats().fast, 450u);
}

// NCA RK's real CMS (see nca_test.cpp for the dates).
TEST_F(CmsFastTest, NcaFixtureAgrees) {
  AAJ_REQUIRE_NCA_FIXTURES();
  auto trust = TrustStore::load({test::nca_dir() / "ca/nca_rsa_test.crt"}).value();
  std::string der = read_file(test::nca_dir() / "cms/lol_kek_rsa_attached.cms.der").value();
  auto at = [](const char* iso) { return time::parse_iso8601(iso).value(); };
  CmsVerifier v(trust, nullptr);
  uint64_t n = fast_count(v, [&] {
    auto r = both(v, der, at_time(at("2021-06-01T00:00:00Z"), Usage::Signing));
    EXPECT_TRUE(r.valid) << r.reason << ": " << r.detail;
    EXPECT_EQ(r.content, "lol_kek");
    EXPECT_EQ(r.signer.serial_hex, "4279390a141f5353a62947b61ed65e81741467d1");
    EXPECT_EQ(both(v, der, at_time(at("2021-06-01T00:00:00Z"), Usage::Authentication)).reason,
              "wrong_key_usage");
    EXPECT_EQ(both(v, der, at_time(time::now())).reason, "expired");
    EXPECT_EQ(both(v, der, at_time(at("2022-10-01T18:52:19Z"))).reason, "expired");
    EXPECT_EQ(both(v, der, at_time(at("2020-06-01T00:00:00Z"))).reason, "not_yet_valid");
    EXPECT_TRUE(both(v, base64_encode(der), at_time(at("2021-06-01T00:00:00Z"))).valid);
  });
  EXPECT_EQ(n, 6u);
  auto store = CrlStore::from_files({test::nca_dir() / "crl/nca_rsa_test.crl"}, trust).value();
  CmsVerifier with_crl(trust, store);
  EXPECT_EQ(both(with_crl, der, at_time(at("2021-06-01T00:00:00Z"))).reason,
            "revocation_unavailable");
  // Fuzz the real one as well.
  std::mt19937 rng(42);
  for (int i = 0; i < 300 && !HasFailure(); ++i) {
    std::string m = der;
    m[rng() % m.size()] ^= static_cast<char>(1 + rng() % 255);
    both(v, m, at_time(at("2021-06-01T00:00:00Z")), std::nullopt, "nca " + std::to_string(i));
  }
}

}  // namespace
}  // namespace aaj::pki
