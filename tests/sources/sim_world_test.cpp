// The simulator's whole world: every resource of catalog/resources.json answers every key type it
// lists, with exactly the catalogue's "fields", deterministically, and the registers agree with
// each other about the same person, company, car, flat or case.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/ids.h"
#include "sources/sim/generator.h"

namespace aaj::sim {
namespace {

using nlohmann::json;

struct CatalogEntry {
  std::vector<std::string> keys;
  std::set<std::string> fields;
};

const std::map<std::string, CatalogEntry>& catalog() {
  static const std::map<std::string, CatalogEntry> c = [] {
    std::ifstream in(std::string(AAJ_SOURCE_DIR) + "/catalog/resources.json");
    json j = json::parse(in);
    std::map<std::string, CatalogEntry> out;
    for (const auto& r : j["resources"]) {
      CatalogEntry e;
      for (const auto& k : r["keys"]) e.keys.push_back(k);
      for (const auto& f : r["fields"]) e.fields.insert(f.get<std::string>());
      out[r["id"]] = e;
    }
    return out;
  }();
  return c;
}

std::string code_of(const std::string& r, const json& key) {
  auto res = generate(r, key);
  return res.ok() ? "<ok>" : res.error().code;
}

json must(const std::string& r, const json& key) {
  auto res = generate(r, key);
  EXPECT_TRUE(res.ok()) << r << " " << key.dump() << ": " << (res.ok() ? "" : res.error().code);
  return res.ok() ? *res : json::object();
}

std::set<std::string> members(const json& j) {
  std::set<std::string> out;
  for (auto it = j.begin(); it != j.end(); ++it) out.insert(it.key());
  return out;
}

// "Finds something": some top-level list is non-empty, or the answer has no list at all, or it
// is a taxpayer record (R25: its lists are VAT registrations and risk flags, rare for persons).
bool finds_something(const json& a) {
  if (a.contains("taxpayer_name")) return true;
  bool any_list = false;
  for (const auto& [k, v] : a.items()) {
    if (!v.is_array()) continue;
    any_list = true;
    if (!v.empty()) return true;
  }
  return !any_list;
}

void walk(const json& j, const std::function<void(const std::string&, const json&)>& f,
          const std::string& name = "") {
  f(name, j);
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) walk(*it, f, it.key());
  } else if (j.is_array()) {
    for (const auto& e : j) walk(e, f, name);
  }
}

// Every 12-digit string is a valid IIN or BIN; members that name an IIN/BIN hold one.
void expect_ids_valid(const json& a, const std::string& where) {
  static const std::set<std::string> kIdMembers = {"iin",
                                                   "bin",
                                                   "IIN",
                                                   "BIN",
                                                   "iin_bin",
                                                   "IIN_BIN",
                                                   "owner_iin_bin",
                                                   "right_holder_iin_bin",
                                                   "proprietor_iin_bin",
                                                   "owner_bin",
                                                   "holder_iin_bin",
                                                   "participant_iin_bin",
                                                   "subsoil_user_bin",
                                                   "supplier_biin",
                                                   "customer_bin",
                                                   "biin",
                                                   "IINBIN"};
  walk(a, [&](const std::string& name, const json& v) {
    if (v.is_number_float()) ADD_FAILURE() << where << ": float in " << name;
    if (!v.is_string()) return;
    const std::string& s = v.get_ref<const std::string&>();
    const bool twelve = s.size() == 12 && s.find_first_not_of("0123456789") == std::string::npos;
    if (twelve || kIdMembers.count(name)) {
      EXPECT_TRUE(ids::parse_iin(s) || ids::is_valid_bin(s))
          << where << ": " << name << " = '" << s << "'";
    }
  });
}

// Member names under which each key type's values appear in answers.
const std::map<std::string, std::set<std::string>> kHarvest = {
    {"document_number", {"number", "passport", "documentNumber", "document_number"}},
    {"cadastral_number", {"cadastral_number"}},
    {"rca", {"rca", "arCode", "RKA"}},
    {"plate", {"number", "govNumber"}},
    {"vin", {"vin_kuzov_shassi", "vin"}},
    {"phone", {"phone"}},
    {"erdr_number", {"erdr_number"}},
    {"court_case_number", {"court_case_number", "case_number"}},
    {"postal_item_id", {"item_id"}},
    {"imo_number", {"imo_number"}},
    {"wagon_number", {"wagon_number"}},
    {"declaration_number", {"declaration_number"}},
    {"register_number",
     {"series_reg_number", "reg_number", "register_number", "act_number", "contract_number",
      "permit_number", "number", "invitation_number"}},
    {"org_name", {"OrganizationNameRu", "taxpayer_name", "name_ru"}},
};

