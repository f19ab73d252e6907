// The sources end to end: real `aaj serve` + `aaj sourcesim` on loopback, a demo installation.
// Every one of the 52 resources answered through the connector; truncated grants; multi-resource
// requests with a source down; the circuit breaker of a source of its own opening and recovering;
// a slow source not blocking another. One installation serves the whole suite (cases in order).
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <set>
#include <thread>

#include "core/ids.h"
#include "harness.h"
#include "pki/openssl_util.h"

namespace fs = std::filesystem;
using aaj::testing::Installation;
using aaj::testing::run_aaj;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

Installation* inst = nullptr;
json g_catalog;                          // resource id -> catalogue entry
std::vector<std::string> g_request_ids;  // every request sent, checked in the log at the end
std::unique_ptr<aaj::client::ApiClient> g_sim;

const json kFinancial = {{"type", "financial_monitoring"}, {"number", "FM-2026/0042"}};
const json kEnforcement = {{"type", "enforcement_proceeding"}, {"number", "EP-2026/0117"}};
const std::string kPurpose = "Проверка операций / операцияларды тексеру";

// A working-age person (not necessarily of the linked population; every valid IIN is a person).
std::string seed_iin() {
  for (int s = 1;; ++s)
    if (auto i = aaj::ids::make_iin(1986, 4, 17, true, s)) return *i;
}

struct Answer {
  long status = 0;
  json body;
  std::string raw;
  std::chrono::milliseconds took{0};
};

std::string code(const Answer& a) {
  return a.body.is_object() && a.body.contains("error") ? a.body["error"].value("code", "") : "";
}
std::string detail(const Answer& a) {
  return a.body.is_object() && a.body.contains("error") ? a.body["error"].value("detail", "") : "";
}

// A signed-in officer: own connection, session token, signing key.
struct Officer {
  std::unique_ptr<aaj::client::ApiClient> api;
  std::string token;
  std::shared_ptr<aaj::client::Signer> key;

  static Officer enter(const json& u) {
    Officer o;
    o.api = inst->api();
    o.token = inst->enter(*o.api, u);
    o.key = inst->sign_key(u);
    return o;
  }
  // Another connection with the same session (for concurrent requests).
  Officer twin() const {
    Officer o;
    o.api = inst->api();
    o.token = token;
    o.key = key;
    return o;
  }
  // Signs `doc`, then times only the HTTP exchange.
  Answer send(const json& doc) {
    auto cms = key->sign(doc.dump());
    if (!cms) throw std::runtime_error("sign: " + cms.error().detail);
    std::string body = json{{"cms", aaj::pki::base64_encode(*cms)}}.dump();
    auto t0 = Clock::now();
    auto r = api->post("/api/v1/requests", body, token);
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
    if (!r) throw std::runtime_error("transport: " + r.error().detail);
    if (r->body.is_object() && r->body.contains("request_id") && r->body["request_id"].is_string())
      g_request_ids.push_back(r->body["request_id"]);
    return {r->status, r->body, r->raw, took};
  }
};

Officer* g_afm = nullptr;  // the demo's afm_worker, entered once

json single(const std::string& resource, const json& subject, const json& ground = kFinancial) {
  return aaj::client::make_document(resource, ground, subject, kPurpose);
}
json multi(const std::vector<std::string>& resources, const json& subject,
           const json& ground = kFinancial) {
  json d = aaj::client::make_document("R01", ground, subject, kPurpose);
  d.erase("resource");
  d["resources"] = resources;
  return d;
}

// The simulator's raw answer, or nullopt when it has nothing (404) or refuses the key.
std::optional<json> sim_query(const std::string& resource, const json& key) {
  auto r = g_sim->post("/query", json{{"resource", resource}, {"key", key}}.dump());
  if (!r) throw std::runtime_error("simulator: " + r.error().detail);
  if (r->status == 200 && r->body.is_object() && r->body.value("result", "") == "ok")
    return r->body["data"];
  return std::nullopt;
}

void walk(const json& j, const std::function<void(const std::string&, const json&)>& f) {
  if (j.is_object()) {
    for (auto& [k, v] : j.items()) {
      f(k, v);
      walk(v, f);
    }
  } else if (j.is_array()) {
    for (const auto& v : j) walk(v, f);
  }
}

// Every member name at any depth.
std::set<std::string> member_names(const json& j) {
  std::set<std::string> out;
  walk(j, [&](const std::string& k, const json&) { out.insert(k); });
  return out;
}

