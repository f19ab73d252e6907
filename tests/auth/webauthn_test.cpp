#include "auth/webauthn.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <random>
#include <set>
#include <thread>

#include "soft_authenticator.h"

namespace aaj::auth::webauthn {
namespace {

using test::SoftAuthenticator;

const std::string kOrigin = "https://localhost:8443";
const std::string kChallenge = std::string("\x01\x02\xfe\xff", 4) + std::string(28, 'c');

RelyingParty rp() {
  return RelyingParty{"localhost", {kOrigin, "https://aaj.example.kz"}};
}

std::string code_of(const Error& e) {
  return e.code;
}
template <class T>
std::string code(const Result<T>& r) {
  return r.ok() ? "ok" : code_of(r.error());
}

std::string sha256(std::string_view d) {
  unsigned char md[32];
  EXPECT_EQ(EVP_Digest(d.data(), d.size(), md, nullptr, EVP_sha256(), nullptr), 1);
  return std::string(reinterpret_cast<char*>(md), 32);
}

// Minimal hand-written CBOR for crafting inputs the soft authenticator never produces.
std::string head(int major, uint64_t v) {
  std::string out;
  auto m = static_cast<char>(major << 5);
  if (v < 24) return std::string(1, static_cast<char>(m | v));
  int bytes = v <= 0xff ? 1 : v <= 0xffff ? 2 : v <= 0xffffffff ? 4 : 8;
  out.push_back(static_cast<char>(m | (bytes == 1 ? 24 : bytes == 2 ? 25 : bytes == 4 ? 26 : 27)));
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>(v >> (8 * i)));
  return out;
}
std::string cint(int64_t v) {
  return v >= 0 ? head(0, v) : head(1, static_cast<uint64_t>(-1 - v));
}
std::string bstr(std::string_view b) {
  return head(2, b.size()) + std::string(b);
}
std::string tstr(std::string_view t) {
  return head(3, t.size()) + std::string(t);
}

std::string auth_data(const std::string& rp_id, uint8_t flags, uint32_t counter,
                      const std::string& cred_id, const std::string& cose) {
  std::string out = sha256(rp_id);
  out.push_back(static_cast<char>(flags));
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<char>(counter >> s));
  out += std::string(16, '\0');
  out.push_back(static_cast<char>(cred_id.size() >> 8));
  out.push_back(static_cast<char>(cred_id.size()));
  return out + cred_id + cose;
}

std::string attestation_object(const std::string& fmt, const std::string& att_stmt,
                               const std::string& ad) {
  return head(5, 3) + tstr("fmt") + tstr(fmt) + tstr("attStmt") + att_stmt + tstr("authData") +
         bstr(ad);
}

// A "none" registration carrying `cose` as the credential key, with the soft client data.
Result<Credential> register_cose(const std::string& cose) {
  SoftAuthenticator a("localhost");
  auto c = a.create(kChallenge, kOrigin);
  auto ad = auth_data("localhost", 0x45, 0, std::string(16, 'i'), cose);
  return verify_registration(rp(), kChallenge, c.client_data_json,
                             attestation_object("none", head(5, 0), ad), true);
}

Credential must_register(SoftAuthenticator& a, const std::string& fmt = "none") {
  auto c = a.create(kChallenge, kOrigin, true, fmt);
  auto r = verify_registration(rp(), kChallenge, c.client_data_json, c.attestation_object, true);
  EXPECT_TRUE(r.ok()) << r.error().code << ": " << r.error().detail;
  return r.ok() ? *r : Credential{};
}

Result<AssertionResult> assert_with(const Credential& cred, const SoftAuthenticator::Asserted& g,
                                    bool require_uv = true) {
  return verify_assertion(rp(), kChallenge, cred, g.client_data_json, g.authenticator_data,
                          g.signature, require_uv);
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
  auto pos = s.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  if (pos != std::string::npos) s.replace(pos, from.size(), to);
  return s;
}

const std::set<std::string> kCodes = {"malformed",
                                      "wrong_type",
                                      "challenge_mismatch",
                                      "origin_mismatch",
                                      "rp_mismatch",
                                      "user_not_present",
                                      "user_not_verified",
                                      "bad_signature",
                                      "counter_regression",
                                      "unsupported_algorithm",
                                      "unsupported_attestation"};

// ---------------------------------------------------------------------------------------------

