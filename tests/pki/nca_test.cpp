// Tests against NCA RK's real test artifacts (../shared/fixtures/nca-test). The end-entity
// certificates are expired today, so acceptance is checked "as of" dates inside validity:
//   CMS signer (= keys/individual_valid_sign_2004_rsa.p12): serial 4279390a…, valid
//     2021-01-18T13:09:14Z … 2022-01-18T13:09:14Z; the CMS signingTime is 2022-10-01T18:52:19Z,
//     i.e. NCA's tooling signed after the certificate had expired.
//   certs/individual_valid_sign_2004_rsa*.cer: valid 2022-01-18 … 2023-01-18.
//   crl/nca_rsa_test.crl: thisUpdate 2022-03-29T04:18:29Z, nextUpdate 2022-09-25T04:18:29Z.
//   keys/individual_sign_revoked_2004_rsa.p12: serial 46757a21…, revoked 2022-01-18T04:40:24Z.
#include <gtest/gtest.h>

#include "pki/certificate.h"
#include "pki/cms.h"
#include "pki/crl.h"
#include "pki/issue.h"
#include "pki/trust.h"
#include "test_util.h"

namespace aaj::pki {
namespace {

using test::nca_dir;
using Kind = RevocationStatus::Kind;

time::Instant at(const char* iso) {
  auto t = time::parse_iso8601(iso);
  EXPECT_TRUE(t.has_value()) << iso;
  return *t;
}

std::shared_ptr<const TrustStore> nca_trust() {
  auto t = TrustStore::load({nca_dir() / "ca/nca_rsa_test.crt"});
  EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.error().detail);
  return t.ok() ? *t : nullptr;
}

CertInfo describe_file(const std::string& rel) {
  auto certs = load_certificates(nca_dir() / rel);
  EXPECT_TRUE(certs.ok()) << rel;
  auto info = describe(certs->front().get());
  EXPECT_TRUE(info.ok()) << rel;
  return info.ok() ? *info : CertInfo{};
}

bool has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

TEST(NcaFixtures, DescribeSigningCertificate) {
  AAJ_REQUIRE_NCA_FIXTURES();
  CertInfo i = describe_file("certs/individual_valid_sign_2004_rsa.cer");
  EXPECT_EQ(i.iin, "123456789011");
  EXPECT_FALSE(i.iin_checksum_ok);  // NCA's test IIN fails the check digit; not a refusal
  EXPECT_EQ(i.common_name, "ТЕСТОВ ТЕСТ");
  EXPECT_EQ(i.profile, KeyProfile::Signing);
  EXPECT_EQ(i.key_algorithm, "rsa");
  EXPECT_TRUE(has(i.role_oids, "1.2.398.3.3.4.1.1"));
  EXPECT_TRUE(has(i.ekus, "1.3.6.1.5.5.7.3.4"));
  EXPECT_TRUE(has(i.policies, "1.2.398.3.3.2.3"));
  EXPECT_EQ(i.serial_hex, "41e45cc8a04c705963e5cd6769848a934d8eaef5");
  EXPECT_EQ(time::format_utc(i.not_after), time::format_utc(at("2023-01-18T04:38:50Z")));
  EXPECT_EQ(i.issuer, "CN=ҰКО 3.0 (RSA TEST),C=KZ");
}

TEST(NcaFixtures, DescribeAuthenticationCertificate) {
  AAJ_REQUIRE_NCA_FIXTURES();
  CertInfo i = describe_file("certs/individual_valid_sign_2004_rsa_auth.cer");
  EXPECT_EQ(i.iin, "123456789011");
  EXPECT_EQ(i.profile, KeyProfile::Authentication);
  EXPECT_TRUE(has(i.role_oids, "1.2.398.3.3.4.1.1"));
  EXPECT_TRUE(has(i.ekus, "1.3.6.1.5.5.7.3.2"));
  EXPECT_TRUE(has(i.policies, "1.2.398.3.3.2.4"));
  EXPECT_TRUE(key_usage_problem(i, Usage::Authentication).empty());
  EXPECT_FALSE(key_usage_problem(i, Usage::Signing).empty());
}

TEST(NcaFixtures, DescribeGostCertificates) {
  AAJ_REQUIRE_NCA_FIXTURES();
  CertInfo i = describe_file("certs/ceo_valid_sign_2004_gost.cer");
  EXPECT_EQ(i.key_algorithm, "gost");
  EXPECT_EQ(i.signature_algorithm, "1.2.398.3.10.1.1.1.2");
  EXPECT_EQ(i.bin, "123456789021");
  EXPECT_EQ(i.iin, "123456789011");
  EXPECT_EQ(i.organisation, "АО \"ТЕСТ\"");
  CertInfo ca2015 = describe_file("ca/nca_gost2015_test.cer");  // DER
  EXPECT_EQ(ca2015.key_algorithm, "gost");
  EXPECT_TRUE(ca2015.is_ca);
  // A GOST CA can be configured as an anchor (parsing works); it just cannot verify anything.
  EXPECT_TRUE(TrustStore::load({nca_dir() / "ca/nca_gost_test.crt"}).ok());
}

TEST(NcaFixtures, TrustStoreFindsIssuerAsPartialChain) {
  AAJ_REQUIRE_NCA_FIXTURES();
  auto trust = nca_trust();
  ASSERT_TRUE(trust);
  auto cert = load_certificates(nca_dir() / "certs/individual_valid_sign_2004_rsa.cer").value();
  EXPECT_EQ(trust->find_issuer(cert[0].get()), trust->anchors()[0].get());
}

TEST(NcaFixtures, CmsVerifiesAsOfValidityWithPartialChain) {
  AAJ_REQUIRE_NCA_FIXTURES();
  CmsVerifier v(nca_trust(), nullptr);
  std::string der = read_file(nca_dir() / "cms/lol_kek_rsa_attached.cms.der").value();
  VerifyOptions o;
  o.at = at("2021-06-01T00:00:00Z");
  o.usage = Usage::Signing;
  auto r = v.verify(der, o);
  EXPECT_TRUE(r.valid) << r.reason << ": " << r.detail;
  EXPECT_EQ(r.content, "lol_kek");
  EXPECT_EQ(r.signer.iin, "123456789011");
  EXPECT_EQ(r.signer.serial_hex, "4279390a141f5353a62947b61ed65e81741467d1");
  ASSERT_TRUE(r.signing_time.has_value());
  EXPECT_EQ(time::format_utc(*r.signing_time), time::format_utc(at("2022-10-01T18:52:19Z")));
  // The signer key is a SIGN key: not for authentication.
  o.usage = Usage::Authentication;
  EXPECT_EQ(v.verify(der, o).reason, "wrong_key_usage");
  // Base64 of the same CMS, as NCALayer returns it.
  o.usage = Usage::Any;
  EXPECT_TRUE(v.verify(base64_encode(der), o).valid);
}

TEST(NcaFixtures, CmsIsExpiredToday) {
  AAJ_REQUIRE_NCA_FIXTURES();
  CmsVerifier v(nca_trust(), nullptr);
  std::string der = read_file(nca_dir() / "cms/lol_kek_rsa_attached.cms.der").value();
  VerifyOptions o;
  o.at = time::now();
  auto r = v.verify(der, o);
  EXPECT_EQ(r.reason, "expired") << r.detail;
  // Also as of its own signingTime (after the certificate's notAfter).
  o.at = at("2022-10-01T18:52:19Z");
  EXPECT_EQ(v.verify(der, o).reason, "expired");
  o.at = at("2020-06-01T00:00:00Z");
  EXPECT_EQ(v.verify(der, o).reason, "not_yet_valid");
}

TEST(NcaFixtures, CrlLoadsAndRevokesTheRevokedStore) {
  AAJ_REQUIRE_NCA_FIXTURES();
  auto trust = nca_trust();
  auto store = CrlStore::from_files({nca_dir() / "crl/nca_rsa_test.crl"}, trust).value();
  auto report = store->last_report();
  ASSERT_EQ(report["loaded"].size(), 1u) << report.dump(1);
  EXPECT_EQ(report["loaded"][0]["this_update"], time::format_utc(at("2022-03-29T04:18:29Z")));
  EXPECT_EQ(report["loaded"][0]["next_update"], time::format_utc(at("2022-09-25T04:18:29Z")));

  auto ks = load_pkcs12(nca_dir() / "keys/individual_sign_revoked_2004_rsa.p12", "Qwerty12");
  ASSERT_TRUE(ks.ok()) << ks.error().detail;
  X509* cert = ks->cert.get();
  X509* issuer = const_cast<X509*>(trust->find_issuer(cert));
  ASSERT_NE(issuer, nullptr);
  auto s = store->status(cert, issuer, at("2022-06-01T00:00:00Z"));
  EXPECT_EQ(s.kind, Kind::Revoked) << s.detail;
  ASSERT_TRUE(s.revoked_at.has_value());
  EXPECT_EQ(time::format_utc(*s.revoked_at), time::format_utc(at("2022-01-18T04:40:24Z")));
  // Before the revocation date it was good (the CRL lists it as revoked later).
  EXPECT_EQ(store->status(cert, issuer, at("2022-01-18T04:40:00Z")).kind, Kind::Good);
  // After nextUpdate the CRL is stale: unknown, fail closed.
  EXPECT_EQ(store->status(cert, issuer, at("2022-12-01T00:00:00Z")).kind, Kind::Unknown);

  // The valid signing certificate is not listed.
  auto good = load_certificates(nca_dir() / "certs/individual_valid_sign_2004_rsa.cer").value();
  EXPECT_EQ(store->status(good[0].get(), issuer, at("2022-06-01T00:00:00Z")).kind, Kind::Good);
}

TEST(NcaFixtures, CmsSignerWithNcaCrl) {
  AAJ_REQUIRE_NCA_FIXTURES();
  // The only CRL is from 2022-03-29, after the CMS signer's certificate expired (2022-01-18):
  // its silence proves nothing for 2021, so revocation is unavailable (fail closed).
  auto trust = nca_trust();
  auto store = CrlStore::from_files({nca_dir() / "crl/nca_rsa_test.crl"}, trust).value();
  CmsVerifier v(trust, store);
  VerifyOptions o;
  o.at = at("2021-06-01T00:00:00Z");
  auto r = v.verify(read_file(nca_dir() / "cms/lol_kek_rsa_attached.cms.der").value(), o);
  EXPECT_EQ(r.reason, "revocation_unavailable") << r.detail;
  EXPECT_EQ(r.revocation, "unknown");
}

TEST(NcaFixtures, GostCrlIsUnsupported) {
  AAJ_REQUIRE_NCA_FIXTURES();
  auto gost_trust = TrustStore::load({nca_dir() / "ca/nca_gost_test.crt"}).value();
  auto store = CrlStore::from_files({nca_dir() / "crl/nca_gost_test.crl"}, gost_trust).value();
  auto r = store->last_report();
  ASSERT_EQ(r["rejected"].size(), 1u) << r.dump(1);
  EXPECT_EQ(r["rejected"][0]["reason"], "unsupported_algorithm") << r.dump(1);
  // With the RSA trust store the GOST CRLs have no issuer.
  auto store2 =
      CrlStore::from_files({nca_dir() / "crl/nca_gost2022_test.crl"}, nca_trust()).value();
  EXPECT_EQ(store2->last_report()["rejected"][0]["reason"], "unknown_issuer");
}

TEST(NcaFixtures, LegacyPkcs12Stores) {
  AAJ_REQUIRE_NCA_FIXTURES();
  auto ks = load_pkcs12(nca_dir() / "keys/individual_valid_sign_2004_rsa.p12", "Qwerty12");
  ASSERT_TRUE(ks.ok()) << ks.error().detail;
  EXPECT_EQ(describe(ks->cert.get())->serial_hex, "4279390a141f5353a62947b61ed65e81741467d1");
  EXPECT_EQ(X509_check_private_key(ks->cert.get(), ks->key.get()), 1);

  auto bad = load_pkcs12(nca_dir() / "keys/individual_valid_sign_2004_rsa.p12", "qwerty12");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, "bad_password");

