// Reading the event log through the real server (R-LOG-3, R-CTRL-2, R-CTRL-5): a controller
// reads their body's records and no other body's; the operator reads operational metadata
// without identities; a prosecutor reads nothing without a resolution, registers one (signed)
// and then reads exactly the records it opens; a damaged log gives an error, not a partial
// answer; every read is in the log as log_read, every refusal as log_read_refused, and the log
// still verifies.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

#include "core/ids.h"
#include "core/time.h"
#include "harness.h"
#include "pki/openssl_util.h"

using aaj::testing::Installation;
using aaj::testing::run_aaj;
using nlohmann::json;

namespace {

Installation* inst = nullptr;

// What each read answered, to be found again in the log at the end.
struct Read {
  uint64_t log_seq;
  std::string iin, role;
  size_t count;
};
std::vector<Read> reads;
struct Refusal {
  std::string iin, code;
};
std::vector<Refusal> refusals;

const char* kSubject = "860417300015";

std::string today() {
  return aaj::time::format_date(aaj::time::astana_day(aaj::time::now()));
}

std::vector<json> journal_records() {
  std::ifstream in(inst->dir() / "data/journal/journal.log");
  std::vector<json> out;
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(json::parse(line));
  return out;
}

class LogAccess : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_TRUE(aaj::time::load_astana_zone().ok());
    inst = new Installation();
    inst->start();
  }
  static void TearDownTestSuite() {
    delete inst;
    inst = nullptr;
  }
  static const json& person(const std::string& key) {
    if (key == "controller" || key == "operator" || key == "prosecutor") return inst->staff(key);
    return inst->user(key);
  }
  static std::string token(aaj::client::ApiClient& api, const std::string& who) {
    return inst->enter(api, person(who));
  }
  // GET /api/v1/log as `who`; records what was answered.
  static aaj::client::HttpResult read(aaj::client::ApiClient& api, const std::string& tok,
                                      const std::string& who, const std::string& query,
                                      const std::string& role_hint = "") {
    auto r = api.get("/api/v1/log" + (query.empty() ? "" : "?" + query), tok);
    if (!r) throw std::runtime_error("transport");
    const std::string iin = person(who)["iin"];
    if (r->status == 200)
      reads.push_back({r->body["log_seq"].get<uint64_t>(), iin, role_hint.empty() ? who : role_hint,
                       r->body["records"].size()});
    else if (r->body.contains("error") && r->status != 401)
      refusals.push_back({iin, r->body["error"]["code"].get<std::string>()});
    return *r;
  }
  static std::string data_request(const std::string& who, const json& ground) {
    auto api = inst->api();
    std::string t = token(*api, who);
    auto r = aaj::client::send_request(
        *api, t, *inst->sign_key(person(who)),
        aaj::client::make_document("R01", ground, {{"iin", kSubject}}, "Тексеру / проверка"));
    if (!r || r->status != 200)
      throw std::runtime_error("data request failed: " + (r ? r->raw : "transport"));
    return r->body["request_id"];
  }
  static json sign_resolution(const json& doc) {
    auto cms = inst->sign_key(person("prosecutor"))->sign(doc.dump());
    if (!cms) throw std::runtime_error("sign");
    return {{"cms", aaj::pki::base64_encode(*cms)}};
  }
  static json resolution_doc(const std::string& number, const std::string& body_bin,
                             const std::string& from, const std::string& to) {
    return {{"number", number},
            {"date", today()},
            {"body_bin", body_bin},
            {"period", {{"from", from}, {"to", to}}},
            {"purpose", "Заңдылықты тексеру / проверка законности получения сведений"},
            {"signed_at", aaj::time::format_astana(aaj::time::now())}};
  }
  static std::string mia() { return person("controller")["body_bin"]; }
  static std::string afm() { return person("afm_worker")["body_bin"]; }
};

std::string mia_request_id, afm_request_id;

