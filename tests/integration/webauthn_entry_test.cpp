// Biometrics as the second factor through the real server, with a software authenticator that
// holds a real ES256 key: enrol after a first SMS entry, then enter with EDS + WebAuthn; a
// cloned authenticator (counter regression) and a missing user verification are refused.
#include <gtest/gtest.h>

#include "auth/webauthn.h"
#include "core/time.h"
#include "harness.h"
#include "soft_authenticator.h"

using aaj::auth::test::SoftAuthenticator;
using aaj::testing::Installation;
using nlohmann::json;
namespace wa = aaj::auth::webauthn;

namespace {

std::string b64u(const std::string& s) {
  return wa::base64url_encode(s);
}
std::string unb64u(const json& j) {
  return *wa::base64url_decode(j.get<std::string>());
}

// The origin the browser would report: the configured one (https://localhost:<port>).
std::string origin(const Installation& inst) {
  return "https://localhost:" + inst.url().substr(inst.url().rfind(':') + 1);
}

long assert_with(aaj::client::ApiClient& api, const std::string& token, SoftAuthenticator& a,
                 const std::string& org, bool uv, std::string* code = nullptr) {
  auto opts = api.post("/api/v1/auth/webauthn/options", "{}", token);
  if (!opts || opts->status != 200) return opts ? opts->status : -1;
  auto got = a.get(unb64u(opts->body["challenge"]), org, uv);
  auto r = api.post("/api/v1/auth/webauthn/verify",
                    json{{"credentialId", b64u(got.credential_id)},
                         {"clientDataJSON", b64u(got.client_data_json)},
                         {"authenticatorData", b64u(got.authenticator_data)},
                         {"signature", b64u(got.signature)}}
                        .dump(),
                    token);
  if (!r) return -1;
  if (code && r->body.is_object() && r->body.contains("error"))
    *code = r->body["error"].value("detail", "");
  return r->status;
}

}  // namespace

TEST(WebAuthnEntry, EnrolThenEnterWithBiometricsAndRefuseClones) {
  ASSERT_TRUE(aaj::time::load_astana_zone().ok());
  Installation inst;
  inst.start();
  const json& u = inst.user("prosecutor");
  SoftAuthenticator authenticator("localhost");

  // First entry with EDS + SMS (+ agreement), then enrolment of the platform authenticator.
  auto api = inst.api();
  std::string token = inst.enter(*api, u);
  auto opts = api->post("/api/v1/webauthn/register/options", "{}", token);
  ASSERT_TRUE(opts.ok());
  ASSERT_EQ(opts->status, 200) << opts->raw;
  EXPECT_EQ(opts->body["rp"]["id"], "localhost");
  auto made = authenticator.create(unb64u(opts->body["challenge"]), origin(inst));
  auto reg = api->post("/api/v1/webauthn/register",
                       json{{"clientDataJSON", b64u(made.client_data_json)},
                            {"attestationObject", b64u(made.attestation_object)}}
                           .dump(),
                       token);
  ASSERT_TRUE(reg.ok());
  ASSERT_EQ(reg->status, 200) << reg->raw;

  // Next entry: EDS, and biometrics are offered first.
  auto api2 = inst.api();
  auto t2 = aaj::client::enter(*api2, *inst.auth_key(u));
  ASSERT_TRUE(t2.ok());
  auto me = api2->get("/api/v1/me", *t2);
  EXPECT_EQ(me->body["next"], json::array({"webauthn", "sms"}));
  EXPECT_EQ(assert_with(*api2, *t2, authenticator, origin(inst), true), 200);
  auto r = aaj::client::send_request(
      *api2, *t2, *inst.sign_key(u),
      aaj::client::make_document("R01", {{"type", "criminal_case"}, {"number", "251234567890123"}},
                                 {{"iin", "860417300015"}}, "Проверка по делу"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200) << r->raw;

  // A clone of the authenticator replays an old counter: refused.
  auto api3 = inst.api();
  auto t3 = aaj::client::enter(*api3, *inst.auth_key(u));
  ASSERT_TRUE(t3.ok());
  authenticator.set_counter(0);
  std::string why;
  EXPECT_EQ(assert_with(*api3, *t3, authenticator, origin(inst), true, &why), 401);
  EXPECT_EQ(why, "counter_regression");
  // Without user verification (no fingerprint/face match): refused.
  authenticator.set_counter(100);
  EXPECT_EQ(assert_with(*api3, *t3, authenticator, origin(inst), false, &why), 401);
  EXPECT_EQ(why, "user_not_verified");
  // From another origin (a phishing page): refused.
  EXPECT_EQ(assert_with(*api3, *t3, authenticator, "https://evil.example", true, &why), 401);
  EXPECT_EQ(why, "origin_mismatch");
  // The genuine authenticator still works.
  EXPECT_EQ(assert_with(*api3, *t3, authenticator, origin(inst), true), 200);
}