  // A new signature with NCA's legacy-store key verifies (as of the certificate's validity).
  auto cms = sign_cms("новый запрос", ks->cert.get(), ks->key.get(), {});
  ASSERT_TRUE(cms.ok());
  CmsVerifier v(nca_trust(), nullptr);
  VerifyOptions o;
  o.at = at("2021-12-01T00:00:00Z");
  o.usage = Usage::Signing;
  auto r = v.verify(*cms, o);
  EXPECT_TRUE(r.valid) << r.reason << ": " << r.detail;
  EXPECT_EQ(r.content, "новый запрос");
}

TEST(NcaFixtures, GostPkcs12IsAClearUnsupportedError) {
  AAJ_REQUIRE_NCA_FIXTURES();
  auto ks = load_pkcs12(nca_dir() / "keys/individual_valid_2015_gost.p12", "Aa123456");
  ASSERT_FALSE(ks.ok());
  EXPECT_EQ(ks.error().code, "unsupported_algorithm") << ks.error().detail;
  EXPECT_NE(ks.error().detail.find("1.2.398.3.10"), std::string::npos) << ks.error().detail;
  EXPECT_EQ(load_pkcs12(nca_dir() / "keys/individual_valid_2015_gost.p12", "wrong").error().code,
            "bad_password");
}

}  // namespace
}  // namespace aaj::pki