TEST_F(LogAccess, ControllerReadsTheirBodysRecordsAndNoOther) {
  mia_request_id =
      data_request("investigator_mia", {{"type", "criminal_case"}, {"number", "251234567890123"}});
  afm_request_id =
      data_request("afm_worker", {{"type", "financial_monitoring"}, {"number", "FM-2026/0042"}});
  auto api = inst->api();
  std::string t = token(*api, "controller");
  auto r = read(*api, t, "controller", "type=data_request");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["policy"]["version"], "log-access-2026/v1");
  EXPECT_EQ(r.body["policy"]["rule"], "log-access-2026/controller/own-body");
  EXPECT_EQ(r.body["redacted"], false);
  EXPECT_TRUE(r.body["next_after_seq"].is_null());
  std::set<std::string> ids;
  for (const auto& rec : r.body["records"]) {
    EXPECT_EQ(rec["type"], "data_request");
    EXPECT_EQ(rec["body"]["user"]["body_bin"], mia()) << rec.dump();
    ids.insert(rec["body"]["request_id"].get<std::string>());
    // Whole records: the signed request and the chain links are there.
    EXPECT_TRUE(rec["body"].contains("cms"));
    EXPECT_TRUE(rec.contains("hash") && rec.contains("prev"));
  }
  EXPECT_TRUE(ids.count(mia_request_id));
  EXPECT_FALSE(ids.count(afm_request_id));

  // Lifecycle events of the body's users too (the agreement each signed on first entry).
  auto agreements = read(*api, t, "controller", "type=agreement_signed");
  ASSERT_EQ(agreements.status, 200);
  std::set<std::string> signers;
  for (const auto& rec : agreements.body["records"]) signers.insert(rec["body"]["iin"]);
  EXPECT_TRUE(signers.count(person("investigator_mia")["iin"]));
  EXPECT_FALSE(signers.count(person("afm_worker")["iin"]));

  // Another body is out of scope, and the refusal is an answer without records.
  auto other = read(*api, t, "controller", "body_bin=" + afm());
  EXPECT_EQ(other.status, 403);
  EXPECT_EQ(other.body["error"]["code"], "log_read_out_of_scope");
  EXPECT_FALSE(other.body.contains("records"));
  // A prosecutor's parameter is not the controller's.
  auto misuse = read(*api, t, "controller", "resolution=abc");
  EXPECT_EQ(misuse.status, 400);
}

TEST_F(LogAccess, OperatorReadsOperationalMetadataWithoutIdentities) {
  auto api = inst->api();
  std::string t = token(*api, "operator");
  auto r = read(*api, t, "operator", "limit=500");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["policy"]["rule"], "log-access-2026/operator/operational");
  EXPECT_EQ(r.body["redacted"], true);
  ASSERT_GT(r.body["records"].size(), 10u);
  std::set<std::string> ids;
  const std::set<std::string> allowed_top = {"seq", "at", "at_astana", "type", "body"};
  const std::set<std::string> allowed_body = {"outcome", "code", "http_status", "request_id"};
  for (const auto& rec : r.body["records"]) {
    for (auto it = rec.begin(); it != rec.end(); ++it)
      EXPECT_TRUE(allowed_top.count(it.key())) << it.key();
    if (rec.contains("body")) {
      for (auto it = rec["body"].begin(); it != rec["body"].end(); ++it)
        EXPECT_TRUE(allowed_body.count(it.key())) << it.key();
    }
    if (rec["type"] == "data_request") ids.insert(rec["body"]["request_id"].get<std::string>());
  }
  // Every body's requests, by their ids only.
  EXPECT_TRUE(ids.count(mia_request_id));
  EXPECT_TRUE(ids.count(afm_request_id));
  const std::string text = r.raw;
  for (const char* secret :
       {"\"document\"", "\"cms\"", "\"user\"", "\"signer\"", "\"iin\"", "answer_sha256", kSubject})
    EXPECT_EQ(text.find(secret), std::string::npos) << secret;
  for (const auto& u : inst->users())
    EXPECT_EQ(text.find(u["iin"].get<std::string>()), std::string::npos);
  for (const auto& s : inst->installation()["staff"])
    EXPECT_EQ(text.find(s["iin"].get<std::string>()), std::string::npos);

  // Paging: after_seq continues where the previous page stopped.
  auto p1 = read(*api, t, "operator", "limit=2");
  ASSERT_EQ(p1.status, 200);
  ASSERT_EQ(p1.body["records"].size(), 2u);
  uint64_t next = p1.body["next_after_seq"].get<uint64_t>();
  EXPECT_EQ(next, p1.body["records"][1]["seq"].get<uint64_t>());
  auto p2 = read(*api, t, "operator", "limit=2&after_seq=" + std::to_string(next));
  ASSERT_EQ(p2.status, 200);
  EXPECT_EQ(p2.body["records"][0]["seq"].get<uint64_t>(), next + 1);
  // Filters: today in Astana holds the records; tomorrow none.
  auto day = read(*api, t, "operator", "type=data_request&from=" + today() + "&to=" + today());
  ASSERT_EQ(day.status, 200);
  EXPECT_GE(day.body["records"].size(), 2u);
  auto tomorrow = aaj::time::format_date(aaj::time::astana_day(aaj::time::now()) + 1);
  auto none = read(*api, t, "operator", "from=" + tomorrow);
  ASSERT_EQ(none.status, 200);
  EXPECT_TRUE(none.body["records"].empty());
  // Malformed queries are refused (and logged).
  for (const char* q : {"limit=501", "limit=0", "from=2026-02-30", "colour=red", "limit=5&limit=6",
                        "from=2026-12-02&to=2026-12-01", "after_seq=-1"}) {
    auto bad = read(*api, t, "operator", q);
    EXPECT_EQ(bad.status, 400) << q;
    EXPECT_EQ(bad.body["error"]["code"], "malformed_request") << q;
  }
}