// Every amount value (amount, sum010, total_amount) at any depth of an R11 answer.
std::set<std::string> amounts_of(const json& j) {
  std::set<std::string> out;
  walk(j, [&](const std::string& k, const json& v) {
    if (v.is_string() && (k == "amount" || k == "sum010" || k == "total_amount"))
      out.insert(v.get<std::string>());
  });
  return out;
}

// Every record of the event log.
std::vector<json> log_records() {
  std::ifstream in(inst->dir() / "data/journal/journal.log");
  std::vector<json> out;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(json::parse(line));
  return out;
}

std::vector<json> records_of(const std::string& type, const std::string& request_id) {
  std::vector<json> out;
  for (auto& r : log_records())
    if (r.value("type", "") == type && r["body"].value("request_id", "") == request_id)
      out.push_back(r);
  return out;
}

const json* find_source(const json& health, const std::function<bool(const json&)>& pred) {
  if (!health.contains("sources") || !health["sources"].is_array()) return nullptr;
  for (const auto& s : health["sources"])
    if (pred(s)) return &s;
  return nullptr;
}

json healthz() {
  auto h = inst->api()->get("/healthz");
  if (!h) throw std::runtime_error("healthz: " + h.error().detail);
  return h->body;
}

const json* vehicles_source(const json& health) {
  return find_source(health, [](const json& s) { return s.value("name", "") == "vehicles"; });
}
const json* default_source(const json& health) {
  return find_source(health, [](const json& s) { return s.value("default", false); });
}

class Sources : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // R05 is its own source "vehicles" with a short breaker and no retry; the regulation is the
    // shipped one except that bailiffs may not use R25 (for the all-or-nothing refusal).
    inst = new Installation(
        "[policy]\n"
        "dir = \"{DIR}/regulation\"\n\n"
        "[sources.R05]\n"
        "name = \"vehicles\"\n"
        "url = \"http://{SIM}\"\n"
        "breaker_failures = 3\n"
        "breaker_open_ms = 1500\n"
        "retries = 0\n");
    fs::create_directories(inst->dir() / "regulation");
    fs::copy(fs::path(AAJ_SOURCE_DIR) / "policy", inst->dir() / "regulation/policy",
             fs::copy_options::recursive);
    fs::copy(fs::path(AAJ_SOURCE_DIR) / "catalog", inst->dir() / "regulation/catalog",
             fs::copy_options::recursive);
    fs::path grants = inst->dir() / "regulation/policy/rules21-resources-assumed.json";
    json g = json::parse(std::ifstream(grants));
    g["user_type_resources"] = {{"bailiff", {{"R25", "none"}}}};
    std::ofstream(grants) << g.dump(2);
    inst->start();

    json cat = json::parse(std::ifstream(fs::path(AAJ_SOURCE_DIR) / "catalog/resources.json"));
    for (const auto& r : cat["resources"]) g_catalog[r["id"].get<std::string>()] = r;
    g_sim = std::make_unique<aaj::client::ApiClient>(inst->sim_url(), "");
    g_afm = new Officer(Officer::enter(inst->user("afm_worker")));
  }
  static void TearDownTestSuite() {
    delete g_afm;
    g_afm = nullptr;
    g_sim.reset();
    delete inst;
    inst = nullptr;
  }
};

// Keys of the simulator's linked population, found through its own answers: the seed person's
// pension agents (companies), their level-2 link graphs (people and companies), the foreigners
// those companies and people host (R44).
struct Population {
  std::vector<std::string> iins, bins, foreign_iins, foreign_passports;
};

Population discover() {
  Population p;
  std::set<std::string> seen;
  auto add = [&](const std::string& id) {
    if (!seen.insert(id).second) return;
    if (aaj::ids::is_valid_bin(id)) {
      p.bins.push_back(id);
    } else if (auto info = aaj::ids::parse_iin(id)) {
      (info->century_unknown ? p.foreign_iins : p.iins).push_back(id);
    }
  };
  add(seed_iin());
  auto r11 = sim_query("R11", {{"iin", seed_iin()}});
  if (!r11) throw std::runtime_error("no R11 answer for the seed person");
  for (const auto& a : (*r11)["agents"]) add(a["bin"]);
  for (size_t i = 0; i < p.bins.size() && p.bins.size() < 40; ++i) {
    auto graph = sim_query("R51", {{"bin", p.bins[i]}});
    if (!graph) continue;
    for (const auto& n : (*graph)["nodes"]) add(n["id"]);
  }
  std::set<std::string> passports;
  auto hosted = [&](const json& key) {
    auto regs = sim_query("R44", key);
    if (!regs) return;
    for (const auto& reg : (*regs)["registrations"]) {
      add(reg["foreigner"]["iin"]);
      if (passports.insert(reg["foreigner"]["passport"]["number"]).second)
        p.foreign_passports.push_back(reg["foreigner"]["passport"]["number"]);
    }
  };
  for (size_t i = 0; i < p.bins.size() && i < 20; ++i) hosted({{"bin", p.bins[i]}});
  for (size_t i = 0; i < p.iins.size() && i < 20; ++i) hosted({{"iin", p.iins[i]}});
  return p;
}

