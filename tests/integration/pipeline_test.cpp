// The backbone end to end: real `aaj serve` + `aaj sourcesim` processes on loopback, a demo
// installation made by `aaj demo init`, the client library signing with the demo key stores.
// One installation serves the whole suite (this binary is one CTest test; cases run in order).
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <thread>

#include "auth/challenges.h"
#include "core/ids.h"
#include "core/time.h"
#include "harness.h"
#include "pki/issue.h"
#include "pki/openssl_util.h"

namespace fs = std::filesystem;
using aaj::testing::Installation;
using aaj::testing::run_aaj;
using aaj::testing::run_shell;
using nlohmann::json;

namespace {

Installation* inst = nullptr;
std::vector<std::string> g_request_ids;  // every answered or refused request, checked in the log

const json kCriminal = {{"type", "criminal_case"}, {"number", "251234567890123"}};
const std::string kPurpose = "Проверка по уголовному делу / қылмыстық іс бойынша тексеру";

std::string subject_iin() {
  // A synthetic working-age person (the simulator gives such persons pension agents).
  for (int s = 1;; ++s)
    if (auto i = aaj::ids::make_iin(1986, 4, 17, true, s)) return *i;
}

struct Answer {
  long status;
  json body;
  std::string raw;
};

Answer post_document(aaj::client::ApiClient& api, const std::string& token,
                     const aaj::client::Signer& key, const json& doc) {
  auto r = aaj::client::send_request(api, token, key, doc);
  if (!r) throw std::runtime_error("transport: " + r.error().detail);
  if (r->body.is_object() && r->body.contains("request_id"))
    g_request_ids.push_back(r->body["request_id"]);
  return {r->status, r->body, r->raw};
}

// The standard document of these tests: R01 about subject_iin() within a criminal case.
json standard_document() {
  return aaj::client::make_document("R01", kCriminal, {{"iin", subject_iin()}}, kPurpose);
}

// Enters as `u` (with u's authentication key) and sends the standard document signed by `key`.
Answer request_signed_by(const json& u, const aaj::client::Signer& key) {
  auto api = inst->api();
  std::string token = inst->enter(*api, u);
  return post_document(*api, token, key, standard_document());
}

std::string code(const Answer& a) {
  return a.body.is_object() && a.body.contains("error") ? a.body["error"].value("code", "") : "";
}

// A signing key store for `iin` issued by `ca` with the given validity; returns its Signer.
std::shared_ptr<aaj::client::Signer> make_signer(const aaj::pki::Authority& ca,
                                                 const std::string& iin, aaj::time::Instant nb,
                                                 aaj::time::Instant na, std::string* serial,
                                                 const std::string& tag) {
  auto key = aaj::pki::KeyPair::rsa(2048);
  EXPECT_TRUE(key.ok());
  aaj::pki::IssueSpec spec;
  spec.subject = {"ТЕСТ " + tag, "ТЕСТ", "ТЕСТОВИЧ", iin, "", ""};
  spec.kind = aaj::pki::CertKind::Signing;
  spec.not_before = nb;
  spec.not_after = na;
  auto cert = ca.issue(spec, *key);
  EXPECT_TRUE(cert.ok()) << (cert.ok() ? "" : cert.error().detail);
  if (serial) *serial = cert->serial_hex;
  fs::path p12 = inst->dir() / ("extra-" + tag + ".p12");
  EXPECT_TRUE(aaj::pki::write_pkcs12(p12, "Aa123456", cert->cert.get(), key->get(), {}, tag).ok());
  auto s = aaj::client::Signer::from_pkcs12(p12, "Aa123456");
  EXPECT_TRUE(s.ok());
  return *s;
}

class Pipeline : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_TRUE(aaj::time::load_astana_zone().ok());
    inst = new Installation(
        "[policy]\n"
        "dir = \"{DIR}/regulation\"\n\n"
        "[sources.R01]\n"
        "url = \"http://{SIM}\"\n"
        "timeout_ms = 1500\n");
    // The administrator's narrowed copy of the regulation: prosecutors may not use R05.
    fs::create_directories(inst->dir() / "regulation");
    fs::copy(fs::path(AAJ_SOURCE_DIR) / "policy", inst->dir() / "regulation/policy",
             fs::copy_options::recursive);
    fs::copy(fs::path(AAJ_SOURCE_DIR) / "catalog", inst->dir() / "regulation/catalog",
             fs::copy_options::recursive);
    fs::path grants = inst->dir() / "regulation/policy/rules21-resources-assumed.json";
    json g = json::parse(std::ifstream(grants));
    g["user_type_resources"] = {{"prosecutor", {{"R05", "none"}}}};
    std::ofstream(grants) << g.dump(2);
    inst->start();
  }
  static void TearDownTestSuite() {
    delete inst;
    inst = nullptr;
  }
};

