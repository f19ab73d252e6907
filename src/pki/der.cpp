#include "pki/der.h"

namespace aaj::pki::der {

bool Reader::next(Tlv& out) {
  const size_t n = data_.size();
  size_t p = pos_;
  if (p >= n) return false;
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(data_[i]); };
  uint8_t tag = byte(p++);
  if ((tag & 0x1f) == 0x1f) return false;  // high-tag-number form: not used by CMS
  if (p >= n) return false;
  uint8_t first = byte(p++);
  size_t len = 0;
  if (first < 0x80) {
    len = first;
  } else {
    size_t count = first & 0x7f;
    // 0x80 is BER's indefinite length; more than 4 length octets is never needed here.
    if (count == 0 || count > 4 || n - p < count) return false;
    if (byte(p) == 0) return false;  // leading zero: not minimal
    for (size_t i = 0; i < count; ++i) len = (len << 8) | byte(p + i);
    p += count;
    if (len < 0x80) return false;  // fits the short form: not minimal
  }
  if (n - p < len) return false;
  out.tag = tag;
  out.all = data_.substr(pos_, p + len - pos_);
  out.value = data_.substr(p, len);
  pos_ = p + len;
  return true;
}

bool Reader::next(uint8_t tag, Tlv& out) {
  Reader probe = *this;
  Tlv t;
  if (!probe.next(t) || t.tag != tag) return false;
  *this = probe;
  out = t;
  return true;
}

bool Reader::next_if(uint8_t tag, Tlv& out, bool& ok) {
  if (empty()) return false;
  if (static_cast<uint8_t>(data_[pos_]) != tag) return false;
  if (!next(out)) {
    ok = false;
    return false;
  }
  return true;
}

bool parse_single(std::string_view data, Tlv& out) {
  Reader r(data);
  return r.next(out) && r.empty();
}

bool valid_oid(std::string_view c) {
  if (c.empty() || (static_cast<uint8_t>(c.back()) & 0x80) != 0) return false;
  bool at_start = true;
  for (char ch : c) {
    auto b = static_cast<uint8_t>(ch);
    if (at_start && b == 0x80) return false;
    at_start = (b & 0x80) == 0;
  }
  return true;
}

bool minimal_integer(std::string_view c) {
  if (c.empty()) return false;
  if (c.size() == 1) return true;
  auto b0 = static_cast<uint8_t>(c[0]);
  auto b1 = static_cast<uint8_t>(c[1]);
  if (b0 == 0x00 && (b1 & 0x80) == 0) return false;
  if (b0 == 0xff && (b1 & 0x80) != 0) return false;
  return true;
}

bool strict_time(uint8_t tag, std::string_view c) {
  size_t want = tag == kUtcTime ? 13 : tag == kGeneralizedTime ? 15 : 0;
  if (want == 0 || c.size() != want || c.back() != 'Z') return false;
  for (size_t i = 0; i + 1 < c.size(); ++i)
    if (c[i] < '0' || c[i] > '9') return false;
  return true;
}

}  // namespace aaj::pki::der