std::string resolution_id;

TEST_F(LogAccess, ProsecutorReadsOnlyUnderTheirResolution) {
  auto api = inst->api();
  std::string t = token(*api, "prosecutor");
  // No resolution, no records.
  auto without = read(*api, t, "prosecutor", "");
  EXPECT_EQ(without.status, 403);
  EXPECT_EQ(without.body["error"]["code"], "resolution_required");
  auto unknown = read(*api, t, "prosecutor", "resolution=00000000-0000-4000-8000-000000000000");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.body["error"]["code"], "resolution_unknown");

  // Checks on registration: inverted period, unknown body, signed by someone else.
  auto post = [&](const json& body) {
    auto r = api->post("/api/v1/prosecutor/resolutions", body.dump(), t);
    if (!r) throw std::runtime_error("transport");
    return *r;
  };
  auto inverted = post(sign_resolution(resolution_doc("1-inv", mia(), today(), "2026-01-01")));
  EXPECT_EQ(inverted.status, 400);
  EXPECT_EQ(inverted.body["error"]["code"], "invalid_document");
  std::string unregistered;
  for (int serial = 990; unregistered.empty(); ++serial)
    unregistered = aaj::ids::make_bin(2005, 1, 4, 0, serial).value_or("");
  auto unknown_body =
      post(sign_resolution(resolution_doc("1-unk", unregistered, "2026-01-01", today())));
  EXPECT_EQ(unknown_body.status, 400) << unknown_body.raw;
  EXPECT_EQ(unknown_body.body["error"]["code"], "body_unknown");
  auto cms = inst->sign_key(person("controller"))
                 ->sign(resolution_doc("1-other", mia(), "2026-01-01", today()).dump());
  auto foreign = post({{"cms", aaj::pki::base64_encode(*cms)}});
  EXPECT_EQ(foreign.status, 403);
  EXPECT_EQ(foreign.body["error"]["code"], "signer_mismatch");
  // Not a prosecutor: the controller cannot register one.
  auto ctl_api = inst->api();
  auto by_controller =
      ctl_api->post("/api/v1/prosecutor/resolutions",
                    sign_resolution(resolution_doc("1-x", mia(), today(), today())).dump(),
                    token(*ctl_api, "controller"));
  EXPECT_EQ(by_controller->status, 403);
  EXPECT_EQ(by_controller->body["error"]["code"], "not_staff");

  // A resolution for the MIA investigator's records of this year.
  json doc = resolution_doc("2-15/2026", mia(), "2026-01-01", today());
  doc["iins"] = json::array({person("investigator_mia")["iin"]});
  auto reg = post(sign_resolution(doc));
  ASSERT_EQ(reg.status, 201) << reg.raw;
  resolution_id = reg.body["id"];
  EXPECT_EQ(reg.body["body_bin"], mia());
  EXPECT_EQ(reg.body["period"]["to"], today());
  EXPECT_NE(reg.body["registered_at"].get<std::string>().find("+05:00"), std::string::npos);
  auto twice = post(sign_resolution(doc));
  EXPECT_EQ(twice.status, 409);
  auto list = api->get("/api/v1/prosecutor/resolutions", t);
  ASSERT_EQ(list->status, 200);
  ASSERT_EQ(list->body["resolutions"].size(), 1u);
  EXPECT_EQ(list->body["resolutions"][0]["id"], resolution_id);

  auto r = read(*api, t, "prosecutor", "limit=500&resolution=" + resolution_id);
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["policy"]["rule"], "log-access-2026/prosecutor/resolution");
  EXPECT_EQ(r.body["redacted"], false);
  // Exactly the records the resolution opens among those written before this read.
  const uint64_t read_at = r.body["log_seq"];
  std::vector<uint64_t> expected, got;
  const std::string officer = person("investigator_mia")["iin"];
  for (const auto& rec : journal_records()) {
    if (rec["seq"].get<uint64_t>() >= read_at) break;
    const json& b = rec["body"];
    if (b.contains("user") && b["user"].value("body_bin", "") == mia() &&
        b["user"].value("iin", "") == officer)
      expected.push_back(rec["seq"]);
  }
  for (const auto& rec : r.body["records"]) got.push_back(rec["seq"]);
  EXPECT_EQ(got, expected);
  ASSERT_FALSE(got.empty());
  bool saw_request = false;
  for (const auto& rec : r.body["records"])
    saw_request |= rec["type"] == "data_request" && rec["body"]["request_id"] == mia_request_id;
  EXPECT_TRUE(saw_request);

  // from/to not given default to the resolution's period: the logged filter says so.
  auto filter_of = [](const aaj::client::HttpResult& answer) {
    for (const auto& rec : journal_records())
      if (rec["seq"] == answer.body["log_seq"]) return rec["body"]["filter"];
    return json();
  };
  json filter = filter_of(r);
  EXPECT_EQ(filter["from"], "2026-01-01") << filter;
  EXPECT_EQ(filter["to"], today()) << filter;
  EXPECT_EQ(filter["resolution"], resolution_id);
  // One given, the other from the period.
  auto from_only = read(*api, t, "prosecutor", "from=2026-02-01&resolution=" + resolution_id);
  ASSERT_EQ(from_only.status, 200) << from_only.raw;
  EXPECT_EQ(filter_of(from_only)["from"], "2026-02-01");
  EXPECT_EQ(filter_of(from_only)["to"], today());

  // Outside the resolution's period: refused, not narrowed.
  auto early = read(*api, t, "prosecutor", "from=2025-12-31&resolution=" + resolution_id);
  EXPECT_EQ(early.status, 403);
  EXPECT_EQ(early.body["error"]["code"], "log_read_out_of_scope");
  auto before = read(*api, t, "prosecutor", "to=2025-12-31&resolution=" + resolution_id);
  EXPECT_EQ(before.status, 403);
  EXPECT_EQ(before.body["error"]["code"], "log_read_out_of_scope");

  // A whole-body resolution for a past period opens nothing of today's records.
  auto yesterday = aaj::time::format_date(aaj::time::astana_day(aaj::time::now()) - 1);
  auto past = post(sign_resolution(resolution_doc("2-16/2026", mia(), "2026-01-01", yesterday)));
  ASSERT_EQ(past.status, 201) << past.raw;
  auto empty = read(*api, t, "prosecutor", "resolution=" + past.body["id"].get<std::string>());
  ASSERT_EQ(empty.status, 200);
  EXPECT_TRUE(empty.body["records"].empty());
  EXPECT_EQ(filter_of(empty)["to"], yesterday);
  // A from after the period's end lies outside it too.
  auto after = read(*api, t, "prosecutor",
                    "from=" + today() + "&resolution=" + past.body["id"].get<std::string>());
  EXPECT_EQ(after.status, 403);
  EXPECT_EQ(after.body["error"]["code"], "log_read_out_of_scope");
}