json name_key(const std::string& iin) {
  Person p = person_for(iin);
  return {{"name_birth_date",
           {{"surname", p.surname},
            {"name", p.name},
            {"patronymic", p.patronymic},
            {"birth_date", p.birth_date}}}};
}

// The keys under which a resource can be asked about population member i (resident,
// company, foreigner), in that order.
std::vector<json> subject_keys(const CatalogEntry& e, uint32_t i) {
  auto has = [&](const char* k) {
    return std::find(e.keys.begin(), e.keys.end(), k) != e.keys.end();
  };
  std::vector<json> out;
  if (has("iin")) out.push_back({{"iin", synthetic_iin(i)}});
  if (has("bin")) out.push_back({{"bin", synthetic_bin(i)}});
  if (has("iin")) out.push_back({{"iin", synthetic_foreign_iin(i)}});
  if (!has("iin") && has("name_birth_date")) {
    out.push_back(name_key(synthetic_iin(i)));
    out.push_back(name_key(synthetic_foreign_iin(i)));
  }
  return out;
}

struct Found {
  json key, answer;
};

// For every resource and key type: a key that finds something (searched over the population).
const std::map<std::string, std::map<std::string, Found>>& found_keys() {
  static const auto result = [] {
    std::map<std::string, std::map<std::string, Found>> out;
    for (const auto& [r, e] : catalog()) {
      auto& mine = out[r];
      for (uint32_t i = 0; i < 1000 && mine.size() < e.keys.size(); ++i) {
        for (const json& sk : subject_keys(e, i)) {
          auto a = generate(r, sk);
          if (!a.ok()) continue;
          const std::string sk_name = sk.begin().key();
          if (!mine.count(sk_name) && finds_something(*a)) mine[sk_name] = {sk, *a};
          if (finds_something(*a) && !mine.count("name_birth_date") &&
              std::find(e.keys.begin(), e.keys.end(), "name_birth_date") != e.keys.end() &&
              sk_name == "iin") {
            json nk = name_key(sk["iin"]);
            auto b = generate(r, nk);
            if (b.ok() && finds_something(*b)) mine["name_birth_date"] = {nk, *b};
          }
          for (const std::string& k : e.keys) {
            if (mine.count(k) || !kHarvest.count(k)) continue;
            const auto& names = kHarvest.at(k);
            walk(*a, [&](const std::string& name, const json& v) {
              if (mine.count(k) || !v.is_string() || !names.count(name) ||
                  v.get_ref<const std::string&>().empty())
                return;
              json key = {{k, v}};
              auto b = generate(r, key);
              if (b.ok() && finds_something(*b)) mine[k] = {key, *b};
            });
          }
        }
      }
    }
    return out;
  }();
  return result;
}

TEST(SimWorld, EveryResourceOfTheCatalogueIsSupported) {
  std::vector<std::string> ids;
  for (const auto& [r, e] : catalog()) ids.push_back(r);
  EXPECT_EQ(supported_resources(), ids);
  EXPECT_EQ(ids.size(), 52u);
}

TEST(SimWorld, EveryKeyTypeOfEveryResourceFindsSomething) {
  int pairs = 0;
  for (const auto& [r, e] : catalog()) {
    for (const std::string& k : e.keys) {
      auto it = found_keys().at(r).find(k);
      EXPECT_TRUE(it != found_keys().at(r).end()) << r << " finds nothing by " << k;
      ++pairs;
    }
    EXPECT_EQ(code_of(r, json{{"not_a_key_type", "1"}}), "unsupported_key") << r;
  }
  EXPECT_GT(pairs, 120);
}

