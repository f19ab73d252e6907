// Tests of the policy engine and of the SHIPPED policy data: the certain facts of the regulation
// (SPEC R-ROLE, R-RES) are checked here, so an edit of policy/*.json that contradicts them fails.
#include <gtest/gtest.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "core/time.h"
#include "policy/internal.h"
#include "policy/policy.h"

using aaj::policy::Access;
using aaj::policy::Decision;
using aaj::policy::Engine;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

int64_t day(const char* s) {
  auto d = aaj::time::parse_date(s);
  EXPECT_TRUE(d) << s;
  return d.value_or(0);
}

// Order 34 is in force from 2026-03-10 (registration 2026-02-28 + 10 days).
const int64_t kAfter34 = day("2026-06-01");

const Engine& engine() {
  static std::shared_ptr<const Engine> e = [] {
    auto r = Engine::load_embedded();
    if (!r) ADD_FAILURE() << r.error().code << ": " << r.error().detail;
    return r ? *r : nullptr;
  }();
  return *e;
}

// SPEC "Ids": rows of Appendix 1 in order, then the AFM worker.
const std::vector<std::string> kUserTypes = {"prosecutor",
                                             "judge",
                                             "investigator_mia",
                                             "investigator_nsc",
                                             "investigator_afm",
                                             "inquirer_mia",
                                             "inquirer_nsc",
                                             "inquirer_mes",
                                             "inquirer_sgs",
                                             "officer_afm",
                                             "mod_military_police",
                                             "mia_penal_system",
                                             "mes_officer",
                                             "nsc_officer",
                                             "bailiff",
                                             "sgs_officer",
                                             "mia_admin_police",
                                             "mia_criminal_police",
                                             "duty_unit",
                                             "afm_worker"};
const std::vector<std::string> kGrounds = {
    "criminal_case",          "admin_case_court", "admin_offence_case",  "civil_case_court",
    "enforcement_proceeding", "search_case",      "financial_monitoring"};
const std::vector<std::string> kAppendix1Grounds(kGrounds.begin(), kGrounds.begin() + 6);

json read_json(const fs::path& p) {
  std::ifstream in(p);
  return json::parse(in);
}

}  // namespace

TEST(PolicyData, EmbeddedLoads) {
  auto r = Engine::load_embedded();
  ASSERT_TRUE(r) << r.error().code << ": " << r.error().detail;
}

TEST(PolicyData, IdsAreExactlyThoseOfTheSpec) {
  EXPECT_EQ(engine().user_types(), kUserTypes);
  EXPECT_EQ(engine().grounds(), kGrounds);
  for (const auto& u : kUserTypes) EXPECT_TRUE(engine().is_user_type(u)) << u;
  for (const auto& g : kGrounds) EXPECT_TRUE(engine().is_ground(g)) << g;
  EXPECT_FALSE(engine().is_user_type("Prosecutor"));
  EXPECT_FALSE(engine().is_ground(""));
}

TEST(PolicyData, Order34PlusCountsPerRowAreCertain) {
  const std::array<int, 19> expected = {6, 4, 2, 2, 2, 2, 2, 2, 2, 3, 3, 2, 2, 3, 1, 2, 1, 3, 1};
  int total = 0;
  for (size_t row = 0; row < 19; ++row) {
    int pluses = 0;
    for (const auto& g : kAppendix1Grounds) {
      Decision d = engine().decide(kUserTypes[row], g, "", kAfter34);
      EXPECT_TRUE(d.allow || d.code == "ground_not_allowed") << kUserTypes[row] << " " << g;
      pluses += d.allow;
    }
    EXPECT_EQ(pluses, expected[row]) << "row " << row + 1 << " " << kUserTypes[row];
    total += pluses;
  }
  EXPECT_EQ(total, 45);
}