TEST_F(LogAccess, RefusedReadsOfOthers) {
  // A user without a staff role.
  auto api = inst->api();
  auto r = read(*api, token(*api, "judge"), "judge", "");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.body["error"]["code"], "not_staff");
  // Without a session there is no reader: 401, nothing to log.
  EXPECT_EQ(api->get("/api/v1/log")->status, 401);

  // Another prosecutor (the operator is granted the role too) cannot use that resolution.
  const json& op = person("operator");
  auto granted = run_aaj({"staff", "add", "--config", inst->config().string(), "--iin",
                          op["iin"].get<std::string>(), "--role", "prosecutor", "--body-bin",
                          op["body_bin"].get<std::string>()});
  ASSERT_EQ(granted.exit_code, 0) << granted.out << granted.err;
  auto api2 = inst->api();
  std::string t = token(*api2, "operator");
  auto ambiguous = read(*api2, t, "operator", "");
  EXPECT_EQ(ambiguous.status, 400);  // two roles: name one
  auto foreign =
      read(*api2, t, "operator", "role=prosecutor&resolution=" + resolution_id, "prosecutor");
  EXPECT_EQ(foreign.status, 403);
  EXPECT_EQ(foreign.body["error"]["code"], "log_read_out_of_scope");
  auto not_held = read(*api2, t, "operator", "role=controller");
  EXPECT_EQ(not_held.status, 403);
  EXPECT_EQ(not_held.body["error"]["code"], "not_staff");
  auto as_operator = read(*api2, t, "operator", "role=operator&limit=1");
  EXPECT_EQ(as_operator.status, 200);
}