TEST(Base64Url, RoundTripAndStrictness) {
  std::string bytes;
  for (int i = 0; i < 70; ++i) {
    std::string enc = base64url_encode(bytes);
    EXPECT_EQ(enc.find_first_of("+/="), std::string::npos) << enc;
    auto dec = base64url_decode(enc);
    ASSERT_TRUE(dec.ok()) << enc;
    EXPECT_EQ(*dec, bytes);
    bytes.push_back(static_cast<char>(i * 37 + 251));
  }
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
  EXPECT_EQ(base64url_decode("-_8").value(), "\xfb\xff");
  EXPECT_EQ(code(base64url_decode("-_8=")), "malformed");   // padding
  EXPECT_EQ(code(base64url_decode("+/8")), "malformed");    // standard alphabet
  EXPECT_EQ(code(base64url_decode("-_ 8")), "malformed");   // whitespace
  EXPECT_EQ(code(base64url_decode("-_9")), "malformed");    // non-zero unused bits
  EXPECT_EQ(code(base64url_decode("AAAAA")), "malformed");  // dangling sixth character
  EXPECT_EQ(base64url_decode("").value(), "");
}

TEST(WebAuthn, Es256RegistrationAndAssertion) {
  SoftAuthenticator a("localhost");
  auto c = a.create(kChallenge, kOrigin);
  auto r = verify_registration(rp(), kChallenge, c.client_data_json, c.attestation_object, true);
  ASSERT_TRUE(r.ok()) << r.error().code << ": " << r.error().detail;
  EXPECT_EQ(r->id, a.credential_id());
  EXPECT_EQ(r->alg, kEs256);
  EXPECT_EQ(r->public_key_der, a.public_key_der());
  EXPECT_EQ(r->sign_count, 0u);
  EXPECT_EQ(r->aaguid_hex, "61616a2d736f66742d617574686e3031");  // "aaj-soft-authn01"
  EXPECT_FALSE(r->backup_eligible);

  Credential cred = *r;
  for (uint32_t expect = 1; expect <= 3; ++expect) {
    auto g = a.get(kChallenge, kOrigin);
    auto v = assert_with(cred, g);
    ASSERT_TRUE(v.ok()) << v.error().code << ": " << v.error().detail;
    EXPECT_EQ(v->sign_count, expect);
    EXPECT_TRUE(v->user_verified);
    EXPECT_FALSE(v->backup_state);
    cred.sign_count = v->sign_count;
  }
  // Any listed origin is accepted.
  auto g = a.get(kChallenge, "https://aaj.example.kz");
  EXPECT_EQ(code(assert_with(cred, g)), "ok");
}

TEST(WebAuthn, Rs256RegistrationAndAssertion) {
  SoftAuthenticator a("localhost", SoftAuthenticator::Alg::RS256);
  Credential cred = must_register(a);
  EXPECT_EQ(cred.alg, kRs256);
  EXPECT_EQ(cred.public_key_der, a.public_key_der());
  auto v = assert_with(cred, a.get(kChallenge, kOrigin));
  ASSERT_TRUE(v.ok()) << v.error().code << ": " << v.error().detail;
  EXPECT_EQ(v->sign_count, 1u);
}

TEST(WebAuthn, PackedSelfAttestation) {
  for (auto alg : {SoftAuthenticator::Alg::ES256, SoftAuthenticator::Alg::RS256}) {
    SoftAuthenticator a("localhost", alg);
    auto c = a.create(kChallenge, kOrigin, true, "packed");
    auto r = verify_registration(rp(), kChallenge, c.client_data_json, c.attestation_object, true);
    ASSERT_TRUE(r.ok()) << r.error().code << ": " << r.error().detail;
    EXPECT_EQ(code(assert_with(*r, a.get(kChallenge, kOrigin))), "ok");
    // The attestation signature covers SHA-256(clientDataJSON): a changed one is caught.
    std::string cdj =
        replace(c.client_data_json, "\"crossOrigin\":false", "\"crossOrigin\":false,\"x\":1");
    EXPECT_EQ(code(verify_registration(rp(), kChallenge, cdj, c.attestation_object, true)),
              "bad_signature");
    // ...and so is a changed authenticatorData byte (the counter's last byte).
    std::string obj = c.attestation_object;
    auto pos = obj.find(a.aaguid());
    ASSERT_NE(pos, std::string::npos);
    obj[pos - 1] ^= 1;
    EXPECT_EQ(code(verify_registration(rp(), kChallenge, c.client_data_json, obj, true)),
              "bad_signature");
  }
}