TEST(PolicyData, CertainCells) {
  for (const auto& g : kAppendix1Grounds) {
    Decision p = engine().decide("prosecutor", g, "", kAfter34);
    EXPECT_TRUE(p.allow && p.verified) << g;
    Decision b = engine().decide("bailiff", g, "", kAfter34);
    EXPECT_EQ(b.allow, g == "enforcement_proceeding") << g;
    EXPECT_TRUE(b.verified) << g;
    Decision a = engine().decide("mia_admin_police", g, "", kAfter34);
    EXPECT_EQ(a.allow, g == "admin_offence_case") << g;
    EXPECT_TRUE(a.verified) << g;
  }
  Decision d = engine().decide("prosecutor", "criminal_case", "", kAfter34);
  EXPECT_EQ(d.rule, "order34/app1/row1/criminal_case");
  EXPECT_EQ(d.version, "order34-2026/app1");
  EXPECT_EQ(d.effective_from, day("2026-03-10"));
  EXPECT_FALSE(d.effective_from_verified);  // publication date unknown: an estimate
  Decision b = engine().decide("bailiff", "criminal_case", "", kAfter34);
  EXPECT_EQ(b.code, "ground_not_allowed");
  EXPECT_EQ(b.rule, "order34/app1/row15/criminal_case");
}

TEST(PolicyData, ReconstructedCellsAreUnverifiedWithAnAlternative) {
  // The favoured candidate (?a) of each uncertain row, and its alternative (?b).
  struct Pair {
    const char* user_type;
    const char* shipped;
    const char* alternative;
  };
  const Pair pairs[] = {
      {"judge", "enforcement_proceeding", "admin_offence_case"},
      {"investigator_mia", "search_case", "admin_offence_case"},
      {"investigator_nsc", "search_case", "admin_offence_case"},
      {"investigator_afm", "search_case", "admin_offence_case"},
      {"inquirer_mia", "search_case", "admin_offence_case"},
      {"inquirer_nsc", "search_case", "admin_offence_case"},
      {"inquirer_mes", "search_case", "admin_offence_case"},
      {"inquirer_sgs", "search_case", "admin_offence_case"},
      {"mia_penal_system", "search_case", "admin_offence_case"},
      {"mes_officer", "criminal_case", "search_case"},
      {"sgs_officer", "search_case", "admin_offence_case"},
      {"mia_criminal_police", "admin_offence_case", "enforcement_proceeding"},
      {"duty_unit", "criminal_case", "admin_offence_case"},
  };
  json m = read_json(fs::path(AAJ_SOURCE_DIR) / "policy/order34-appendix1.json");
  std::map<std::string, json> rows;
  for (const json& r : m["rows"]) rows[r["user_type"]] = r;
  for (const Pair& p : pairs) {
    Decision shipped = engine().decide(p.user_type, p.shipped, "", kAfter34);
    EXPECT_TRUE(shipped.allow) << p.user_type;
    EXPECT_FALSE(shipped.verified) << p.user_type;
    Decision alt = engine().decide(p.user_type, p.alternative, "", kAfter34);
    EXPECT_FALSE(alt.allow) << p.user_type;
    EXPECT_FALSE(alt.verified) << p.user_type;
    const json& cells = rows.at(p.user_type)["cells"];
    EXPECT_EQ(cells[p.shipped].value("alternative", ""), p.alternative) << p.user_type;
    EXPECT_EQ(cells[p.alternative].value("alternative", ""), p.shipped) << p.user_type;
  }
  // Every alternative in the file is part of such a pair: unverified, symmetric, one plus.
  int with_alternative = 0;
  for (const auto& [ut, row] : rows) {
    for (auto it = row["cells"].begin(); it != row["cells"].end(); ++it) {
      if (!it->contains("alternative")) continue;
      ++with_alternative;
      const json& other = row["cells"][(*it)["alternative"].get<std::string>()];
      EXPECT_FALSE((*it)["verified"].get<bool>()) << ut << " " << it.key();
      EXPECT_EQ(other.value("alternative", ""), it.key()) << ut;
      EXPECT_NE((*it)["allowed"].get<bool>(), other["allowed"].get<bool>()) << ut;
    }
  }
  EXPECT_EQ(with_alternative, 2 * static_cast<int>(std::size(pairs)));
}

TEST(PolicyData, OnlyRowsFifteenSeventeenAndOneAreVerified) {
  for (size_t row = 0; row < 19; ++row) {
    const bool certain = row == 0 || row == 14 || row == 16;
    for (const auto& g : kAppendix1Grounds)
      EXPECT_EQ(engine().decide(kUserTypes[row], g, "", kAfter34).verified, certain)
          << kUserTypes[row] << " " << g;
  }
}

