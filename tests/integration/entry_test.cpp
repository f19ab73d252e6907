// Multi-factor entry through the real server (R-AUTH-1…3): EDS, then an SMS code, then the
// signed agreement; nothing is served before all three; wrong, replayed and expired codes are
// refused; failures lock the account; idle sessions end; SMS can be switched off per body.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>
#include <thread>

#include "core/time.h"
#include "harness.h"
#include "pki/issue.h"
#include "pki/openssl_util.h"

using aaj::testing::Installation;
using nlohmann::json;

namespace {

Installation* inst = nullptr;

class Entry : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_TRUE(aaj::time::load_astana_zone().ok());
    inst = new Installation();
    inst->set_config("code_ttl_seconds", "2");         // [sms]
    inst->set_config("resend_interval_seconds", "0");  // [sms]
    inst->set_config("session_idle_seconds", "3");     // [auth]
    // SMS is off for the court (judges then need a biometric authenticator).
    inst->set_config("# sms_disabled_bodies",
                     "0\nsms_disabled_bodies = [\"" +
                         inst->user("judge")["body_bin"].get<std::string>() + "\"]");
    inst->start();
  }
  static void TearDownTestSuite() {
    delete inst;
    inst = nullptr;
  }

  // EDS only: a first-factor token.
  static std::string eds(aaj::client::ApiClient& api, const json& u) {
    auto t = aaj::client::enter(api, *inst->auth_key(u));
    if (!t) throw std::runtime_error("eds: " + t.error().code);
    return *t;
  }
  static long request_status(aaj::client::ApiClient& api, const std::string& token, const json& u,
                             std::string* code = nullptr) {
    auto r = aaj::client::send_request(
        api, token, *inst->sign_key(u),
        aaj::client::make_document("R01",
                                   {{"type", "criminal_case"}, {"number", "251234567890123"}},
                                   {{"iin", "860417300015"}}, "Проверка по делу"));
    if (!r) return -1;
    if (code && r->body.is_object() && r->body.contains("error")) *code = r->body["error"]["code"];
    return r->status;
  }
  static aaj::Result<json> verify_code(aaj::client::ApiClient& api, const std::string& token,
                                       const std::string& code) {
    auto r = api.post("/api/v1/auth/sms/verify", json{{"code", code}}.dump(), token);
    if (!r) return r.error();
    if (r->status != 200) return aaj::Error{r->body["error"]["code"], ""};
    return r->body;
  }
};

TEST_F(Entry, NothingIsServedBeforeBothFactorsAndTheAgreement) {
  auto api = inst->api();
  const json& u = inst->user("prosecutor");
  std::string token = eds(*api, u);
  std::string code;
  EXPECT_EQ(request_status(*api, token, u, &code), 403);
  EXPECT_EQ(code, "second_factor_required");
  auto me = api->get("/api/v1/me", token);
  ASSERT_TRUE(me.ok());
  EXPECT_EQ(me->body["stage"], "first_factor");
  EXPECT_EQ(me->body["next"], json::array({"sms", "agreement"}));

  auto sms = aaj::client::complete_sms(*api, token, inst->sms_code_for(u["phone"]));
  ASSERT_TRUE(sms.ok()) << sms.error().code;
  EXPECT_EQ((*sms)["next"], json::array({"agreement"}));
  // SMS users are offered biometric enrolment (SMS is the weaker factor).
  EXPECT_EQ((*sms)["offer"]["code"], "webauthn_enrolment_offer");
  EXPECT_EQ(request_status(*api, token, u, &code), 403);
  EXPECT_EQ(code, "agreement_required");

  // The agreement is signed with the signing key; the authentication key is refused.
  auto wrong_key = aaj::client::sign_agreement(*api, token, *inst->auth_key(u));
  ASSERT_FALSE(wrong_key.ok());
  EXPECT_EQ(wrong_key.error().code, "wrong_key_usage");
  auto signed_ = aaj::client::sign_agreement(*api, token, *inst->sign_key(u));
  ASSERT_TRUE(signed_.ok()) << signed_.error().code;
  EXPECT_EQ((*signed_)["next"], json::array());
  EXPECT_EQ(request_status(*api, token, u), 200);

  // Next entry: the agreement is on record, only the second factor is asked for.
  auto api2 = inst->api();
  std::string t2 = eds(*api2, u);
  auto me2 = api2->get("/api/v1/me", t2);
  EXPECT_EQ(me2->body["next"], json::array({"sms"}));
}