TEST_F(Pipeline, HealthAndUnknownPaths) {
  auto api = inst->api();
  auto h = api->get("/healthz");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(h->body["status"], "ok");
  auto n = api->get("/api/v1/nothing");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->status, 404);
  EXPECT_EQ(n->body["error"]["code"], "not_found");
  EXPECT_TRUE(n->body["error"]["message"].contains("kk"));
  auto bad_utf8 = api->get("/api/v1/\xff\xfe");
  ASSERT_TRUE(bad_utf8.ok());
  EXPECT_EQ(bad_utf8->status, 404);
}

TEST_F(Pipeline, AllowedRequestIsAnsweredAndLogged) {
  auto api = inst->api();
  const json& u = inst->user("prosecutor");
  std::string token = inst->enter(*api, u);
  auto a = post_document(*api, token, *inst->sign_key(u), standard_document());
  ASSERT_EQ(a.status, 200) << a.raw;
  EXPECT_EQ(a.body["resource"], "R01");
  EXPECT_EQ(a.body["found"], true);
  EXPECT_EQ(a.body["truncated"], false);
  EXPECT_EQ(a.body["data"]["iin"], subject_iin());
  EXPECT_EQ(a.body["data"]["birthDate"], "1986-04-17");
  EXPECT_FALSE(a.body["policy"]["version"].get<std::string>().empty());
  EXPECT_FALSE(a.body["policy"]["rule"].get<std::string>().empty());
  // Astana time with an explicit offset (+05:00 since 1 March 2024).
  EXPECT_TRUE(std::regex_match(a.body["logged_at"].get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+05:00)")))
      << a.body["logged_at"];
  EXPECT_GT(a.body["log_seq"].get<int>(), 0);
  // The answer's head (before the log position) is written as canonical JSON would write it.
  const size_t cut = a.raw.find(",\"log_seq\":");
  ASSERT_NE(cut, std::string::npos);
  const std::string head = a.raw.substr(0, cut) + "}";
  EXPECT_EQ(json::parse(head).dump(), head);
  EXPECT_EQ(json::parse(head).size(), 6u) << head;
}

TEST_F(Pipeline, TruncatedPensionAnswerRevealsNoAmount) {
  auto api = inst->api();
  const json& u = inst->user("afm_worker");
  std::string token = inst->enter(*api, u);
  json ground = {{"type", "financial_monitoring"}, {"number", "FM-2026/0042"}};
  auto a = post_document(*api, token, *inst->sign_key(u),
                         aaj::client::make_document("R11", ground, {{"iin", subject_iin()}},
                                                    "Проверка операций / операцияларды тексеру"));
  ASSERT_EQ(a.status, 200) << a.raw;
  EXPECT_EQ(a.body["truncated"], true);
  EXPECT_EQ(a.body["policy"]["access"], "truncated");
  ASSERT_FALSE(a.body["data"]["agents"].empty());
  // Every amount the source holds for this person must be absent from the response text.
  json full = inst->source_answer("R11", {{"iin", subject_iin()}});
  std::set<std::string> amounts;
  std::function<void(const json&)> collect = [&](const json& j) {
    if (j.is_object()) {
      for (auto& [k, v] : j.items()) {
        if (v.is_string() && (k == "amount" || k == "sum010" || k == "total_amount"))
          amounts.insert(v.get<std::string>());
        collect(v);
      }
    } else if (j.is_array()) {
      for (const auto& v : j) collect(v);
    }
  };
  collect(full);
  ASSERT_GT(amounts.size(), 5u);
  for (const auto& amt : amounts) EXPECT_EQ(a.raw.find(amt), std::string::npos) << amt;
  EXPECT_EQ(a.raw.find("amount"), std::string::npos);
  EXPECT_EQ(a.raw.find("sum010"), std::string::npos);
  // What is kept is still there.
  EXPECT_TRUE(a.body["data"]["agents"][0].contains("bin"));
  EXPECT_TRUE(a.body["data"]["agents"][0]["payments"][0].contains("period"));
}

TEST_F(Pipeline, RoleNotAllowedTheGround) {
  auto api = inst->api();
  const json& u = inst->user("bailiff");  // enforcement proceedings only
  std::string token = inst->enter(*api, u);
  auto a = post_document(*api, token, *inst->sign_key(u), standard_document());
  EXPECT_EQ(a.status, 403);
  EXPECT_EQ(code(a), "ground_not_allowed");
  EXPECT_FALSE(a.body["error"]["message"]["kk"].get<std::string>().empty());
  EXPECT_FALSE(a.body["error"]["message"]["ru"].get<std::string>().empty());
  EXPECT_FALSE(a.body["error"]["message"]["en"].get<std::string>().empty());
}

TEST_F(Pipeline, ResourceNotGranted) {
  auto api = inst->api();
  const json& u = inst->user("prosecutor");
  std::string token = inst->enter(*api, u);
  auto a = post_document(
      *api, token, *inst->sign_key(u),
      aaj::client::make_document("R05", kCriminal, {{"iin", subject_iin()}}, kPurpose));
  EXPECT_EQ(a.status, 403) << a.raw;
  EXPECT_EQ(code(a), "resource_not_granted");
}

TEST_F(Pipeline, BlockedUserCannotEnter) {
  auto api = inst->api();
  const json& u = inst->user("investigator_mia", "blocked");
  auto t = aaj::client::enter(*api, *inst->auth_key(u));
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().code, "user_blocked");
}