TEST(SimWorld, AnswersHaveExactlyTheCatalogueFields) {
  for (const auto& [r, by_key] : found_keys()) {
    for (const auto& [k, f] : by_key) {
      EXPECT_EQ(members(f.answer), catalog().at(r).fields) << r << " by " << k;
    }
  }
  // And for plain IIN/BIN answers of many subjects (including empty lists).
  for (const auto& [r, e] : catalog())
    for (uint32_t i = 0; i < 60; ++i)
      for (const json& sk : subject_keys(e, i))
        if (auto a = generate(r, sk); a.ok()) {
          EXPECT_EQ(members(*a), e.fields) << r << " " << sk.dump();
        }
}

TEST(SimWorld, SameKeyGivesTheSameBytes) {
  for (const auto& [r, by_key] : found_keys()) {
    for (const auto& [k, f] : by_key) {
      EXPECT_EQ(must(r, f.key).dump(), f.answer.dump()) << r << k;
    }
  }
}

TEST(SimWorld, ReverseLookupFindsTheItemOfTheOwner) {
  // A key found inside an owner's answer finds an answer that carries the same identifier.
  for (const auto& [r, by_key] : found_keys())
    for (const auto& [k, f] : by_key) {
      if (k == "iin" || k == "bin" || k == "name_birth_date" || k == "org_name") continue;
      std::string v = f.key[k];
      std::string dump = f.answer.dump();
      if (k == "imo_number") v = v.substr(v.size() - 7);
      if (k == "phone") v = v.substr(v.size() - 5);  // the canonical text regroups the digits
      EXPECT_NE(dump.find(v), std::string::npos) << r << " by " << k << " " << v;
    }
}

TEST(SimWorld, EveryIinAndBinInEveryAnswerIsValid) {
  for (const auto& [r, by_key] : found_keys())
    for (const auto& [k, f] : by_key) expect_ids_valid(f.answer, r + " by " + k);
  for (const auto& [r, e] : catalog())
    for (uint32_t i = 0; i < 120; ++i)
      for (const json& sk : subject_keys(e, i))
        if (auto a = generate(r, sk); a.ok()) expect_ids_valid(*a, r + " " + sk.dump());
}

// ---- cross-resource consistency ----

std::string full_name(const json& r01) {
  return r01["surname"].get<std::string>() + " " + r01["name"].get<std::string>() + " " +
         r01["patronymic"].get<std::string>();
}

TEST(SimWorld, CarsBelongToTheOwnerAndAreFoundByPlateVinAndCertificate) {
  int cars = 0;
  for (uint32_t n = 0; n < 300; ++n) {
    const std::string iin = synthetic_iin(n);
    json r05 = must("R05", {{"iin", iin}});
    if (r05["vehicles"].empty()) continue;
    json r01 = must("R01", {{"iin", iin}});
    EXPECT_EQ(r05["owner_iin_bin"], iin);
    EXPECT_EQ(r05["owner_name"], full_name(r01));
    for (const auto& v : r05["vehicles"]) {
      ++cars;
      for (auto [key, member] : {std::pair{"plate", "number"},
                                 {"vin", "vin_kuzov_shassi"},
                                 {"register_number", "series_reg_number"}}) {
        json by = must("R05", {{key, v[member]}});
        EXPECT_EQ(by["owner_iin_bin"], iin) << key;
        ASSERT_EQ(by["vehicles"].size(), 1u) << key;
        EXPECT_EQ(by["vehicles"][0], v) << key;
      }
    }
  }
  EXPECT_GT(cars, 50);
}

TEST(SimWorld, FlatIsTheRegisteredAddressAndStandsOnAPlot) {
  int flats = 0;
  for (uint32_t n = 0; n < 300; ++n) {
    const std::string iin = synthetic_iin(n);
    json r03 = must("R03", {{"iin", iin}});
    json r01 = must("R01", {{"iin", iin}});
    const json& a = r01["regAddress"];
    for (const auto& e : r03["estates"]) {
      if (e["rca"] != a["arCode"]) continue;
      ++flats;
      const std::string addr = e["address_rus"];
      for (const char* part : {"city", "street", "building", "flat"})
        EXPECT_NE(addr.find(a[part].get<std::string>()), std::string::npos) << addr << " " << part;
      EXPECT_EQ(e["register_reg_date"], a["beginDate"]);
      EXPECT_EQ(must("R03", {{"rca", e["rca"]}})["owner_iin_bin"], iin);
      EXPECT_EQ(must("R03", {{"cadastral_number", e["cadastral_number"]}})["estates"][0], e);
      json plots = must("R04", {{"cadastral_number", e["cadastral_number"]}});
      ASSERT_EQ(plots["plots"].size(), 1u);
      EXPECT_EQ(plots["right_holder_iin_bin"], iin);
      EXPECT_EQ(e["cadastral_number"].get<std::string>().rfind(
                    plots["plots"][0]["cadastral_number"].get<std::string>(), 0),
                0u);
      json r40 = must("R40", {{"rca", e["rca"]}});
      EXPECT_EQ(r40["subjects"][0]["iin_bin"], iin);
    }
  }
  EXPECT_GT(flats, 50);
}

