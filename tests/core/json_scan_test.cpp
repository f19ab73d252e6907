// The strict JSON checker: what it accepts, what it refuses, and agreement with nlohmann (every
// text it accepts nlohmann parses to the same value) on hand-written and mutated inputs.
#include "core/json_scan.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

namespace aaj::json_scan {
namespace {

using nlohmann::json;

TEST(JsonScan, AcceptsValidText) {
  for (const char* t :
       {"{}", "[]", "0", "-0", "1.5e+10", "-12.25E-3", "true", "false", "null", "\"\"",
        " { \"a\" : [ 1 , 2 , { \"b\" : null } ] , \"c\" : \"x\" } ", "\"\\u00e9\\n\\/\"",
        "\"\\ud83d\\ude00\"", "\"қазақ тілі\"", "\"😀\"", "[[[[]]]]", "{\"a\":{\"a\":1}}"}) {
    EXPECT_TRUE(validate(t).ok()) << t;
    EXPECT_FALSE(json::parse(t, nullptr, false).is_discarded()) << t;
  }
}

TEST(JsonScan, RefusesInvalidText) {
  for (const char* t : {"",
                        " ",
                        "{",
                        "}",
                        "[1,]",
                        "{\"a\":1,}",
                        "{\"a\" 1}",
                        "{a:1}",
                        "01",
                        "1.",
                        ".5",
                        "-",
                        "1e",
                        "+1",
                        "tru",
                        "nul",
                        "\"abc",
                        "\"\\x\"",
                        "\"\\u12\"",
                        "\"\\ud800\"",
                        "\"\\udc00\"",
                        "\"\\ud800\\u0041\"",
                        "[1] [2]",
                        "{} x",
                        "\"a\nb\"",
                        "{\"a\":1,\"a\":2}",
                        "[{\"k\":1,\"k\":1}]",
                        "NaN",
                        "Infinity",
                        "'a'"})
    EXPECT_FALSE(validate(t).ok()) << t;
}

TEST(JsonScan, RefusesInvalidUtf8) {
  for (std::string t : {std::string("\"\xC0\xAF\""),          // overlong '/'
                        std::string("\"\xE0\x80\xAF\""),      // overlong
                        std::string("\"\xED\xA0\x80\""),      // surrogate D800
                        std::string("\"\xF4\x90\x80\x80\""),  // above U+10FFFF
                        std::string("\"\xF5\x80\x80\x80\""),  // bad lead
                        std::string("\"\x80\""),              // stray continuation
                        std::string("\"\xD0\""),              // truncated
                        std::string("\"\xE2\x82\""),          // truncated
                        std::string("\"\xD0\x41\"")}) {       // bad continuation
    auto r = validate(t);
    ASSERT_FALSE(r.ok()) << t;
    EXPECT_EQ(r.error().code, "invalid_json");
  }
  EXPECT_TRUE(validate("\"\xD0\x9A\xE2\x82\xAC\xF0\x9F\x98\x80\"").ok());  // К € 😀
}

TEST(JsonScan, DepthLimit) {
  std::string ok(32, '['), deep(33, '[');
  ok += std::string(32, ']');
  deep += std::string(33, ']');
  EXPECT_TRUE(validate(ok).ok());
  EXPECT_FALSE(validate(deep).ok());
  EXPECT_TRUE(validate(deep, 40).ok());
  // No recursion: a huge nesting is refused quickly, not by exhausting the stack.
  std::string huge(1 << 20, '[');
  EXPECT_FALSE(validate(huge).ok());
}

TEST(JsonScan, ObjectMembersAreRawText) {
  std::string text = R"( {"result" : "ok", "data":{"iin":"900101300123","n":[1, 2]} ,"e":{}} )";
  auto m = object_members(text);
  ASSERT_TRUE(m.ok()) << m.error().detail;
  ASSERT_EQ(m->size(), 3u);
  EXPECT_EQ((*m)[0].name, "result");
  EXPECT_EQ((*m)[0].value, "\"ok\"");
  EXPECT_EQ((*m)[1].name, "data");
  EXPECT_EQ((*m)[1].value, R"({"iin":"900101300123","n":[1, 2]})");
  EXPECT_EQ((*m)[2].value, "{}");
  ASSERT_NE(find(*m, "data"), nullptr);
  EXPECT_EQ(find(*m, "missing"), nullptr);
  EXPECT_FALSE(object_members("[1]").ok());
  EXPECT_FALSE(object_members("\"x\"").ok());
  // Escaped names are unescaped, and duplicates are caught after unescaping.
  auto e = object_members(R"({"c\u006Ds":"x"})");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ((*e)[0].name, "cms");
  EXPECT_FALSE(object_members(R"({"cms":"x","c\u006ds":"y"})").ok());
}

TEST(JsonScan, StringValue) {
  EXPECT_EQ(*string_value(R"("a\"b\\c\u0041\ud83d\ude00")"), "a\"b\\cA\xF0\x9F\x98\x80");
  EXPECT_FALSE(string_value("\"a").ok());
  EXPECT_FALSE(string_value("\"a\" ").ok());
  EXPECT_FALSE(string_value("1").ok());
}

TEST(JsonScan, ManyMembersStayLinear) {
  std::string t = "{";
  for (int i = 0; i < 20000; ++i) t += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":1";
  t += "}";
  EXPECT_TRUE(validate(t).ok());
  std::string dup = t.substr(0, t.size() - 1) + ",\"k19999\":2}";
  EXPECT_FALSE(validate(dup).ok());
}

// Names are checked per object: the same name in a nested or a sibling object is fine, a repeat
// in the object itself is caught after any number of nested objects, with few or many members.
TEST(JsonScan, NamesAreCheckedPerObject) {
  EXPECT_TRUE(validate(R"({"a":{"a":1,"b":{"a":2}},"b":{"a":3},"c":[{"a":4},{"a":5}]})").ok());
  EXPECT_FALSE(validate(R"({"a":{"b":1,"c":{"d":2}},"a":2})").ok());
  EXPECT_FALSE(validate(R"({"a":{"b":1,"c":{"d":2},"b":3}})").ok());
  EXPECT_FALSE(validate(R"({"x":{"k":1},"\u0078":2})").ok());
  std::string many;
  for (int i = 0; i < 40; ++i) many += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":1";
  // Past the list's size the parent's names move to a set while a child lists its own.
  std::string nested = "{" + many + ",\"child\":{" + many + "}}";
  EXPECT_TRUE(validate(nested).ok());
  EXPECT_FALSE(validate("{" + many + ",\"child\":{" + many + "},\"k7\":2}").ok());
  EXPECT_FALSE(validate("{\"p\":1,\"child\":{" + many + "},\"p\":2}").ok());
  EXPECT_FALSE(validate("{\"child\":{" + many + ",\"k39\":0}}").ok());
}

// The eight-bytes-at-a-time path must stop at every byte that needs a look, wherever it falls.
TEST(JsonScan, EveryOffsetOfTheWideLoop) {
  const std::vector<std::string> specials = {"\"",   "\\n",          "\x01", "\x1f",    "\xD0\x9A",
                                             "\xD0", "\xE2\x82\xAC", "\x80", "\\u0041", "\x7f"};
  for (size_t len = 0; len < 24; ++len)
    for (size_t at = 0; at <= len; ++at)
      for (const auto& sp : specials) {
        std::string inner = std::string(at, 'A') + sp + std::string(len - at, 'z');
        std::string text = "\"" + inner + "\"";
        bool ours = validate(text).ok();
        bool theirs = !json::parse(text, nullptr, false).is_discarded();
        // nlohmann accepts an unescaped quote only as the end of the string: same verdict.
        ASSERT_EQ(ours, theirs) << text;
        if (ours) {
          auto v = string_value(text);
          ASSERT_TRUE(v.ok());
          EXPECT_EQ(*v, json::parse(text).get<std::string>());
          std::string back;
          ASSERT_TRUE(append_string(back, *v));
          EXPECT_EQ(back, json(*v).dump());
        }
      }
}

// Whatever is accepted parses in nlohmann to a value whose members are exactly the scanned ones.
// Numbers nlohmann reads as doubles and refuses when they overflow one: the scanner agrees, in
// both directions.
TEST(JsonScan, NumbersOutOfDoubleRangeAreRefusedLikeNlohmann) {
  const std::string huge_integer = "1" + std::string(400, '0');
  const std::vector<std::pair<std::string, bool>> cases = {
      {"1e400", false},
      {"-1e400", false},
      {"[1.5E+309]", false},
      {"{\"a\":" + huge_integer + "}", false},
      {"1e308", true},
      {"1e-400", true},  // underflows to zero: a number still
      {"123456789012345678901234567890", true},
      {"-9223372036854775808", true},
      {"18446744073709551615", true},
      {"0.1", true}};
  for (const auto& [text, ok] : cases) {
    EXPECT_EQ(validate(text).ok(), ok) << text;
    EXPECT_EQ(json::accept(text), ok) << text << " (nlohmann)";
  }
  auto r = validate("[1, 1e400]");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "invalid_json");
  EXPECT_NE(r.error().detail.find("out of range"), std::string::npos) << r.error().detail;
}

TEST(JsonScan, AgreesWithNlohmannOnMutations) {
  const std::vector<std::string> seeds = {
      R"({"result":"ok","data":{"iin":"900101300123","name":"Әлия","amounts":[1,-2,3.5e2],"x":null,"t":true}})",
      R"([{"a":"\u00e9\n"},[],{},"",0,-0.0,1E5])",
      R"({"cms":"MIIBgQYJKoZIhvcNAQcCoIIBcjCCAW4CAQExDzANBglghkgBZQMEAgEFADAL"})"};
  std::mt19937 rng(42);
  const std::string alphabet = "{}[]\",:\\ u0123456789.eE+-tfnal\x80\xC3\xA9\xF0";
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string t = seeds[i % seeds.size()];
    int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits && !t.empty(); ++e) {
      size_t at = rng() % t.size();
      switch (rng() % 3) {
        case 0:
          t[at] = alphabet[rng() % alphabet.size()];
          break;
        case 1:
          t.erase(at, 1);
          break;
        default:
          t.insert(at, 1, alphabet[rng() % alphabet.size()]);
      }
    }
    if (!validate(t).ok()) continue;
    ++accepted;
    json j = json::parse(t, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << "accepted but nlohmann refuses: " << t;
    if (j.is_object()) {
      auto m = object_members(t);
      ASSERT_TRUE(m.ok());
      ASSERT_EQ(m->size(), j.size()) << t;
      for (const auto& mem : *m) EXPECT_EQ(json::parse(mem.value), j[mem.name]) << t;
    }
  }
  EXPECT_GT(accepted, 100);  // the mutations do exercise the accepting side
}

}  // namespace
}  // namespace aaj::json_scan