TEST_F(Pipeline, WrongSignerIsRefused) {
  auto a = request_signed_by(inst->user("prosecutor"), *inst->sign_key(inst->user("afm_worker")));
  EXPECT_EQ(a.status, 403);
  EXPECT_EQ(code(a), "signer_mismatch");
}

TEST_F(Pipeline, AuthenticationKeyCannotSignRequests) {
  const json& u = inst->user("prosecutor");
  auto a = request_signed_by(u, *inst->auth_key(u));
  EXPECT_EQ(a.status, 403);
  EXPECT_EQ(code(a), "wrong_key_usage");
}

TEST_F(Pipeline, ExpiredCertificateIsRefused) {
  auto ca = aaj::pki::Authority::load(inst->dir() / "pki/ca.pem", inst->dir() / "pki/ca.key");
  ASSERT_TRUE(ca.ok());
  const json& u = inst->user("prosecutor");
  auto now = aaj::time::now();
  auto signer = make_signer(*ca, u["iin"], now - std::chrono::hours(24 * 400),
                            now - std::chrono::hours(24), nullptr, "expired");
  auto a = request_signed_by(u, *signer);
  EXPECT_EQ(a.status, 403);
  EXPECT_EQ(code(a), "expired");
}

TEST_F(Pipeline, UntrustedChainIsRefused) {
  auto now = aaj::time::now();
  auto rogue = aaj::pki::Authority::create("ROGUE CA", now - std::chrono::hours(1),
                                           now + std::chrono::hours(24 * 30));
  ASSERT_TRUE(rogue.ok());
  const json& u = inst->user("prosecutor");
  auto signer = make_signer(*rogue, u["iin"], now - std::chrono::hours(1),
                            now + std::chrono::hours(24), nullptr, "rogue");
  auto a = request_signed_by(u, *signer);
  EXPECT_EQ(a.status, 403);
  EXPECT_EQ(code(a), "untrusted");
}

