#include "pki/cms.h"

#include <openssl/cms.h>

#include <atomic>
#include <thread>

#include "pki/certificate.h"
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

constexpr std::string_view kPayload = "{\"request\":\"payload-0123456789\"}";

VerifyOptions at_now(Usage usage = Usage::Any) {
  VerifyOptions o;
  o.at = time::now();
  o.usage = usage;
  return o;
}

class CmsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    signing_ = new Holder(make_holder(test_ca().ca, person_spec(CertKind::Signing)));
    auth_ = new Holder(make_holder(test_ca().ca, person_spec(CertKind::Authentication)));
    plain_ = new Holder(make_holder(test_ca().ca, person_spec(CertKind::Plain)));
  }
  static void TearDownTestSuite() {
    delete signing_;
    delete auth_;
    delete plain_;
  }

  // A verifier whose CRL folder holds `crl_pem` (or nothing).
  std::pair<CmsVerifier, std::shared_ptr<CrlStore>> with_crl(const std::string& crl_pem) {
    if (!crl_pem.empty()) test::write_text(dir_ / "ca.crl", crl_pem);
    auto store = CrlStore::open(dir_.path(), test_ca().trust);
    EXPECT_TRUE(store.ok());
    return {CmsVerifier(test_ca().trust, *store), *store};
  }

  CmsVerifier plain_verifier() const { return CmsVerifier(test_ca().trust, nullptr); }

  static Holder* signing_;
  static Holder* auth_;
  static Holder* plain_;
  TempDir dir_;
};
Holder* CmsTest::signing_ = nullptr;
Holder* CmsTest::auth_ = nullptr;
Holder* CmsTest::plain_ = nullptr;

TEST_F(CmsTest, ValidSigningCmsPasses) {
  std::string cms = sign(*signing_, kPayload);
  auto r = plain_verifier().verify(cms, at_now(Usage::Signing));
  EXPECT_TRUE(r.valid) << r.reason << ": " << r.detail;
  EXPECT_EQ(r.reason, "");
  EXPECT_EQ(r.content, kPayload);
  EXPECT_EQ(r.revocation, "not_checked");
  EXPECT_EQ(r.signer.iin, "990106300596");
  EXPECT_EQ(r.signer.serial_hex, signing_->issued.serial_hex);
  ASSERT_TRUE(r.signing_time.has_value());
  EXPECT_LT(std::chrono::abs(*r.signing_time - time::now()), std::chrono::minutes(5));
  EXPECT_EQ(r.cms_sha256_hex, sha256_hex(cms));

  auto j = to_json(r);
  EXPECT_EQ(j["valid"], true);
  EXPECT_EQ(j["signer"]["iin"], "990106300596");
  EXPECT_EQ(j["content"], base64_encode(kPayload));
  EXPECT_TRUE(j["signing_time"].is_string());
  EXPECT_EQ(j["revocation"], "not_checked");
}

TEST_F(CmsTest, TamperedContentIsBadSignature) {
  std::string cms = sign(*signing_, kPayload);
  size_t pos = cms.find("payload-0123456789");
  ASSERT_NE(pos, std::string::npos);
  cms[pos + 8] ^= 0x01;
  auto r = plain_verifier().verify(cms, at_now());
  EXPECT_FALSE(r.valid);
  EXPECT_EQ(r.reason, "bad_signature") << r.detail;
}

TEST_F(CmsTest, ChangedSignedAttributeIsBadSignature) {
  std::string der = sign(*signing_, kPayload);
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  CmsPtr cms(d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(der.size())));
  ASSERT_TRUE(cms);
  CMS_SignerInfo* si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms.get()), 0);
  int idx = CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1);
  ASSERT_GE(idx, 0);
  X509_ATTRIBUTE_free(CMS_signed_delete_attr(si, idx));
  Asn1TimePtr t(ASN1_TIME_set(nullptr, 1000000000));
  ASSERT_EQ(CMS_signed_add1_attr_by_NID(si, NID_pkcs9_signingTime, t->type, t.get(), -1), 1);
  unsigned char* out = nullptr;
  int n = i2d_CMS_ContentInfo(cms.get(), &out);
  ASSERT_GT(n, 0);
  std::string forged(reinterpret_cast<char*>(out), static_cast<size_t>(n));
  OPENSSL_free(out);
  auto r = plain_verifier().verify(forged, at_now());
  EXPECT_EQ(r.reason, "bad_signature") << r.detail;
}

