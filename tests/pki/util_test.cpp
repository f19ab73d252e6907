#include <sys/stat.h>

#include <optional>
#include <random>

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

// The four-at-a-time path hands over to the careful loop at any quantum with whitespace,
// padding or junk: every placement of those must decode (or fail) as the plain rules say.
TEST(OpensslUtil, Base64FastPathAgreesWithPlainRules) {
  auto plain = [](std::string_view t) -> std::optional<std::string> {
    std::string bits_only;
    for (char c : t)
      if (c != ' ' && c != '\n' && c != '\r' && c != '\t') bits_only += c;
    size_t pad = 0;
    while (!bits_only.empty() && bits_only.back() == '=') {
      bits_only.pop_back();
      ++pad;
    }
    static const std::string kA =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (char c : bits_only)
      if (kA.find(c) == std::string::npos) return std::nullopt;
    if (bits_only.size() % 4 == 1) return std::nullopt;
    if (pad > 2 || (pad > 0 && (bits_only.size() + pad) % 4 != 0)) return std::nullopt;
    std::string out;
    uint32_t acc = 0;
    int bits = 0;
    for (char c : bits_only) {
      acc = (acc << 6) | static_cast<uint32_t>(kA.find(c));
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out += static_cast<char>((acc >> bits) & 0xff);
      }
    }
    return out;
  };
  std::mt19937 rng(7);
  for (int i = 0; i < 20000; ++i) {
    std::string bytes(rng() % 40, '\0');
    for (auto& b : bytes) b = static_cast<char>(rng());
    std::string t = base64_encode(bytes);
    int edits = static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) {
      const char junk[] = {' ', '\n', '=', '*', 'A', '-', '\t'};
      size_t at = t.empty() ? 0 : rng() % (t.size() + 1);
      t.insert(at, 1, junk[rng() % sizeof(junk)]);
    }
    auto want = plain(t);
    auto got = base64_decode(t);
    ASSERT_EQ(want.has_value(), got.ok()) << "'" << t << "'";
    if (want) {
      ASSERT_EQ(*want, *got) << "'" << t << "'";
    }
  }
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
