#include "core/time.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <mutex>
#include <vector>

namespace aaj::time {
namespace {

struct Zone {
  std::vector<int64_t> transitions;      // UTC seconds, ascending
  std::vector<int32_t> offsets;          // offset in force from transitions[i]
  int32_t initial_offset = 0;            // before the first transition
  std::optional<int32_t> footer_offset;  // fixed offset after the last transition (no DST)
};

Zone g_zone;
std::once_flag g_once;
Status g_status = Error{"tz_unavailable", "not loaded"};

uint32_t be32(const unsigned char* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
}
int64_t be64(const unsigned char* p) {
  return static_cast<int64_t>((uint64_t(be32(p)) << 32) | be32(p + 4));
}

// Parses a POSIX TZ footer without DST, e.g. "<+05>-5" or "ALMT-6". Returns the UTC offset.
std::optional<int32_t> parse_footer(const std::string& s) {
  size_t i = 0;
  if (i < s.size() && s[i] == '<') {
    while (i < s.size() && s[i] != '>') ++i;
    ++i;
  } else {
    while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i]))) ++i;
  }
  if (i >= s.size()) return std::nullopt;
  int sign = 1;
  if (s[i] == '-' || s[i] == '+') sign = s[i++] == '-' ? -1 : 1;
  int h = 0, m = 0, sec = 0;
  if (std::sscanf(s.c_str() + i, "%d:%d:%d", &h, &m, &sec) < 1) return std::nullopt;
  // A DST rule would follow a second name; Asia/Almaty has none. Refuse anything richer.
  for (size_t j = i; j < s.size(); ++j)
    if (std::isalpha(static_cast<unsigned char>(s[j])) || s[j] == '<' || s[j] == ',')
      return std::nullopt;
  // POSIX offsets are west-positive: "-5" means UTC+5.
  return static_cast<int32_t>(-sign * (h * 3600 + m * 60 + sec));
}

Status load_zone_file(const std::string& path, Zone& z) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{"tz_unavailable", "cannot open " + path};
  std::vector<unsigned char> b((std::istreambuf_iterator<char>(in)), {});
  auto header = [&](size_t off, size_t* c) -> bool {
    if (b.size() < off + 44 || b[off] != 'T' || b[off + 1] != 'Z' || b[off + 2] != 'i' ||
        b[off + 3] != 'f')
      return false;
    for (size_t k = 0; k < 6; ++k) c[k] = be32(&b[off + 20 + 4 * k]);
    return true;
  };
  // counts: isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt (size_t: no 32-bit overflow
  // in the size checks below, whatever the file claims)
  size_t c[6];
  if (!header(0, c)) return Error{"tz_unavailable", "not a TZif file: " + path};
  if (b[4] < '2') return Error{"tz_unavailable", "TZif version 1 not supported: " + path};
  size_t v1 = 44 + c[3] * 5 + c[4] * 6 + c[5] + c[2] * 8 + c[1] + c[0];
  size_t off = v1;
  if (!header(off, c)) return Error{"tz_unavailable", "bad v2 header: " + path};
  size_t p = off + 44;
  size_t need = p + c[3] * 9 + c[4] * 6 + c[5] + c[2] * 12 + c[1] + c[0];
  if (b.size() < need) return Error{"tz_unavailable", "truncated TZif: " + path};
  std::vector<int64_t> tt(c[3]);
  for (size_t k = 0; k < c[3]; ++k) tt[k] = be64(&b[p + 8 * k]);
  p += 8 * c[3];
  std::vector<uint8_t> idx(b.begin() + static_cast<std::ptrdiff_t>(p),
                           b.begin() + static_cast<std::ptrdiff_t>(p + c[3]));
  p += c[3];
  std::vector<int32_t> utoff(c[4]);
  for (size_t k = 0; k < c[4]; ++k) utoff[k] = static_cast<int32_t>(be32(&b[p + 6 * k]));
  p = need;
  z.transitions = tt;
  z.offsets.clear();
  for (uint8_t i : idx) {
    if (i >= utoff.size()) return Error{"tz_unavailable", "bad type index: " + path};
    z.offsets.push_back(utoff[i]);
  }
  z.initial_offset = utoff.empty() ? 0 : utoff[0];
  if (p < b.size() && b[p] == '\n') {
    size_t e = p + 1;
    while (e < b.size() && b[e] != '\n') ++e;
    z.footer_offset = parse_footer(std::string(b.begin() + static_cast<std::ptrdiff_t>(p + 1),
                                               b.begin() + static_cast<std::ptrdiff_t>(e)));
  }
  if (z.transitions.empty() && !z.footer_offset)
    return Error{"tz_unavailable", "zone has no data: " + path};
  return {};
}