TEST_F(CmsTest, ExpiredCertificate) {
  auto old = make_holder(test_ca().ca, person_spec(CertKind::Signing, -400, -10));
  auto r = plain_verifier().verify(sign(old, kPayload), at_now());
  EXPECT_EQ(r.reason, "expired") << r.detail;
  EXPECT_EQ(r.signer.iin, "990106300596");  // the signer is still reported

  // A valid certificate checked as of a time after its notAfter.
  VerifyOptions later = at_now();
  later.at = days_from_now(400);
  EXPECT_EQ(plain_verifier().verify(sign(*signing_, kPayload), later).reason, "expired");
  // ... and before its notBefore.
  VerifyOptions earlier = at_now();
  earlier.at = days_from_now(-31);
  EXPECT_EQ(plain_verifier().verify(sign(*signing_, kPayload), earlier).reason, "not_yet_valid");
}

TEST_F(CmsTest, NotYetValidCertificate) {
  auto future = make_holder(test_ca().ca, person_spec(CertKind::Signing, 10, 100));
  auto r = plain_verifier().verify(sign(future, kPayload), at_now());
  EXPECT_EQ(r.reason, "not_yet_valid") << r.detail;
}

TEST_F(CmsTest, CertificateFromAnotherCaIsUntrusted) {
  auto other = Authority::create("AAJ Test Root", days_from_now(-10), days_from_now(100));
  ASSERT_TRUE(other.ok());  // same name as ours, different key: must not pass
  auto h = make_holder(*other, person_spec(CertKind::Signing));
  auto r = plain_verifier().verify(sign(h, kPayload), at_now());
  EXPECT_EQ(r.reason, "untrusted") << r.detail;

  auto stranger = Authority::create("Stranger CA", days_from_now(-10), days_from_now(100));
  auto s = make_holder(*stranger, person_spec(CertKind::Signing));
  EXPECT_EQ(plain_verifier().verify(sign(s, kPayload), at_now()).reason, "untrusted");
}

TEST_F(CmsTest, SignerCertificateMissingFromCmsIsUntrusted) {
  BioPtr in(BIO_new_mem_buf(kPayload.data(), static_cast<int>(kPayload.size())));
  CmsPtr cms(
      CMS_sign(signing_->cert(), signing_->key.get(), nullptr, in.get(), CMS_BINARY | CMS_NOCERTS));
  ASSERT_TRUE(cms);
  unsigned char* out = nullptr;
  int n = i2d_CMS_ContentInfo(cms.get(), &out);
  std::string der(reinterpret_cast<char*>(out), static_cast<size_t>(n));
  OPENSSL_free(out);
  auto r = plain_verifier().verify(der, at_now());
  EXPECT_EQ(r.reason, "untrusted");
  EXPECT_NE(r.detail.find("not in the CMS"), std::string::npos);
}