const Population& population() {
  static const Population p = discover();
  return p;
}

// Something on record: a top-level list that is not empty.
bool has_records(const json& data) {
  for (const auto& [k, v] : data.items())
    if (v.is_array() && !v.empty()) return true;
  return false;
}

struct Pick {
  json subject;
  json raw;  // the simulator's answer for it
  bool records = false;
};

// For each resource, a subject the catalogue lists for it and the simulator knows, preferring
// one with records on file.
std::map<std::string, Pick> pick_subjects(const Population& p) {
  std::map<std::string, Pick> out;
  for (const auto& [id, res] : g_catalog.items()) {
    std::vector<json> candidates;
    for (const auto& k : res["keys"]) {
      if (k == "iin") {
        for (const auto& v : p.iins) candidates.push_back({{"iin", v}});
        for (const auto& v : p.foreign_iins) candidates.push_back({{"iin", v}});
      } else if (k == "bin") {
        for (const auto& v : p.bins) candidates.push_back({{"bin", v}});
      } else if (k == "document_number") {
        for (const auto& v : p.foreign_passports) candidates.push_back({{"document_number", v}});
      }
    }
    std::optional<Pick> first;
    for (size_t i = 0; i < candidates.size() && i < 160; ++i) {
      auto raw = sim_query(id, candidates[i]);
      if (!raw) continue;
      Pick pk{candidates[i], *raw, has_records(*raw)};
      if (pk.records) {
        first = pk;
        break;
      }
      if (!first) first = pk;
    }
    if (first) out[id] = *first;
  }
  return out;
}

// 1. Every resource answers through the connector for a user type allowed all 52.
TEST_F(Sources, EveryResourceAnswersThroughTheConnector) {
  const Population& pop = population();
  ASSERT_GE(pop.iins.size(), 20u);
  ASSERT_GE(pop.bins.size(), 10u);
  ASSERT_FALSE(pop.foreign_passports.empty());
  auto picks = pick_subjects(pop);
  ASSERT_EQ(g_catalog.size(), 52u);
  size_t with_records = 0;
  for (const auto& [id, res] : g_catalog.items()) {
    SCOPED_TRACE(id);
    ASSERT_TRUE(picks.count(id)) << "no subject the simulator knows for " << id;
    const Pick& pk = picks[id];
    with_records += pk.records;
    Answer a = g_afm->send(single(id, pk.subject));
    ASSERT_EQ(a.status, 200) << pk.subject << " " << a.raw.substr(0, 400);
    EXPECT_EQ(a.body["resource"], id);
    EXPECT_EQ(a.body["found"], true) << pk.subject;
    ASSERT_TRUE(a.body["data"].is_object()) << a.raw.substr(0, 400);
    std::set<std::string> fields;
    for (const auto& f : res["fields"]) fields.insert(f);
    for (const auto& [k, v] : a.body["data"].items())
      EXPECT_TRUE(fields.count(k)) << id << " answered a member outside the catalogue: " << k;
    bool truncated = res.value("default_access", "") == "truncated";
    EXPECT_EQ(a.body["truncated"], truncated);
    EXPECT_EQ(a.body["policy"]["access"], truncated ? "truncated" : "full");
    // A full grant passes the source's answer through unchanged.
    if (!truncated) {
      EXPECT_EQ(a.body["data"], pk.raw) << pk.subject;
    }
  }
  // Most resources were asked about someone with records on file (not only empty lists).
  EXPECT_GE(with_records, 40u);
}

