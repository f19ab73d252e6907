// Instants are recorded in UTC and rendered in Astana time with an explicit offset, from the tz
// database (zone Asia/Almaty: +06:00 until 1 March 2024, +05:00 since). No I/O except loading the
// zone file once.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace aaj::time {

using Clock = std::chrono::system_clock;
using Instant = std::chrono::time_point<Clock, std::chrono::microseconds>;

Instant now();

// Microseconds since the Unix epoch and back.
int64_t to_micros(Instant t);
Instant from_micros(int64_t us);

// "2026-11-22T11:50:45.123456Z". Thread-safe.
std::string format_utc(Instant t);

// Loads the Astana zone (TZif file Asia/Almaty under $TZDIR or /usr/share/zoneinfo) once.
// Returns an error when the tz database is missing or unreadable: callers that must render
// Astana time fail closed. Thread-safe.
Status load_astana_zone();

// UTC offset of Astana time at instant t, in seconds (21600 before 2024-03-01, 18000 after).
// Requires load_astana_zone() to have succeeded (it is called on first use; on failure this
// aborts the process, because recording a wrong time is worse than stopping).
int astana_offset_seconds(Instant t);

// "2026-11-22T16:50:45.123+05:00" (milliseconds). Thread-safe.
std::string format_astana(Instant t);

// Parses ISO 8601 / RFC 3339 date-times: "YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)". A bare date
// "YYYY-MM-DD" or a date-time without an offset is read as Astana local time (the regulation's
// time). Returns nullopt on malformed input.
std::optional<Instant> parse_iso8601(std::string_view s);

// Days since 1970-01-01 of a civil date, and back (proleptic Gregorian).
int64_t days_from_civil(int y, unsigned m, unsigned d);
void civil_from_days(int64_t z, int& y, unsigned& m, unsigned& d);

// The Astana calendar date of t as days since the epoch (for policy effective dates).
int64_t astana_day(Instant t);
// The Astana calendar year of t.
int astana_year(Instant t);

// Parses "YYYY-MM-DD" (exactly: ten characters, digits and two dashes) into days since the epoch;
// nullopt when malformed or not a real date.
std::optional<int64_t> parse_date(std::string_view s);
std::string format_date(int64_t days);

}  // namespace aaj::time