TEST(WebAuthn, PackedX5cChecksLeafSignatureAndAaguid) {
  SoftAuthenticator a("localhost");
  auto c = a.create(kChallenge, kOrigin, true, "packed+x5c");
  auto r = verify_registration(rp(), kChallenge, c.client_data_json, c.attestation_object, true);
  ASSERT_TRUE(r.ok()) << r.error().code << ": " << r.error().detail;
  EXPECT_EQ(r->public_key_der, a.public_key_der());

  std::string cdj = replace(c.client_data_json, "\"crossOrigin\":false", "\"crossOrigin\":false ");
  EXPECT_EQ(code(verify_registration(rp(), kChallenge, cdj, c.attestation_object, true)),
            "bad_signature");
  // The certificate (in attStmt, before authData) carries the AAGUID; a certificate for another
  // model must not pass, even with a valid attestation signature.
  std::string obj = c.attestation_object;
  auto pos = obj.find(a.aaguid());
  ASSERT_NE(pos, std::string::npos);
  ASSERT_LT(pos, obj.find("authData"));
  obj[pos] ^= 1;
  EXPECT_EQ(code(verify_registration(rp(), kChallenge, c.client_data_json, obj, true)),
            "malformed");
}

TEST(WebAuthn, AttestationFormats) {
  SoftAuthenticator a("localhost");
  for (const char* fmt : {"tpm", "apple", "android-key", "fido-u2f", ""}) {
    auto c = a.create(kChallenge, kOrigin, true, fmt);
    EXPECT_EQ(
        code(verify_registration(rp(), kChallenge, c.client_data_json, c.attestation_object, true)),
        "unsupported_attestation")
        << fmt;
  }
  auto c = a.create(kChallenge, kOrigin);
  // "none" must have an empty attStmt; "packed" without sig; ECDAA.
  SoftAuthenticator es("localhost");
  std::string good = es.create(kChallenge, kOrigin).attestation_object;
  auto ad_pos = good.find(tstr("authData"));
  ASSERT_NE(ad_pos, std::string::npos);
  std::string tail = good.substr(ad_pos);  // "authData" and the real authData
  auto with = [&](const std::string& fmt, const std::string& stmt) {
    return verify_registration(rp(), kChallenge, c.client_data_json,
                               head(5, 3) + tstr("fmt") + tstr(fmt) + tstr("attStmt") + stmt + tail,
                               true);
  };
  EXPECT_EQ(code(with("none", head(5, 0))), "ok");
  EXPECT_EQ(code(with("none", head(5, 1) + tstr("alg") + cint(-7))), "malformed");
  EXPECT_EQ(code(with("none", head(4, 0))), "malformed");
  EXPECT_EQ(code(with("packed", head(5, 1) + tstr("alg") + cint(-7))), "malformed");
  EXPECT_EQ(code(with("packed", head(5, 2) + tstr("alg") + cint(-7) + tstr("sig") + bstr("x"))),
            "bad_signature");
  EXPECT_EQ(code(with("packed", head(5, 2) + tstr("alg") + cint(-257) + tstr("sig") + bstr("x"))),
            "malformed");  // self attestation alg differs from the ES256 key's
  EXPECT_EQ(code(with("packed", head(5, 2) + tstr("alg") + cint(-8) + tstr("sig") + bstr("x"))),
            "unsupported_algorithm");
  EXPECT_EQ(code(with("packed", head(5, 3) + tstr("alg") + cint(-7) + tstr("sig") + bstr("x") +
                                    tstr("ecdaaKeyId") + bstr("k"))),
            "unsupported_attestation");
  EXPECT_EQ(code(with("packed", head(5, 3) + tstr("alg") + cint(-7) + tstr("sig") + bstr("x") +
                                    tstr("x5c") + head(4, 1) + bstr("not a certificate"))),
            "malformed");
  EXPECT_EQ(code(with("packed", head(5, 3) + tstr("alg") + cint(-7) + tstr("sig") + bstr("x") +
                                    tstr("x5c") + head(4, 0))),
            "malformed");
  // Nesting is capped at kMaxCborDepth (16) even in members the verifier ignores.
  auto nested_member = [&](int arrays) {
    return verify_registration(rp(), kChallenge, c.client_data_json,
                               head(5, 4) + tstr("fmt") + tstr("none") + tstr("attStmt") +
                                   head(5, 0) + tail + tstr("x") + std::string(arrays, '\x81') +
                                   '\0',
                               true);
  };
  EXPECT_EQ(code(nested_member(kMaxCborDepth - 1)), "ok");
  EXPECT_EQ(code(nested_member(kMaxCborDepth)), "malformed");
  // Duplicate top-level key.
  EXPECT_EQ(code(verify_registration(rp(), kChallenge, c.client_data_json,
                                     head(5, 4) + tstr("fmt") + tstr("none") + tstr("fmt") +
                                         tstr("tpm") + tstr("attStmt") + head(5, 0) + tail,
                                     true)),
            "malformed");
}

