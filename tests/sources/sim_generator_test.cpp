#include <gtest/gtest.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/ids.h"
#include "sources/sim/generator.h"

namespace aaj::sim {
namespace {

using nlohmann::json;

json gen(std::string_view resource, const std::string& iin) {
  auto r = generate(resource, json{{"iin", iin}});
  EXPECT_TRUE(r.ok()) << resource << " " << iin << ": " << (r.ok() ? "" : r.error().code);
  return r.ok() ? *r : json();
}

std::string error_code(std::string_view resource, const json& key) {
  auto r = generate(resource, key);
  return r.ok() ? std::string("<ok>") : r.error().code;
}

std::set<std::string> keys_of(const json& obj) {
  std::set<std::string> out;
  for (auto it = obj.begin(); it != obj.end(); ++it) out.insert(it.key());
  return out;
}

// "123.45" -> 12345 tiyn; -1 when the string is not digits '.' two digits.
int64_t parse_tiyn(const std::string& s) {
  auto dot = s.find('.');
  if (dot == std::string::npos || dot == 0 || s.size() != dot + 3) return -1;
  int64_t v = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i == dot) continue;
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

// A valid IIN for the date with the given serial (tries following days when the serial has no
// check digit on that date).
std::string iin_with_serial(int year, int month, int day, bool male, int serial) {
  for (; day <= 28; ++day)
    if (auto s = ids::make_iin(year, month, day, male, serial)) return *s;
  ADD_FAILURE() << "no valid IIN";
  return "";
}

void expect_no_floats(const json& j, const std::string& where) {
  if (j.is_number_float()) ADD_FAILURE() << "float at " << where;
  if (j.is_structured())
    for (auto it = j.begin(); it != j.end(); ++it)
      expect_no_floats(*it, where + "/" + (j.is_object() ? it.key() : "[]"));
}

constexpr int kSample = 300;

// Resources searchable by IIN (every resource answers some key; these are the IIN ones).
bool takes_iin(const std::string& r) {
  auto res = generate(r, json{{"iin", synthetic_iin(1)}});
  return res.ok() || res.error().code != "unsupported_key";
}

TEST(SimGenerator, SupportedResources) {
  std::vector<std::string> all;
  for (int i = 1; i <= 52; ++i) all.push_back((i < 10 ? "R0" : "R") + std::to_string(i));
  EXPECT_EQ(supported_resources(), all);
}

TEST(SimGenerator, SameKeyGivesByteIdenticalJson) {
  for (uint32_t n = 0; n < 50; ++n) {
    std::string iin = synthetic_iin(n);
    for (const auto& r : supported_resources()) {
      if (!takes_iin(r)) continue;
      // Byte-identical answers, or the same error (R19 has no photo of a child).
      auto once = [&] {
        auto x = generate(r, json{{"iin", iin}});
        return x.ok() ? x->dump() : x.error().code;
      };
      std::string a = once(), b = once();
      EXPECT_EQ(a, b) << r << " " << iin;
    }
  }
  EXPECT_EQ(person_for("850615300000").surname, person_for("850615300000").surname);
}

TEST(SimGenerator, DeterministicAcrossThreads) {
  std::string iin = synthetic_iin(7);
  std::string expected = gen("R11", iin).dump() + gen("R01", iin).dump();
  std::vector<std::string> got(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        auto a = generate("R11", json{{"iin", iin}});
        auto b = generate("R01", json{{"iin", iin}});
        got[t] = a->dump() + b->dump();
      }
    });
  for (auto& th : threads) th.join();
  for (const auto& g : got) EXPECT_EQ(g, expected);
}

// Golden values: if these change, every stored fixture and demo built on the simulator changes.
// Only update them on purpose (and tell the lead).
TEST(SimGenerator, GoldenPerson) {
  const std::string iin = "850615300000";
  ASSERT_TRUE(ids::parse_iin(iin));
  json r01 = gen("R01", iin);
  EXPECT_EQ(r01["birthDate"], "1985-06-15");
  EXPECT_EQ(r01["surname"], "САДЫКОВ");
  EXPECT_EQ(r01["name"], "ДАУРЕН");
  EXPECT_EQ(r01["patronymic"], "ЕРЖАНҰЛЫ");
  EXPECT_EQ(r01["regAddress"]["arCode"], "1120592180689056");
  json r11 = gen("R11", iin);
  EXPECT_EQ(r11["total_amount"], "2254191.82");
  EXPECT_EQ(synthetic_iin(0), "680401400006");
  EXPECT_EQ(synthetic_bin(0), "100640000001");
}

