// Kazakh identification numbers: IIN (individuals) and BIN (legal entities).
// Pure functions, no I/O, thread-safe.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace aaj::ids {

// True when s is exactly 12 ASCII digits.
bool is_twelve_digits(std::string_view s);

// Computes the mod-11 check digit of the first 11 digits of a 12-digit number (IIN and BIN use
// the same algorithm: weights 1..11, then 3..11,1,2 if the first sum gives 10).
// Returns nullopt when s is not 12 digits or the number can never be valid (both sums give 10).
std::optional<int> check_digit(std::string_view s);

// True when s is 12 digits and its last digit equals check_digit(s).
bool has_valid_check_digit(std::string_view s);

struct IinInfo {
  int birth_year = 0;  // full year, from the century digit
  int birth_month = 0;
  int birth_day = 0;
  bool male = false;
  bool century_unknown = false;  // century digit 0 (foreigners): birth year guessed, sex unknown
};

// Validates an IIN a person typed or a request carried: 12 digits, a real birth date, century
// digit 0..6, and the check digit. Returns nullopt on any failure.
// (Certificates are NOT checked with this: NCA's test certificates fail the check digit, and a
// certificate that passed PKI validation is never refused on the checksum alone.)
std::optional<IinInfo> parse_iin(std::string_view s);

// Validates a BIN: 12 digits, month 01..12 in positions 3-4, type digit 4/5/6, attribute digit
// 0..3, and the check digit.
bool is_valid_bin(std::string_view s);

// A Kazakh mobile number as registered for SMS codes: "+7" and 10 digits.
bool is_kz_phone(std::string_view s);

// Builds a valid IIN from a birth date, sex and a 4-digit serial by choosing the check digit;
// returns nullopt when no check digit exists for that serial (the caller tries the next serial).
std::optional<std::string> make_iin(int year, int month, int day, bool male, int serial);

// Builds a valid BIN from registration year/month, type, attribute and a 5-digit serial.
std::optional<std::string> make_bin(int year, int month, int type, int attribute, int serial);

}  // namespace aaj::ids