TEST_F(Pipeline, RevokedCertificateIsRefusedAfterCrlReload) {
  auto ca = aaj::pki::Authority::load(inst->dir() / "pki/ca.pem", inst->dir() / "pki/ca.key");
  ASSERT_TRUE(ca.ok());
  const json& u = inst->user("prosecutor");
  auto now = aaj::time::now();
  std::string serial;
  auto signer = make_signer(*ca, u["iin"], now - std::chrono::hours(1),
                            now + std::chrono::hours(24 * 30), &serial, "revoked");
  auto api = inst->api();
  std::string token = inst->enter(*api, u);
  auto doc = standard_document;
  ASSERT_EQ(post_document(*api, token, *signer, doc()).status, 200);  // good before revocation
  auto r = run_aaj({"demo", "revoke", inst->dir().string(), "--serial", serial});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The server reloads its CRL folder without a restart (every 2 s in the demo config).
  std::string last;
  for (int i = 0; i < 40 && last != "revoked"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    last = code(post_document(*api, token, *signer, doc()));
  }
  EXPECT_EQ(last, "revoked");
}

TEST_F(Pipeline, TamperedCmsIsRefused) {
  auto api = inst->api();
  const json& u = inst->user("prosecutor");
  std::string token = inst->enter(*api, u);
  json doc = aaj::client::make_document("R01", kCriminal, {{"iin", subject_iin()}}, "purpose-AAAA");
  auto cms = inst->sign_key(u)->sign(doc.dump());
  ASSERT_TRUE(cms.ok());
  std::string der = *cms;
  auto pos = der.find("purpose-AAAA");
  ASSERT_NE(pos, std::string::npos);
  der[pos + 8] = 'B';  // the attached content no longer matches its signature
  auto r = api->post("/api/v1/requests", json{{"cms", aaj::pki::base64_encode(der)}}.dump(), token);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 403) << r->raw;
  EXPECT_EQ(r->body["error"]["code"], "bad_signature");
  g_request_ids.push_back(r->body["request_id"]);
}

TEST_F(Pipeline, ReplayedNonceIsRefused) {
  auto api = inst->api();
  const json& u = inst->user("prosecutor");
  std::string token = inst->enter(*api, u);
  json doc = standard_document();
  auto cms = inst->sign_key(u)->sign(doc.dump());
  ASSERT_TRUE(cms.ok());
  std::string body = json{{"cms", aaj::pki::base64_encode(*cms)}}.dump();
  auto first = api->post("/api/v1/requests", body, token);
  auto second = api->post("/api/v1/requests", body, token);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->status, 200);
  EXPECT_EQ(second->status, 403);
  EXPECT_EQ(second->body["error"]["code"], "replayed_request");
}

TEST_F(Pipeline, StaleSigningTimeIsRefused) {
  auto api = inst->api();
  const json& u = inst->user("prosecutor");
  std::string token = inst->enter(*api, u);
  json doc = standard_document();
  doc["signed_at"] = aaj::time::format_astana(aaj::time::now() - std::chrono::minutes(10));
  auto a = post_document(*api, token, *inst->sign_key(u), doc);
  EXPECT_EQ(a.status, 403);
  EXPECT_EQ(code(a), "stale_request");
}

