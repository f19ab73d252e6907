// The log-access policy (R-LOG-3, R-CTRL-2, R-CTRL-5): the shipped file loads and decides per
// role with version and rule; malformed files are refused naming the problem; the operator's
// view carries no identity, document or signature; a resolution opens exactly its body, its
// people and its period of Astana calendar days.
#include "policy/log_access.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <sstream>

#include "core/ids.h"
#include "core/time.h"
#include "policy/policy.h"

using aaj::policy::LogAccessPolicy;
using aaj::policy::LogReaderScope;
using aaj::policy::LogRule;
using aaj::policy::LogScope;
using aaj::policy::ResolutionScope;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

int64_t day(const char* s) {
  auto d = aaj::time::parse_date(s);
  EXPECT_TRUE(d) << s;
  return d.value_or(0);
}

const int64_t kToday = day("2026-12-07");

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const std::string kShippedPath = "policy/log-access-2026.json";
std::string shipped() {
  return slurp(fs::path(AAJ_SOURCE_DIR) / kShippedPath);
}

const LogAccessPolicy& embedded() {
  static std::shared_ptr<const LogAccessPolicy> p = [] {
    EXPECT_TRUE(aaj::time::load_astana_zone().ok());
    auto r = LogAccessPolicy::load_embedded();
    if (!r) ADD_FAILURE() << r.error().code << ": " << r.error().detail;
    return r ? *r : nullptr;
  }();
  return *p;
}

const LogRule& rule_of(const std::string& role) {
  auto d = embedded().decide(role, kToday);
  EXPECT_TRUE(d.allow) << role;
  return *d.grant;
}

// Loads the shipped file with `from` replaced by `to`; must fail naming every needle.
void expect_invalid(const std::string& from, const std::string& to,
                    std::initializer_list<std::string> needles) {
  std::string text = shipped();
  auto at = text.find(from);
  ASSERT_NE(at, std::string::npos) << from;
  text.replace(at, from.size(), to);
  auto r = LogAccessPolicy::load_files({{kShippedPath, text}});
  ASSERT_FALSE(r) << "accepted: " << to;
  EXPECT_EQ(r.error().code, "policy_invalid");
  for (const auto& n : needles)
    EXPECT_NE(r.error().detail.find(n), std::string::npos) << r.error().detail;
}

std::string iin(int serial) {
  for (int s = serial;; ++s)
    if (auto i = aaj::ids::make_iin(1985, 6, 15, true, s)) return *i;
}
std::string bin(int serial) {
  for (int s = serial;; ++s)
    if (auto b = aaj::ids::make_bin(2005, 1, 4, 0, s)) return *b;
}

const std::string kMia = bin(102), kAfm = bin(103);
const std::string kOfficer = iin(100), kOther = iin(200);

// A data_request record as the gateway writes it (requests.cpp record_of), read back by scan.
json data_request(const std::string& at_utc, const std::string& user_iin,
                  const std::string& body_bin) {
  return {
      {"seq", 42},
      {"at", at_utc},
      {"at_astana", "2026-05-10T00:00:00.000+05:00"},
      {"type", "data_request"},
      {"prev", std::string(64, 'a')},
      {"hash", std::string(64, 'b')},
      {"body",
       {{"request_id", "2b1c6a0e-1111-4222-8333-4444a5556666"},
        {"outcome", "answered"},
        {"http_status", 200},
        {"remote", "127.0.0.1:5555"},
        {"user", {{"iin", user_iin}, {"user_type", "investigator_mia"}, {"body_bin", body_bin}}},
        {"signer",
         {{"iin", user_iin},
          {"common_name", "ЖУМАБАЕВА АСЕЛЬ"},
          {"serial", "1f2e"},
          {"cert_sha256", std::string(64, 'c')},
          {"issuer", "AAJ DEMO CA"}}},
        {"cms_sha256", std::string(64, 'd')},
        {"cms", "MIIBexampleBase64CMS=="},
        {"document",
         {{"resource", "R01"},
          {"ground", {{"type", "criminal_case"}, {"number", "251234567890123"}}},
          {"subject", {{"iin", "860417300015"}}},
          {"purpose", "Проверка"},
          {"nonce", "n-1"},
          {"signed_at", "2026-05-10T00:00:00+05:00"}}},
        {"policy", {{"version", "order34-2026/app1"}, {"rule", "order34/app1/row3"}}},
        {"answer_sha256", std::string(64, 'e')}}}};
}

// Every object key anywhere in j.
void keys_of(const json& j, std::set<std::string>& out) {
  if (j.is_object())
    for (auto it = j.begin(); it != j.end(); ++it) {
      out.insert(it.key());
      keys_of(it.value(), out);
    }
  else if (j.is_array())
    for (const auto& e : j) keys_of(e, out);
}

}  // namespace

