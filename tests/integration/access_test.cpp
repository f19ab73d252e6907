// The access lifecycle through the real server (R-ACC, R-CTRL): apply → approve → enter; a
// refusal signed by the operator and verifiable afterwards; the one-day deadline; controllers
// act only within their body; nobody decides their own application; staff accounts do not
// request data.
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "core/ids.h"
#include "core/time.h"
#include "harness.h"
#include "pki/issue.h"
#include "pki/openssl_util.h"

using aaj::testing::Installation;
using aaj::testing::run_aaj;
using nlohmann::json;

namespace {

Installation* inst = nullptr;

class Access : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_TRUE(aaj::time::load_astana_zone().ok());
    inst = new Installation();
    // Applications submitted from now on are due in 2 s (the demo's were due in a day).
    inst->set_config("application_deadline_seconds", "2");
    inst->start();
  }
  static void TearDownTestSuite() {
    delete inst;
    inst = nullptr;
  }
  static std::string staff_token(aaj::client::ApiClient& api, const std::string& role) {
    return inst->enter(api, inst->staff(role));
  }
  static json queue(aaj::client::ApiClient& api, const std::string& token) {
    auto q = api.get("/api/v1/operator/applications", token);
    if (!q || q->status != 200) throw std::runtime_error("queue: " + (q ? q->raw : "transport"));
    return q->body;
  }
  static long post(aaj::client::ApiClient& api, const std::string& path, const json& body,
                   const std::string& token, json* out = nullptr) {
    auto r = api.post(path, body.dump(), token);
    if (!r) return -1;
    if (out) *out = r->body;
    return r->status;
  }
};