TEST_F(CmsTest, AmbiguousSignerCertificateIsUntrusted) {
  // A forged certificate with the legitimate signer's issuer name and serial, own key.
  auto forger = Authority::create("AAJ Test Root", days_from_now(-1), days_from_now(10));
  ASSERT_TRUE(forger.ok());
  auto forged = make_holder(*forger, person_spec(CertKind::Signing));
  ASSERT_EQ(
      X509_set_serialNumber(forged.issued.cert.get(),
                            const_cast<ASN1_INTEGER*>(X509_get0_serialNumber(signing_->cert()))),
      1);
  ASSERT_GT(X509_sign(forged.issued.cert.get(), forger->key(), EVP_sha256()), 0);
  BioPtr in(BIO_new_mem_buf(kPayload.data(), static_cast<int>(kPayload.size())));
  unsigned flags = CMS_BINARY | CMS_PARTIAL | CMS_NOCERTS;
  CmsPtr cms(CMS_sign(nullptr, nullptr, nullptr, nullptr, flags));
  ASSERT_TRUE(CMS_add1_signer(cms.get(), forged.cert(), forged.key.get(), EVP_sha256(), flags));
  ASSERT_EQ(CMS_add1_cert(cms.get(), signing_->cert()), 1);  // the legitimate one first
  ASSERT_EQ(CMS_add1_cert(cms.get(), forged.cert()), 1);
  ASSERT_EQ(CMS_final(cms.get(), in.get(), nullptr, flags), 1);
  unsigned char* out = nullptr;
  int n = i2d_CMS_ContentInfo(cms.get(), &out);
  std::string der(reinterpret_cast<char*>(out), static_cast<size_t>(n));
  OPENSSL_free(out);
  auto r = plain_verifier().verify(der, at_now());
  EXPECT_FALSE(r.valid);
  EXPECT_EQ(r.reason, "untrusted") << r.detail;
}

TEST_F(CmsTest, IntermediateCarriedInCmsChainsToRoot) {
  auto sub = test_ca().ca.subordinate("AAJ Test Sub", days_from_now(-10), days_from_now(200));
  ASSERT_TRUE(sub.ok());
  auto h = make_holder(*sub, person_spec(CertKind::Signing));
  auto v = plain_verifier();
  auto ok = v.verify(sign(h, kPayload, true, {sub->cert()}), at_now(Usage::Signing));
  EXPECT_TRUE(ok.valid) << ok.reason << ": " << ok.detail;
  // Without the intermediate there is no path to the anchor.
  EXPECT_EQ(v.verify(sign(h, kPayload), at_now()).reason, "untrusted");
  // An expired intermediate makes the chain expired.
  auto old_sub = test_ca().ca.subordinate("AAJ Old Sub", days_from_now(-100), days_from_now(-1));
  auto h2 = make_holder(*old_sub, person_spec(CertKind::Signing, -50, 100));
  auto r = v.verify(sign(h2, kPayload, true, {old_sub->cert()}), at_now());
  EXPECT_EQ(r.reason, "expired") << r.detail;
  EXPECT_NE(r.detail.find("depth 1"), std::string::npos) << r.detail;
}

TEST_F(CmsTest, RevokedSerialInFreshCrl) {
  auto [v, store] =
      with_crl(test_ca()
                   .ca
                   .make_crl({{signing_->issued.serial_hex, days_from_now(-1)}},
                             days_from_now(0) - std::chrono::hours(1), days_from_now(7))
                   .value());
  auto r = v.verify(sign(*signing_, kPayload), at_now(Usage::Signing));
  EXPECT_FALSE(r.valid);
  EXPECT_EQ(r.reason, "revoked") << r.detail;
  EXPECT_EQ(r.revocation, "revoked");
  // The same CRL does not list the auth certificate.
  auto ok = v.verify(sign(*auth_, kPayload), at_now(Usage::Authentication));
  EXPECT_TRUE(ok.valid) << ok.reason << ": " << ok.detail;
  EXPECT_EQ(ok.revocation, "good");
  // check_revocation = false skips it.
  VerifyOptions no_check = at_now();
  no_check.check_revocation = false;
  auto skipped = v.verify(sign(*signing_, kPayload), no_check);
  EXPECT_TRUE(skipped.valid);
  EXPECT_EQ(skipped.revocation, "not_checked");
}

TEST_F(CmsTest, RevocationAfterAtIsGood) {
  auto [v, store] =
      with_crl(test_ca()
                   .ca
                   .make_crl({{signing_->issued.serial_hex, days_from_now(-2)}},
                             days_from_now(0) - std::chrono::hours(1), days_from_now(7))
                   .value());
  VerifyOptions o = at_now(Usage::Signing);
  o.at = days_from_now(-5);  // before the revocation
  auto r = v.verify(sign(*signing_, kPayload), o);
  EXPECT_TRUE(r.valid) << r.reason << ": " << r.detail;
  EXPECT_EQ(r.revocation, "good");
  o.at = days_from_now(-1);  // after it
  EXPECT_EQ(v.verify(sign(*signing_, kPayload), o).reason, "revoked");
}