TEST(PolicyData, AfmWorkerOnlyFinancialMonitoring) {
  for (const auto& g : kGrounds) {
    Decision d = engine().decide("afm_worker", g, "", kAfter34);
    EXPECT_EQ(d.allow, g == "financial_monitoring") << g;
    if (!d.allow) {
      EXPECT_EQ(d.code, "ground_not_allowed");
      EXPECT_EQ(d.rule, "afm2025/app1/row1");
    }
  }
  // ... and nobody else has that ground: it is not a column of Rules No. 21 Appendix 1.
  for (size_t row = 0; row < 19; ++row) {
    Decision d = engine().decide(kUserTypes[row], "financial_monitoring", "", kAfter34);
    EXPECT_EQ(d.code, "ground_not_allowed") << kUserTypes[row];
    EXPECT_EQ(d.rule, "order34/app1/row" + std::to_string(row + 1));
    EXPECT_TRUE(d.verified);
  }
}

TEST(PolicyData, AfmResourcesFullExceptPensionTruncated) {
  for (const auto& r : engine().catalog().all()) {
    Decision d = engine().decide("afm_worker", "financial_monitoring", r.id, kAfter34);
    ASSERT_TRUE(d.allow) << r.id;
    EXPECT_EQ(d.access, r.id == "R11" ? Access::Truncated : Access::Full) << r.id;
    EXPECT_EQ(d.rule, "afm2025/app2/" + r.id);
    EXPECT_EQ(d.ground_rule, "afm2025/app1/row1/financial_monitoring");
    EXPECT_TRUE(d.verified) << r.id;
  }
  EXPECT_EQ(engine().decide("afm_worker", "financial_monitoring", "R01", kAfter34).access,
            Access::Full);
}

TEST(PolicyData, Appendix1UsersGetCatalogueDefaultsUnverified) {
  for (const auto& u : {"prosecutor", "bailiff", "duty_unit"}) {
    Decision r11 =
        engine().decide(u, u == std::string("bailiff") ? "enforcement_proceeding" : "criminal_case",
                        "R11", kAfter34);
    ASSERT_TRUE(r11.allow) << u;
    EXPECT_EQ(r11.access, Access::Truncated);
    EXPECT_FALSE(r11.verified);  // assumption: per-body lists of Rules No. 21 not found
    EXPECT_EQ(r11.rule, "assumed2026/resources/R11");
    EXPECT_EQ(r11.version, "assumed-2026/resources");
  }
  Decision d = engine().decide("prosecutor", "civil_case_court", "R05", kAfter34);
  EXPECT_TRUE(d.allow);
  EXPECT_EQ(d.access, Access::Full);
  EXPECT_EQ(d.ground_rule, "order34/app1/row1/civil_case_court");
  // The ground is checked first: a resource does not rescue a ground the role lacks.
  Decision g = engine().decide("bailiff", "criminal_case", "R01", kAfter34);
  EXPECT_EQ(g.code, "ground_not_allowed");
}

TEST(PolicyData, DecisionBeforeOrder34CitesTheEarlierVersionAndFailsClosed) {
  Decision before = engine().decide("prosecutor", "criminal_case", "", day("2026-03-09"));
  EXPECT_FALSE(before.allow);
  EXPECT_EQ(before.code, "no_policy_in_force");
  EXPECT_EQ(before.version, "order21-2023/app1");
  EXPECT_EQ(before.rule, "order21/app1");
  EXPECT_EQ(before.effective_from, day("2023-01-23"));
  EXPECT_FALSE(before.verified);
  Decision on = engine().decide("prosecutor", "criminal_case", "R01", day("2026-03-10"));
  EXPECT_TRUE(on.allow);
  EXPECT_EQ(on.access, Access::Full);
  // Before any known version: nothing to cite but the instrument.
  Decision ancient = engine().decide("judge", "criminal_case", "", day("2020-01-01"));
  EXPECT_EQ(ancient.code, "no_policy_in_force");
  EXPECT_EQ(ancient.version, "");
  EXPECT_EQ(ancient.rule, "rules21/appendix1");
  EXPECT_EQ(ancient.effective_from, aaj::policy::kNoDay);
}