// --- loading --------------------------------------------------------------------------------

TEST(LogAccessPolicy, ShippedFileLoadsEmbeddedAndFromAFolder) {
  (void)embedded();
  auto from_dir = LogAccessPolicy::load_dir(AAJ_SOURCE_DIR);
  ASSERT_TRUE(from_dir) << from_dir.error().detail;
  EXPECT_EQ((*from_dir)->decide("controller", kToday).rule,
            embedded().decide("controller", kToday).rule);
  // The regulation's own loader shares the folder and leaves the log-access file alone.
  auto engine = aaj::policy::Engine::load_dir(AAJ_SOURCE_DIR);
  EXPECT_TRUE(engine) << engine.error().detail;
}

TEST(LogAccessPolicy, MalformedFilesAreRefusedNamingFileAndField) {
  expect_invalid("\"rules\": [", "\"rules\": [,", {kShippedPath, "not valid JSON"});
  expect_invalid("\"role\": \"admin\"", "\"role\": \"auditor\"",
                 {kShippedPath, "rules[3]", "unknown role \"auditor\""});
  expect_invalid("\"role\": \"admin\"", "\"role\": \"operator\"",
                 {"rules[3]", "a second rule for role \"operator\""});
  expect_invalid("\"fields\": \"operational\",\n      \"basis\": \"R-OPS",
                 "\"field\": \"operational\",\n      \"basis\": \"R-OPS",
                 {"rules[2]", "unknown field \"field\""});
  expect_invalid("\"fields\": \"operational\",\n      \"basis\": \"R-OPS",
                 "\"fields\": \"operations\",\n      \"basis\": \"R-OPS",
                 {"rules[2]", "\"operations\" is neither \"all\" nor a name in field_sets"});
  expect_invalid("\"body.request_id\"", "\"body..request_id\"",
                 {"field_sets", "\"body..request_id\" has an empty or malformed part"});
  expect_invalid("\"body.request_id\"", "\"user.iin\"", {"must start with a record member"});
  expect_invalid("\"body.request_id\"", "\"body.outcome\"", {"lists \"body.outcome\" twice"});
  expect_invalid("{\"scope\": \"reader_body\", \"body_bin\": \"body.user.body_bin\"}",
                 "{\"scope\": \"reader_body\"}",
                 {"rules[0].records", "missing required field \"body_bin\""});
  expect_invalid("{\"scope\": \"reader_body\", \"body_bin\": \"body.user.body_bin\"}",
                 "{\"scope\": \"reader_body\", \"body_bin\": \"seq\"}",
                 {"must name a member inside body"});
  expect_invalid("{\"scope\": \"all\"}", "{\"scope\": \"everything\"}",
                 {"scope \"everything\" must be all, reader_body or resolution"});
  expect_invalid("{\"scope\": \"all\"}", "{\"scope\": \"all\", \"body_bin\": \"body.x\"}",
                 {"unknown field \"body_bin\""});
  expect_invalid("\"effective_from\": \"2023-01-23\"", "\"effective_from\": \"2023-02-30\"",
                 {"effective_from", "2023-02-30"});
  expect_invalid("\"rule_prefix\": \"log-access-2026\",",
                 "\"rule_prefix\": \"log-access-2026\", \"rule_prefix\": \"x\",",
                 {"duplicate key \"rule_prefix\""});
  expect_invalid("\"id\": \"admin/operational\",", "",
                 {"rules[3]", "missing required field \"id\""});
  // No log_access file at all: nothing can be read, and the load says so.
  auto none = LogAccessPolicy::load_files({{"policy/vocabulary.json", R"({"kind":"vocabulary"})"}});
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().detail.find("no policy file of kind \"log_access\""), std::string::npos);
}

TEST(LogAccessPolicy, TwoVersionsOfOneDayOrOneIdAreRefused) {
  std::string v2 = shipped();
  auto r =
      LogAccessPolicy::load_files({{kShippedPath, shipped()}, {"policy/log-access-b.json", v2}});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().detail.find("is used by another file"), std::string::npos);
  v2.replace(v2.find("log-access-2026/v1"), 18, "log-access-2026/v2");
  r = LogAccessPolicy::load_files({{kShippedPath, shipped()}, {"policy/log-access-b.json", v2}});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().detail.find("effective from the same day"), std::string::npos);
}

// --- decisions ------------------------------------------------------------------------------