TEST_F(CmsTest, StaleCrlIsRevocationUnavailable) {
  auto [v, store] =
      with_crl(test_ca().ca.make_crl({}, days_from_now(-10), days_from_now(-1)).value());
  auto r = v.verify(sign(*signing_, kPayload), at_now());
  EXPECT_EQ(r.reason, "revocation_unavailable") << r.detail;
  EXPECT_EQ(r.revocation, "unknown");
  EXPECT_NE(r.detail.find("stale"), std::string::npos) << r.detail;
  // As of a time inside that CRL's validity it is good.
  VerifyOptions o = at_now();
  o.at = days_from_now(-5);
  EXPECT_TRUE(v.verify(sign(*signing_, kPayload), o).valid);
}

TEST_F(CmsTest, NoCrlForIssuerIsRevocationUnavailable) {
  auto other = Authority::create("Other CA", days_from_now(-10), days_from_now(100));
  // A CRL folder with nothing for our CA (the other CA's CRL is rejected: unknown issuer).
  auto [v, store] = with_crl(other->make_crl({}, days_from_now(-1), days_from_now(7)).value());
  auto r = v.verify(sign(*signing_, kPayload), at_now());
  EXPECT_EQ(r.reason, "revocation_unavailable");
  EXPECT_NE(r.detail.find("no CRL"), std::string::npos) << r.detail;
}

TEST_F(CmsTest, KeyUsageRules) {
  auto v = plain_verifier();
  std::string by_auth = sign(*auth_, kPayload);
  std::string by_sign = sign(*signing_, kPayload);
  std::string by_plain = sign(*plain_, kPayload);
  EXPECT_EQ(v.verify(by_auth, at_now(Usage::Signing)).reason, "wrong_key_usage");
  EXPECT_EQ(v.verify(by_sign, at_now(Usage::Authentication)).reason, "wrong_key_usage");
  EXPECT_TRUE(v.verify(by_auth, at_now(Usage::Authentication)).valid);
  EXPECT_TRUE(v.verify(by_sign, at_now(Usage::Signing)).valid);
  EXPECT_TRUE(v.verify(by_auth, at_now(Usage::Any)).valid);
  EXPECT_TRUE(v.verify(by_sign, at_now(Usage::Any)).valid);
  for (Usage u : {Usage::Any, Usage::Authentication, Usage::Signing}) {
    auto r = v.verify(by_plain, at_now(u));
    EXPECT_TRUE(r.valid) << static_cast<int>(u) << " " << r.reason << ": " << r.detail;
  }
  // A CA key (keyCertSign/cRLSign only) signing a request: no digitalSignature.
  Holder ca_as_signer{Issued{test_ca().ca.cert_pem(), "", X509Ptr(X509_dup(test_ca().ca.cert()))},
                      KeyPair::from_pem(test_ca().ca.key_pem()).value()};
  EXPECT_EQ(v.verify(sign(ca_as_signer, kPayload), at_now()).reason, "wrong_key_usage");
  // Signing certificate whose EKU lacks emailProtection (only clientAuth).
  auto spec = person_spec(CertKind::Signing);
  auto odd = make_holder(test_ca().ca, spec);  // has emailProtection: fine
  EXPECT_TRUE(v.verify(sign(odd, kPayload), at_now(Usage::Signing)).valid);
  CertInfo no_email = describe(odd.cert()).value();
  no_email.ekus = {"1.3.6.1.5.5.7.3.2"};
  EXPECT_NE(key_usage_problem(no_email, Usage::Signing), "");
  no_email.ekus = {"2.5.29.37.0"};
  EXPECT_EQ(key_usage_problem(no_email, Usage::Signing), "");
}

