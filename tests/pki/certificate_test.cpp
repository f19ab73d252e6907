#include "pki/certificate.h"

#include "test_util.h"

namespace aaj::pki {
namespace {

using test::make_holder;
using test::person_spec;
using test::test_ca;

bool has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

TEST(Describe, NcaStyleSigningCertificate) {
  auto h = make_holder(test_ca().ca, person_spec(CertKind::Signing));
  auto info = describe(h.cert());
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->common_name, "ТЕСТОВ ТЕСТ");
  EXPECT_EQ(info->iin, "990106300596");
  EXPECT_TRUE(info->iin_checksum_ok);
  EXPECT_EQ(info->bin, "");
  EXPECT_EQ(info->profile, KeyProfile::Signing);
  EXPECT_EQ(info->key_algorithm, "ec");
  EXPECT_TRUE(has(info->ekus, "1.3.6.1.5.5.7.3.4"));
  EXPECT_EQ(info->role_oids, std::vector<std::string>{"1.2.398.3.3.4.1.1"});
  EXPECT_TRUE(has(info->policies, "1.2.398.3.3.2.3"));
  EXPECT_FALSE(info->information_system);
  EXPECT_EQ(info->serial_hex, h.issued.serial_hex);
  EXPECT_EQ(info->serial_hex.size(), 32u);  // 16 random bytes, positive, no leading zero
  EXPECT_EQ(info->issuer, "CN=AAJ Test Root,C=KZ");
  // RFC 2253 order (most significant last), Cyrillic kept as UTF-8.
  EXPECT_EQ(info->subject,
            "GN=ТЕСТОВИЧ,C=KZ,serialNumber=IIN990106300596,SN=ТЕСТОВ,CN=ТЕСТОВ ТЕСТ");
  auto j = to_json(*info);
  EXPECT_EQ(j["profile"], "signing");
  EXPECT_EQ(j["iin"], "990106300596");
}

TEST(Describe, AuthenticationLegalEntityAndInformationSystem) {
  auto spec = person_spec(CertKind::Authentication);
  spec.subject.bin = "081140000436";
  spec.subject.organisation = "ТОО \"Тест\"";
  auto h = make_holder(test_ca().ca, spec);
  auto info = describe(h.cert()).value();
  EXPECT_EQ(info.profile, KeyProfile::Authentication);
  EXPECT_EQ(info.bin, "081140000436");
  EXPECT_EQ(info.organisation, "ТОО \"Тест\"");
  EXPECT_TRUE(has(info.ekus, "1.3.6.1.5.5.7.3.2"));
  EXPECT_TRUE(has(info.policies, "1.2.398.3.3.2.2"));  // legal-entity authentication

  auto is_spec = person_spec(CertKind::InformationSystem);
  is_spec.subject.iin.clear();
  is_spec.subject.bin = "081140000436";
  auto is = describe(make_holder(test_ca().ca, is_spec).cert()).value();
  EXPECT_TRUE(is.information_system);
  EXPECT_EQ(is.role_oids, std::vector<std::string>{"1.2.398.3.3.4.1.2.6"});
  EXPECT_EQ(is.iin, "");
  EXPECT_FALSE(is.iin_checksum_ok);
}

TEST(Describe, PlainCaAndTlsProfiles) {
  auto plain = describe(make_holder(test_ca().ca, person_spec(CertKind::Plain)).cert()).value();
  EXPECT_EQ(plain.profile, KeyProfile::Unspecified);
  EXPECT_FALSE(plain.has_key_usage);
  EXPECT_TRUE(plain.ekus.empty());

  auto ca = describe(test_ca().ca.cert()).value();
  EXPECT_EQ(ca.profile, KeyProfile::Other);
  EXPECT_TRUE(ca.is_ca);
  EXPECT_EQ(ca.key_algorithm, "rsa");

  auto tls = person_spec(CertKind::TlsServer);
  tls.subject = SubjectSpec{};
  tls.subject.common_name = "aaj.local";
  tls.dns_names = {"aaj.local", "localhost"};
  tls.ip_addresses = {"127.0.0.1"};
  auto t = describe(make_holder(test_ca().ca, tls).cert()).value();
  EXPECT_EQ(t.profile, KeyProfile::Authentication);
  EXPECT_EQ(t.ekus, std::vector<std::string>{"1.3.6.1.5.5.7.3.1"});
}

TEST(Describe, ParseCertificatesFormats) {
  auto h = make_holder(test_ca().ca, person_spec(CertKind::Plain));
  std::string pem = h.issued.cert_pem + test_ca().ca.cert_pem();
  auto two = parse_certificates(pem);
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(two->size(), 2u);
  std::string der = to_der(h.cert());
  EXPECT_TRUE(parse_certificate(der).ok());
  EXPECT_TRUE(parse_certificate(base64_encode(der)).ok());
  EXPECT_EQ(parse_certificate("garbage").error().code, "malformed_certificate");
  EXPECT_EQ(parse_certificate(der + "x").error().code, "malformed_certificate");
  // A corrupt second PEM block is an error, not silently ignored.
  std::string broken =
      h.issued.cert_pem + "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
  EXPECT_FALSE(parse_certificates(broken).ok());
}

TEST(TrustStoreTest, LoadsAnchorsAndFindsIssuer) {
  auto& ca = test_ca();
  auto sub = ca.ca.subordinate("AAJ Test Sub", test::days_from_now(-10), test::days_from_now(100));
  ASSERT_TRUE(sub.ok());
  test::TempDir dir;
  test::write_text(dir / "bundle.pem", ca.ca.cert_pem() + sub->cert_pem());
  auto trust = TrustStore::load({dir / "bundle.pem"});
  ASSERT_TRUE(trust.ok()) << trust.error().detail;
  EXPECT_EQ((*trust)->anchors().size(), 2u);
  auto h = make_holder(*sub, person_spec(CertKind::Signing));
  EXPECT_EQ((*trust)->find_issuer(h.cert()), (*trust)->anchors()[1].get());
  EXPECT_EQ((*trust)->find_issuer(sub->cert()), (*trust)->anchors()[0].get());
  auto other = Authority::create("AAJ Test Sub", test::days_from_now(-1), test::days_from_now(1));
  auto foreign = make_holder(*other, person_spec(CertKind::Signing));
  EXPECT_EQ((*trust)->find_issuer(foreign.cert()), nullptr);  // same name, other key

  test::write_text(dir / "leaf.pem", h.issued.cert_pem);
  EXPECT_EQ(TrustStore::load({dir / "leaf.pem"}).error().code, "not_a_ca");
  EXPECT_EQ(TrustStore::load({dir / "missing.pem"}).error().code, "unreadable");
  EXPECT_EQ(TrustStore::load({}).error().code, "trust_store_empty");
}

}  // namespace
}  // namespace aaj::pki