TEST(PolicyData, AfmBeforeTheTwentyTwentyFiveOrder) {
  const int64_t d = day("2025-12-12");
  Decision ground = engine().decide("afm_worker", "financial_monitoring", "", d);
  EXPECT_TRUE(ground.allow);
  EXPECT_EQ(ground.version, "afm-2022/app1");
  EXPECT_FALSE(ground.verified);
  Decision res = engine().decide("afm_worker", "financial_monitoring", "R01", d);
  EXPECT_FALSE(res.allow);
  EXPECT_EQ(res.code, "no_policy_in_force");
  EXPECT_EQ(res.version, "afm-2022/app2");
  EXPECT_EQ(res.ground_rule, "afm2022/app1/row1/financial_monitoring");
  Decision after = engine().decide("afm_worker", "financial_monitoring", "R11", day("2025-12-13"));
  EXPECT_TRUE(after.allow);
  EXPECT_EQ(after.access, Access::Truncated);
}

TEST(PolicyEngine, UnknownIdsGiveTheirCodes) {
  EXPECT_EQ(engine().decide("judge ", "criminal_case", "", kAfter34).code, "unknown_user_type");
  EXPECT_EQ(engine().decide("", "criminal_case", "", kAfter34).code, "unknown_user_type");
  EXPECT_EQ(engine().decide("judge", "criminal", "", kAfter34).code, "unknown_ground");
  EXPECT_EQ(engine().decide("judge", "criminal_case", "R53", kAfter34).code, "unknown_resource");
  EXPECT_EQ(engine().decide("judge", "criminal_case", "r01", kAfter34).code, "unknown_resource");
  // The user type is checked first, then the ground, then the resource.
  EXPECT_EQ(engine().decide("nobody", "nothing", "R99", kAfter34).code, "unknown_user_type");
  EXPECT_EQ(engine().decide("judge", "nothing", "R99", kAfter34).code, "unknown_ground");
  Decision d = engine().decide("judge", "criminal_case", "R99", kAfter34);
  EXPECT_FALSE(d.allow);
  EXPECT_TRUE(d.rule.empty());
  EXPECT_TRUE(d.version.empty());
  EXPECT_FALSE(d.verified);
}