TEST_F(LogAccess, ADamagedLogIsAnErrorNotAPartialAnswer) {
  auto api = inst->api();
  std::string t = token(*api, "controller");
  // Alter one byte of an early record (same length), read, then put it back.
  const auto path = inst->dir() / "data/journal/journal.log";
  std::string text;
  {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  size_t second_line = text.find('\n') + 1;
  size_t at = text.find("\"actor\":\"demo-init\"", second_line);
  ASSERT_NE(at, std::string::npos);
  at += 9;  // the 'd' of demo-init
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(at));
    f.put('D');
  }
  auto r = read(*api, t, "controller", "");
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(at));
    f.put('d');
  }
  EXPECT_EQ(r.status, 500) << r.raw;
  EXPECT_EQ(r.body["error"]["code"], "journal_corrupt");
  EXPECT_FALSE(r.body.contains("records"));
  auto again = read(*api, t, "controller", "limit=1");
  EXPECT_EQ(again.status, 200);
}

TEST_F(LogAccess, EveryReadAndRefusalIsLoggedAndTheLogVerifies) {
  inst->stop();
  auto v = run_aaj({"log", "verify", "--config", inst->config().string()});
  EXPECT_EQ(v.exit_code, 0) << v.out;
  std::map<uint64_t, json> by_seq;
  std::vector<json> refused;
  size_t log_reads = 0;
  for (const auto& rec : journal_records()) {
    by_seq[rec["seq"].get<uint64_t>()] = rec;
    if (rec["type"] == "log_read") ++log_reads;
    if (rec["type"] == "log_read_refused") refused.push_back(rec);
  }
  ASSERT_FALSE(reads.empty());
  EXPECT_EQ(log_reads, reads.size());
  for (const Read& r : reads) {
    const json& rec = by_seq[r.log_seq];
    ASSERT_EQ(rec["type"], "log_read") << r.log_seq;
    const json& b = rec["body"];
    EXPECT_EQ(b["reader"]["iin"], r.iin);
    EXPECT_EQ(b["reader"]["role"], r.role);
    EXPECT_FALSE(b["reader"]["body_bin"].get<std::string>().empty());
    EXPECT_EQ(b["count"].get<size_t>(), r.count);
    EXPECT_EQ(b["policy"]["version"], "log-access-2026/v1");
    EXPECT_NE(b["policy"]["rule"].get<std::string>().find("log-access-2026/" + r.role + "/"),
              std::string::npos);
    EXPECT_TRUE(b.contains("filter"));
    if (r.count > 0) {
      EXPECT_LE(b["first_seq"].get<uint64_t>(), b["last_seq"].get<uint64_t>());
      EXPECT_LT(b["last_seq"].get<uint64_t>(), r.log_seq);
    } else {
      EXPECT_TRUE(b["first_seq"].is_null());
    }
  }
  ASSERT_FALSE(refusals.empty());
  EXPECT_EQ(refused.size(), refusals.size());
  for (const Refusal& want : refusals) {
    bool found = false;
    for (const auto& rec : refused)
      found |= rec["body"]["reader"]["iin"] == want.iin && rec["body"]["code"] == want.code;
    EXPECT_TRUE(found) << want.iin << " " << want.code;
  }
  // The resolutions were logged before they took effect.
  size_t registered = 0;
  for (const auto& [seq, rec] : by_seq) registered += rec["type"] == "resolution_registered";
  EXPECT_EQ(registered, 2u);
}

}  // namespace