TEST(LogAccessPolicy, EachRoleIsDecidedWithVersionAndRule) {
  struct Want {
    const char* role;
    const char* rule;
    LogScope scope;
    bool all_fields;
  };
  for (const Want& w :
       {Want{"controller", "log-access-2026/controller/own-body", LogScope::ReaderBody, true},
        Want{"prosecutor", "log-access-2026/prosecutor/resolution", LogScope::Resolution, true},
        Want{"operator", "log-access-2026/operator/operational", LogScope::All, false},
        Want{"admin", "log-access-2026/admin/operational", LogScope::All, false}}) {
    auto d = embedded().decide(w.role, kToday);
    ASSERT_TRUE(d.allow) << w.role;
    EXPECT_EQ(d.code, "");
    EXPECT_EQ(d.version, "log-access-2026/v1");
    EXPECT_EQ(d.rule, w.rule);
    EXPECT_EQ(d.effective_from, day("2023-01-23"));
    EXPECT_FALSE(d.effective_from_verified);
    EXPECT_EQ(d.grant->scope, w.scope) << w.role;
    EXPECT_EQ(d.grant->all_fields, w.all_fields) << w.role;
  }
  // Not a staff role of the file: nothing, citing the version that said so.
  auto none = embedded().decide("judge", kToday);
  EXPECT_FALSE(none.allow);
  EXPECT_EQ(none.code, "log_access_not_granted");
  EXPECT_EQ(none.version, "log-access-2026/v1");
  EXPECT_EQ(none.rule, "log-access-2026");
  EXPECT_EQ(none.grant, nullptr);
  // Before the first version: fail closed.
  auto before = embedded().decide("controller", day("2023-01-22"));
  EXPECT_FALSE(before.allow);
  EXPECT_EQ(before.code, "no_policy_in_force");
  EXPECT_EQ(before.version, "");
}

TEST(LogAccessPolicy, ALaterVersionGovernsFromItsDay) {
  // v2 from 2027-01-01 takes the admin's access away.
  std::string v2 = shipped();
  v2.replace(v2.find("log-access-2026/v1"), 18, "log-access-2027/v2");
  v2.replace(v2.find("\"effective_from\": \"2023-01-23\""), 30,
             "\"effective_from\": \"2027-01-01\"");
  v2.replace(v2.find("\"rule_prefix\": \"log-access-2026\""), 32,
             "\"rule_prefix\": \"log-access-2027\"");
  const std::string admin_rule = ",\n    {\n      \"role\": \"admin\"";
  auto cut = v2.find(admin_rule);
  ASSERT_NE(cut, std::string::npos);
  v2.erase(cut, v2.find("\n  ]", cut) - cut);
  auto p =
      LogAccessPolicy::load_files({{kShippedPath, shipped()}, {"policy/log-access-2027.json", v2}});
  ASSERT_TRUE(p) << p.error().detail;
  auto old = (*p)->decide("admin", day("2026-12-31"));
  EXPECT_TRUE(old.allow);
  EXPECT_EQ(old.version, "log-access-2026/v1");
  auto later = (*p)->decide("admin", day("2027-01-01"));
  EXPECT_FALSE(later.allow);
  EXPECT_EQ(later.code, "log_access_not_granted");
  EXPECT_EQ(later.version, "log-access-2027/v2");
  EXPECT_EQ((*p)->decide("controller", day("2027-01-01")).rule,
            "log-access-2027/controller/own-body");
}

// --- redaction ------------------------------------------------------------------------------

TEST(LogAccessPolicy, OperatorAndAdminSeeOperationalMetadataOnly) {
  json rec = data_request("2026-05-09T19:00:00.000000Z", kOfficer, kMia);
  for (const char* role : {"operator", "admin"}) {
    json seen = aaj::policy::shape(rule_of(role), rec);
    EXPECT_EQ(seen, (json{{"seq", 42},
                          {"at", "2026-05-09T19:00:00.000000Z"},
                          {"at_astana", "2026-05-10T00:00:00.000+05:00"},
                          {"type", "data_request"},
                          {"body",
                           {{"request_id", "2b1c6a0e-1111-4222-8333-4444a5556666"},
                            {"outcome", "answered"},
                            {"http_status", 200}}}}))
        << role;
    // Removed, not blanked: this record has no "code", so none appears.
    EXPECT_FALSE(seen["body"].contains("code"));
    std::set<std::string> keys;
    keys_of(seen, keys);
    for (const char* secret : {"user", "iin", "signer", "document", "cms", "cms_sha256",
                               "answer_sha256", "subject", "remote", "prev", "hash"})
      EXPECT_FALSE(keys.count(secret)) << role << " sees " << secret;
    const std::string text = seen.dump();
    EXPECT_EQ(text.find(kOfficer), std::string::npos);
    EXPECT_EQ(text.find("860417300015"), std::string::npos);
    EXPECT_FALSE(std::regex_search(text, std::regex("[0-9]{12}"))) << text;
    EXPECT_EQ(text.find("MIIB"), std::string::npos);
  }
  // A refusal keeps its code; a record without a body keeps only the top-level fields.
  json refused = rec;
  refused["body"]["outcome"] = "refused";
  refused["body"]["code"] = "ground_not_allowed";
  EXPECT_EQ(aaj::policy::shape(rule_of("operator"), refused)["body"]["code"], "ground_not_allowed");
  json bare = {
      {"seq", 1}, {"type", "x"}, {"at", "a"}, {"at_astana", "b"}, {"body", json::object()}};
  EXPECT_FALSE(aaj::policy::shape(rule_of("operator"), bare).contains("body"));
  // Controllers and prosecutors read the whole record.
  EXPECT_EQ(aaj::policy::shape(rule_of("controller"), rec), rec);
  EXPECT_EQ(aaj::policy::shape(rule_of("prosecutor"), rec), rec);
}