TEST(SimGenerator, BirthDateAndGenderComeFromTheIin) {
  for (uint32_t n = 0; n < kSample; ++n) {
    std::string iin = synthetic_iin(n);
    auto info = ids::parse_iin(iin);
    ASSERT_TRUE(info) << iin;
    json p = gen("R01", iin);
    char date[48];
    std::snprintf(date, sizeof date, "%04d-%02d-%02d", info->birth_year, info->birth_month,
                  info->birth_day);
    EXPECT_EQ(p["birthDate"], date) << iin;
    EXPECT_EQ(p["gender"]["code"], info->male ? "1" : "2") << iin;
    EXPECT_EQ(p["gender"]["nameRu"], info->male ? "Мужской" : "Женский") << iin;
    EXPECT_EQ(p["gender"]["nameKz"], info->male ? "Ер" : "Әйел") << iin;
    std::string surname = p["surname"], patronymic = p["patronymic"];
    // Female surnames end in "А"; patronymics agree with sex.
    bool female_surname = surname.size() >= 2 && surname.substr(surname.size() - 2) == "А";
    EXPECT_EQ(female_surname, !info->male) << surname;
    bool male_patronymic = patronymic.ends_with("ҰЛЫ") || patronymic.ends_with("ОВИЧ");
    bool female_patronymic = patronymic.ends_with("ҚЫЗЫ") || patronymic.ends_with("ОВНА");
    EXPECT_EQ(male_patronymic, info->male) << patronymic;
    EXPECT_EQ(female_patronymic, !info->male) << patronymic;
  }
}

TEST(SimGenerator, ForeignIinsWorkToo) {
  // Any valid IIN is a person, not only synthetic_iin()'s: the 1800s and 2000s centuries too.
  for (auto [y, male] : {std::pair{1899, true}, {1960, false}, {2012, true}, {2024, false}}) {
    std::string iin = iin_with_serial(y, 3, 1, male, 4321);
    json p = gen("R01", iin);
    EXPECT_EQ(p["iin"], iin);
    EXPECT_EQ(p["birthDate"].get<std::string>().substr(0, 4), std::to_string(y));
  }
}

TEST(SimGenerator, CenturyDigitZeroIsAForeigner) {
  std::string iin = "900101000420";  // century digit 0: sex not encoded
  iin[11] = static_cast<char>('0' + ids::check_digit(iin).value_or(0));
  auto info = ids::parse_iin(iin);
  ASSERT_TRUE(info && info->century_unknown) << iin;
  json p = gen("R01", iin);
  EXPECT_EQ(p["birthDate"], "1990-01-01");
  EXPECT_NE(p["citizenship"]["code"], "398");
  EXPECT_EQ(p["birthPlace"]["country"], p["citizenship"]);
  EXPECT_EQ(p["documents"][0]["type"]["code"], "003");
  Person person = person_for(iin);
  EXPECT_TRUE(person.foreigner);
  EXPECT_EQ(p["gender"]["code"], person.male ? "1" : "2");
  EXPECT_EQ(person.surname.ends_with("А"), !person.male);
  EXPECT_FALSE(person_for(synthetic_iin(3)).foreigner);
}

TEST(SimGenerator, EveryIinAndBinInAnswersIsValid) {
  std::set<std::string> bins;
  for (uint32_t n = 0; n < kSample; ++n) {
    std::string iin = synthetic_iin(n);
    EXPECT_TRUE(ids::parse_iin(gen("R01", iin)["iin"].get<std::string>()));
    json r11 = gen("R11", iin);
    EXPECT_TRUE(ids::parse_iin(r11["iin"].get<std::string>()));
    for (const auto& a : r11["agents"]) {
      std::string bin = a["bin"];
      EXPECT_TRUE(ids::is_valid_bin(bin)) << bin;
      EXPECT_EQ(bin.substr(6, 2), "00") << "synthetic BIN serial marker: " << bin;
      bins.insert(bin);
    }
  }
  EXPECT_GT(bins.size(), 50u);  // agents are spread over many companies
  std::set<std::string> seen;
  for (uint32_t n = 0; n < 1000; ++n) {
    std::string bin = synthetic_bin(n);
    EXPECT_TRUE(ids::is_valid_bin(bin)) << bin;
    EXPECT_TRUE(seen.insert(bin).second) << "duplicate " << bin;
  }
}

