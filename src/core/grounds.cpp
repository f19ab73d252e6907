#include "core/grounds.h"

#include <array>
#include <cstdint>
#include <string>

namespace aaj::grounds {
namespace {

constexpr std::array<std::string_view, 7> kTypes = {
    "criminal_case",          "admin_case_court", "admin_offence_case",  "civil_case_court",
    "enforcement_proceeding", "search_case",      "financial_monitoring"};

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool all_digits(std::string_view s) {
  for (char c : s)
    if (!is_digit(c)) return false;
  return !s.empty();
}

// Counts a run of lower-case letters (ASCII or any 2-byte UTF-8 letter such as Cyrillic "а") from
// position i; returns the number of letters and advances i.
int letters(std::string_view s, size_t& i) {
  int n = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 'a' && c <= 'z') {
      ++i;
    } else if ((c == 0xD0 || c == 0xD1 || c == 0xD2 || c == 0xD3) && i + 1 < s.size()) {
      i += 2;
    } else {
      break;
    }
    ++n;
  }
  return n;
}

// Court case numbers: "CCCC-YY-00-K/N" (e.g. 7585-24-00-2/101, 3599-24-00-2а/2151), or the older
// short form "K-N/YYYY" (e.g. 2-1234/2023).
bool is_court_case_number(std::string_view s) {
  size_t i = 0;
  auto digits = [&](size_t min, size_t max) {
    size_t start = i;
    while (i < s.size() && is_digit(s[i]) && i - start < max) ++i;
    return i - start >= min && (i >= s.size() || !is_digit(s[i]));
  };
  auto lit = [&](char c) { return i < s.size() && s[i++] == c; };
  // Long form.
  if (digits(4, 4) && lit('-') && digits(2, 2) && lit('-') && digits(2, 2) && lit('-') &&
      digits(1, 1)) {
    if (letters(s, i) <= 3 && lit('/') && digits(1, 10) && i == s.size()) return true;
  }
  // Short form.
  i = 0;
  if (digits(1, 2) && letters(s, i) <= 3 && lit('-') && digits(1, 10) && lit('/') && digits(4, 4) &&
      i == s.size())
    return true;
  return false;
}

bool is_plain_number(std::string_view s) {
  if (s.empty() || s.size() > 32) return false;
  for (char c : s)
    if (!(is_digit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '-' || c == '/' ||
          c == '.'))
      return false;
  return true;
}

Error invalid(const std::string& detail) {
  return Error{"invalid_ground", detail};
}

// The year embedded in a court case number: "7585-24-00-2/101" → 24 (two digits, yy_only),
// "2-1234/2023" → 2023.
int embedded_year(std::string_view s, bool* yy_only) {
  if (s.size() > 7 && s[4] == '-' && is_digit(s[5]) && is_digit(s[6])) {
    *yy_only = true;
    return (s[5] - '0') * 10 + (s[6] - '0');
  }
  *yy_only = false;
  return std::stoi(std::string(s.substr(s.size() - 4)));
}

Status validate_court_details(const nlohmann::json& g, const std::string& number,
                              int current_year) {
  if (!g.contains("year")) return invalid("ground.year is required");
  int64_t year = 0;
  if (g["year"].is_number_integer()) {
    year = g["year"].get<int64_t>();  // 64-bit: 2^32 + 2016 must not wrap to 2016
  } else if (g["year"].is_string() && g["year"].get<std::string>().size() == 4 &&
             all_digits(g["year"].get<std::string>())) {
    year = std::stoll(g["year"].get<std::string>());
  } else {
    return invalid("ground.year must be a four-digit year");
  }
  if (year < 1991 || year > current_year)
    return invalid("ground.year must be between 1991 and " + std::to_string(current_year));
  bool yy_only = false;
  int in_number = embedded_year(number, &yy_only);
  if (yy_only ? in_number != year % 100 : in_number != year)
    return invalid("ground.year " + std::to_string(year) +
                   " does not match the year in the case number " + number);
  if (!g.contains("court")) return invalid("ground.court is required");
  if (!g["court"].is_string()) return invalid("ground.court must be a string");
  const auto court = g["court"].get<std::string>();
  if (court.size() < 2 || court.size() > 300)
    return invalid("ground.court must name the court (2-300 characters)");
  return {};
}

}  // namespace

bool is_known_type(std::string_view type) {
  for (auto t : kTypes)
    if (t == type) return true;
  return false;
}

Status validate(const nlohmann::json& g, int current_year, const Options& options) {
  if (!g.is_object()) return Error{"unknown_ground", "ground must be an object"};
  if (!g.contains("type") || !g["type"].is_string())
    return Error{"unknown_ground", "ground.type is required"};
  const std::string type = g["type"].get<std::string>();
  if (!is_known_type(type)) return Error{"unknown_ground", "unknown ground type " + type};
  if (!g.contains("number")) return invalid("ground.number is required");
  if (!g["number"].is_string()) return invalid("ground.number must be a string");
  const std::string number = g["number"].get<std::string>();

  if (type == "criminal_case") {
    if (options.court_numbers_for_criminal && is_court_case_number(number))
      return validate_court_details(g, number, current_year);
    // ERDR: exactly 15 digits. Its inner structure (a year prefix is commonly believed) is not
    // confirmed, so it is not enforced: the case register, when configured, is the authority.
    if (number.size() != 15 || !all_digits(number))
      return invalid(options.court_numbers_for_criminal
                         ? "ground.number must be the 15-digit ERDR number or a court case number"
                         : "ground.number must be the 15-digit ERDR number");
    return {};
  }
  if (type == "admin_case_court" || type == "civil_case_court") {
    if (!is_court_case_number(number))
      return invalid("ground.number must be a court case number such as 7585-24-00-2/101");
    return validate_court_details(g, number, current_year);
  }
  if (!is_plain_number(number))
    return invalid("ground.number must be 1-32 letters, digits, '-', '/' or '.'");
  return {};
}

}  // namespace aaj::grounds