TEST_F(Access, ApplyApproveEnterAndRequest) {
  auto api = inst->api();
  std::string op = staff_token(*api, "operator");
  json q = queue(*api, op);
  EXPECT_EQ(q["pending"], 2);
  const json& applicant = inst->applicants()[0];
  json entry;
  for (const auto& a : q["applications"])
    if (a["id"] == applicant["application_id"]) entry = a;
  ASSERT_FALSE(entry.is_null());
  EXPECT_EQ(entry["overdue"], false);  // the demo's applications are due in a day
  EXPECT_GT(entry["time_left_seconds"].get<int64_t>(), 3600);
  EXPECT_NE(entry["due_at"].get<std::string>().find("+05:00"), std::string::npos);
  for (const auto& c : entry["checks"]) EXPECT_TRUE(c["ok"].get<bool>()) << c.dump();

  // Before registration the applicant cannot enter.
  auto before = aaj::client::enter(*api, *inst->auth_key(applicant));
  ASSERT_FALSE(before.ok());
  EXPECT_EQ(before.error().code, "user_unknown");

  json decided;
  ASSERT_EQ(post(*api, "/api/v1/operator/applications/register",
                 {{"id", applicant["application_id"]}}, op, &decided),
            200)
      << decided.dump();
  EXPECT_EQ(decided["status"], "registered");
  // Deciding twice is refused.
  EXPECT_EQ(post(*api, "/api/v1/operator/applications/register",
                 {{"id", applicant["application_id"]}}, op),
            409);

  auto api2 = inst->api();
  std::string token = inst->enter(*api2, applicant);
  auto r = aaj::client::send_request(
      *api2, token, *inst->sign_key(applicant),
      aaj::client::make_document("R01", {{"type", "criminal_case"}, {"number", "251234567890123"}},
                                 {{"iin", "860417300015"}}, "Проверка по делу"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200) << r->raw;
}

TEST_F(Access, RefusalIsSignedByTheOperatorAndVerifiableAfterwards) {
  auto api = inst->api();
  std::string op = staff_token(*api, "operator");
  const json& applicant = inst->applicants()[1];
  json decision = {{"application_id", applicant["application_id"]},
                   {"decision", "refused"},
                   {"reason", "Тағайындау туралы бұйрық көрсетілмеген / не указан приказ"},
                   {"signed_at", aaj::time::format_astana(aaj::time::now())}};
  auto cms = inst->sign_key(inst->staff("operator"))->sign(decision.dump());
  ASSERT_TRUE(cms.ok());
  json out;
  ASSERT_EQ(
      post(*api, "/api/v1/operator/applications/refuse",
           {{"id", applicant["application_id"]}, {"cms", aaj::pki::base64_encode(*cms)}}, op, &out),
      200)
      << out.dump();
  // The applicant sees the refusal and its signature, and anyone can verify it offline.
  json status;
  ASSERT_EQ(
      post(*api, "/api/v1/applications/status", {{"id", applicant["application_id"]}}, "", &status),
      200);
  EXPECT_EQ(status["status"], "refused");
  auto der = aaj::pki::base64_decode(status["decision_cms"].get<std::string>());
  ASSERT_TRUE(der.ok());
  std::string file = (inst->dir() / "refusal.cms").string();
  std::ofstream(file, std::ios::binary) << *der;
  auto v = run_aaj({"cms", "verify", file, "--trust", inst->ca()});
  ASSERT_EQ(v.exit_code, 0) << v.out;
  json verdict = json::parse(v.out);
  EXPECT_EQ(verdict["signer"]["iin"], inst->staff("operator")["iin"]);
  auto content = aaj::pki::base64_decode(verdict["content"].get<std::string>());
  EXPECT_NE(content->find("\"decision\":\"refused\""), std::string::npos);
}

TEST_F(Access, OverdueApplicationsAreFlaggedAndCounted) {
  // A new applicant, with keys from the demo CA, applies now; the deadline here is 2 s.
  auto ca = aaj::pki::Authority::load(inst->dir() / "pki/ca.pem", inst->dir() / "pki/ca.key");
  ASSERT_TRUE(ca.ok());
  std::string iin = *aaj::ids::make_iin(1990, 1, 1, true, 777);
  for (int s = 778; !aaj::ids::parse_iin(iin); ++s)
    iin = aaj::ids::make_iin(1990, 1, 1, true, s).value_or("");
  auto key = aaj::pki::KeyPair::rsa(2048);
  aaj::pki::IssueSpec spec;
  spec.subject = {"ЖАҢА ӨТІНІШ", "ЖАҢА", "", iin, "", ""};
  spec.kind = aaj::pki::CertKind::Signing;
  spec.not_before = aaj::time::now() - std::chrono::hours(1);
  spec.not_after = aaj::time::now() + std::chrono::hours(24);
  auto cert = ca->issue(spec, *key);
  ASSERT_TRUE(cert.ok());
  json doc = {{"kind", "new"},
              {"iin", iin},
              {"full_name", "ЖАҢА ӨТІНІШ"},
              {"body_bin", inst->user("prosecutor")["body_bin"]},
              {"user_type", "prosecutor"},
              {"post", "прокурор"},
              {"phone", "+77019998877"},
              {"grounds", json::array({"criminal_case"})},
              {"signed_at", aaj::time::format_astana(aaj::time::now())}};
  auto cms = aaj::pki::sign_cms(doc.dump(), cert->cert.get(), key->get(), {}, true);
  ASSERT_TRUE(cms.ok());
  auto api = inst->api();
  json answer;
  ASSERT_EQ(
      post(*api, "/api/v1/applications", {{"cms", aaj::pki::base64_encode(*cms)}}, "", &answer),
      201)
      << answer.dump();
  std::string op = staff_token(*api, "operator");
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  json q = queue(*api, op);
  EXPECT_GE(q["overdue"].get<int>(), 1);
  bool flagged = false;
  for (const auto& a : q["applications"])
    if (a["id"] == answer["application_id"]) flagged = a["overdue"].get<bool>();
  EXPECT_TRUE(flagged);
}

TEST_F(Access, ControllerActsOnlyWithinTheirBody) {
  auto api = inst->api();
  std::string ctl = staff_token(*api, "controller");  // MIA
  json out;
  EXPECT_EQ(post(*api, "/api/v1/controller/users/block",
                 {{"iin", inst->user("afm_worker")["iin"]}, {"reason", "проверка"}}, ctl, &out),
            403);
  EXPECT_EQ(out["error"]["code"], "out_of_scope");
  // An MIA officer with a live session: the controller's block ends it at once.
  auto api2 = inst->api();
  const json& officer = inst->user("mia_admin_police");
  std::string t = inst->enter(*api2, officer);
  EXPECT_EQ(
      post(
          *api, "/api/v1/controller/users/block",
          {{"iin", officer["iin"]}, {"reason", "увольнение / dismissal"}, {"measure", "dismissal"}},
          ctl),
      200);
  EXPECT_EQ(api2->get("/api/v1/me", t)->status, 401);
  // The operator unblocks with a reason.
  std::string op = staff_token(*api, "operator");
  EXPECT_EQ(post(*api, "/api/v1/operator/users/unblock",
                 {{"iin", officer["iin"]}, {"reason", "восстановлен / reinstated"}}, op),
            200);
  EXPECT_NO_THROW(inst->enter(*api2, officer));
  // The operator edits the officer's phone at once; the next SMS code goes to the new number.
  EXPECT_EQ(post(*api, "/api/v1/operator/users/edit",
                 {{"iin", officer["iin"]}, {"phone", "+77015550011"}, {"reason", "new SIM"}}, op),
            200);
  auto api3 = inst->api();
  auto t3 = aaj::client::enter(*api3, *inst->auth_key(officer));
  ASSERT_TRUE(t3.ok());
  auto sms = aaj::client::complete_sms(*api3, *t3, inst->sms_code_for("+77015550011"));
  EXPECT_TRUE(sms.ok()) << sms.error().code;
}

TEST_F(Access, SeparationOfDuties) {
  auto api = inst->api();
  const json& op_person = inst->staff("operator");
  std::string op = staff_token(*api, "operator");
  // A staff-only account does not request data.
  auto r = aaj::client::send_request(
      *api, op, *inst->sign_key(op_person),
      aaj::client::make_document("R01", {{"type", "criminal_case"}, {"number", "251234567890123"}},
                                 {{"iin", "860417300015"}}, "Проверка по делу"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 403);
  EXPECT_EQ(r->body["error"]["code"], "not_a_requesting_user");
  // An operator's own application must be decided by someone else.
  json doc = {
      {"kind", "transfer"},
      {"iin", op_person["iin"]},
      {"full_name", op_person["full_name"]},
      {"body_bin", op_person["body_bin"]},
      {"user_type", "prosecutor"},
      {"post", "прокурор"},
      {"phone", op_person["phone"]},
      {"order", {{"number", "7-ЛС"}, {"signed_at", aaj::time::format_astana(aaj::time::now())}}},
      {"signed_at", aaj::time::format_astana(aaj::time::now())}};
  auto cms = inst->sign_key(op_person)->sign(doc.dump());
  json answer;
  ASSERT_EQ(
      post(*api, "/api/v1/applications", {{"cms", aaj::pki::base64_encode(*cms)}}, "", &answer),
      201);
  json out;
  EXPECT_EQ(post(*api, "/api/v1/operator/applications/register", {{"id", answer["application_id"]}},
                 op, &out),
            403);
  EXPECT_EQ(out["error"]["code"], "own_application");
  // A user without a staff role cannot see the queue.
  std::string user = inst->enter(*api, inst->user("judge"));
  EXPECT_EQ(api->get("/api/v1/operator/applications", user)->status, 403);
}

TEST_F(Access, ApplicationsToBlockAndLateTransfers) {
  auto api = inst->api();
  std::string op = staff_token(*api, "operator");
  // The MIA controller files an application to block an MIA investigator; the operator blocks.
  const json& ctl = inst->staff("controller");
  const json& target = inst->user("investigator_mia");
  json block = {{"kind", "block"},
                {"iin", target["iin"]},
                {"reason", "превышение полномочий"},
                {"signed_at", aaj::time::format_astana(aaj::time::now())}};
  auto cms = inst->sign_key(ctl)->sign(block.dump());
  json filed;
  ASSERT_EQ(
      post(*api, "/api/v1/applications", {{"cms", aaj::pki::base64_encode(*cms)}}, "", &filed), 201)
      << filed.dump();
  ASSERT_EQ(
      post(*api, "/api/v1/operator/applications/register", {{"id", filed["application_id"]}}, op),
      200);
  auto t = aaj::client::enter(*api, *inst->auth_key(target));
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().code, "user_blocked");
  // A captured application cannot be filed again later: signed_at must be now.
  json stale = block;
  stale["signed_at"] = aaj::time::format_astana(aaj::time::now() - std::chrono::hours(2));
  auto cms_stale = inst->sign_key(ctl)->sign(stale.dump());
  json stale_answer;
  EXPECT_EQ(post(*api, "/api/v1/applications", {{"cms", aaj::pki::base64_encode(*cms_stale)}}, "",
                 &stale_answer),
            403);
  EXPECT_EQ(stale_answer["error"]["code"], "stale_request");
  // The controller may not file against another body's user.
  json foreign = block;
  foreign["iin"] = inst->user("judge")["iin"];
  auto cms2 = inst->sign_key(ctl)->sign(foreign.dump());
  json refused;
  EXPECT_EQ(
      post(*api, "/api/v1/applications", {{"cms", aaj::pki::base64_encode(*cms2)}}, "", &refused),
      403);
  EXPECT_EQ(refused["error"]["code"], "out_of_scope");

  // A transfer filed 30 hours after the order was signed: accepted, and its lateness is visible.
  const json& u = inst->user("afm_worker");
  json transfer = {
      {"kind", "transfer"},
      {"iin", u["iin"]},
      {"full_name", u["full_name"]},
      {"body_bin", u["body_bin"]},
      {"user_type", "investigator_afm"},
      {"post", "тергеуші / следователь"},
      {"phone", u["phone"]},
      {"grounds", json::array({"criminal_case"})},
      {"order",
       {{"number", "88-ЛС"},
        {"signed_at", aaj::time::format_astana(aaj::time::now() - std::chrono::hours(30))}}},
      {"signed_at", aaj::time::format_astana(aaj::time::now())}};
  auto cms3 = inst->sign_key(u)->sign(transfer.dump());
  json filed3;
  ASSERT_EQ(
      post(*api, "/api/v1/applications", {{"cms", aaj::pki::base64_encode(*cms3)}}, "", &filed3),
      201);
  bool late = false;
  for (const auto& c : filed3["checks"])
    if (c["check"] == "within_24h_of_order") late = !c["ok"].get<bool>();
  EXPECT_TRUE(late) << filed3.dump();
  std::string user_token = inst->enter(*inst->api(), u);
  ASSERT_EQ(
      post(*api, "/api/v1/operator/applications/register", {{"id", filed3["application_id"]}}, op),
      200);
  // Rights changed: the user's sessions ended, and the new user type is in force.
  EXPECT_EQ(inst->api()->get("/api/v1/me", user_token)->status, 401);
  auto api4 = inst->api();
  std::string t4 = inst->enter(*api4, u);
  EXPECT_EQ(api4->get("/api/v1/me", t4)->body["user_type"], "investigator_afm");
}

TEST_F(Access, EveryLifecycleEventIsLogged) {
  inst->stop();
  auto v = run_aaj({"log", "verify", "--config", inst->config().string()});
  EXPECT_EQ(v.exit_code, 0) << v.out;
  std::ifstream in(inst->dir() / "data/journal/journal.log");
  std::string log((std::istreambuf_iterator<char>(in)), {});
  for (const char* t :
       {"\"application_received\"", "\"application_registered\"", "\"application_refused\"",
        "\"user_blocked\"", "\"user_unblocked\"", "\"staff_action_refused\"",
        "\"application_refused_on_arrival\"", "\"staff_role_granted\"", "\"agreement_signed\""})
    EXPECT_NE(log.find(t), std::string::npos) << t;
}

}  // namespace