TEST(SimGenerator, SyntheticIinsAreValidDistinctAndMarked) {
  std::set<std::string> seen;
  for (uint32_t n = 0; n < 1000; ++n) {
    std::string iin = synthetic_iin(n);
    EXPECT_TRUE(ids::parse_iin(iin)) << n << " " << iin;
    char serial[8];
    std::snprintf(serial, sizeof serial, "%04u", n);
    EXPECT_EQ(iin.substr(7, 4), serial) << iin;
    EXPECT_TRUE(seen.insert(iin).second) << "duplicate " << iin;
  }
}

TEST(SimGenerator, MalformedIinIsBadKey) {
  const std::string good = synthetic_iin(1);
  std::string wrong_check = good;
  wrong_check[11] = static_cast<char>('0' + (good[11] - '0' + 1) % 10);
  // 13th month and century digit 7, each with a correct check digit.
  std::string bad_month = ids::make_iin(1985, 13, 1, true, 1).value_or("");
  std::string bad_century = "850615700010";
  bad_century[11] = static_cast<char>('0' + ids::check_digit(bad_century).value_or(0));
  ASSERT_TRUE(ids::has_valid_check_digit(bad_century));
  for (const auto& r : supported_resources()) {
    if (!takes_iin(r)) continue;
    for (const std::string& bad :
         {std::string("12345"), std::string(""), good + "0", std::string("85061530000X"),
          wrong_check, bad_month, bad_century}) {
      EXPECT_EQ(error_code(r, json{{"iin", bad}}), "bad_key") << r << " '" << bad << "'";
    }
    EXPECT_EQ(error_code(r, json{{"iin", 850615300000LL}}), "bad_key");
    EXPECT_EQ(error_code(r, json::array({good})), "bad_key");
    EXPECT_EQ(error_code(r, json::object()), "bad_key");
    EXPECT_EQ(error_code(r, json{{"iin", good}, {"extra", "x"}}), "bad_key");
    EXPECT_EQ(error_code(r, json{{"iin", good}}), "<ok>");
  }
}

TEST(SimGenerator, UnknownResourceAndKey) {
  const std::string iin = synthetic_iin(2);
  EXPECT_EQ(error_code("R99", json{{"iin", iin}}), "unsupported_resource");
  EXPECT_EQ(error_code("", json{{"iin", iin}}), "unsupported_resource");
  EXPECT_EQ(error_code("r01", json{{"iin", iin}}), "unsupported_resource");
  EXPECT_EQ(error_code("R53", json{{"iin", iin}}), "unsupported_resource");
  EXPECT_EQ(error_code("R01", json{{"bin", synthetic_bin(1)}}), "unsupported_key");
  EXPECT_EQ(error_code("R11", json{{"bin", synthetic_bin(1)}}), "unsupported_key");
  EXPECT_EQ(error_code("R01", json{{"plate", "123 ABC 02"}}), "unsupported_key");
  for (const auto& r : supported_resources()) {
    EXPECT_EQ(error_code(r, json{{"IIN", iin}}), "unsupported_key") << r;
    EXPECT_EQ(error_code(r, json{{"no_such_key", "1"}}), "unsupported_key") << r;
  }
}

TEST(SimGenerator, Serial9999IsNotFound) {
  std::string missing = iin_with_serial(1985, 6, 15, true, 9999);
  ASSERT_TRUE(ids::parse_iin(missing));
  for (const auto& r : supported_resources()) {
    if (takes_iin(r)) {
      EXPECT_EQ(error_code(r, json{{"iin", missing}}), "not_found") << r;
    }
  }
  // Its neighbour serial exists.
  EXPECT_EQ(error_code("R01", json{{"iin", iin_with_serial(1985, 6, 15, true, 9998)}}), "<ok>");
}