TEST(WebAuthn, WrongChallenge) {
  SoftAuthenticator a("localhost");
  auto c = a.create("another challenge", kOrigin);
  EXPECT_EQ(
      code(verify_registration(rp(), kChallenge, c.client_data_json, c.attestation_object, true)),
      "challenge_mismatch");
  Credential cred = must_register(a);
  EXPECT_EQ(code(assert_with(cred, a.get("another challenge", kOrigin))), "challenge_mismatch");
  EXPECT_EQ(code(assert_with(cred, a.get("", kOrigin))), "challenge_mismatch");
}

TEST(WebAuthn, WrongOrigin) {
  SoftAuthenticator a("localhost");
  for (const std::string origin :
       {"https://evil.example", "http://localhost:8443", "https://localhost:8443/",
        "https://localhost", "https://LOCALHOST:8443", ""}) {
    auto c = a.create(kChallenge, origin);
    EXPECT_EQ(
        code(verify_registration(rp(), kChallenge, c.client_data_json, c.attestation_object, true)),
        "origin_mismatch")
        << origin;
  }
  Credential cred = must_register(a);
  EXPECT_EQ(code(assert_with(cred, a.get(kChallenge, "https://evil.example"))), "origin_mismatch");
  // A ceremony from a cross-origin iframe.
  auto g = a.get(kChallenge, kOrigin);
  g.client_data_json = replace(g.client_data_json, "\"crossOrigin\":false", "\"crossOrigin\":true");
  EXPECT_EQ(code(assert_with(cred, g)), "origin_mismatch");
  g = a.get(kChallenge, kOrigin);
  g.client_data_json = replace(g.client_data_json, "\"crossOrigin\":false",
                               "\"crossOrigin\":false,\"topOrigin\":\"https://evil.example\"");
  EXPECT_EQ(code(assert_with(cred, g)), "origin_mismatch");
}

TEST(WebAuthn, WrongTypeSwapped) {
  SoftAuthenticator a("localhost");
  auto c = a.create(kChallenge, kOrigin);
  auto g = a.get(kChallenge, kOrigin);
  EXPECT_EQ(
      code(verify_registration(rp(), kChallenge, g.client_data_json, c.attestation_object, true)),
      "wrong_type");
  Credential cred = must_register(a);
  g.client_data_json = c.client_data_json;
  EXPECT_EQ(code(assert_with(cred, g)), "wrong_type");
}

TEST(WebAuthn, RpIdMismatch) {
  SoftAuthenticator evil("evil.example");
  auto c = evil.create(kChallenge, kOrigin);
  EXPECT_EQ(
      code(verify_registration(rp(), kChallenge, c.client_data_json, c.attestation_object, true)),
      "rp_mismatch");
  // A subdomain's RP ID is a different hash as well.
  SoftAuthenticator sub("aaj.localhost");
  c = sub.create(kChallenge, kOrigin);
  EXPECT_EQ(
      code(verify_registration(rp(), kChallenge, c.client_data_json, c.attestation_object, true)),
      "rp_mismatch");

  SoftAuthenticator a("localhost");
  Credential cred = must_register(a);
  auto g = a.get(kChallenge, kOrigin);
  g.authenticator_data[0] ^= 0x80;
  EXPECT_EQ(code(assert_with(cred, g)), "rp_mismatch");
  RelyingParty other = rp();
  other.id = "aaj.example.kz";
  g = a.get(kChallenge, kOrigin);
  EXPECT_EQ(code(verify_assertion(other, kChallenge, cred, g.client_data_json, g.authenticator_data,
                                  g.signature, true)),
            "rp_mismatch");
}