TEST_F(Entry, PortalCookieSessionsAndTheMonthlyPasswordReminder) {
  auto api = inst->api();
  const json& u = inst->user("mia_admin_police");
  auto raw_eds = [&] {
    auto c = api->post("/api/v1/auth/challenge", "{}");
    auto nonce = aaj::pki::base64_decode(c->body["nonce"].get<std::string>());
    auto cms = inst->auth_key(u)->sign(*nonce);
    return api->post("/api/v1/auth/eds", json{{"challenge_id", c->body["challenge_id"]},
                                              {"cms", aaj::pki::base64_encode(*cms)}}
                                             .dump());
  };
  auto e = raw_eds();
  ASSERT_TRUE(e.ok());
  ASSERT_EQ(e->status, 200) << e->raw;
  // First entry of this user: the EDS password reminder is shown, then not again for 30 days.
  ASSERT_EQ(e->body["reminders"].size(), 1u);
  EXPECT_EQ(e->body["reminders"][0]["code"], "eds_password_change");
  auto again = raw_eds();
  ASSERT_TRUE(again.ok());
  ASSERT_EQ(again->status, 200);
  EXPECT_TRUE(again->body["reminders"].empty()) << again->raw;
  // The portal's cookie: Secure, HttpOnly, SameSite=Strict, and it authenticates alone.
  std::string cookie;
  for (const auto& [k, v] : e->headers)
    if (k == "set-cookie") cookie = v;
  EXPECT_NE(cookie.find("HttpOnly"), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("Secure"), std::string::npos);
  EXPECT_NE(cookie.find("SameSite=Strict"), std::string::npos);
  std::string pair = cookie.substr(0, cookie.find(';'));
  aaj::client::ApiClient browser(inst->url(), inst->ca());
  EXPECT_EQ(browser.get("/api/v1/me")->status, 401);
  browser.set_header("Cookie", pair);
  auto me = browser.get("/api/v1/me");
  EXPECT_EQ(me->status, 200);
  EXPECT_EQ(me->body["iin"], u["iin"]);
  // A cross-site form post carries the cookie but cannot be JSON: refused.
  browser.set_header("Content-Type", "application/x-www-form-urlencoded");
  auto forged = browser.post("/api/v1/auth/logout", "x=1");
  EXPECT_EQ(forged->status, 403);
  EXPECT_EQ(forged->body["error"]["code"], "csrf_refused");
}

TEST_F(Entry, TheAgreementFollowsTheSameSignerRulesAsRequests) {
  // A signing certificate with the user's IIN but another body's BIN (an organisation
  // certificate of the wrong body) cannot sign the user's agreement, as it cannot sign requests.
  const json& u = inst->user("mia_admin_police");
  auto ca = aaj::pki::Authority::load(inst->dir() / "pki/ca.pem", inst->dir() / "pki/ca.key");
  ASSERT_TRUE(ca.ok());
  auto key = aaj::pki::KeyPair::rsa(2048);
  ASSERT_TRUE(key.ok());
  aaj::pki::IssueSpec spec;
  spec.subject = {"ОМАРОВ МАРАТ", "ОМАРОВ", "", u["iin"], inst->user("afm_worker")["body_bin"],
                  "АФМ"};
  spec.kind = aaj::pki::CertKind::Signing;
  spec.not_before = aaj::time::now() - std::chrono::hours(1);
  spec.not_after = aaj::time::now() + std::chrono::hours(24);
  spec.role_oids = {"1.2.398.3.3.4.1.2", "1.2.398.3.3.4.1.2.5"};
  auto cert = ca->issue(spec, *key);
  ASSERT_TRUE(cert.ok());
  auto p12 = inst->dir() / "foreign-org.p12";
  ASSERT_TRUE(aaj::pki::write_pkcs12(p12, "Aa123456", cert->cert.get(), key->get(), {}, "x").ok());
  auto foreign = aaj::client::Signer::from_pkcs12(p12, "Aa123456");
  ASSERT_TRUE(foreign.ok());
  auto api = inst->api();
  std::string t = eds(*api, u);
  ASSERT_TRUE(aaj::client::complete_sms(*api, t, inst->sms_code_for(u["phone"])).ok());
  auto signed_ = aaj::client::sign_agreement(*api, t, **foreign);
  ASSERT_FALSE(signed_.ok());
  EXPECT_EQ(signed_.error().code, "organisation_mismatch");
}

TEST_F(Entry, WrongReplayedAndExpiredCodesAreRefused) {
  auto api = inst->api();
  const json& u = inst->user("afm_worker");
  std::string first = eds(*api, u);
  auto ok = aaj::client::complete_sms(*api, first, inst->sms_code_for(u["phone"]));
  ASSERT_TRUE(ok.ok());
  // The code of that session, replayed into a new one, is worthless.
  int64_t since = aaj::time::to_micros(aaj::time::now()) - 5'000'000;
  auto old_code = aaj::client::read_outbox_code(inst->dir() / "data/sms-outbox", u["phone"], since);
  ASSERT_TRUE(old_code.ok());
  std::string second = eds(*api, u);
  ASSERT_EQ(api->post("/api/v1/auth/sms/send", "{}", second)->status, 200);
  auto replay = verify_code(*api, second, *old_code == "000000" ? "000001" : *old_code);
  // (A fresh code equal to the old one by chance is one in a million.)
  ASSERT_FALSE(replay.ok());
  EXPECT_EQ(replay.error().code, "sms_code_invalid");
  // Expired: the code lives 2 s in this installation.
  std::string third = eds(*api, u);
  auto source = inst->sms_code_for(u["phone"]);
  ASSERT_EQ(api->post("/api/v1/auth/sms/send", "{}", third)->status, 200);
  auto code = source();
  ASSERT_TRUE(code.ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  auto late = verify_code(*api, third, *code);
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, "sms_code_expired");
}