TEST(PolicyEngine, ConcurrentDecisionsAgree) {
  std::vector<Decision> expect;
  for (const auto& u : kUserTypes)
    for (const auto& g : kGrounds) expect.push_back(engine().decide(u, g, "R11", kAfter34));
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int rep = 0; rep < 200; ++rep) {
        size_t i = 0;
        for (const auto& u : kUserTypes)
          for (const auto& g : kGrounds) {
            Decision d = engine().decide(u, g, "R11", kAfter34);
            if (d.allow != expect[i].allow || d.code != expect[i].code || d.rule != expect[i].rule)
              ++mismatches;
            ++i;
          }
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(PolicyEngine, PerfectTableFindsEveryKeyAndNothingElse) {
  // Keys that differ only in the middle defeat the fast (ends-only) hash: the full one is used.
  const std::vector<std::string> owned = {"aaaaaaaa_1_bbbbbbbb", "aaaaaaaa_2_bbbbbbbb", "R01", "x",
                                          "enforcement_proceeding"};
  std::vector<std::string_view> keys(owned.begin(), owned.end());
  aaj::policy::PerfectTable t;
  ASSERT_TRUE(t.build(keys));
  for (size_t i = 0; i < keys.size(); ++i) EXPECT_EQ(t.find(keys[i]), static_cast<int>(i));
  for (const char* miss : {"", "aaaaaaaa_3_bbbbbbbb", "R1", "R011", "X", "enforcement_proceedings"})
    EXPECT_EQ(t.find(miss), -1) << miss;
}

TEST(PolicyCatalog, ExactlyR01ToR52WithThreeLanguages) {
  const auto& all = engine().catalog().all();
  ASSERT_EQ(all.size(), 52u);
  for (size_t i = 0; i < all.size(); ++i) {
    const std::string id = (i + 1 < 10 ? "R0" : "R") + std::to_string(i + 1);
    EXPECT_EQ(all[i].id, id);
    EXPECT_EQ(engine().catalog().find(id), &all[i]);
    for (const char* lang : {"kk", "ru", "en"}) {
      ASSERT_TRUE(all[i].names.contains(lang)) << id << " " << lang;
      EXPECT_FALSE(all[i].names[lang].get<std::string>().empty()) << id << " " << lang;
    }
    EXPECT_FALSE(all[i].holder.empty()) << id;
    EXPECT_FALSE(all[i].keys.empty()) << id;
    EXPECT_EQ(all[i].default_access, i == 10 ? Access::Truncated : Access::Full) << id;
  }
  EXPECT_EQ(engine().catalog().find("R00"), nullptr);
  EXPECT_EQ(engine().catalog().find("R53"), nullptr);
  EXPECT_EQ(all[0].names["kk"], "\"Жеке тұлғалар\" МБД");
  EXPECT_EQ(all[10].names["kk"], "\"Зейнетақы аударымдары\" ДБ");
}

TEST(PolicyCatalog, PensionTruncationKeepsOnlyTheWhitelist) {
  const auto* r11 = engine().catalog().find("R11");
  ASSERT_NE(r11, nullptr);
  // The simulator's answer shape for R11 (full service), plus a field the source might add later.
  json full = json::parse(R"({
    "iin": "850615300000",
    "contributor": {"surname": "ТЕСТОВ", "name": "ТЕСТ", "patronymic": "ТЕСТОВИЧ"},
    "agents": [
      {"bin": "200140000004", "name": "ТОО «Синтетика-1»",
       "payments": [
         {"period": "2025-01", "pay_date": "2025-02-10", "knp": "010", "amount": "40000.00"},
         {"period": "2025-02", "pay_date": "2025-03-10", "knp": "010", "amount": "40000.00"}],
       "payment_count": 2, "sum010": "80000.00", "total_amount": "80000.00",
       "salary_estimate": "400000.00"}
    ],
    "total_amount": "80000.00"
  })");
  json cut = aaj::policy::apply_truncation(full, *r11);
  json expected = json::parse(R"({
    "iin": "850615300000",
    "contributor": {"surname": "ТЕСТОВ", "name": "ТЕСТ", "patronymic": "ТЕСТОВИЧ"},
    "agents": [
      {"bin": "200140000004", "name": "ТОО «Синтетика-1»",
       "payments": [
         {"period": "2025-01", "pay_date": "2025-02-10", "knp": "010"},
         {"period": "2025-02", "pay_date": "2025-03-10", "knp": "010"}],
       "payment_count": 2}
    ]
  })");
  EXPECT_EQ(cut, expected) << cut.dump(2);
  const std::string text = cut.dump();
  for (const char* gone :
       {"amount", "sum010", "total_amount", "salary_estimate", "40000.00", "80000.00"})
    EXPECT_EQ(text.find(gone), std::string::npos) << gone;
  // A top-level array of answers is walked too.
  json many = aaj::policy::apply_truncation(json::array({full, full}), *r11);
  EXPECT_EQ(many, json::array({expected, expected}));
  // A resource without a truncated view keeps nothing: fail closed.
  const auto* r01 = engine().catalog().find("R01");
  EXPECT_EQ(aaj::policy::apply_truncation(json{{"iin", "1"}}, *r01), json::object());
}

// --- load_dir -------------------------------------------------------------------------------

class PolicyLoadDir : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("aaj_policy_test_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
    for (const char* dir : {"policy", "catalog"})
      fs::copy(fs::path(AAJ_SOURCE_DIR) / dir, root_ / dir, fs::copy_options::recursive);
  }
  void TearDown() override { fs::remove_all(root_); }

  std::string read(const std::string& rel) {
    std::ifstream in(root_ / rel);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  void write(const std::string& rel, const std::string& text) {
    std::ofstream(root_ / rel, std::ios::trunc) << text;
  }
  // Replaces the first occurrence of `from` (which must exist) in file `rel`.
  void edit(const std::string& rel, const std::string& from, const std::string& to) {
    std::string s = read(rel);
    auto at = s.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    s.replace(at, from.size(), to);
    write(rel, s);
  }
  // Loading must fail with policy_invalid and a detail containing every `needles`.
  void expect_invalid(std::initializer_list<std::string> needles) {
    auto r = Engine::load_dir(root_);
    ASSERT_FALSE(r) << "the broken data was accepted";
    EXPECT_EQ(r.error().code, "policy_invalid");
    for (const auto& n : needles)
      EXPECT_NE(r.error().detail.find(n), std::string::npos) << "detail: " << r.error().detail;
  }
  fs::path root_;
};