TEST(WebAuthn, UserPresenceRequired) {
  SoftAuthenticator a("localhost");
  Credential cred = must_register(a);
  a.set_user_present(false);
  auto c = a.create(kChallenge, kOrigin);
  EXPECT_EQ(
      code(verify_registration(rp(), kChallenge, c.client_data_json, c.attestation_object, false)),
      "user_not_present");
  EXPECT_EQ(code(assert_with(cred, a.get(kChallenge, kOrigin), false)), "user_not_present");
}

TEST(WebAuthn, UserVerificationWhenRequired) {
  SoftAuthenticator a("localhost");
  auto c = a.create(kChallenge, kOrigin, /*user_verified=*/false);
  EXPECT_EQ(
      code(verify_registration(rp(), kChallenge, c.client_data_json, c.attestation_object, true)),
      "user_not_verified");
  auto r = verify_registration(rp(), kChallenge, c.client_data_json, c.attestation_object, false);
  ASSERT_TRUE(r.ok()) << r.error().code;

  auto g = a.get(kChallenge, kOrigin, /*user_verified=*/false);
  EXPECT_EQ(code(assert_with(*r, g, true)), "user_not_verified");
  auto v = assert_with(*r, g, false);
  ASSERT_TRUE(v.ok()) << v.error().code;
  EXPECT_FALSE(v->user_verified);
}

TEST(WebAuthn, TamperedAuthenticatorData) {
  SoftAuthenticator a("localhost");
  Credential cred = must_register(a);
  auto g = a.get(kChallenge, kOrigin);
  ASSERT_EQ(code(assert_with(cred, g)), "ok");
  for (size_t i : {size_t{33}, size_t{36}}) {  // counter bytes
    auto t = g;
    t.authenticator_data[i] ^= 0x01;
    EXPECT_EQ(code(assert_with(cred, t)), "bad_signature") << i;
  }
  auto t = g;
  t.authenticator_data[32] &= ~0x04;  // clear UV where UV is optional: still signed
  EXPECT_EQ(code(assert_with(cred, t, false)), "bad_signature");
  t = g;
  t.authenticator_data.push_back('\0');
  EXPECT_EQ(code(assert_with(cred, t)), "malformed");
  t = g;
  t.authenticator_data[32] |= static_cast<char>(0x80);  // ED without extensions
  EXPECT_EQ(code(assert_with(cred, t)), "malformed");
}

TEST(WebAuthn, TamperedClientDataJson) {
  SoftAuthenticator a("localhost");
  Credential cred = must_register(a);
  auto g = a.get(kChallenge, kOrigin);
  g.client_data_json =
      replace(g.client_data_json, "\"crossOrigin\":false", "\"crossOrigin\":false,\"extra\":\"x\"");
  EXPECT_EQ(code(assert_with(cred, g)), "bad_signature");
}

TEST(WebAuthn, SignatureByAnotherKey) {
  SoftAuthenticator a("localhost"), b("localhost");
  Credential cred = must_register(a);
  auto ga = a.get(kChallenge, kOrigin);
  auto gb = b.get(kChallenge, kOrigin);
  ga.signature = gb.signature;  // same authData and client data, other key
  ASSERT_EQ(ga.authenticator_data, gb.authenticator_data);
  EXPECT_EQ(code(assert_with(cred, ga)), "bad_signature");
  EXPECT_EQ(code(assert_with(cred, gb)), "bad_signature");
  ga.signature = "";
  EXPECT_EQ(code(assert_with(cred, ga)), "bad_signature");
  ga.signature = std::string(72, '\x30');
  EXPECT_EQ(code(assert_with(cred, ga)), "bad_signature");
  ga.signature = std::string(5000, '\x30');
  EXPECT_EQ(code(assert_with(cred, ga)), "bad_signature");

  SoftAuthenticator r1("localhost", SoftAuthenticator::Alg::RS256),
      r2("localhost", SoftAuthenticator::Alg::RS256);
  Credential rcred = must_register(r1);
  EXPECT_EQ(code(assert_with(rcred, r2.get(kChallenge, kOrigin))), "bad_signature");
}