TEST_F(Pipeline, MalformedInputIsBadRequest) {
  auto api = inst->api();
  const json& u = inst->user("prosecutor");
  std::string token = inst->enter(*api, u);
  auto r = api->post("/api/v1/requests", "this is not json", token);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(r->body["error"]["code"], "malformed_request");
  auto anon = api->post("/api/v1/requests", "{}", "");
  ASSERT_TRUE(anon.ok());
  EXPECT_EQ(anon->status, 401);
  EXPECT_EQ(anon->body["error"]["code"], "unauthenticated");
  auto bad_iin = post_document(
      *api, token, *inst->sign_key(u),
      aaj::client::make_document("R01", kCriminal, {{"iin", "123456789011"}}, kPurpose));
  EXPECT_EQ(bad_iin.status, 400);
  EXPECT_EQ(code(bad_iin), "invalid_subject");
  // The document is archived in the event log, which holds no floats: refused up front.
  json with_float = standard_document();
  with_float["ground"]["year"] = 2024.5;
  auto fl = post_document(*api, token, *inst->sign_key(u), with_float);
  EXPECT_EQ(fl.status, 400);
  EXPECT_EQ(code(fl), "invalid_document");
  EXPECT_NE(fl.body["error"]["detail"].get<std::string>().find("/ground/year"), std::string::npos);
}

TEST_F(Pipeline, DeeplyNestedDocumentIsRefusedAndTheServerLives) {
  auto api = inst->api();
  const json& u = inst->user("prosecutor");
  std::string token = inst->enter(*api, u);
  // 60,000 levels would exhaust a worker's stack in any recursive walk.
  std::string doc = standard_document().dump();
  doc.insert(doc.size() - 1, ",\"x\":" + std::string(60000, '[') + std::string(60000, ']'));
  auto cms = inst->sign_key(u)->sign(doc);
  ASSERT_TRUE(cms.ok());
  auto r =
      api->post("/api/v1/requests", json{{"cms", aaj::pki::base64_encode(*cms)}}.dump(), token);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 400) << r->raw.substr(0, 300);
  EXPECT_EQ(r->body["error"]["code"], "invalid_document");
  g_request_ids.push_back(r->body["request_id"]);
  EXPECT_EQ(post_document(*api, token, *inst->sign_key(u), standard_document()).status, 200);
}

TEST_F(Pipeline, LogoutEndsTheSessionAndIsLogged) {
  auto api = inst->api();
  const json& u = inst->user("judge");
  std::string token = inst->enter(*api, u);
  auto out = api->post("/api/v1/auth/logout", "{}", token);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->status, 200);
  auto after = api->get("/api/v1/me", token);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->status, 401);
  auto again = api->post("/api/v1/auth/logout", "{}", token);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->status, 401);
  auto unknown = api->post("/api/v1/auth/logout", "{}", "not-a-token");
  ASSERT_TRUE(unknown.ok());
  EXPECT_EQ(unknown->status, 401);
}

TEST_F(Pipeline, CourtGroundWithoutYearNamesTheField) {
  auto api = inst->api();
  const json& u = inst->user("judge");
  std::string token = inst->enter(*api, u);
  json ground = {
      {"type", "civil_case_court"}, {"number", "7585-24-00-2/101"}, {"court", "СМЭС г. Астаны"}};
  auto a =
      post_document(*api, token, *inst->sign_key(u),
                    aaj::client::make_document("R01", ground, {{"iin", subject_iin()}}, kPurpose));
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(code(a), "invalid_ground");
  EXPECT_NE(a.body["error"]["detail"].get<std::string>().find("ground.year"), std::string::npos);
}

TEST_F(Pipeline, SourceDownOrSlowIsAGatewayError) {
  auto api = inst->api();
  const json& u = inst->user("prosecutor");
  std::string token = inst->enter(*api, u);
  auto doc = standard_document;
  inst->set_source_mode("R01", "down");
  auto down = post_document(*api, token, *inst->sign_key(u), doc());
  EXPECT_EQ(down.status, 502);
  EXPECT_EQ(code(down), "source_unavailable");
  inst->set_source_mode("R01", "fail");
  auto fail = post_document(*api, token, *inst->sign_key(u), doc());
  EXPECT_EQ(fail.status, 502);
  EXPECT_EQ(code(fail), "source_error");
  inst->set_source_mode("R01", "garbage");  // 200 with a body of the wrong shape
  auto garbage = post_document(*api, token, *inst->sign_key(u), doc());
  EXPECT_EQ(garbage.status, 502) << garbage.raw;
  EXPECT_EQ(code(garbage), "source_error");
  inst->set_source_mode("R01", "slow", 3000);  // R01's timeout is 1500 ms in this installation
  auto slow = post_document(*api, token, *inst->sign_key(u), doc());
  EXPECT_EQ(slow.status, 504);
  EXPECT_EQ(code(slow), "source_timeout");
  inst->set_source_mode("R01", "normal");
  EXPECT_EQ(post_document(*api, token, *inst->sign_key(u), doc()).status, 200);
}