// --- scope ----------------------------------------------------------------------------------

TEST(LogAccessPolicy, ControllerReadsOnlyTheirBodysRecords) {
  const LogRule& ctl = rule_of("controller");
  LogReaderScope mia{{kMia}, nullptr};
  EXPECT_TRUE(aaj::policy::opens(ctl, data_request("2026-05-09T19:00:00Z", kOfficer, kMia), mia));
  EXPECT_FALSE(aaj::policy::opens(ctl, data_request("2026-05-09T19:00:00Z", kOther, kAfm), mia));
  LogReaderScope both{{kAfm, kMia}, nullptr};
  EXPECT_TRUE(aaj::policy::opens(ctl, data_request("2026-05-09T19:00:00Z", kOther, kAfm), both));
  // A record that names no user, or names it oddly, opens to no controller (fail closed).
  json no_user = data_request("2026-05-09T19:00:00Z", kOfficer, kMia);
  no_user["body"].erase("user");
  no_user["body"]["body_bin"] = kMia;  // a top-level body_bin is not the rule's path
  EXPECT_FALSE(aaj::policy::opens(ctl, no_user, mia));
  json odd = data_request("2026-05-09T19:00:00Z", kOfficer, kMia);
  odd["body"]["user"]["body_bin"] = json::array({kMia});
  EXPECT_FALSE(aaj::policy::opens(ctl, odd, mia));
  EXPECT_FALSE(aaj::policy::opens(ctl, data_request("2026-05-09T19:00:00Z", kOfficer, kMia),
                                  LogReaderScope{}));
  // The operator's rule opens everything (its fields are what it limits).
  EXPECT_TRUE(aaj::policy::opens(rule_of("operator"), no_user, LogReaderScope{}));
}

TEST(LogAccessPolicy, AResolutionOpensItsBodyPeopleAndAstanaDays) {
  const LogRule& pro = rule_of("prosecutor");
  // 10-11 May 2026, Astana (+05:00): from 2026-05-09T19:00Z to 2026-05-11T19:00Z exclusive.
  ResolutionScope res{kMia, {}, day("2026-05-10"), day("2026-05-11")};
  LogReaderScope reader{{}, &res};
  auto at = [&](const char* utc, const std::string& who = kOfficer,
                const std::string& body = kMia) {
    return aaj::policy::opens(pro, data_request(utc, who, body), reader);
  };
  EXPECT_FALSE(at("2026-05-09T18:59:59.999999Z"));  // 23:59:59.999999 on 9 May in Astana
  EXPECT_TRUE(at("2026-05-09T19:00:00.000000Z"));   // 00:00 on 10 May in Astana (UTC: 9 May)
  EXPECT_TRUE(at("2026-05-10T12:00:00Z"));
  EXPECT_TRUE(at("2026-05-11T18:59:59.999999Z"));   // 23:59:59.999999 on 11 May
  EXPECT_FALSE(at("2026-05-11T19:00:00.000000Z"));  // 00:00 on 12 May (UTC still 11 May)
  EXPECT_FALSE(at("2026-05-11T20:00:00Z"));
  // Another body's records, even inside the period, stay closed.
  EXPECT_FALSE(at("2026-05-10T12:00:00Z", kOther, kAfm));
  // A resolution naming people opens only theirs.
  res.iins = {kOfficer};
  EXPECT_TRUE(at("2026-05-10T12:00:00Z", kOfficer));
  EXPECT_FALSE(at("2026-05-10T12:00:00Z", kOther));
  json anonymous = data_request("2026-05-10T12:00:00Z", kOfficer, kMia);
  anonymous["body"]["user"].erase("iin");
  EXPECT_FALSE(aaj::policy::opens(pro, anonymous, reader));
  // Unreadable time, or no resolution at all: closed.
  EXPECT_FALSE(at("10 May 2026"));
  EXPECT_FALSE(aaj::policy::opens(pro, data_request("2026-05-10T12:00:00Z", kOfficer, kMia),
                                  LogReaderScope{{kMia}, nullptr}));
  // Before 1 March 2024 Astana was +06:00: 10 January 2024 begins at 18:00 UTC on the 9th.
  ResolutionScope old{kMia, {}, day("2024-01-10"), day("2024-01-10")};
  LogReaderScope old_reader{{}, &old};
  EXPECT_FALSE(
      aaj::policy::opens(pro, data_request("2024-01-09T17:59:59Z", kOfficer, kMia), old_reader));
  EXPECT_TRUE(
      aaj::policy::opens(pro, data_request("2024-01-09T18:00:00Z", kOfficer, kMia), old_reader));
  EXPECT_TRUE(
      aaj::policy::opens(pro, data_request("2024-01-10T17:59:59Z", kOfficer, kMia), old_reader));
  EXPECT_FALSE(
      aaj::policy::opens(pro, data_request("2024-01-10T18:00:00Z", kOfficer, kMia), old_reader));
}