// 2. A truncated grant (R11 for afm_worker) never reveals what the whitelist removes, alone or
// within a multi-resource request.
TEST_F(Sources, TruncatedGrantRevealsNoRemovedField) {
  const json& r11 = g_catalog["R11"];
  std::set<std::string> keep;
  for (const auto& k : r11["truncated"]["keep"]) keep.insert(k);
  ASSERT_FALSE(keep.empty());
  json subject = {{"iin", seed_iin()}};
  std::set<std::string> amounts = amounts_of(inst->source_answer("R11", subject));
  ASSERT_GT(amounts.size(), 12u);

  auto check = [&](const json& data, const std::string& raw, const char* what) {
    SCOPED_TRACE(what);
    ASSERT_TRUE(data.is_object());
    ASSERT_TRUE(data.contains("agents") && !data["agents"].empty()) << raw.substr(0, 400);
    for (const auto& name : member_names(data))
      EXPECT_TRUE(keep.count(name)) << "member outside truncated.keep: " << name;
    for (const auto& amt : amounts) EXPECT_EQ(raw.find(amt), std::string::npos) << amt;
    // What is kept is still there.
    EXPECT_TRUE(data["agents"][0].contains("bin"));
    EXPECT_TRUE(data["agents"][0]["payments"][0].contains("period"));
  };

  Answer one = g_afm->send(single("R11", subject));
  ASSERT_EQ(one.status, 200) << one.raw.substr(0, 400);
  EXPECT_EQ(one.body["truncated"], true);
  EXPECT_EQ(one.body["policy"]["access"], "truncated");
  check(one.body["data"], one.raw, "single");

  Answer many = g_afm->send(multi({"R01", "R11"}, subject));
  ASSERT_EQ(many.status, 200) << many.raw.substr(0, 400);
  ASSERT_EQ(many.body["results"].size(), 2u);
  const json& item = many.body["results"][1];
  EXPECT_EQ(item["resource"], "R11");
  EXPECT_EQ(item["truncated"], true);
  EXPECT_EQ(item["policy"]["access"], "truncated");
  EXPECT_EQ(many.body["results"][0]["truncated"], false);
  check(item["data"], many.raw, "multi");

  // Nor does the event log hold them (it keeps answer hashes, not answers).
  std::ifstream in(inst->dir() / "data/journal/journal.log", std::ios::binary);
  std::string log((std::istreambuf_iterator<char>(in)), {});
  for (const auto& amt : amounts) EXPECT_EQ(log.find(amt), std::string::npos) << amt;
}

// 3. A multi-resource search with one source down: the others are answered, the failure is
// reported per resource and logged per resource.
TEST_F(Sources, MultiResourceSearchWithOneSourceDown) {
  const std::vector<std::string> asked = {"R01", "R05", "R11", "R25"};
  json subject = {{"iin", seed_iin()}};
  inst->set_source_mode("R05", "down");
  Answer a = g_afm->send(multi(asked, subject));
  inst->set_source_mode("R05", "normal");
  ASSERT_EQ(a.status, 200) << a.raw.substr(0, 400);
  EXPECT_EQ(a.body["complete"], false);
  EXPECT_EQ(a.body["resources"], json(asked));
  const json& results = a.body["results"];
  ASSERT_EQ(results.size(), asked.size());
  for (size_t i = 0; i < asked.size(); ++i) {
    SCOPED_TRACE(asked[i]);
    EXPECT_EQ(results[i]["resource"], asked[i]);
    if (asked[i] == "R05") {
      EXPECT_EQ(results[i]["status"], "failed");
      EXPECT_EQ(results[i]["error"]["code"], "source_unavailable");
      for (const char* lang : {"kk", "ru", "en"}) {
        ASSERT_TRUE(results[i]["error"]["message"].contains(lang)) << lang;
        EXPECT_FALSE(results[i]["error"]["message"][lang].get<std::string>().empty()) << lang;
      }
      EXPECT_FALSE(results[i].contains("data") && !results[i]["data"].is_null());
    } else {
      EXPECT_EQ(results[i]["status"], "answered");
      EXPECT_EQ(results[i]["found"], true);
      EXPECT_TRUE(results[i]["data"].is_object());
    }
  }
  EXPECT_EQ(results[0]["data"]["iin"], seed_iin());

  // The log: one data_request (partial) and one resource_answer per resource.
  std::string id = a.body["request_id"];
  auto main = records_of("data_request", id);
  ASSERT_EQ(main.size(), 1u);
  EXPECT_EQ(main[0]["body"]["outcome"], "partial");
  EXPECT_EQ(main[0]["seq"], a.body["log_seq"]);
  ASSERT_EQ(main[0]["body"]["resources"].size(), asked.size());
  auto per = records_of("resource_answer", id);
  ASSERT_EQ(per.size(), asked.size());
  for (size_t i = 0; i < asked.size(); ++i) {
    SCOPED_TRACE(asked[i]);
    const json* rec = nullptr;
    for (const auto& r : per)
      if (r["body"]["resource"] == asked[i]) rec = &r;
    ASSERT_NE(rec, nullptr);
    const json& summary = main[0]["body"]["resources"][i];
    EXPECT_EQ(summary["resource"], asked[i]);
    EXPECT_EQ((*rec)["seq"], results[i]["log_seq"]);
    if (asked[i] == "R05") {
      EXPECT_EQ((*rec)["body"]["outcome"], "failed");
      EXPECT_EQ((*rec)["body"]["code"], "source_unavailable");
      EXPECT_EQ(summary["outcome"], "failed");
      EXPECT_FALSE((*rec)["body"].contains("answer_sha256"));
    } else {
      EXPECT_EQ((*rec)["body"]["outcome"], "answered");
      EXPECT_EQ(summary["outcome"], "answered");
      std::string sha = aaj::pki::sha256_hex(results[i]["data"].dump());
      EXPECT_EQ((*rec)["body"]["answer_sha256"], sha);
      EXPECT_EQ(summary["answer_sha256"], sha);
    }
  }
}