TEST(SimWorld, SpousesAndChildrenAreResidentsWhoAgree) {
  int marriages = 0, births = 0;
  for (uint32_t n = 0; n < 400; ++n) {
    const std::string iin = synthetic_iin(n);
    json r22 = must("R22", {{"iin", iin}});
    for (const auto& act : r22["records"]) {
      const std::string number = act["act_number"];
      EXPECT_EQ(must("R22", {{"register_number", number}})["records"][0], act);
      for (const auto& p : act["participants"]) {
        json r01 = must("R01", {{"iin", p["iin"]}});
        EXPECT_EQ(p["fullName"], full_name(r01));
        // Every participant's own civil-status answer carries the same act.
        json theirs = must("R22", {{"iin", p["iin"]}});
        bool has = false;
        for (const auto& a2 : theirs["records"]) has = has || a2["act_number"] == number;
        EXPECT_TRUE(has) << number << " missing for " << p["iin"];
      }
      if (act["act_type"]["code"] == "2") ++marriages;
      if (act["act_type"]["code"] == "1" && act["participants"].size() > 1) ++births;
    }
  }
  EXPECT_GT(marriages, 30);
  EXPECT_GT(births, 30);
}

TEST(SimWorld, EmployerAnswersInR02AndIsAmongPensionAgents) {
  int employed = 0, servants = 0;
  for (uint32_t n = 0; n < 300; ++n) {
    const std::string iin = synthetic_iin(n);
    json r11 = must("R11", {{"iin", iin}});
    if (r11["agents"].empty()) continue;
    ++employed;
    const std::string employer = r11["agents"][0]["bin"];
    json r02 = must("R02", {{"bin", employer}});
    EXPECT_EQ(r02["BIN"], employer);
    EXPECT_EQ(r02["OrganizationNameRu"], r11["agents"][0]["name"]);
    EXPECT_EQ(must("R25", {{"bin", employer}})["iin_bin"], employer);
    // The link graph shows the same employer.
    bool linked = false;
    const json edges_e = must("R50", {{"iin", iin}})["edges"];
    for (const auto& e : edges_e) linked = linked || (e["type"] == "WORKER" && e["to"] == employer);
    EXPECT_TRUE(linked) << iin;
    // Civil servants work for the state body that pays their pension contributions.
    const json servants_s = must("R41", {{"iin", iin}})["servants"];
    for (const auto& s : servants_s) {
      ++servants;
      EXPECT_EQ(s["state_body"]["bin"], employer);
      bool listed = false;
      const json servants_s2 = must("R18", {{"bin", employer}})["servants"];
      for (const auto& s2 : servants_s2) listed = listed || s2["iin"] == iin;
      EXPECT_TRUE(listed);
    }
  }
  EXPECT_GT(employed, 100);
  EXPECT_GT(servants, 3);
}

TEST(SimWorld, ProcurementContractsAppearOnBothSides) {
  int contracts = 0;
  for (uint32_t i = 0; i < 300; ++i) {
    for (const json& key : {json{{"bin", synthetic_bin(i)}}, json{{"iin", synthetic_iin(i)}}}) {
      const json r27 = must("R27", key);
      if (r27["participant"]["customer"] == true) continue;
      for (const auto& c : r27["contracts"]) {
        ++contracts;
        const json theirs = must("R27", {{"bin", c["customer_bin"]}});
        EXPECT_TRUE(theirs["participant"]["customer"].get<bool>());
        bool listed = false;
        for (const auto& c2 : theirs["contracts"]) listed = listed || c2 == c;
        EXPECT_TRUE(listed) << c["contract_number"];
      }
    }
  }
  EXPECT_GT(contracts, 50);
}