TEST(WebAuthn, SignatureCounter) {
  SoftAuthenticator a("localhost");
  Credential cred = must_register(a);
  auto v = assert_with(cred, a.get(kChallenge, kOrigin));
  ASSERT_TRUE(v.ok());
  cred.sign_count = v->sign_count;  // 1
  v = assert_with(cred, a.get(kChallenge, kOrigin));
  ASSERT_TRUE(v.ok());
  cred.sign_count = v->sign_count;  // 2

  a.set_counter(0);  // a clone that started from the registration state
  EXPECT_EQ(code(assert_with(cred, a.get(kChallenge, kOrigin))), "counter_regression");
  a.set_counter(1);  // next value equals the stored one
  EXPECT_EQ(code(assert_with(cred, a.get(kChallenge, kOrigin))), "counter_regression");
  EXPECT_EQ(a.counter(), 2u);
  EXPECT_EQ(code(assert_with(cred, a.get(kChallenge, kOrigin))), "ok");  // 3 > 2

  // An authenticator that keeps no counter reports 0 forever.
  a.set_counter(0);
  a.set_counter_frozen(true);
  cred.sign_count = 0;
  for (int i = 0; i < 2; ++i) {
    v = assert_with(cred, a.get(kChallenge, kOrigin));
    ASSERT_TRUE(v.ok()) << v.error().code;
    EXPECT_EQ(v->sign_count, 0u);
  }
  cred.sign_count = 5;  // a counter seen before, now 0: refused
  EXPECT_EQ(code(assert_with(cred, a.get(kChallenge, kOrigin))), "counter_regression");
  // Near the top of the range.
  a.set_counter_frozen(false);
  a.set_counter(0xfffffffe);
  cred.sign_count = 0xfffffffe;
  EXPECT_EQ(code(assert_with(cred, a.get(kChallenge, kOrigin))), "ok");
}

TEST(WebAuthn, UnsupportedAlgorithms) {
  for (auto alg : {SoftAuthenticator::Alg::EdDSA, SoftAuthenticator::Alg::ES384}) {
    SoftAuthenticator a("localhost", alg);
    for (const char* fmt : {"none", "packed"}) {
      auto c = a.create(kChallenge, kOrigin, true, fmt);
      EXPECT_EQ(code(verify_registration(rp(), kChallenge, c.client_data_json, c.attestation_object,
                                         true)),
                "unsupported_algorithm")
          << static_cast<int>(alg) << " " << fmt;
    }
  }
  SoftAuthenticator weak("localhost", SoftAuthenticator::Alg::RS256, 1024);
  auto c = weak.create(kChallenge, kOrigin);
  EXPECT_EQ(
      code(verify_registration(rp(), kChallenge, c.client_data_json, c.attestation_object, true)),
      "unsupported_algorithm");

  // A stored credential whose alg does not match its key, or is unknown.
  SoftAuthenticator a("localhost");
  Credential cred = must_register(a);
  Credential bad = cred;
  bad.alg = kRs256;
  EXPECT_EQ(code(assert_with(bad, a.get(kChallenge, kOrigin))), "unsupported_algorithm");
  bad.alg = -8;
  EXPECT_EQ(code(assert_with(bad, a.get(kChallenge, kOrigin))), "unsupported_algorithm");
  bad = cred;
  bad.public_key_der = "garbage";
  EXPECT_EQ(code(assert_with(bad, a.get(kChallenge, kOrigin))), "malformed");
  bad.public_key_der = cred.public_key_der + "x";
  EXPECT_EQ(code(assert_with(bad, a.get(kChallenge, kOrigin))), "malformed");
}