int64_t floor_div(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

}  // namespace

Instant now() {
  return std::chrono::time_point_cast<std::chrono::microseconds>(Clock::now());
}
int64_t to_micros(Instant t) {
  return t.time_since_epoch().count();
}
Instant from_micros(int64_t us) {
  return Instant(std::chrono::microseconds(us));
}

int64_t days_from_civil(int y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void civil_from_days(int64_t z, int& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<int>(yoe + era * 400 + (m <= 2));
}

Status load_astana_zone() {
  std::call_once(g_once, [] {
    const char* dir = std::getenv("TZDIR");
    std::string base = dir && *dir ? dir : "/usr/share/zoneinfo";
    Zone z;
    g_status = load_zone_file(base + "/Asia/Almaty", z);
    if (g_status.ok()) g_zone = std::move(z);
  });
  return g_status;
}

int astana_offset_seconds(Instant t) {
  if (!load_astana_zone().ok()) {
    std::fprintf(stderr, "fatal: tz database unavailable: %s\n",
                 load_astana_zone().error().detail.c_str());
    std::abort();
  }
  int64_t s = floor_div(to_micros(t), 1000000);
  const auto& tr = g_zone.transitions;
  auto it = std::upper_bound(tr.begin(), tr.end(), s);
  if (it == tr.begin()) return g_zone.initial_offset;
  if (it == tr.end() && g_zone.footer_offset) return *g_zone.footer_offset;
  return g_zone.offsets[static_cast<size_t>(it - tr.begin() - 1)];
}

namespace {
std::string format_with_offset(Instant t, int offset, int frac_digits) {
  int64_t us = to_micros(t) + int64_t{offset} * 1000000;
  int64_t secs = floor_div(us, 1000000);
  int64_t frac = us - secs * 1000000;
  int64_t days = floor_div(secs, 86400);
  int64_t sod = secs - days * 86400;
  int y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  char buf[64];
  int n = std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d", y, m, d, int(sod / 3600),
                        int(sod / 60 % 60), int(sod % 60));
  std::string out(buf, n);
  if (frac_digits == 6) {
    n = std::snprintf(buf, sizeof buf, ".%06lld", static_cast<long long>(frac));
  } else {
    n = std::snprintf(buf, sizeof buf, ".%03lld", static_cast<long long>(frac / 1000));
  }
  out.append(buf, n);
  if (offset == 0 && frac_digits == 6) return out + "Z";
  int a = offset < 0 ? -offset : offset;
  n = std::snprintf(buf, sizeof buf, "%c%02d:%02d", offset < 0 ? '-' : '+', a / 3600, a / 60 % 60);
  return out.append(buf, n);
}
}  // namespace

std::string format_utc(Instant t) {
  return format_with_offset(t, 0, 6);
}
std::string format_astana(Instant t) {
  return format_with_offset(t, astana_offset_seconds(t), 3);
}

int64_t astana_day(Instant t) {
  int64_t s = floor_div(to_micros(t), 1000000) + astana_offset_seconds(t);
  return floor_div(s, 86400);
}

int astana_year(Instant t) {
  int y;
  unsigned m, d;
  civil_from_days(astana_day(t), y, m, d);
  return y;
}