TEST(SimWorld, DirectorOfR02AnswersInR01) {
  for (uint32_t m = 0; m < 100; ++m) {
    json r02 = must("R02", {{"bin", synthetic_bin(m)}});
    const json& leader = r02["OrganizationLeader"];
    json r01 = must("R01", {{"iin", leader["IIN"]}});
    EXPECT_EQ(leader["FIO"]["SurName"], r01["surname"]);
    EXPECT_EQ(must("R02", {{"org_name", r02["OrganizationNameRu"]}})["BIN"], r02["BIN"]);
  }
}

TEST(SimWorld, BorderPassportFindsThePersonAndCasesAgreeAcrossJustice) {
  int passports = 0, cases = 0;
  for (uint32_t n = 0; n < 400; ++n) {
    const std::string iin = synthetic_iin(n);
    const json crossings_c = must("R23", {{"iin", iin}})["crossings"];
    for (const auto& c : crossings_c) {
      const std::string doc = c["document"]["number"];
      EXPECT_EQ(must("R01", {{"document_number", doc}})["iin"], iin) << doc;
      ++passports;
    }
    const json criminal_records_c = must("R14", {{"iin", iin}})["criminal_records"];
    for (const auto& c : criminal_records_c) {
      ++cases;
      json r15 = must("R15", {{"erdr_number", c["erdr_number"]}});
      EXPECT_EQ(r15["cases"][0]["participants"][0]["iin"], iin);
      if (!c["court_case_number"].get<std::string>().empty()) {
        json r17 = must("R17", {{"court_case_number", c["court_case_number"]}});
        EXPECT_EQ(r17["cards"][0]["erdr_number"], c["erdr_number"]);
        EXPECT_EQ(
            must("R16", {{"court_case_number", c["court_case_number"]}})["cases"][0]["erdr_number"],
            c["erdr_number"]);
      }
    }
  }
  EXPECT_GT(passports, 50);
  EXPECT_GT(cases, 5);
}

TEST(SimWorld, PhonesLeadBackToTheirOwner) {
  int phones = 0;
  for (uint32_t n = 0; n < 200; ++n) {
    const std::string iin = synthetic_iin(n);
    const json phones_p = must("R52", {{"iin", iin}})["phones"];
    for (const auto& p : phones_p) {
      ++phones;
      EXPECT_EQ(must("R52", {{"phone", p["phone"]}})["iin"], iin);
      EXPECT_EQ(must("R40", {{"phone", p["phone"]}})["subjects"][0]["iin_bin"], iin);
    }
    const json lines_l = must("R36", {{"iin", iin}})["lines"];
    for (const auto& l : lines_l)
      EXPECT_EQ(must("R36", {{"phone", l["phone"]}})["subscriber"]["iin_bin"], iin);
  }
  EXPECT_GT(phones, 100);
}

// ---- errors ----

TEST(SimWorld, WellFormedButUnknownIdentifiersAreNotFound) {
  std::string bin = ids::make_bin(2020, 1, 4, 0, 12345).value_or("");
  if (bin.empty()) bin = ids::make_bin(2020, 2, 4, 0, 12345).value_or("");
  std::string bin_reserved = ids::make_bin(2019, 3, 4, 0, 99999).value_or("");
  if (bin_reserved.empty()) bin_reserved = ids::make_bin(2019, 4, 4, 0, 99999).value_or("");
  const std::vector<std::pair<std::string, json>> cases = {
      {"R02", {{"bin", bin}}},
      {"R02", {{"bin", bin_reserved}}},
      {"R02", {{"org_name", "ТОО «Ромашка»"}}},
      {"R01", {{"document_number", "000000000"}}},
      {"R01",
       {{"name_birth_date",
         {{"surname", "НЕТАКОЙ"}, {"name", "НИКТО"}, {"birth_date", "1990-01-01"}}}}},
      {"R03", {{"rca", "0000000000000000"}}},
      {"R03", {{"cadastral_number", "20:001:000:000"}}},
      {"R04", {{"cadastral_number", "20:001:000:000"}}},
      {"R05", {{"plate", "999 ZZZ 02"}}},
      {"R05", {{"vin", "XTA00000000000000"}}},
      {"R07", {{"wagon_number", "20000006"}}},
      {"R09", {{"imo_number", "IMO 1234567"}}},
      {"R15", {{"erdr_number", "000000000000000"}}},
      {"R16", {{"court_case_number", "7511-24-00-1/00001"}}},
      {"R29", {{"declaration_number", "55201/010125/0000001"}}},
      {"R36", {{"phone", "+7 700 000 00 00"}}},
      {"R42", {{"postal_item_id", "RR000000005KZ"}}},
      {"R06", {{"register_number", "GUN-1999-0000"}}},
  };
  for (const auto& [r, key] : cases)
    EXPECT_EQ(code_of(r, key), "not_found") << r << " " << key.dump();
}