TEST_F(CmsTest, DetachedCms) {
  std::string detached = sign(*auth_, kPayload, /*attach=*/false);
  auto v = plain_verifier();
  auto r = v.verify(detached, at_now(Usage::Authentication));
  EXPECT_EQ(r.reason, "no_content");
  auto ok = v.verify_detached(detached, kPayload, at_now(Usage::Authentication));
  EXPECT_TRUE(ok.valid) << ok.reason << ": " << ok.detail;
  EXPECT_EQ(ok.content, kPayload);
  EXPECT_EQ(v.verify_detached(detached, "other challenge", at_now()).reason, "bad_signature");
  // Attached CMS through verify_detached: only with the same content.
  std::string attached = sign(*auth_, kPayload);
  EXPECT_TRUE(v.verify_detached(attached, kPayload, at_now()).valid);
  EXPECT_EQ(v.verify_detached(attached, "other", at_now()).reason, "bad_signature");
}

TEST_F(CmsTest, MalformedInputs) {
  auto v = plain_verifier();
  for (std::string bad : {std::string("garbage"), std::string(), std::string("\x30\x05\x01", 3),
                          std::string("MIIB")}) {
    auto r = v.verify(bad, at_now());
    EXPECT_EQ(r.reason, "malformed_cms") << bad;
    EXPECT_EQ(r.revocation, "not_checked");
    EXPECT_FALSE(r.cms_sha256_hex.empty());
  }
  // A certificate is DER but not CMS.
  EXPECT_EQ(v.verify(to_der(signing_->cert()), at_now()).reason, "malformed_cms");
  // Trailing bytes after a valid CMS.
  EXPECT_EQ(v.verify(sign(*signing_, kPayload) + "x", at_now()).reason, "malformed_cms");
  // Truncated.
  std::string cms = sign(*signing_, kPayload);
  EXPECT_EQ(v.verify(cms.substr(0, cms.size() / 2), at_now()).reason, "malformed_cms");
}

TEST_F(CmsTest, Base64AndPemInputAccepted) {
  std::string der = sign(*signing_, kPayload);
  std::string b64 = base64_encode(der);
  std::string wrapped;
  for (size_t i = 0; i < b64.size(); i += 64) wrapped += b64.substr(i, 64) + "\r\n";
  auto v = plain_verifier();
  for (const std::string& in :
       {b64, wrapped, "-----BEGIN CMS-----\n" + wrapped + "-----END CMS-----\n",
        "-----BEGIN PKCS7-----\n" + wrapped + "-----END PKCS7-----\n"}) {
    auto r = v.verify(in, at_now());
    EXPECT_TRUE(r.valid) << r.reason << ": " << r.detail;
    EXPECT_EQ(r.cms_sha256_hex, sha256_hex(der));  // hash of the DER, whatever the armour
  }
}

TEST_F(CmsTest, MultipleSignersAndNotSignedData) {
  BioPtr in(BIO_new_mem_buf(kPayload.data(), static_cast<int>(kPayload.size())));
  unsigned flags = CMS_BINARY | CMS_PARTIAL;
  CmsPtr cms(CMS_sign(nullptr, nullptr, nullptr, nullptr, flags));
  ASSERT_TRUE(
      CMS_add1_signer(cms.get(), signing_->cert(), signing_->key.get(), EVP_sha256(), flags));
  ASSERT_TRUE(CMS_add1_signer(cms.get(), auth_->cert(), auth_->key.get(), EVP_sha256(), flags));
  ASSERT_EQ(CMS_final(cms.get(), in.get(), nullptr, flags), 1);
  unsigned char* out = nullptr;
  int n = i2d_CMS_ContentInfo(cms.get(), &out);
  std::string two(reinterpret_cast<char*>(out), static_cast<size_t>(n));
  OPENSSL_free(out);
  EXPECT_EQ(plain_verifier().verify(two, at_now()).reason, "multiple_signers");

  BioPtr in2(BIO_new_mem_buf(kPayload.data(), static_cast<int>(kPayload.size())));
  CmsPtr data(CMS_data_create(in2.get(), CMS_BINARY));
  ASSERT_TRUE(data);
  out = nullptr;
  n = i2d_CMS_ContentInfo(data.get(), &out);
  std::string plain_data(reinterpret_cast<char*>(out), static_cast<size_t>(n));
  OPENSSL_free(out);
  EXPECT_EQ(plain_verifier().verify(plain_data, at_now()).reason, "not_signed_data");
}