TEST_F(Pipeline, BlockingEndsLiveSessionsAtOnce) {
  auto api = inst->api();
  const json& u = inst->user("mia_admin_police");
  std::string token = inst->enter(*api, u);
  json ground = {{"type", "admin_offence_case"}, {"number", "AO-2026-000123"}};
  auto doc = [&] {
    return aaj::client::make_document("R01", ground, {{"iin", subject_iin()}}, kPurpose);
  };
  ASSERT_EQ(post_document(*api, token, *inst->sign_key(u), doc()).status, 200);
  auto r =
      run_aaj({"user", "block", "--config", inst->config().string(), "--iin",
               u["iin"].get<std::string>(), "--reason", "test: violation found by controller"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto after = post_document(*api, token, *inst->sign_key(u), doc());
  EXPECT_EQ(after.status, 401);
  EXPECT_EQ(code(after), "unauthenticated");
  auto t = aaj::client::enter(*api, *inst->auth_key(u));
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().code, "user_blocked");
}

// A user registered with `aaj user add`, holding a certificate issued with the openssl CLI from
// the demo CA, signing with plain `openssl cms -sign -nodetach`, is served like a demo user.
TEST_F(Pipeline, OpensslIssuedAndSignedRequestIsAnswered) {
  if (run_shell("openssl version").exit_code != 0) GTEST_SKIP() << "openssl CLI not installed";
  fs::path d = inst->dir() / "openssl-user";
  fs::create_directories(d);
  std::string iin;
  for (int s = 321;; ++s)
    if (auto i = aaj::ids::make_iin(1991, 5, 5, true, s)) {
      iin = *i;
      break;
    }
  const std::string q = "'";
  std::string ca = inst->dir().string() + "/pki/ca.pem",
              cakey = inst->dir().string() + "/pki/ca.key";
  auto sh = [&](const std::string& cmd) {
    auto r = run_shell("cd " + q + d.string() + q + " && " + cmd);
    EXPECT_EQ(r.exit_code, 0) << cmd << "\n" << r.out;
    return r;
  };
  sh("openssl req -new -newkey rsa:2048 -nodes -keyout user.key -out user.csr -utf8 "
     "-subj '/C=KZ/CN=ТЕСТОВ ОПЕНССЛ/serialNumber=IIN" +
     iin + "'");
  sh("openssl x509 -req -in user.csr -CA " + ca + " -CAkey " + cakey +
     " -CAcreateserial -days 30 -sha256 -out user.pem");
  const json& prosecutor = inst->user("prosecutor");
  auto add = run_aaj({"user", "add", "--config", inst->config().string(), "--iin", iin,
                      "--user-type", "prosecutor", "--body-bin", prosecutor["body_bin"], "--name",
                      "ТЕСТОВ ОПЕНССЛ", "--phone", "+77011234567"});
  ASSERT_EQ(add.exit_code, 0) << add.err;

  auto api = inst->api();
  auto c = api->post("/api/v1/auth/challenge", "{}");
  ASSERT_TRUE(c.ok());
  auto nonce = aaj::pki::base64_decode(c->body["nonce"].get<std::string>());
  ASSERT_TRUE(nonce);
  std::ofstream(d / "nonce.bin", std::ios::binary) << *nonce;
  sh("openssl cms -sign -nodetach -binary -outform DER -in nonce.bin -signer user.pem "
     "-inkey user.key -out auth.der");
  std::ifstream ain(d / "auth.der", std::ios::binary);
  std::string auth_der((std::istreambuf_iterator<char>(ain)), {});
  auto e = api->post("/api/v1/auth/eds", json{{"challenge_id", c->body["challenge_id"]},
                                              {"cms", aaj::pki::base64_encode(auth_der)}}
                                             .dump());
  ASSERT_TRUE(e.ok());
  ASSERT_EQ(e->status, 200) << e->raw;
  std::string token = e->body["token"];
  EXPECT_EQ(e->body["next"], json::array({"sms", "agreement"}));
  // Second factor: the SMS code from the development outbox.
  auto sms = aaj::client::complete_sms(*api, token, inst->sms_code_for("+77011234567"));
  ASSERT_TRUE(sms.ok()) << sms.error().code;
  // The agreement on terms of use, signed with plain openssl too.
  auto agreement = api->get("/api/v1/agreement", token);
  ASSERT_TRUE(agreement.ok());
  json to_sign = {{"agreement", agreement->body["version"]},
                  {"text_sha256", agreement->body["text_sha256"]},
                  {"iin", iin},
                  {"signed_at", aaj::time::format_astana(aaj::time::now())}};
  std::ofstream(d / "agreement.json", std::ios::binary) << to_sign.dump();
  sh("openssl cms -sign -nodetach -binary -outform DER -in agreement.json -signer user.pem "
     "-inkey user.key -out agreement.der");
  std::ifstream gin(d / "agreement.der", std::ios::binary);
  std::string agreement_der((std::istreambuf_iterator<char>(gin)), {});
  auto signed_ = api->post("/api/v1/agreement",
                           json{{"cms", aaj::pki::base64_encode(agreement_der)}}.dump(), token);
  ASSERT_TRUE(signed_.ok());
  ASSERT_EQ(signed_->status, 200) << signed_->raw;

  json doc = standard_document();
  std::ofstream(d / "doc.json", std::ios::binary) << doc.dump();
  sh("openssl cms -sign -nodetach -binary -outform DER -in doc.json -signer user.pem "
     "-inkey user.key -out doc.der");
  std::ifstream din(d / "doc.der", std::ios::binary);
  std::string doc_der((std::istreambuf_iterator<char>(din)), {});
  auto r =
      api->post("/api/v1/requests", json{{"cms", aaj::pki::base64_encode(doc_der)}}.dump(), token);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200) << r->raw;
  EXPECT_EQ(r->body["data"]["iin"], subject_iin());
}

