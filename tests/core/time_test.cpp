#include "core/time.h"

#include <gtest/gtest.h>

using namespace aaj::time;

TEST(Time, AstanaOffsetChangedOnFirstMarch2024) {
  ASSERT_TRUE(load_astana_zone().ok()) << "tzdata (Asia/Almaty) must be installed";
  // 2024-02-29T12:00Z: still +06:00. 2024-03-01T12:00Z: +05:00 (the change was at 00:00 local).
  auto before = parse_iso8601("2024-02-29T12:00:00Z");
  auto after = parse_iso8601("2024-03-01T12:00:00Z");
  ASSERT_TRUE(before && after);
  EXPECT_EQ(astana_offset_seconds(*before), 6 * 3600);
  EXPECT_EQ(astana_offset_seconds(*after), 5 * 3600);
  EXPECT_EQ(format_astana(*before), "2024-02-29T18:00:00.000+06:00");
  EXPECT_EQ(format_astana(*after), "2024-03-01T17:00:00.000+05:00");
}

TEST(Time, ParsesOffsetsAndFractions) {
  auto a = parse_iso8601("2026-11-22T16:50:45.5+05:00");
  auto b = parse_iso8601("2026-11-22T11:50:45.500000Z");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(format_utc(*a), "2026-11-22T11:50:45.500000Z");
  auto c = parse_iso8601("2026-11-22T11:50:45-0130");
  ASSERT_TRUE(c);
  EXPECT_EQ(format_utc(*c), "2026-11-22T13:20:45.000000Z");
}

TEST(Time, LocalTimeWithoutOffsetIsAstana) {
  auto t = parse_iso8601("2026-11-22T16:00:00");
  ASSERT_TRUE(t);
  EXPECT_EQ(format_utc(*t), "2026-11-22T11:00:00.000000Z");
  auto d = parse_iso8601("2022-10-01");  // midnight Astana, +06:00 then
  ASSERT_TRUE(d);
  EXPECT_EQ(format_utc(*d), "2022-09-30T18:00:00.000000Z");
}

TEST(Time, RejectsMalformed) {
  for (const char* s : {"", "2026-13-01", "2026-02-30", "2026-11-22T25:00:00Z", "2026-11-22T10:00",
                        "2026-11-22T10:00:00+5", "2026-11-22T10:00:00Zjunk", "yesterday"})
    EXPECT_FALSE(parse_iso8601(s).has_value()) << s;
}

TEST(Time, AstanaDayAndDates) {
  auto t = parse_iso8601("2026-03-09T19:30:00Z");  // 00:30 on 10 March in Astana
  ASSERT_TRUE(t);
  EXPECT_EQ(format_date(astana_day(*t)), "2026-03-10");
  EXPECT_EQ(parse_date("2026-03-10"), astana_day(*t));
  EXPECT_FALSE(parse_date("2026-3-10"));
  // Exactly digits and dashes (what sscanf alone let through).
  for (const char* s : {"2026- 3-10", "+026-03-10", "2026-+3-10", "2026-03- 9", " 2026-3-10"})
    EXPECT_FALSE(parse_date(s)) << s;
}
