#include "core/grounds.h"

#include <gtest/gtest.h>

using aaj::grounds::validate;
using nlohmann::json;

namespace {
std::string code_of(const json& g) {
  auto s = validate(g, 2026);
  return s.ok() ? "" : s.error().code + ":" + s.error().detail;
}
}  // namespace

TEST(Grounds, CriminalCaseNeedsFifteenDigitErdr) {
  EXPECT_EQ(code_of({{"type", "criminal_case"}, {"number", "251234567890123"}}), "");
  EXPECT_NE(code_of({{"type", "criminal_case"}, {"number", "25123456789012"}}), "");
  EXPECT_NE(code_of({{"type", "criminal_case"}, {"number", "25123456789012a"}}), "");
  EXPECT_EQ(code_of({{"type", "criminal_case"}}), "invalid_ground:ground.number is required");
}

TEST(Grounds, CourtCasesNeedNumberYearAndCourt) {
  json g = {{"type", "civil_case_court"},
            {"number", "7585-24-00-2/101"},
            {"year", 2024},
            {"court", "Специализированный межрайонный экономический суд г. Астаны"}};
  EXPECT_EQ(code_of(g), "");
  json appeal = g;
  appeal["number"] = "3599-24-00-2а/2151";  // Cyrillic suffix
  EXPECT_EQ(code_of(appeal), "");
  json short_form = g;
  short_form["number"] = "2-1234/2023";
  short_form["year"] = 2023;
  EXPECT_EQ(code_of(short_form), "");
  json no_year = g;
  no_year.erase("year");
  EXPECT_EQ(code_of(no_year), "invalid_ground:ground.year is required");
  json no_court = g;
  no_court.erase("court");
  no_court["type"] = "admin_case_court";
  EXPECT_EQ(code_of(no_court), "invalid_ground:ground.court is required");
  json future = g;
  future["year"] = 2031;
  EXPECT_NE(code_of(future), "");
  json wraps = g;
  wraps["year"] = 4294969312LL;  // 2^32 + 2016: must not wrap to 2016
  EXPECT_NE(code_of(wraps), "");
  wraps["year"] = -1;
  EXPECT_NE(code_of(wraps), "");
  json bad_number = g;
  bad_number["number"] = "12-ab";
  EXPECT_NE(code_of(bad_number), "");
}

TEST(Grounds, UnknownTypes) {
  EXPECT_EQ(code_of({{"type", "gossip"}, {"number", "1"}}).rfind("unknown_ground", 0), 0u);
  EXPECT_EQ(code_of(json::array()).rfind("unknown_ground", 0), 0u);
}

TEST(Grounds, PermissiveNumbersStillBounded) {
  EXPECT_EQ(code_of({{"type", "enforcement_proceeding"}, {"number", "02-12/345"}}), "");
  EXPECT_NE(code_of({{"type", "search_case"}, {"number", std::string(33, '1')}}), "");
  EXPECT_NE(code_of({{"type", "financial_monitoring"}, {"number", "a b"}}), "");
}

TEST(Grounds, TheYearOfRegistrationMustAgreeWithTheCaseNumber) {
  json g = {{"type", "civil_case_court"},
            {"number", "7585-24-00-2/101"},
            {"year", 2023},
            {"court", "Астана қаласының ауданаралық соты"}};
  EXPECT_EQ(code_of(g).rfind("invalid_ground:ground.year 2023 does not match", 0), 0u)
      << code_of(g);
  g["year"] = "2024";  // a string year is read the same way
  EXPECT_EQ(code_of(g), "");
  g["number"] = "2-1234/2023";
  EXPECT_NE(code_of(g), "");
  g["year"] = 2023;
  EXPECT_EQ(code_of(g), "");
}

TEST(Grounds, CourtsMayNameTheirCriminalCaseNumber) {
  json g = {{"type", "criminal_case"},
            {"number", "7585-25-00-1/77"},
            {"year", 2025},
            {"court", "Астана қаласының қылмыстық істер жөніндегі соты"}};
  aaj::grounds::Options courts;
  courts.court_numbers_for_criminal = true;
  EXPECT_FALSE(validate(g, 2026).ok());  // an officer's criminal case is an ERDR number
  EXPECT_TRUE(validate(g, 2026, courts).ok());
  json no_court = g;
  no_court.erase("court");
  auto s = validate(no_court, 2026, courts);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().detail, "ground.court is required");
  // The ERDR number stays valid for courts too.
  EXPECT_TRUE(validate({{"type", "criminal_case"}, {"number", "251234567890123"}}, 2026, courts));
}