// 3b. The policy step is all or nothing; malformed resource lists are refused up front.
TEST_F(Sources, MultiResourceRefusals) {
  json subject = {{"iin", seed_iin()}};
  {
    Officer bailiff = Officer::enter(inst->user("bailiff"));
    Answer granted = bailiff.send(single("R01", subject, kEnforcement));
    EXPECT_EQ(granted.status, 200) << granted.raw.substr(0, 300);
    Answer a = bailiff.send(multi({"R01", "R05", "R25", "R11"}, subject, kEnforcement));
    EXPECT_EQ(a.status, 403) << a.raw.substr(0, 300);
    EXPECT_EQ(code(a), "resource_not_granted");
    EXPECT_NE(detail(a).find("R25"), std::string::npos) << detail(a);
    EXPECT_FALSE(a.body.contains("results"));
    // Refused as a whole: no source was asked, nothing answered is logged.
    std::string id = a.body["request_id"];
    auto main = records_of("data_request", id);
    ASSERT_EQ(main.size(), 1u);
    EXPECT_EQ(main[0]["body"]["outcome"], "refused");
    EXPECT_EQ(main[0]["body"]["code"], "resource_not_granted");
    EXPECT_TRUE(records_of("resource_answer", id).empty());
  }
  auto expect_invalid = [&](const json& doc, const std::string& want, const char* what) {
    SCOPED_TRACE(what);
    Answer a = g_afm->send(doc);
    EXPECT_EQ(a.status, 400) << a.raw.substr(0, 300);
    EXPECT_EQ(code(a), want) << a.raw.substr(0, 300);
  };
  expect_invalid(multi({"R01", "R05", "R01"}, subject), "invalid_document", "repeated");
  expect_invalid(multi({"R01", "R03", "R05", "R06", "R11", "R12", "R13", "R14", "R25"}, subject),
                 "invalid_document", "nine");
  json both = multi({"R01", "R05"}, subject);
  both["resource"] = "R01";
  expect_invalid(both, "invalid_document", "resource and resources");
  expect_invalid(multi({}, subject), "invalid_document", "empty");
  // Every resource must accept the subject's key (R11 is searched by IIN only).
  expect_invalid(multi({"R02", "R11"}, {{"bin", population().bins.at(0)}}), "invalid_subject",
                 "key not accepted by one");
  // Eight is allowed.
  Answer eight =
      g_afm->send(multi({"R01", "R03", "R06", "R11", "R12", "R13", "R14", "R25"}, subject));
  EXPECT_EQ(eight.status, 200) << eight.raw.substr(0, 300);
  EXPECT_EQ(eight.body["complete"], true);
  EXPECT_EQ(eight.body["results"].size(), 8u);
}

