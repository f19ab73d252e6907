#include "core/ids.h"

#include <gtest/gtest.h>

using namespace aaj::ids;

TEST(Ids, KnownValidIins) {
  for (const char* iin : {"990106300596", "840317000029", "791028302728", "061211600012"}) {
    EXPECT_TRUE(has_valid_check_digit(iin)) << iin;
    EXPECT_TRUE(parse_iin(iin).has_value()) << iin;
  }
}

TEST(Ids, NcaTestIinFailsChecksum) {
  // NCA's own test certificates carry this IIN; it fails the check digit (computed 3, given 1).
  EXPECT_EQ(check_digit("123456789011"), 3);
  EXPECT_FALSE(has_valid_check_digit("123456789011"));
  EXPECT_FALSE(is_valid_bin("123456789021"));
}

TEST(Ids, ParseIinDateAndSex) {
  auto i = parse_iin("990106300596");
  ASSERT_TRUE(i);
  EXPECT_EQ(i->birth_year, 1999);
  EXPECT_EQ(i->birth_month, 1);
  EXPECT_EQ(i->birth_day, 6);
  EXPECT_TRUE(i->male);
  auto g = parse_iin("061211600012");
  ASSERT_TRUE(g);
  EXPECT_EQ(g->birth_year, 2006);
  EXPECT_FALSE(g->male);
}

TEST(Ids, RejectsMalformed) {
  EXPECT_FALSE(parse_iin("99010630059"));   // 11 digits
  EXPECT_FALSE(parse_iin("99010630059a"));  // letter
  EXPECT_FALSE(parse_iin("990106300597"));  // wrong check digit
  EXPECT_FALSE(is_twelve_digits(""));
  // Valid check digit but impossible date (31 February).
  auto bad_date = make_iin(1999, 2, 28, true, 1);
  ASSERT_TRUE(bad_date);
  std::string s = *bad_date;
  s[4] = '3';
  s[5] = '1';
  if (auto cd = check_digit(s)) {
    s[11] = static_cast<char>('0' + *cd);
    EXPECT_FALSE(parse_iin(s)) << s;
  }
}

TEST(Ids, KnownValidBins) {
  EXPECT_TRUE(is_valid_bin("081140000436"));
  EXPECT_TRUE(is_valid_bin("230540004989"));
  EXPECT_FALSE(is_valid_bin("081140000437"));
}

TEST(Ids, MakeRoundTrips) {
  int made = 0;
  for (int serial = 0; serial < 50; ++serial) {
    auto iin = make_iin(1985, 6, 15, serial % 2 == 0, serial);
    if (!iin) continue;
    ++made;
    auto p = parse_iin(*iin);
    ASSERT_TRUE(p) << *iin;
    EXPECT_EQ(p->birth_year, 1985);
    EXPECT_EQ(p->male, serial % 2 == 0);
  }
  EXPECT_GT(made, 40);
  auto bin = make_bin(2020, 1, 4, 0, 4);
  ASSERT_TRUE(bin);
  EXPECT_TRUE(is_valid_bin(*bin)) << *bin;
}

TEST(Ids, KazakhMobileNumbers) {
  EXPECT_TRUE(is_kz_phone("+77011234567"));
  EXPECT_FALSE(is_kz_phone("87011234567"));
  EXPECT_FALSE(is_kz_phone("+7701123456"));
  EXPECT_FALSE(is_kz_phone("+7701123456a"));
  EXPECT_FALSE(is_kz_phone("+87011234567"));
}