// --- resolution documents -------------------------------------------------------------------

TEST(LogAccessPolicy, ResolutionDocumentsAreCheckedStrictly) {
  json good = {{"number", "2-15/2026"},
               {"date", "2026-12-01"},
               {"body_bin", kMia},
               {"iins", json::array({kOfficer, kOther})},
               {"period", {{"from", "2026-11-01"}, {"to", "2026-11-30"}}},
               {"purpose", "Заңдылықты тексеру / проверка законности"},
               {"signed_at", "2026-12-07T16:00:00+05:00"}};
  auto r = aaj::policy::parse_resolution(good, kToday);
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->number, "2-15/2026");
  EXPECT_EQ(r->date, day("2026-12-01"));
  EXPECT_EQ(r->scope.body_bin, kMia);
  EXPECT_EQ(r->scope.iins, (std::vector<std::string>{kOfficer, kOther}));
  EXPECT_EQ(r->scope.from_day, day("2026-11-01"));
  EXPECT_EQ(r->scope.to_day, day("2026-11-30"));
  json one_day = good;
  one_day["period"] = {{"from", "2026-11-05"}, {"to", "2026-11-05"}};
  one_day.erase("iins");
  ASSERT_TRUE(aaj::policy::parse_resolution(one_day, kToday));
  EXPECT_TRUE(aaj::policy::parse_resolution(one_day, kToday)->scope.iins.empty());

  auto refused = [&](const std::function<void(json&)>& change, const std::string& needle) {
    json d = good;
    change(d);
    auto res = aaj::policy::parse_resolution(d, kToday);
    ASSERT_FALSE(res) << d.dump();
    EXPECT_EQ(res.error().code, "invalid_document");
    EXPECT_NE(res.error().detail.find(needle), std::string::npos) << res.error().detail;
  };
  refused(
      [](json& d) {
        d["period"] = {{"from", "2026-11-30"}, {"to", "2026-11-01"}};
      },
      "period.from is after period.to");
  refused([](json& d) { d["period"]["to"] = "2026-12-08"; }, "period.to must not be after today");
  refused([](json& d) { d["date"] = "2026-02-30"; }, "date must be a real date");
  refused([](json& d) { d["period"]["from"] = "2026-11-1"; }, "period.from must be a real date");
  refused([](json& d) { d["period"]["until"] = "2026-11-30"; }, "period must be");
  refused(
      [](json& d) {
        d["iin"] = d["iins"];
        d.erase("iins");
      },
      "unknown field \"iin\"");
  refused([](json& d) { d["body_bin"] = "123456789012"; }, "body_bin must be a valid BIN");
  refused([](json& d) { d["iins"] = json::array({"123456789012"}); }, "valid IINs");
  refused([&](json& d) { d["iins"] = json::array({kOfficer, kOfficer}); }, "twice");
  refused([](json& d) { d["iins"] = json::array(); }, "1-1000 IINs");
  refused([](json& d) { d.erase("purpose"); }, "purpose");
  refused([](json& d) { d["number"] = ""; }, "number");
  refused([](json& d) { d["number"] = "2\n15"; }, "control characters");
  EXPECT_FALSE(aaj::policy::parse_resolution(json::array(), kToday));
}