TEST_F(PolicyLoadDir, TheShippedCopyLoadsAndDecidesLikeTheEmbedded) {
  auto r = Engine::load_dir(root_);
  ASSERT_TRUE(r) << r.error().detail;
  for (const auto& u : kUserTypes)
    for (const auto& g : kGrounds)
      for (const char* res : {"", "R01", "R11"}) {
        Decision a = (*r)->decide(u, g, res, kAfter34);
        Decision b = engine().decide(u, g, res, kAfter34);
        EXPECT_EQ(a.allow, b.allow);
        EXPECT_EQ(a.rule, b.rule);
        EXPECT_EQ(a.access, b.access);
      }
}

TEST_F(PolicyLoadDir, NotJson) {
  edit("policy/order34-appendix1.json", "\"rows\": [", "\"rows\": [,");
  expect_invalid({"policy/order34-appendix1.json", "not valid JSON"});
}

TEST_F(PolicyLoadDir, UnknownUserType) {
  edit("policy/order34-appendix1.json", "\"user_type\": \"judge\"", "\"user_type\": \"judje\"");
  expect_invalid({"policy/order34-appendix1.json", "unknown user type \"judje\""});
}

TEST_F(PolicyLoadDir, DuplicateCell) {
  edit("policy/order34-appendix1.json",
       "\"search_case\": {\"allowed\": true, \"verified\": true, \"confidence\": \"H\"}",
       "\"search_case\": {\"allowed\": true, \"verified\": true, \"confidence\": \"H\"},\n"
       "\"search_case\": {\"allowed\": false, \"verified\": true, \"confidence\": \"H\"}");
  expect_invalid(
      {"policy/order34-appendix1.json", "duplicate key \"search_case\"", "/rows/0/cells"});
}

TEST_F(PolicyLoadDir, BadDate) {
  edit("policy/order34-appendix1.json", "\"effective_from\": \"2026-03-10\"",
       "\"effective_from\": \"2026-02-30\"");
  expect_invalid({"policy/order34-appendix1.json", "effective_from", "2026-02-30"});
}

TEST_F(PolicyLoadDir, MisspeltField) {
  edit("policy/order34-appendix1.json", "\"verified\": true", "\"verifed\": true");
  expect_invalid({"policy/order34-appendix1.json", "unknown field \"verifed\""});
}

TEST_F(PolicyLoadDir, MissingCell) {
  edit("policy/order34-appendix1.json",
       ",\n        \"search_case\": {\"allowed\": true, \"verified\": true, \"confidence\": \"H\"}",
       "");
  expect_invalid({"missing the cell for column \"search_case\""});
}

TEST_F(PolicyLoadDir, TruncatedGrantWithoutATruncatedView) {
  edit("policy/afm2025-appendix2.json", "\"R05\": \"full\"", "\"R05\": \"truncated\"");
  expect_invalid({"policy/afm2025-appendix2.json", "R05", "no truncated view"});
}

TEST_F(PolicyLoadDir, UnknownResource) {
  edit("policy/afm2025-appendix2.json", "\"R05\": \"full\"", "\"R5\": \"full\"");
  expect_invalid({"unknown resource \"R5\""});
}

TEST_F(PolicyLoadDir, TwoVersionsOnOneDay) {
  edit("policy/order21-appendix1.json", "\"effective_from\": \"2023-01-23\"",
       "\"effective_from\": \"2026-03-10\"");
  expect_invalid({"already has a version effective from 2026-03-10"});
}

TEST_F(PolicyLoadDir, UserTypeGovernedTwice) {
  edit("policy/afm2025-appendix2.json", "\"user_types\": [\n    \"afm_worker\"",
       "\"user_types\": [\n    \"afm_worker\", \"judge\"");
  expect_invalid({"\"judge\" is already governed"});
}

TEST_F(PolicyLoadDir, MissingDirectory) {
  fs::remove_all(root_ / "catalog");
  auto r = Engine::load_dir(root_);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "policy_unreadable");
}

TEST_F(PolicyLoadDir, AnAdministratorCanNarrowTheAssumption) {
  edit("policy/rules21-resources-assumed.json", "\"user_type_resources\": {}",
       "\"user_type_resources\": {\"bailiff\": {\"R43\": \"none\"}}");
  auto r = Engine::load_dir(root_);
  ASSERT_TRUE(r) << r.error().detail;
  Decision d = (*r)->decide("bailiff", "enforcement_proceeding", "R43", kAfter34);
  EXPECT_EQ(d.code, "resource_not_granted");
  EXPECT_EQ(d.rule, "assumed2026/resources/R43");
  EXPECT_TRUE((*r)->decide("prosecutor", "criminal_case", "R43", kAfter34).allow);
}