// 4. The circuit breaker of R05's own source opens after 3 failures, fails fast while open,
// leaves the other source alone, and closes after a successful probe.
TEST_F(Sources, CircuitBreakerOpensAndRecovers) {
  json subject = {{"iin", seed_iin()}};
  // A success first: the consecutive-failure count starts from zero.
  Answer ok = g_afm->send(single("R05", subject));
  ASSERT_EQ(ok.status, 200) << ok.raw.substr(0, 300);
  json h0 = healthz();
  ASSERT_NE(vehicles_source(h0), nullptr) << h0.dump();
  EXPECT_EQ((*vehicles_source(h0))["state"], "closed");
  EXPECT_EQ((*vehicles_source(h0))["resources"], json::array({"R05"}));
  ASSERT_NE(default_source(h0), nullptr) << h0.dump();
  EXPECT_EQ((*default_source(h0))["state"], "closed");

  inst->set_source_mode("R05", "fail");
  for (int i = 0; i < 3; ++i) {
    Answer f = g_afm->send(single("R05", subject));
    EXPECT_EQ(f.status, 502) << i << " " << f.raw.substr(0, 300);
    EXPECT_EQ(code(f), "source_error") << i;
  }
  Answer fast = g_afm->send(single("R05", subject));
  EXPECT_EQ(fast.status, 502) << fast.raw.substr(0, 300);
  EXPECT_EQ(code(fast), "source_unavailable");
  EXPECT_NE(detail(fast).find("circuit open"), std::string::npos) << detail(fast);
  EXPECT_LT(fast.took.count(), 200) << "an open circuit must fail fast";

  json h1 = healthz();
  const json* v = vehicles_source(h1);
  ASSERT_NE(v, nullptr) << h1.dump();
  EXPECT_EQ((*v)["state"], "open") << v->dump();
  EXPECT_GE((*v)["rejected"].get<int>(), 1) << v->dump();
  EXPECT_EQ((*v)["last_error"]["code"], "source_error") << v->dump();
  EXPECT_FALSE((*v)["open_until"].is_null());
  ASSERT_NE(default_source(h1), nullptr);
  EXPECT_EQ((*default_source(h1))["state"], "closed");
  // A dead source does not block the others.
  Answer other = g_afm->send(single("R01", subject));
  EXPECT_EQ(other.status, 200) << other.raw.substr(0, 300);

  inst->set_source_mode("R05", "normal");
  std::this_thread::sleep_for(std::chrono::milliseconds(1800));
  Answer probe = g_afm->send(single("R05", subject));
  EXPECT_EQ(probe.status, 200) << probe.raw.substr(0, 300);
  json h2 = healthz();
  ASSERT_NE(vehicles_source(h2), nullptr);
  EXPECT_EQ((*vehicles_source(h2))["state"], "closed") << vehicles_source(h2)->dump();
  EXPECT_EQ((*vehicles_source(h2))["consecutive_failures"], 0);
}

// 5. A slow source holds only its own requests: R01 answers at once while R05 takes 3 s.
TEST_F(Sources, SlowSourceDoesNotBlockAnother) {
  json subject = {{"iin", seed_iin()}};
  inst->set_source_mode("R05", "slow", 3000);  // the timeout is 5000 ms
  Officer slow_officer = g_afm->twin();
  json slow_doc = single("R05", subject);
  Answer slow;
  std::string slow_error;
  std::thread t([&] {
    try {
      slow = slow_officer.send(slow_doc);
    } catch (const std::exception& e) {
      slow_error = e.what();
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // R05's query is at the source
  Answer fast = g_afm->send(single("R01", subject));
  t.join();
  inst->set_source_mode("R05", "normal");
  EXPECT_EQ(fast.status, 200) << fast.raw.substr(0, 300);
  EXPECT_LT(fast.took.count(), 1000) << "R01 waited for the slow R05";
  ASSERT_TRUE(slow_error.empty()) << slow_error;
  EXPECT_EQ(slow.status, 200) << slow.raw.substr(0, 300);
  EXPECT_GE(slow.took.count(), 2500) << "R05 was not slow: the case proves nothing";
}

// Runs last: every request sent above is in the event log, which verifies.
TEST_F(Sources, EveryRequestIsLogged) {
  inst->stop();  // quiesce
  std::ifstream in(inst->dir() / "data/journal/journal.log", std::ios::binary);
  std::string log((std::istreambuf_iterator<char>(in)), {});
  ASSERT_GT(g_request_ids.size(), 60u);
  for (const auto& id : g_request_ids)
    EXPECT_NE(log.find("\"request_id\":\"" + id + "\""), std::string::npos) << id;
  auto ok = run_aaj({"log", "verify", "--config", inst->config().string()});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
}

}  // namespace