TEST_F(Entry, RepeatedFailuresLockTheAccount) {
  auto api = inst->api();
  const json& u = inst->user("bailiff");
  std::string token = eds(*api, u);
  ASSERT_EQ(api->post("/api/v1/auth/sms/send", "{}", token)->status, 200);
  std::string last;
  for (int i = 0; i < 5; ++i) {
    auto r = verify_code(*api, token, "99999" + std::to_string(i));
    ASSERT_FALSE(r.ok());
    last = r.error().code;
  }
  EXPECT_EQ(last, "locked_out");
  auto again = aaj::client::enter(*api, *inst->auth_key(u));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, "locked_out");
}

TEST_F(Entry, SmsSwitchedOffForABodyLeavesNoSecondFactor) {
  auto api = inst->api();
  auto t = aaj::client::enter(*api, *inst->auth_key(inst->user("judge")));
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().code, "no_second_factor");
}

TEST_F(Entry, IdleSessionsEndAndUsersSeeAndEndTheirSessions) {
  const json& u = inst->user("investigator_mia");
  auto api = inst->api();
  std::string a = inst->enter(*api, u);
  auto api2 = inst->api();
  std::string b = inst->enter(*api2, u);
  auto list = api->get("/api/v1/sessions", a);
  ASSERT_TRUE(list.ok());
  ASSERT_GE(list->body["sessions"].size(), 2u);
  std::string other;
  for (const auto& s : list->body["sessions"])
    if (!s["current"].get<bool>()) other = s["id"];
  ASSERT_FALSE(other.empty());
  auto end = api->post("/api/v1/sessions/end", json{{"id", other}}.dump(), a);
  ASSERT_TRUE(end.ok());
  EXPECT_EQ(end->status, 200);
  EXPECT_EQ(api2->get("/api/v1/me", b)->status, 401);  // ended from the other session
  // Idle longer than the limit (3 s here): the session is over.
  std::this_thread::sleep_for(std::chrono::milliseconds(3500));
  auto idle = api->get("/api/v1/me", a);
  EXPECT_EQ(idle->status, 401);
}

TEST_F(Entry, AccountsUnusedForNinetyDaysAreDisabled) {
  const json& u = inst->user("afm_worker");
  // Time passes: the account's creation and last entry move 91 days into the past.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((inst->dir() / "data/aaj.db").c_str(), &db), SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  int64_t old = aaj::time::to_micros(aaj::time::now()) - int64_t{91} * 86400 * 1000000;
  std::string sql = "UPDATE users SET created_at=" + std::to_string(old) +
                    ", last_entry_at=" + std::to_string(old) + " WHERE iin='" +
                    u["iin"].get<std::string>() + "'";
  ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto api = inst->api();
  auto t = aaj::client::enter(*api, *inst->auth_key(u));
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().code, "account_inactive");
  auto again = aaj::client::enter(*api, *inst->auth_key(u));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, "user_blocked");  // disabled until the operator re-enables
  // The operator re-enables the account: the inactivity clock restarts, entry works again.
  auto api_op = inst->api();
  std::string op = inst->enter(*api_op, inst->staff("operator"));
  auto un = api_op->post("/api/v1/operator/users/unblock",
                         json{{"iin", u["iin"]}, {"reason", "returned from leave"}}.dump(), op);
  ASSERT_TRUE(un.ok());
  ASSERT_EQ(un->status, 200) << un->raw;
  EXPECT_NO_THROW(inst->enter(*api, u));
}

TEST_F(Entry, FirstFactorSessionsCannotManageSessions) {
  auto api = inst->api();
  std::string t = eds(*api, inst->user("prosecutor"));
  auto list = api->get("/api/v1/sessions", t);
  EXPECT_EQ(list->status, 403);
  EXPECT_EQ(list->body["error"]["code"], "second_factor_required");
  // A stray file in the development outbox does not break the client's code reader.
  std::ofstream(inst->dir() / "data/sms-outbox/notes.json") << "{}";
  EXPECT_FALSE(
      aaj::client::read_outbox_code(inst->dir() / "data/sms-outbox", "+70000000000", 0).ok());
}

TEST_F(Entry, EveryStepIsInTheLog) {
  inst->stop();
  auto r = aaj::testing::run_aaj({"log", "verify", "--config", inst->config().string()});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  std::ifstream in(inst->dir() / "data/journal/journal.log");
  std::string log((std::istreambuf_iterator<char>(in)), {});
  for (const char* t : {"\"entry_eds\"", "\"entry_second_factor\"", "\"sms_code_sent\"",
                        "\"agreement_signed\"", "\"session_ended\"", "\"locked_out\""})
    EXPECT_NE(log.find(t), std::string::npos) << t;
}

}  // namespace