TEST(WebAuthn, CoseKeyChecks) {
  const std::string x(32, '\x11'), y(32, '\x22');
  auto ec2 = [&](int crv, const std::string& px, const std::string& py) {
    return head(5, 5) + cint(1) + cint(2) + cint(3) + cint(-7) + cint(-1) + cint(crv) + cint(-2) +
           bstr(px) + cint(-3) + bstr(py);
  };
  EXPECT_EQ(code(register_cose(ec2(1, x, y))), "malformed");  // point not on the curve
  EXPECT_EQ(code(register_cose(ec2(2, x, y))), "unsupported_algorithm");
  EXPECT_EQ(code(register_cose(ec2(1, x.substr(1), y))), "malformed");
  EXPECT_EQ(code(register_cose(head(5, 2) + cint(1) + cint(2) + cint(3) + cint(-7))),
            "malformed");                                                       // no crv
  EXPECT_EQ(code(register_cose(head(5, 1) + cint(1) + cint(2))), "malformed");  // no alg
  EXPECT_EQ(code(register_cose(head(5, 2) + cint(1) + cint(2) + cint(1) + cint(3))),
            "malformed");  // duplicate label
  EXPECT_EQ(code(register_cose(head(5, 2) + cint(1) + cint(4) + cint(3) + cint(-7))),
            "unsupported_algorithm");  // kty Symmetric
  EXPECT_EQ(code(register_cose(head(4, 0))), "malformed");
  EXPECT_EQ(code(register_cose("")), "malformed");
  // RSA with e = 1 or an even modulus.
  std::string n(256, '\xff');
  auto rsa = [&](const std::string& nn, const std::string& e) {
    return head(5, 4) + cint(1) + cint(3) + cint(3) + cint(-257) + cint(-1) + bstr(nn) + cint(-2) +
           bstr(e);
  };
  EXPECT_EQ(code(register_cose(rsa(n, "\x01"))), "malformed");
  EXPECT_EQ(code(register_cose(rsa(n.substr(0, 255) + "\xfe", std::string("\x01\x00\x01", 3)))),
            "malformed");
  EXPECT_EQ(code(register_cose(rsa(n.substr(0, 128), std::string("\x01\x00\x01", 3)))),
            "unsupported_algorithm");
}

TEST(WebAuthn, BackupFlags) {
  SoftAuthenticator a("localhost");
  a.set_backup_flags(true, true);  // a synced passkey
  Credential cred = must_register(a);
  EXPECT_TRUE(cred.backup_eligible);
  auto v = assert_with(cred, a.get(kChallenge, kOrigin));
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->backup_state);
  a.set_backup_flags(false, false);  // eligibility never changes for a credential
  EXPECT_EQ(code(assert_with(cred, a.get(kChallenge, kOrigin))), "malformed");
  a.set_backup_flags(false, true);  // BS without BE is invalid
  auto c = a.create(kChallenge, kOrigin);
  EXPECT_EQ(
      code(verify_registration(rp(), kChallenge, c.client_data_json, c.attestation_object, true)),
      "malformed");
}

TEST(WebAuthn, CredentialIdLength) {
  SoftAuthenticator a("localhost");
  a.set_credential_id(std::string(1023, 'q'));
  Credential cred = must_register(a);
  EXPECT_EQ(cred.id.size(), 1023u);
  a.set_credential_id(std::string(1024, 'q'));
  auto c = a.create(kChallenge, kOrigin);
  EXPECT_EQ(
      code(verify_registration(rp(), kChallenge, c.client_data_json, c.attestation_object, true)),
      "malformed");
  a.set_credential_id("");
  c = a.create(kChallenge, kOrigin);
  EXPECT_EQ(
      code(verify_registration(rp(), kChallenge, c.client_data_json, c.attestation_object, true)),
      "malformed");
}

TEST(WebAuthn, MalformedClientDataJson) {
  SoftAuthenticator a("localhost");
  auto c = a.create(kChallenge, kOrigin);
  const std::string b64 = base64url_encode(kChallenge);
  for (const std::string& cdj :
       {std::string(""), std::string("null"), std::string("[]"), std::string("{"),
        std::string("{\"type\":\"webauthn.create\",\"challenge\":\"" + b64 + "\"}"),
        std::string("{\"type\":1,\"challenge\":\"" + b64 + "\",\"origin\":\"" + kOrigin + "\"}"),
        std::string("{\"type\":\"webauthn.create\",\"challenge\":\"" + b64 + "\",\"origin\":\"" +
                    kOrigin + "\",\"crossOrigin\":\"no\"}"),
        std::string("{\"type\":\"webauthn.create\",\"challenge\":\"\xff\",\"origin\":\"x\"}"),
        std::string(100, '[') + std::string(100, ']'),
        "{\"type\":\"webauthn.create\",\"challenge\":\"" + b64 + "\",\"origin\":\"" + kOrigin +
            "\",\"pad\":\"" + std::string(kMaxClientDataJson, 'p') + "\"}"}) {
    EXPECT_EQ(code(verify_registration(rp(), kChallenge, cdj, c.attestation_object, true)),
              "malformed")
        << cdj.substr(0, 80);
  }
}