// --- explain and the CLI command ----------------------------------------------------------

TEST(PolicyExplain, Shape) {
  json allow =
      aaj::policy::explain(engine().decide("afm_worker", "financial_monitoring", "R11", kAfter34));
  EXPECT_EQ(allow["decision"], "allow");
  EXPECT_EQ(allow["access"], "truncated");
  EXPECT_EQ(allow["rule"], "afm2025/app2/R11");
  EXPECT_EQ(allow["ground_rule"], "afm2025/app1/row1/financial_monitoring");
  EXPECT_EQ(allow["policy_version"], "afm-2025/app2");
  EXPECT_EQ(allow["effective_from"], "2025-12-13");
  EXPECT_EQ(allow["verified"], true);
  EXPECT_FALSE(allow.contains("code"));
  json none =
      aaj::policy::explain(engine().decide("judge", "criminal_case", "", day("2019-01-01")));
  EXPECT_EQ(none["decision"], "deny");
  EXPECT_EQ(none["code"], "no_policy_in_force");
  EXPECT_TRUE(none["policy_version"].is_null());
  EXPECT_TRUE(none["effective_from"].is_null());
}

namespace {
struct CliRun {
  int rc;
  json out;
  std::string err;
};
CliRun run(const std::string& u, const std::string& g, const std::string& r, const std::string& at,
           const std::string& dir = "") {
  std::ostringstream out, err;
  int rc = aaj::policy::policy_explain_command(u, g, r, at, dir, out, err);
  std::string text = out.str();
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1) << "one JSON object per run: " << text;
  return {rc, json::parse(text), err.str()};
}
}  // namespace

TEST(PolicyExplainCommand, AllowDenyAndUsageErrors) {
  CliRun a = run("prosecutor", "criminal_case", "R11", "2026-06-01");
  EXPECT_EQ(a.rc, 0);
  EXPECT_EQ(a.out["decision"], "allow");
  EXPECT_EQ(a.out["access"], "truncated");
  EXPECT_EQ(a.out["policy_version"], "assumed-2026/resources");
  for (const char* k :
       {"decision", "access", "rule", "policy_version", "effective_from", "verified"})
    EXPECT_TRUE(a.out.contains(k)) << k;

  CliRun d = run("bailiff", "criminal_case", "", "2026-06-01");
  EXPECT_EQ(d.rc, 1);
  EXPECT_EQ(d.out["code"], "ground_not_allowed");
  EXPECT_EQ(d.out["rule"], "order34/app1/row15/criminal_case");

  CliRun early = run("prosecutor", "criminal_case", "", "2026-03-09");
  EXPECT_EQ(early.rc, 1);
  EXPECT_EQ(early.out["code"], "no_policy_in_force");
  EXPECT_EQ(early.out["policy_version"], "order21-2023/app1");

  for (const char* bad : {"2026-02-30", "2026-3-1", "yesterday", "2026-03-10T00:00"}) {
    CliRun b = run("prosecutor", "criminal_case", "", bad);
    EXPECT_EQ(b.rc, 2) << bad;
    EXPECT_EQ(b.out["error"], "malformed_request") << bad;
    EXPECT_FALSE(b.err.empty());
  }
  CliRun u = run("sheriff", "criminal_case", "", "2026-06-01");
  EXPECT_EQ(u.rc, 2);
  EXPECT_EQ(u.out["error"], "unknown_user_type");
  EXPECT_EQ(u.out["expected"].size(), 20u);
  EXPECT_EQ(run("judge", "crime", "", "2026-06-01").out["error"], "unknown_ground");
  EXPECT_EQ(run("judge", "criminal_case", "R00", "2026-06-01").out["error"], "unknown_resource");
  CliRun dir = run("judge", "criminal_case", "", "2026-06-01", "/nonexistent/aaj-policy");
  EXPECT_EQ(dir.rc, 2);
  EXPECT_EQ(dir.out["error"], "policy_unreadable");
}

TEST(PolicyExplainCommand, TodayInAstana) {
  CliRun t = run("prosecutor", "criminal_case", "", "");
  ASSERT_TRUE(t.rc == 0 || t.rc == 1) << t.out.dump();
  EXPECT_TRUE(t.out.contains("decision"));
}
