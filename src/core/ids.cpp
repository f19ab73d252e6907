#include "core/ids.h"

#include <cstdio>

namespace aaj::ids {
namespace {

bool is_leap(int y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int days_in_month(int y, int m) {
  static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : d[m - 1];
}

int digit(std::string_view s, size_t i) {
  return s[i] - '0';
}

}  // namespace

bool is_twelve_digits(std::string_view s) {
  if (s.size() != 12) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

std::optional<int> check_digit(std::string_view s) {
  if (!is_twelve_digits(s)) return std::nullopt;
  int sum = 0;
  for (int i = 0; i < 11; ++i) sum += digit(s, i) * (i + 1);
  int a = sum % 11;
  if (a == 10) {
    static const int w[] = {3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2};
    sum = 0;
    for (int i = 0; i < 11; ++i) sum += digit(s, i) * w[i];
    a = sum % 11;
    if (a == 10) return std::nullopt;
  }
  return a;
}

bool has_valid_check_digit(std::string_view s) {
  auto c = check_digit(s);
  return c && *c == digit(s, 11);
}

std::optional<IinInfo> parse_iin(std::string_view s) {
  if (!has_valid_check_digit(s)) return std::nullopt;
  int yy = digit(s, 0) * 10 + digit(s, 1);
  int mm = digit(s, 2) * 10 + digit(s, 3);
  int dd = digit(s, 4) * 10 + digit(s, 5);
  int c = digit(s, 6);
  if (c > 6) return std::nullopt;
  // Century digit 0 is seen on IINs issued to foreigners: century and sex are not encoded.
  int century = c == 0 ? (yy > 30 ? 1900 : 2000) : c <= 2 ? 1800 : (c <= 4 ? 1900 : 2000);
  IinInfo info{century + yy, mm, dd, c % 2 == 1, c == 0};
  if (mm < 1 || mm > 12 || dd < 1 || dd > days_in_month(info.birth_year, mm)) return std::nullopt;
  return info;
}

bool is_valid_bin(std::string_view s) {
  if (!has_valid_check_digit(s)) return false;
  int mm = digit(s, 2) * 10 + digit(s, 3);
  int type = digit(s, 4), attr = digit(s, 5);
  return mm >= 1 && mm <= 12 && type >= 4 && type <= 6 && attr <= 3;
}

bool is_kz_phone(std::string_view s) {
  if (s.size() != 12 || s.substr(0, 2) != "+7") return false;
  for (char c : s.substr(1))
    if (c < '0' || c > '9') return false;
  return true;
}

std::optional<std::string> make_iin(int year, int month, int day, bool male, int serial) {
  int c = year < 1900 ? 1 : (year < 2000 ? 3 : 5);
  if (!male) ++c;
  char buf[16];
  std::snprintf(buf, sizeof buf, "%02d%02d%02d%d%04d0", year % 100, month, day, c, serial % 10000);
  std::string s(buf, 12);
  auto cd = check_digit(s);
  if (!cd) return std::nullopt;
  s[11] = static_cast<char>('0' + *cd);
  return s;
}

std::optional<std::string> make_bin(int year, int month, int type, int attribute, int serial) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%02d%02d%d%d%05d0", year % 100, month, type, attribute,
                serial % 100000);
  std::string s(buf, 12);
  auto cd = check_digit(s);
  if (!cd) return std::nullopt;
  s[11] = static_cast<char>('0' + *cd);
  return s;
}

}  // namespace aaj::ids