TEST_F(CmsTest, UnsupportedAlgorithmsAreNamed) {
  // Ed25519 signer.
  EvpPkeyPtr ed(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  ASSERT_TRUE(ed);
  KeyPair ed_key(std::move(ed));
  auto issued = test_ca().ca.issue(person_spec(CertKind::Signing), ed_key);
  ASSERT_TRUE(issued.ok()) << issued.error().detail;
  EXPECT_EQ(describe(issued->cert.get())->key_algorithm, "ed25519");
  // OpenSSL 3.0 cannot even produce an Ed25519 CMS with signed attributes, so the SignerInfo
  // algorithm of a normal CMS is swapped for Ed25519 and for a Kazakh GOST OID: both must be
  // named before any verification is attempted.
  auto patched = [&](const char* oid) {
    std::string der = sign(*signing_, kPayload);
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    CmsPtr cms(d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(der.size())));
    EXPECT_TRUE(cms);
    CMS_SignerInfo* si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms.get()), 0);
    X509_ALGOR* sig_alg = nullptr;
    CMS_SignerInfo_get0_algs(si, nullptr, nullptr, nullptr, &sig_alg);
    EXPECT_EQ(X509_ALGOR_set0(sig_alg, OBJ_txt2obj(oid, 1), V_ASN1_UNDEF, nullptr), 1);
    unsigned char* out = nullptr;
    int n = i2d_CMS_ContentInfo(cms.get(), &out);
    std::string result(reinterpret_cast<char*>(out), static_cast<size_t>(n));
    OPENSSL_free(out);
    return result;
  };
  auto r = plain_verifier().verify(patched("1.3.101.112"), at_now());
  EXPECT_EQ(r.reason, "unsupported_algorithm");
  EXPECT_NE(r.detail.find("EdDSA"), std::string::npos) << r.detail;
  auto g = plain_verifier().verify(patched("1.2.398.3.10.1.1.2.3.2"), at_now());
  EXPECT_EQ(g.reason, "unsupported_algorithm");
  EXPECT_NE(g.detail.find("GOST"), std::string::npos) << g.detail;

  // SHA-1 digest is refused before verification.
  BioPtr in2(BIO_new_mem_buf(kPayload.data(), static_cast<int>(kPayload.size())));
  unsigned flags = CMS_BINARY | CMS_PARTIAL;
  CmsPtr sha1(CMS_sign(nullptr, nullptr, nullptr, nullptr, flags));
  ASSERT_TRUE(
      CMS_add1_signer(sha1.get(), signing_->cert(), signing_->key.get(), EVP_sha1(), flags));
  ASSERT_EQ(CMS_final(sha1.get(), in2.get(), nullptr, flags), 1);
  unsigned char* out = nullptr;
  int n = i2d_CMS_ContentInfo(sha1.get(), &out);
  std::string sha1_der(reinterpret_cast<char*>(out), static_cast<size_t>(n));
  OPENSSL_free(out);
  auto r2 = plain_verifier().verify(sha1_der, at_now());
  EXPECT_EQ(r2.reason, "unsupported_algorithm");
  EXPECT_NE(r2.detail.find("weak digest"), std::string::npos) << r2.detail;
}

TEST_F(CmsTest, ConcurrentVerifyWhileCrlReloads) {
  auto [v, store] =
      with_crl(test_ca()
                   .ca.make_crl({}, days_from_now(0) - std::chrono::hours(2), days_from_now(7))
                   .value());
  std::string cms = sign(*signing_, kPayload);
  std::atomic<int> failures{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 60; ++i)
        if (!v.verify(cms, at_now(Usage::Signing)).valid) ++failures;
    });
  std::thread reloader([&, store = store] {
    while (!stop) store->reload();
  });
  for (auto& t : threads) t.join();
  stop = true;
  reloader.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace aaj::pki