TEST(SimGenerator, R01ShapeAndDocuments) {
  int with_card = 0, without_card = 0;
  for (uint32_t n = 0; n < kSample; ++n) {
    std::string iin = synthetic_iin(n);
    json p = gen("R01", iin);
    expect_no_floats(p, "R01");
    EXPECT_EQ(keys_of(p), (std::set<std::string>{
                              "iin", "surname", "name", "patronymic", "engSurname", "engFirstName",
                              "birthDate", "gender", "nationality", "citizenship", "lifeStatus",
                              "birthPlace", "regAddress", "documents", "removed"}));
    for (const char* k : {"gender", "nationality", "citizenship", "lifeStatus"})
      EXPECT_EQ(keys_of(p[k]), (std::set<std::string>{"code", "nameRu", "nameKz"})) << k;
    EXPECT_EQ(p["citizenship"]["code"], "398");
    EXPECT_EQ(p["removed"], false);
    const json& a = p["regAddress"];
    EXPECT_EQ(keys_of(a),
              (std::set<std::string>{"country", "region", "district", "city", "street", "building",
                                     "flat", "arCode", "beginDate", "status"}));
    std::string ar = a["arCode"];
    EXPECT_EQ(ar.size(), 16u);
    EXPECT_EQ(ar.find_first_not_of("0123456789"), std::string::npos) << ar;
    EXPECT_GE(a["beginDate"].get<std::string>(), p["birthDate"].get<std::string>());
    EXPECT_LT(a["beginDate"].get<std::string>(), std::string(kToday));

    auto info = ids::parse_iin(iin);
    int age = age_at_today(info->birth_year, info->birth_month, info->birth_day);
    if (age < 16) {
      EXPECT_TRUE(p["documents"].empty()) << iin;
      ++without_card;
      continue;
    }
    ++with_card;
    ASSERT_EQ(p["documents"].size(), 1u) << iin;
    const json& d = p["documents"][0];
    EXPECT_EQ(d["type"]["code"], "002");
    EXPECT_EQ(d["issueOrganization"]["code"], "002");
    EXPECT_EQ(d["status"]["code"], "00");
    std::string num = d["number"], begin = d["beginDate"], end = d["endDate"];
    EXPECT_EQ(num.size(), 9u);
    EXPECT_EQ(num.find_first_not_of("0123456789"), std::string::npos) << num;
    EXPECT_EQ(end, std::to_string(std::stoi(begin.substr(0, 4)) + 10) + begin.substr(4));
    char sixteen[48];
    std::snprintf(sixteen, sizeof sixteen, "%04d-%02d-%02d", info->birth_year + 16,
                  info->birth_month, info->birth_day);
    EXPECT_GE(begin, std::string(sixteen)) << iin;
    EXPECT_LT(begin, std::string(kToday));
    EXPECT_GT(end, std::string(kToday));  // still valid
  }
  EXPECT_GT(with_card, 0);
  EXPECT_GT(without_card, 0);
}

TEST(SimGenerator, R11ShapeHasExactlyTheDocumentedKeys) {
  const std::set<std::string> top{"iin", "contributor", "agents", "total_amount"};
  const std::set<std::string> contributor{"surname", "name", "patronymic"};
  const std::set<std::string> agent{"bin",           "name",   "payments",
                                    "payment_count", "sum010", "total_amount"};
  const std::set<std::string> payment{"period", "pay_date", "knp", "amount"};
  int checked_payments = 0;
  for (uint32_t n = 0; n < kSample; ++n) {
    json r = gen("R11", synthetic_iin(n));
    expect_no_floats(r, "R11");
    EXPECT_EQ(keys_of(r), top);
    EXPECT_EQ(keys_of(r["contributor"]), contributor);
    ASSERT_TRUE(r["agents"].is_array());
    for (const auto& a : r["agents"]) {
      EXPECT_EQ(keys_of(a), agent);
      EXPECT_TRUE(a["payment_count"].is_number_integer());
      for (const auto& p : a["payments"]) {
        EXPECT_EQ(keys_of(p), payment);
        for (const auto& [k, v] : p.items()) EXPECT_TRUE(v.is_string()) << k;
        ++checked_payments;
      }
    }
  }
  EXPECT_GT(checked_payments, 1000);
}