TEST(WebAuthn, MalformedCborNeverCrashes) {
  SoftAuthenticator a("localhost");
  auto c = a.create(kChallenge, kOrigin, true, "packed+x5c");
  const std::string& obj = c.attestation_object;
  ASSERT_EQ(code(verify_registration(rp(), kChallenge, c.client_data_json, obj, true)), "ok");
  auto reg = [&](const std::string& o) {
    return code(verify_registration(rp(), kChallenge, c.client_data_json, o, true));
  };
  for (size_t len = 0; len < obj.size(); ++len) EXPECT_EQ(reg(obj.substr(0, len)), "malformed");
  EXPECT_EQ(reg(obj + '\0'), "malformed");
  EXPECT_EQ(reg(std::string(5000, '\x81') + '\0'), "malformed");  // deep nesting
  EXPECT_EQ(reg(std::string(8, '\xa1') + std::string(40, '\x00')), "malformed");
  EXPECT_EQ(reg("\x9b\xff\xff\xff\xff\xff\xff\xff\xff"), "malformed");  // 2^64-1 elements
  EXPECT_EQ(reg("\xbb\x00\x00\x00\x10\x00\x00\x00\x00"), "malformed");  // 2^36 pairs
  EXPECT_EQ(reg("\x5a\xff\xff\xff\xff"), "malformed");                  // 4 GiB string
  EXPECT_EQ(reg("\xbf\x63"
                "fmt\x64none\xff"),
            "malformed");                   // indefinite map
  EXPECT_EQ(reg("\xc0\xa0"), "malformed");  // tag
  EXPECT_EQ(reg("\xa0"), "malformed");      // empty map
  EXPECT_EQ(reg(std::string(kMaxAttestationObject + 1, '\0')), "malformed");

  // Random mutations: never a crash, always a stable code. Seeded, so a failure repeats.
  std::mt19937 rng(20240601);
  for (int i = 0; i < 3000; ++i) {
    std::string m = obj;
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      size_t at = rng() % m.size();
      switch (rng() % 3) {
        case 0:
          m[at] = static_cast<char>(rng());
          break;
        case 1:
          m.erase(at, 1 + rng() % 8);
          break;
        default:
          m.insert(at, 1, static_cast<char>(rng()));
      }
      if (m.empty()) m = "\0";
    }
    std::string got = reg(m);
    EXPECT_TRUE(got == "ok" || kCodes.count(got)) << got;
  }
  std::string garbage(300, '\0');
  for (int i = 0; i < 500; ++i) {
    for (char& ch : garbage) ch = static_cast<char>(rng());
    EXPECT_TRUE(kCodes.count(reg(garbage.substr(0, rng() % garbage.size()))));
  }
}

TEST(WebAuthn, MalformedAssertionAuthData) {
  SoftAuthenticator a("localhost");
  Credential cred = must_register(a);
  auto g = a.get(kChallenge, kOrigin);
  for (size_t len = 0; len < g.authenticator_data.size(); ++len) {
    auto t = g;
    t.authenticator_data.resize(len);
    EXPECT_EQ(code(assert_with(cred, t)), "malformed") << len;
  }
  auto t = g;
  t.authenticator_data[32] |= 0x40;  // AT set, but nothing follows
  EXPECT_EQ(code(assert_with(cred, t)), "malformed");
  t.authenticator_data += std::string(16, 'a') + std::string("\xff\xff", 2);  // id length 65535
  EXPECT_EQ(code(assert_with(cred, t)), "malformed");
  t.authenticator_data = std::string(kMaxAuthenticatorData + 1, '\0');
  EXPECT_EQ(code(assert_with(cred, t)), "malformed");
}

TEST(WebAuthn, ConcurrentVerification) {
  SoftAuthenticator a("localhost");
  Credential cred = must_register(a);
  std::vector<SoftAuthenticator::Asserted> gs;
  for (int i = 0; i < 8; ++i) gs.push_back(a.get(kChallenge, kOrigin));
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int round = 0; round < 25; ++round)
        for (const auto& g : gs) ok += assert_with(cred, g).ok() ? 1 : 0;
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 4 * 25 * 8);
}

}  // namespace
}  // namespace aaj::auth::webauthn
