#include <sys/stat.h>

#include "pki/certificate.h"
#include "pki/openssl_util.h"
#include "test_util.h"

namespace aaj::pki {
namespace {

using test::TempDir;

TEST(OpensslUtil, Base64RoundTripAllLengths) {
  std::string bytes;
  for (int i = 0; i < 70; ++i) {
    std::string enc = base64_encode(bytes);
    auto dec = base64_decode(enc);
    ASSERT_TRUE(dec.ok()) << enc;
    EXPECT_EQ(*dec, bytes);
    bytes.push_back(static_cast<char>(i * 37 + 1));
  }
  EXPECT_EQ(base64_encode("lol_kek"), "bG9sX2tlaw==");
}

TEST(OpensslUtil, Base64IgnoresWhitespaceAndRejectsJunk) {
  auto dec = base64_decode(" bG9s\r\nX2tl\taw== \n");
  ASSERT_TRUE(dec.ok());
  EXPECT_EQ(*dec, "lol_kek");
  EXPECT_EQ(base64_decode("bG9sX2tlaw").value(), "lol_kek");  // padding optional
  EXPECT_FALSE(base64_decode("bG9s*X2tl").ok());
  EXPECT_FALSE(base64_decode("bG9sX").ok());      // truncated quantum
  EXPECT_FALSE(base64_decode("bG9s=X2tl").ok());  // data after padding
}

TEST(OpensslUtil, DecodeDerOrBase64) {
  std::string der = "\x30\x03\x02\x01\x05";
  EXPECT_EQ(decode_der_or_base64(der).value(), der);
  std::string b64 = base64_encode(der);
  EXPECT_EQ(decode_der_or_base64(b64).value(), der);
  EXPECT_EQ(decode_der_or_base64("\n  " + b64 + "\n").value(), der);
  std::string pem = "-----BEGIN CMS-----\n" + b64 + "\n-----END CMS-----\n";
  EXPECT_EQ(decode_der_or_base64(pem).value(), der);
  std::string pkcs7 = "-----BEGIN PKCS7-----\r\n" + b64 + "\r\n-----END PKCS7-----\r\n";
  EXPECT_EQ(decode_der_or_base64(pkcs7).value(), der);
  EXPECT_FALSE(decode_der_or_base64("").ok());
  EXPECT_FALSE(decode_der_or_base64("not base64 at all!").ok());
  EXPECT_FALSE(decode_der_or_base64("-----BEGIN CMS-----\nAAAA\n").ok());  // no END
  EXPECT_EQ(decode_der_or_base64("not base64 at all!").error().code, "malformed_encoding");
}

TEST(OpensslUtil, SerialHexRoundTrip) {
  auto s = serial_from_hex("41E45CC8A04C705963E5CD6769848A934D8EAEF5");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(serial_to_hex(s->get()), "41e45cc8a04c705963e5cd6769848a934d8eaef5");
  EXPECT_EQ(serial_to_hex(serial_from_hex("0x01:02").value().get()), "0102");
  EXPECT_FALSE(serial_from_hex("xyz").ok());
  EXPECT_FALSE(serial_from_hex("").ok());
}

TEST(OpensslUtil, Asn1TimeConversion) {
  Asn1TimePtr t(ASN1_TIME_new());
  ASSERT_TRUE(ASN1_TIME_set_string(t.get(), "221001185219Z"));
  auto i = from_asn1_time(t.get());
  ASSERT_TRUE(i.has_value());
  EXPECT_EQ(time::format_utc(*i), time::format_utc(*time::parse_iso8601("2022-10-01T18:52:19Z")));
  ASSERT_TRUE(ASN1_TIME_set_string(t.get(), "20510101000000Z"));
  EXPECT_EQ(time::format_utc(*from_asn1_time(t.get())),
            time::format_utc(*time::parse_iso8601("2051-01-01T00:00:00Z")));
}

TEST(OpensslUtil, SecretFilesAre0600AndReplaceAtomically) {
  TempDir dir;
  auto p = dir / "key.pem";
  ASSERT_TRUE(write_secret_file(p, "secret-1").ok());
  ASSERT_TRUE(write_secret_file(p, "secret-2").ok());
  struct stat st {};
  ASSERT_EQ(::stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(read_file(p).value(), "secret-2");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()),
                          std::filesystem::directory_iterator()),
            1);  // no temporary left behind
  EXPECT_EQ(read_file(dir / "missing").error().code, "unreadable");
}

TEST(OpensslUtil, LegacyProviderLoads) {
  init_openssl();
  init_openssl();  // idempotent
  EXPECT_TRUE(legacy_provider_loaded());
}

}  // namespace
}  // namespace aaj::pki