TEST(SimWorld, MalformedKeysAreBadKey) {
  const std::vector<std::pair<std::string, json>> cases = {
      {"R02", {{"bin", "123"}}},
      {"R02", {{"bin", "100640000002"}}},  // wrong check digit
      {"R02", {{"org_name", ""}}},
      {"R01", {{"document_number", "12AB"}}},
      {"R01", {{"name_birth_date", "САДЫКОВ"}}},
      {"R01",
       {{"name_birth_date", {{"surname", "А"}, {"name", "Б"}, {"birth_date", "1990-02-30"}}}}},
      {"R01",
       {{"name_birth_date",
         {{"surname", "А"}, {"name", "Б"}, {"birth_date", "1990-02-01"}, {"x", 1}}}}},
      {"R03", {{"rca", "12345"}}},
      {"R03", {{"cadastral_number", "20-311-014-052"}}},
      {"R05", {{"plate", "12 ABC 02"}}},
      {"R05", {{"plate", "123 ABC 77"}}},
      {"R05", {{"vin", "XTA0000000000000I"}}},
      {"R05", {{"register_number", "GUN-1000-0000"}}},
      {"R07", {{"wagon_number", "20000000"}}},
      {"R09", {{"imo_number", "IMO 1234568"}}},
      {"R15", {{"erdr_number", "12345"}}},
      {"R16", {{"court_case_number", "case 42"}}},
      {"R29", {{"declaration_number", "55201/320125/0000001"}}},
      {"R36", {{"phone", "12345"}}},
      {"R42", {{"postal_item_id", "RR000000006KZ"}}},
      {"R22", {{"register_number", "XYZ"}}},
      {"R05", {{"plate", 123}}},
  };
  for (const auto& [r, key] : cases)
    EXPECT_EQ(code_of(r, key), "bad_key") << r << " " << key.dump();
}

TEST(SimWorld, ReservedAndUnknownSubjects) {
  std::string missing;
  for (int d = 1; d <= 28 && missing.empty(); ++d)
    missing = ids::make_iin(1985, 6, d, true, 9999).value_or("");
  for (const auto& [r, e] : catalog()) {
    if (std::find(e.keys.begin(), e.keys.end(), "iin") != e.keys.end()) {
      EXPECT_EQ(code_of(r, {{"iin", missing}}), "not_found") << r;
    }
  }
  // A person outside the linked population exists, with identity answers and empty registers.
  json r05 = must("R05", {{"iin", "850615300000"}});
  EXPECT_TRUE(r05["vehicles"].empty());
  EXPECT_EQ(r05["owner_name"], must("R52", {{"iin", "850615300000"}})["fullName"]);
}

TEST(SimWorld, GenerateIsFast) {
  (void)generate("R22", json{{"iin", synthetic_iin(1)}});  // builds the census once
  std::vector<json> keys;
  for (uint32_t n = 0; n < 20; ++n) keys.push_back({{"iin", synthetic_iin(n)}});
  int calls = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (const auto& [r, e] : catalog())
    for (const json& k : keys) {
      (void)generate(r, e.keys[0] == "iin" ? k : found_keys().at(r).begin()->second.key);
      ++calls;
    }
  const auto us =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  std::printf("average generate(): %lld us over %d calls\n", static_cast<long long>(us / calls),
              calls);
  EXPECT_LT(us / calls, 1000);  // generous: tens of microseconds expected in release builds
}

}  // namespace
}  // namespace aaj::sim