TEST(SimGenerator, R11SumsAreExactIntegerSums) {
  for (uint32_t n = 0; n < kSample; ++n) {
    json r = gen("R11", synthetic_iin(n));
    int64_t total = 0;
    for (const auto& a : r["agents"]) {
      int64_t sum = 0;
      for (const auto& p : a["payments"]) {
        int64_t t = parse_tiyn(p["amount"]);
        ASSERT_GT(t, 0) << p["amount"];
        sum += t;
        EXPECT_EQ(p["knp"], "010");
      }
      EXPECT_EQ(a["payment_count"].get<int>(), static_cast<int>(a["payments"].size()));
      EXPECT_EQ(a["payments"].size(), 12u);
      EXPECT_EQ(parse_tiyn(a["sum010"]), sum);
      EXPECT_EQ(parse_tiyn(a["total_amount"]), sum);
      total += sum;
    }
    EXPECT_EQ(parse_tiyn(r["total_amount"]), total) << r["iin"];
  }
}

TEST(SimGenerator, R11AmountsAreNeverRound) {
  int amounts = 0;
  std::set<std::string> distinct;
  for (uint32_t n = 0; n < kSample; ++n) {
    json r = gen("R11", synthetic_iin(n));
    std::vector<std::string> all;
    for (const auto& a : r["agents"]) {
      all.push_back(a["sum010"]);
      all.push_back(a["total_amount"]);
      for (const auto& p : a["payments"]) all.push_back(p["amount"]);
    }
    if (!r["agents"].empty()) all.push_back(r["total_amount"]);
    for (const auto& s : all) {
      ++amounts;
      distinct.insert(s);
      ASSERT_GE(parse_tiyn(s), 0) << s;
      EXPECT_FALSE(s.ends_with(".00")) << s;
      EXPECT_FALSE(s.ends_with("000.00")) << s;
    }
  }
  EXPECT_GT(amounts, 1000);
  EXPECT_GT(distinct.size(), amounts * 9u / 10);  // amounts rarely repeat
}

TEST(SimGenerator, R11AgentsOnlyForWorkingAge) {
  int adults = 0, minors = 0;
  for (uint32_t n = 0; n < kSample; ++n) {
    std::string iin = synthetic_iin(n);
    auto info = ids::parse_iin(iin);
    int age_in_year = kReferenceYear - info->birth_year;
    json r = gen("R11", iin);
    size_t agents = r["agents"].size();
    if (age_in_year < 16) {
      ++minors;
      EXPECT_EQ(agents, 0u) << iin;
      EXPECT_EQ(r["total_amount"], "0.00");
    } else if (age_in_year <= 63) {
      ++adults;
      EXPECT_GE(agents, 1u) << iin;
      EXPECT_LE(agents, 3u) << iin;
      // Agent i covers year kReferenceYear - i, never a year the person was under 16.
      for (size_t i = 0; i < agents; ++i) {
        int year = kReferenceYear - static_cast<int>(i);
        EXPECT_GE(year - info->birth_year, 16) << iin;
        const json& pays = r["agents"][i]["payments"];
        EXPECT_EQ(pays[0]["period"], std::to_string(year) + "-01");
        EXPECT_EQ(pays[11]["period"], std::to_string(year) + "-12");
        for (const auto& p : pays) EXPECT_GT(p["pay_date"].get<std::string>(), p["period"]);
      }
    } else {
      EXPECT_EQ(agents, 0u) << iin;
    }
  }
  EXPECT_GT(adults, 0);
  EXPECT_GT(minors, 0);
}

TEST(SimGenerator, SamePersonAcrossResources) {
  for (uint32_t n = 0; n < 50; ++n) {
    std::string iin = synthetic_iin(n);
    json r01 = gen("R01", iin), r11 = gen("R11", iin);
    Person p = person_for(iin);
    EXPECT_EQ(r11["contributor"]["surname"], r01["surname"]);
    EXPECT_EQ(r11["contributor"]["name"], r01["name"]);
    EXPECT_EQ(r11["contributor"]["patronymic"], r01["patronymic"]);
    EXPECT_EQ(r01["surname"], p.surname);
    EXPECT_EQ(r01["regAddress"]["arCode"], p.reg_address.ar_code);
  }
  EXPECT_TRUE(person_for("12345").iin.empty());
}

}  // namespace
}  // namespace aaj::sim
