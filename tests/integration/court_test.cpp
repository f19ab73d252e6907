// The court bodies' information system (R-COURT) and ground verification against the case
// register, end to end: real `aaj serve` (with its mutual-TLS system listener) and
// `aaj sourcesim` (with the simulated case register) on loopback, demo key stores.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/ids.h"
#include "harness.h"

using aaj::testing::Installation;
using aaj::testing::run_aaj;
using nlohmann::json;

namespace {

Installation* inst = nullptr;

std::string subject_iin() {
  for (int s = 1;; ++s)
    if (auto i = aaj::ids::make_iin(1986, 4, 17, true, s)) return *i;
}

struct Answer {
  long status = 0;
  json body;
};

std::string code(const Answer& a) {
  return a.body.is_object() && a.body.contains("error") ? a.body["error"].value("code", "") : "";
}
std::string detail(const Answer& a) {
  return a.body.is_object() && a.body.contains("error") ? a.body["error"].value("detail", "") : "";
}

const json& court_system() {
  return inst->installation()["systems"][0];
}

// A case of the demo's case register (cases.json) with this type and status.
json demo_case(const std::string& type, const std::string& status, const std::string& body_bin) {
  for (const auto& c : inst->installation()["cases"])
    if (c["type"] == type && c["status"] == status && c["body_bin"] == body_bin) return c;
  throw std::runtime_error("no demo case " + type + " " + status);
}

json court_ground(const json& c) {
  json g = {{"type", c["type"]}, {"number", c["number"]}};
  if (c.contains("court")) {
    g["court"] = c["court"];
    g["year"] = std::stoi(c["registered_on"].get<std::string>().substr(0, 4));
  }
  return g;
}

// The court IS asking on behalf of `judge_iin`, over mutual TLS unless `mtls` is false.
Answer system_request(const json& ground, const std::string& judge_iin, bool mtls = true,
                      const std::string& resource = "R01") {
  const json& sys = court_system();
  aaj::client::ApiClient api(mtls ? inst->systems_url() : inst->url(), inst->ca());
  if (mtls) api.set_client_certificate(sys["auth_key_store"].get<std::string>(), sys["password"]);
  auto key = aaj::client::Signer::from_pkcs12(sys["key_store"].get<std::string>(),
                                              sys["password"].get<std::string>());
  if (!key) throw std::runtime_error("system key: " + key.error().detail);
  json doc = aaj::client::make_document(resource, ground, {{"iin", subject_iin()}},
                                        "Азаматтық іс бойынша сот талабы / запрос суда");
  doc["on_behalf_of"] = {{"iin", judge_iin}};
  auto r = aaj::client::send_system_request(api, **key, doc);
  if (!r) throw std::runtime_error("transport: " + r.error().detail);
  return {r->status, r->body};
}

// Every record of the event log.
std::vector<json> log_records() {
  std::ifstream in(inst->dir() / "data/journal/journal.log");
  std::vector<json> out;
  for (std::string line; std::getline(in, line);) out.push_back(json::parse(line));
  return out;
}

json record_of(const std::string& request_id) {
  for (const auto& r : log_records())
    if (r["body"].value("request_id", "") == request_id && r["type"] == "data_request")
      return r["body"];
  return nullptr;
}

class Court : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    inst = new Installation();
    inst->set_config("verify", "true");  // [grounds] verify: the case register decides
    inst->start();
  }
  static void TearDownTestSuite() {
    delete inst;
    inst = nullptr;
  }
};

TEST_F(Court, JudgeRequestThroughTheCourtSystemIsAnsweredAndLoggedWithBoth) {
  const json& judge = inst->user("judge");
  json c = demo_case("civil_case_court", "open", judge["body_bin"]);
  Answer a = system_request(court_ground(c), judge["iin"]);
  ASSERT_EQ(a.status, 200) << a.body.dump();
  EXPECT_EQ(a.body["resource"], "R01");
  EXPECT_TRUE(a.body["found"].get<bool>());
  json rec = record_of(a.body["request_id"]);
  ASSERT_TRUE(rec.is_object());
  EXPECT_EQ(rec["outcome"], "answered");
  EXPECT_EQ(rec["system"]["name"], "court-is");
  EXPECT_EQ(rec["system"]["bin"], court_system()["bin"]);
  EXPECT_TRUE(rec["system"]["mtls"].get<bool>());
  EXPECT_EQ(rec["system"]["tls_certificate"]["bin"], court_system()["bin"]);
  EXPECT_EQ(rec["user"]["iin"], judge["iin"]);
  EXPECT_EQ(rec["user"]["user_type"], "judge");
  EXPECT_EQ(rec["signer"]["bin"], court_system()["bin"]);
  EXPECT_EQ(rec["ground_check"]["status"], "open");
  EXPECT_TRUE(rec.contains("cms"));
}

TEST_F(Court, CivilCaseWithoutYearOrCourtIsRefusedNamingTheField) {
  const json& judge = inst->user("judge");
  json g = court_ground(demo_case("civil_case_court", "open", judge["body_bin"]));
  json no_year = g;
  no_year.erase("year");
  Answer a = system_request(no_year, judge["iin"]);
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(code(a), "invalid_ground");
  EXPECT_NE(detail(a).find("ground.year"), std::string::npos) << detail(a);
  json no_court = g;
  no_court.erase("court");
  a = system_request(no_court, judge["iin"]);
  EXPECT_EQ(code(a), "invalid_ground");
  EXPECT_NE(detail(a).find("ground.court"), std::string::npos) << detail(a);
  json wrong_year = g;
  wrong_year["year"] = 2024;  // the number says 26
  a = system_request(wrong_year, judge["iin"]);
  EXPECT_EQ(code(a), "invalid_ground");
  EXPECT_NE(detail(a).find("does not match"), std::string::npos) << detail(a);
  json admin = court_ground(demo_case("admin_case_court", "open", judge["body_bin"]));
  admin.erase("court");
  a = system_request(admin, judge["iin"]);
  EXPECT_EQ(code(a), "invalid_ground");
  EXPECT_NE(detail(a).find("ground.court"), std::string::npos) << detail(a);
}

