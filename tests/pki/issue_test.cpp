#include "pki/issue.h"

#include <openssl/pem.h>
#include <sys/stat.h>

#include "pki/certificate.h"
#include "test_util.h"

namespace aaj::pki {
namespace {

using test::days_from_now;
using test::make_holder;
using test::person_spec;
using test::TempDir;
using test::test_ca;

TEST(Issue, Pkcs12RoundTripIsModernAndPrivate) {
  auto h = make_holder(test_ca().ca, person_spec(CertKind::Signing));
  TempDir dir;
  auto path = dir / "user.p12";
  ASSERT_TRUE(write_pkcs12(path, "S3cret-pass", h.cert(), h.key.get(), {test_ca().ca.cert()},
                           "ТЕСТОВ ТЕСТ sign")
                  .ok());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  auto ks = load_pkcs12(path, "S3cret-pass");
  ASSERT_TRUE(ks.ok()) << ks.error().detail;
  EXPECT_EQ(X509_cmp(ks->cert.get(), h.cert()), 0);
  EXPECT_EQ(EVP_PKEY_eq(ks->key.get(), h.key.get()), 1);
  ASSERT_EQ(ks->chain.size(), 1u);
  EXPECT_EQ(X509_cmp(ks->chain[0].get(), test_ca().ca.cert()), 0);

  // AES-256 + PBKDF2: the key bag must not use the legacy 3DES/RC2 PBEs.
  std::string der = read_file(path).value();
  std::string aes256_oid = "\x60\x86\x48\x01\x65\x03\x04\x01\x2a";  // 2.16.840.1.101.3.4.1.42
  std::string pbes2_oid = "\x2a\x86\x48\x86\xf7\x0d\x01\x05\x0d";   // 1.2.840.113549.1.5.13
  std::string des3_pbe =
      "\x2a\x86\x48\x86\xf7\x0d\x01\x0c\x01\x03";  // pbeWithSHA1And3-KeyTripleDES
  EXPECT_NE(der.find(aes256_oid), std::string::npos);
  EXPECT_NE(der.find(pbes2_oid), std::string::npos);
  EXPECT_EQ(der.find(des3_pbe), std::string::npos);

  auto bad = load_pkcs12(path, "wrong");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, "bad_password");
  EXPECT_EQ(load_pkcs12(dir / "missing.p12", "x").error().code, "unreadable");
  test::write_text(dir / "junk.p12", "junk");
  EXPECT_EQ(load_pkcs12(dir / "junk.p12", "x").error().code, "malformed_pkcs12");
}

TEST(Issue, AuthorityLoadChecksKeyAndCa) {
  TempDir dir;
  auto& ca = test_ca().ca;
  ASSERT_TRUE(write_public_file(dir / "ca.pem", ca.cert_pem()).ok());
  ASSERT_TRUE(write_secret_file(dir / "ca.key", ca.key_pem()).ok());
  auto loaded = Authority::load(dir / "ca.pem", dir / "ca.key");
  ASSERT_TRUE(loaded.ok()) << loaded.error().detail;
  auto h = make_holder(*loaded, person_spec(CertKind::Authentication));
  EXPECT_EQ(test_ca().trust->find_issuer(h.cert()), test_ca().trust->anchors()[0].get());

  auto other = KeyPair::rsa();
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(write_secret_file(dir / "other.key", other->private_pem()).ok());
  EXPECT_EQ(Authority::load(dir / "ca.pem", dir / "other.key").error().code, "key_mismatch");
  test::write_text(dir / "leaf.pem", h.issued.cert_pem);
  test::write_text(dir / "leaf.key", h.key.private_pem());
  EXPECT_EQ(Authority::load(dir / "leaf.pem", dir / "leaf.key").error().code, "not_a_ca");
}

TEST(Issue, RejectsBadSpecs) {
  auto key = KeyPair::ec_p256().value();
  auto& ca = test_ca().ca;
  auto spec = person_spec(CertKind::Signing);
  spec.subject.iin = "12345";
  EXPECT_EQ(ca.issue(spec, key).error().code, "invalid_subject");
  spec = person_spec(CertKind::Signing);
  spec.subject.common_name.clear();
  EXPECT_EQ(ca.issue(spec, key).error().code, "invalid_subject");
  spec = person_spec(CertKind::Signing);
  spec.not_after = spec.not_before;
  EXPECT_EQ(ca.issue(spec, key).error().code, "invalid_spec");
  spec = person_spec(CertKind::Signing);
  spec.role_oids = {"not an oid"};
  EXPECT_EQ(ca.issue(spec, key).error().code, "invalid_spec");
  spec = person_spec(CertKind::TlsServer);
  EXPECT_EQ(ca.issue(spec, key).error().code, "invalid_spec");  // no names
  spec.dns_names = {"x.local"};
  spec.ip_addresses = {"999.1.1.1"};
  EXPECT_EQ(ca.issue(spec, key).error().code, "invalid_spec");
  EXPECT_FALSE(KeyPair::rsa(1024).ok());
}

TEST(Issue, CrlListsSerialsAndVerifies) {
  auto& ca = test_ca().ca;
  auto h = make_holder(ca, person_spec(CertKind::Signing));
  auto pem =
      ca.make_crl({{h.issued.serial_hex, days_from_now(-1)}}, days_from_now(-1), days_from_now(7));
  ASSERT_TRUE(pem.ok()) << pem.error().detail;
  BioPtr bio(BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size())));
  X509CrlPtr crl(PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
  ASSERT_TRUE(crl);
  EXPECT_EQ(X509_CRL_verify(crl.get(), X509_get0_pubkey(ca.cert())), 1);
  X509_REVOKED* rev = nullptr;
  EXPECT_EQ(X509_CRL_get0_by_serial(crl.get(), &rev,
                                    const_cast<ASN1_INTEGER*>(X509_get0_serialNumber(h.cert()))),
            1);
  EXPECT_EQ(
      ca.make_crl({{"zz", days_from_now(0)}}, days_from_now(0), days_from_now(1)).error().code,
      "malformed_serial");
}

TEST(Issue, KeyPairPem) {
  auto k = KeyPair::rsa();
  ASSERT_TRUE(k.ok());
  std::string pem = k->private_pem();
  EXPECT_NE(pem.find("BEGIN PRIVATE KEY"), std::string::npos);
  auto back = KeyPair::from_pem(pem);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(EVP_PKEY_eq(back->get(), k->get()), 1);
  EXPECT_NE(k->public_pem().find("BEGIN PUBLIC KEY"), std::string::npos);
  EXPECT_EQ(KeyPair::from_pem("nope").error().code, "malformed_key");
}

}  // namespace
}  // namespace aaj::pki