TEST_F(Pipeline, EntryAcceptsDetachedSignatureAndRefusesAForeignNonce) {
  auto ks = aaj::pki::load_pkcs12(inst->user("judge")["auth_key_store"].get<std::string>(),
                                  inst->user("judge")["password"].get<std::string>());
  ASSERT_TRUE(ks.ok());
  auto api = inst->api();
  auto challenge = [&] {
    auto c = api->post("/api/v1/auth/challenge", "{}");
    EXPECT_TRUE(c.ok());
    return c->body;
  };
  auto enter_with = [&](const json& c, const std::string& content, bool attach) {
    auto cms = aaj::pki::sign_cms(content, ks->cert.get(), ks->key.get(), {}, attach);
    EXPECT_TRUE(cms.ok());
    auto e = api->post(
        "/api/v1/auth/eds",
        json{{"challenge_id", c["challenge_id"]}, {"cms", aaj::pki::base64_encode(*cms)}}.dump());
    EXPECT_TRUE(e.ok());
    return *e;
  };
  json c1 = challenge();
  auto detached = enter_with(c1, *aaj::pki::base64_decode(c1["nonce"].get<std::string>()), false);
  EXPECT_EQ(detached.status, 200) << detached.raw;
  // The same challenge cannot be answered twice.
  auto again = enter_with(c1, *aaj::pki::base64_decode(c1["nonce"].get<std::string>()), false);
  EXPECT_EQ(again.status, 401);
  EXPECT_EQ(again.body["error"]["code"], "challenge_unknown");
  // A signature over other bytes than this challenge's nonce is refused.
  json c2 = challenge();
  auto foreign = enter_with(c2, "some other bytes", true);
  EXPECT_EQ(foreign.status, 403) << foreign.raw;
  EXPECT_EQ(foreign.body["error"]["code"], "bad_signature");
}