TEST_F(Court, WithoutTheClientCertificateTheSystemIsRefused) {
  const json& judge = inst->user("judge");
  json g = court_ground(demo_case("civil_case_court", "open", judge["body_bin"]));
  Answer a = system_request(g, judge["iin"], /*mtls=*/false);
  EXPECT_EQ(a.status, 401);
  EXPECT_EQ(code(a), "client_certificate_required");
  // The system listener itself refuses a TLS handshake without a client certificate.
  aaj::client::ApiClient bare(inst->systems_url(), inst->ca());
  EXPECT_FALSE(bare.get("/healthz").ok());
}

TEST_F(Court, OnlyJudgesAndOnlyRegisteredOnesMayBeNamed) {
  Answer a = system_request(
      court_ground(demo_case("civil_case_court", "open", inst->user("judge")["body_bin"])),
      inst->user("prosecutor")["iin"]);
  EXPECT_EQ(a.status, 403);
  EXPECT_EQ(code(a), "on_behalf_unknown");
  a = system_request(
      court_ground(demo_case("civil_case_court", "open", inst->user("judge")["body_bin"])),
      subject_iin());
  EXPECT_EQ(code(a), "on_behalf_unknown");
}

TEST_F(Court, AnOfficersOwnKeyIsNotASystem) {
  // An individual's certificate (no BIN) over the system listener's TLS client certificate.
  const json& judge = inst->user("judge");
  const json& sys = court_system();
  aaj::client::ApiClient api(inst->systems_url(), inst->ca());
  api.set_client_certificate(sys["auth_key_store"].get<std::string>(), sys["password"]);
  json doc = aaj::client::make_document(
      "R01", court_ground(demo_case("civil_case_court", "open", judge["body_bin"])),
      {{"iin", subject_iin()}}, "Азаматтық іс бойынша");
  doc["on_behalf_of"] = {{"iin", judge["iin"]}};
  auto r = aaj::client::send_system_request(api, *inst->sign_key(judge), doc);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 403);
  EXPECT_EQ(r->body["error"]["code"], "unknown_system");
}

TEST_F(Court, OfficersApiIsNotServedOnTheSystemListener) {
  const json& sys = court_system();
  aaj::client::ApiClient api(inst->systems_url(), inst->ca());
  api.set_client_certificate(sys["auth_key_store"].get<std::string>(), sys["password"]);
  auto r = api.post("/api/v1/auth/challenge", "{}");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 404);
}

// ---- ground verification against the case register (grounds.verify = true) ----

Answer officer_request(const json& u, const json& ground) {
  auto api = inst->api();
  std::string token = inst->enter(*api, u);
  json doc = aaj::client::make_document("R01", ground, {{"iin", subject_iin()}},
                                        "Қылмыстық іс бойынша тексеру / проверка по делу");
  auto r = aaj::client::send_request(*api, token, *inst->sign_key(u), doc);
  if (!r) throw std::runtime_error("transport: " + r.error().detail);
  return {r->status, r->body};
}

TEST_F(Court, GroundVerificationAllowsAnOpenCaseOfTheUsersBody) {
  const json& u = inst->user("prosecutor");
  Answer a = officer_request(u, court_ground(demo_case("criminal_case", "open", u["body_bin"])));
  EXPECT_EQ(a.status, 200) << a.body.dump();
}

TEST_F(Court, GroundVerificationRefusals) {
  const json& u = inst->user("prosecutor");
  Answer a = officer_request(u, {{"type", "criminal_case"}, {"number", "269999999999999"}});
  EXPECT_EQ(a.status, 403);
  EXPECT_EQ(code(a), "ground_not_registered");

  a = officer_request(u, court_ground(demo_case("criminal_case", "closed", u["body_bin"])));
  EXPECT_EQ(code(a), "ground_closed");

  const json& other = inst->user("investigator_mia");
  a = officer_request(u, court_ground(demo_case("criminal_case", "open", other["body_bin"])));
  EXPECT_EQ(code(a), "ground_other_body");
  EXPECT_NE(detail(a).find(other["body_bin"].get<std::string>()), std::string::npos);

  // A case registered at run time is seen at once.
  inst->add_cases(json::array({{{"type", "criminal_case"},
                                {"number", "261111111111111"},
                                {"status", "open"},
                                {"body_bin", u["body_bin"]}}}));
  a = officer_request(u, {{"type", "criminal_case"}, {"number", "261111111111111"}});
  EXPECT_EQ(a.status, 200) << a.body.dump();

  // The register down: fail closed, and the refusal is logged.
  inst->set_source_mode("CASES", "down");
  a = officer_request(u, court_ground(demo_case("criminal_case", "open", u["body_bin"])));
  EXPECT_EQ(a.status, 503);
  EXPECT_EQ(code(a), "ground_register_unavailable");
  json rec = record_of(a.body["request_id"]);
  ASSERT_TRUE(rec.is_object());
  EXPECT_EQ(rec["outcome"], "failed");
  inst->set_source_mode("CASES", "normal");
}

TEST_F(Court, TheLogVerifies) {
  auto r = run_aaj({"log", "verify", "--config", inst->config().string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

}  // namespace