std::optional<int64_t> parse_date(std::string_view s) {
  // Exactly digits and two dashes (sscanf would also take "2026- 3-10" or "+026-03-10").
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
  for (size_t i = 0; i < s.size(); ++i)
    if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9')) return std::nullopt;
  auto digits = [&s](size_t at, size_t n) {
    unsigned v = 0;
    for (size_t i = at; i < at + n; ++i) v = v * 10 + static_cast<unsigned>(s[i] - '0');
    return v;
  };
  const int y = static_cast<int>(digits(0, 4));
  const unsigned m = digits(5, 2), d = digits(8, 2);
  if (m < 1 || m > 12 || d < 1 || d > 31) return std::nullopt;
  int64_t days = days_from_civil(y, m, d);
  int y2;
  unsigned m2, d2;
  civil_from_days(days, y2, m2, d2);
  if (y2 != y || m2 != m || d2 != d) return std::nullopt;
  return days;
}

std::string format_date(int64_t days) {
  int y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", y, m, d);
  return buf;
}

std::optional<Instant> parse_iso8601(std::string_view s) {
  auto date = parse_date(s.substr(0, std::min<size_t>(10, s.size())));
  if (!date) return std::nullopt;
  if (s.size() == 10) {
    int64_t local = *date * int64_t{86400};
    // Midnight Astana: offset found from the instant itself (offsets change by at most 1 h).
    Instant guess = from_micros((local - int64_t{21600}) * 1000000);
    return from_micros((local - astana_offset_seconds(guess)) * 1000000);
  }
  if (s.size() < 19 || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' ||
      s[16] != ':')
    return std::nullopt;
  auto num = [&](size_t at, size_t len, int& out) {
    out = 0;
    for (size_t i = at; i < at + len; ++i) {
      if (i >= s.size() || s[i] < '0' || s[i] > '9') return false;
      out = out * 10 + (s[i] - '0');
    }
    return true;
  };
  int hh, mi, ss;
  if (!num(11, 2, hh) || !num(14, 2, mi) || !num(17, 2, ss) || hh > 23 || mi > 59 || ss > 60)
    return std::nullopt;
  size_t p = 19;
  int64_t frac_us = 0;
  if (p < s.size() && (s[p] == '.' || s[p] == ',')) {
    ++p;
    int digits = 0;
    while (p < s.size() && s[p] >= '0' && s[p] <= '9') {
      if (digits < 6) frac_us = frac_us * 10 + (s[p] - '0'), ++digits;
      ++p;
    }
    if (digits == 0) return std::nullopt;
    while (digits++ < 6) frac_us *= 10;
  }
  int64_t local = *date * int64_t{86400} + int64_t{hh} * 3600 + int64_t{mi} * 60 + std::min(ss, 59);
  if (p == s.size()) {
    Instant guess = from_micros((local - int64_t{21600}) * 1000000);
    return from_micros((local - astana_offset_seconds(guess)) * 1000000 + frac_us);
  }
  if (s[p] == 'Z' || s[p] == 'z') {
    if (p + 1 != s.size()) return std::nullopt;
    return from_micros(local * 1000000 + frac_us);
  }
  if (s[p] != '+' && s[p] != '-') return std::nullopt;
  int sign = s[p] == '-' ? -1 : 1;
  int oh, om;
  if (s.size() == p + 6 && s[p + 3] == ':') {
    if (!num(p + 1, 2, oh) || !num(p + 4, 2, om)) return std::nullopt;
  } else if (s.size() == p + 5) {
    if (!num(p + 1, 2, oh) || !num(p + 3, 2, om)) return std::nullopt;
  } else if (s.size() == p + 3) {
    if (!num(p + 1, 2, oh)) return std::nullopt;
    om = 0;
  } else {
    return std::nullopt;
  }
  if (oh > 23 || om > 59) return std::nullopt;
  return from_micros((local - int64_t{sign} * (oh * 3600 + om * 60)) * 1000000 + frac_us);
}

}  // namespace aaj::time