// `aaj client request --save FILE`: the answer's bytes in FILE; when FILE cannot be written the
// command fails (it used to print a line and exit 0, as if the answer had been saved).
TEST_F(Pipeline, ClientRequestFailsWhenTheAnswerCannotBeSaved) {
  const json& u = inst->user("prosecutor");
  auto run = [&](const fs::path& save) {
    return run_aaj({"client",       "request",
                    "--server",     inst->url(),
                    "--ca",         inst->ca(),
                    "--auth-store", u["auth_key_store"].get<std::string>(),
                    "--sign-store", u["key_store"].get<std::string>(),
                    "--password",   u["password"].get<std::string>(),
                    "--resource",   "R01",
                    "--ground",     kCriminal.dump(),
                    "--subject",    json{{"iin", subject_iin()}}.dump(),
                    "--purpose",    kPurpose,
                    "--sms-outbox", (inst->dir() / "data/sms-outbox").string(),
                    "--save",       save.string()});
  };
  const fs::path good = inst->dir() / "saved-answer.json";
  auto ok = run(good);
  ASSERT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  std::ifstream in(good, std::ios::binary);
  json saved = json::parse(in, nullptr, false);
  ASSERT_TRUE(saved.is_object()) << ok.out;
  EXPECT_EQ(saved["resource"], "R01");

  const fs::path bad = inst->dir() / "no-such-folder/answer.json";
  auto failed = run(bad);
  EXPECT_EQ(failed.exit_code, 1) << failed.out << failed.err;
  EXPECT_NE(failed.err.find("save_failed"), std::string::npos) << failed.err;
  EXPECT_NE(failed.err.find(bad.string()), std::string::npos) << failed.err;
  EXPECT_FALSE(fs::exists(bad));
  // The answer still reaches the screen: the request was answered and logged.
  EXPECT_NE(failed.out.find("\"resource\": \"R01\""), std::string::npos) << failed.out;
}

// Runs last: every request id answered above is in the log; the log verifies; one changed byte
// makes `aaj log verify` fail and name the record.
TEST_F(Pipeline, EveryOutcomeIsLoggedAndTheChainVerifies) {
  inst->stop();  // quiesce, so the log is complete and nothing appends while we tamper
  std::ifstream in(inst->dir() / "data/journal/journal.log", std::ios::binary);
  std::string log((std::istreambuf_iterator<char>(in)), {});
  ASSERT_GT(g_request_ids.size(), 15u);
  for (const auto& id : g_request_ids)
    EXPECT_NE(log.find("\"request_id\":\"" + id + "\""), std::string::npos) << id;
  EXPECT_NE(log.find("\"type\":\"logout\""), std::string::npos);

  auto ok = run_aaj({"log", "verify", "--config", inst->config().string()});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;

  // Change one byte in the middle of the 5th record.
  size_t line_start = 0;
  for (int i = 0; i < 4; ++i) line_start = log.find('\n', line_start) + 1;
  size_t line_end = log.find('\n', line_start);
  size_t victim = log.find("\"type\"", line_start);
  ASSERT_LT(victim, line_end);
  std::string tampered = log;
  tampered[victim + 9] = tampered[victim + 9] == 'x' ? 'y' : 'x';
  std::ofstream(inst->dir() / "data/journal/journal.log", std::ios::binary | std::ios::trunc)
      << tampered;
  auto bad = run_aaj({"log", "verify", "--config", inst->config().string()});
  EXPECT_NE(bad.exit_code, 0);
  json report = json::parse(bad.out, nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << bad.out;
  EXPECT_EQ(report.value("first_bad_line", 0), 5) << bad.out;
}

}  // namespace
