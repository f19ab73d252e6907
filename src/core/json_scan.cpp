#include "core/json_scan.h"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <unordered_set>
#include <utility>

namespace aaj::json_scan {
namespace {

bool is_ws(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Bytes a string may hold as they are: printable ASCII other than '"' and '\\'.
struct PlainTable {
  bool v[256];
  constexpr PlainTable() : v{} {
    for (int c = 0x20; c < 0x80; ++c) v[c] = c != '"' && c != '\\';
  }
};
constexpr PlainTable kPlain;

// Length of the UTF-8 sequence at p (its lead byte >= 0x80) per RFC 3629, or 0 if invalid: no
// overlong forms, no surrogates, nothing above U+10FFFF.
size_t utf8_sequence_length(const unsigned char* p, size_t avail) {
  unsigned char b0 = p[0];
  size_t n;
  unsigned char lo = 0x80, hi = 0xBF;  // bounds of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (n > avail) return 0;
  if (p[1] < lo || p[1] > hi) return 0;
  for (size_t i = 2; i < n; ++i)
    if (p[i] < 0x80 || p[i] > 0xBF) return 0;
  return n;
}

// The first position at or after p that is not plain (see kPlain) or a well-formed two-byte UTF-8
// sequence (Cyrillic and Kazakh letters). Eight bytes at a time while they are all plain ASCII
// (a request's base64 CMS is thousands of them), a byte or a letter at a time otherwise.
size_t skip_plain(const unsigned char* b, size_t p, size_t n) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL, kHigh = 0x8080808080808080ULL;
  auto has_less = [](uint64_t x, uint64_t c) { return (x - kOnes * c) & ~x & kHigh; };
  auto has_byte = [&](uint64_t x, uint64_t c) { return has_less(x ^ (kOnes * c), 1); };
  while (p < n) {
    if (p + 8 <= n) {
      uint64_t x;
      std::memcpy(&x, b + p, 8);
      // All ASCII, none below 0x20, no '"', no '\\': exact for ASCII bytes.
      if (!((x & kHigh) || has_less(x, 0x20) || has_byte(x, '"') || has_byte(x, '\\'))) {
        p += 8;
        continue;
      }
    }
    // The special byte is within the word just checked (or the tail is short): plain bytes one
    // by one up to it, so a short string costs no further word checks.
    while (p < n && kPlain.v[b[p]]) ++p;
    if (p >= n) break;
    const unsigned char c = b[p];
    if (c >= 0xC2 && c <= 0xDF && p + 1 < n && (b[p + 1] & 0xC0) == 0x80) {
      p += 2;
    } else {
      break;
    }
  }
  return p;
}

class Scanner {
 public:
  Scanner(std::string_view text, int max_depth) : t_(text), max_depth_(max_depth) {}

  // Scans the whole text. With `members`, the top level must be an object and its members are
  // collected.
  Status run(std::vector<Member>* members) {
    skip_ws();
    if (members && (p_ >= t_.size() || t_[p_] != '{')) return fail("expected an object");
    size_t member_start = 0;
    std::string member_name;
    for (;;) {
      // ---- a value is expected at p_ ----
      skip_ws();
      if (p_ >= t_.size()) return fail("unexpected end");
      char c = t_[p_];
      bool scalar = true;
      if (c == '{' || c == '[') {
        if (static_cast<int>(stack_.size()) >= max_depth_)
          return fail("nested deeper than " + std::to_string(max_depth_));
        ++p_;
        push_frame(c == '{');
        skip_ws();
        if (p_ < t_.size() && t_[p_] == (c == '{' ? '}' : ']')) {
          ++p_;
          pop_frame();
        } else if (c == '{') {
          if (Status s = member_key(members, member_name, member_start); !s) return s;
          continue;
        } else {
          continue;
        }
        scalar = false;
      }
      if (scalar) {
        Status s;
        if (c == '"')
          s = string(nullptr);
        else if (c == 't')
          s = literal("true");
        else if (c == 'f')
          s = literal("false");
        else if (c == 'n')
          s = literal("null");
        else if (c == '-' || (c >= '0' && c <= '9'))
          s = number();
        else
          s = fail("unexpected character");
        if (!s) return s;
      }
      // ---- after a complete value: close containers, or go on to the next element ----
      for (;;) {
        if (members && stack_.size() == 1)
          members->push_back(
              Member{std::exchange(member_name, {}), t_.substr(member_start, p_ - member_start)});
        if (stack_.empty()) {
          skip_ws();
          if (p_ != t_.size()) return fail("text after the value");
          return {};
        }
        skip_ws();
        if (p_ >= t_.size()) return fail("unexpected end");
        Frame& top = stack_.back();
        char d = t_[p_];
        if (d == ',') {
          ++p_;
          if (top.object) {
            skip_ws();
            if (Status s = member_key(members, member_name, member_start); !s) return s;
          }
          break;  // the next value
        }
        if (d == (top.object ? '}' : ']')) {
          ++p_;
          pop_frame();
          continue;  // the container was a complete value
        }
        return fail(top.object ? "expected , or }" : "expected , or ]");
      }
    }
  }

  // Decodes the string token at p_ (which must be '"'), into *out when given.
  Status string(std::string* out) {
    ++p_;  // the opening quote
    size_t run_start = p_;
    const size_t n = t_.size();
    const auto* bytes = reinterpret_cast<const unsigned char*>(t_.data());
    for (;;) {
      p_ = skip_plain(bytes, p_, n);
      if (p_ >= n) return fail("unterminated string");
      auto b = bytes[p_];
      if (b == '"') {
        if (out) out->append(t_.substr(run_start, p_ - run_start));
        ++p_;
        return {};
      }
      if (b < 0x20) return fail("control character in a string");
      if (b == '\\') {
        if (out) out->append(t_.substr(run_start, p_ - run_start));
        if (Status s = escape(out); !s) return s;
        run_start = p_;
        continue;
      }
      if (b < 0x80) {
        ++p_;
        continue;
      }
      if (Status s = utf8_sequence(); !s) return s;
    }
  }

  size_t pos() const { return p_; }

 private:
  // Member names of the objects being scanned are views (into the text, or into owned_ for names
  // with escapes) on one stack shared by all frames: an object's names are the top of it while
  // its members are read, and go when it closes. A short list is compared in place; an object
  // with many members gets a hash set (so a hostile answer cannot make the check quadratic).
  struct Frame {
    bool object;
    size_t names_begin;
    std::unique_ptr<std::unordered_set<std::string_view>> many;
  };

  bool insert_name(Frame& f, std::string_view name) {
    if (f.many) return f.many->insert(name).second;
    for (size_t i = f.names_begin; i < names_.size(); ++i)
      if (names_[i] == name) return false;
    names_.push_back(name);
    if (names_.size() - f.names_begin > 32) {
      f.many = std::make_unique<std::unordered_set<std::string_view>>(
          names_.begin() + static_cast<std::ptrdiff_t>(f.names_begin), names_.end());
      names_.resize(f.names_begin);
    }
    return true;
  }

  void push_frame(bool object) { stack_.push_back(Frame{object, names_.size(), nullptr}); }
  void pop_frame() {
    names_.resize(stack_.back().names_begin);
    stack_.pop_back();
  }

  Error fail(const std::string& what) const {
    return Error{"invalid_json", what + " at byte " + std::to_string(p_)};
  }

  void skip_ws() {
    while (p_ < t_.size() && is_ws(t_[p_])) ++p_;
  }

  // At a member name (after '{' or ','): the name, the colon; records where the value starts.
  Status member_key(std::vector<Member>* members, std::string& name, size_t& value_start) {
    if (p_ >= t_.size() || t_[p_] != '"') return fail("expected a member name");
    const size_t start = p_;
    if (Status s = string(nullptr); !s) return s;
    // The text itself when the name has no escapes (the common case: nothing to copy); else it
    // is decoded once more and kept.
    std::string_view key = t_.substr(start + 1, p_ - start - 2);
    if (key.find('\\') != std::string_view::npos) {
      const size_t end = p_;
      p_ = start;
      std::string decoded;
      if (Status s = string(&decoded); !s) return s;
      p_ = end;
      key = owned_.emplace_back(std::move(decoded));
    }
    if (!insert_name(stack_.back(), key))
      return fail("duplicate member \"" + std::string(key) + "\"");
    skip_ws();
    if (p_ >= t_.size() || t_[p_] != ':') return fail("expected :");
    ++p_;
    skip_ws();
    if (members && stack_.size() == 1) {
      name.assign(key);
      value_start = p_;
    }
    return {};
  }

  Status literal(std::string_view word) {
    if (t_.substr(p_, word.size()) != word) return fail("unexpected character");
    p_ += word.size();
    return {};
  }

  Status number() {
    auto digit = [&] { return p_ < t_.size() && t_[p_] >= '0' && t_[p_] <= '9'; };
    const size_t start = p_;
    bool exact_integer = true;  // within 64 bits for certain: no fraction, no exponent, 18 digits
    if (t_[p_] == '-') ++p_;
    if (!digit()) return fail("bad number");
    if (t_[p_] == '0') {
      ++p_;
    } else {
      while (digit()) ++p_;
    }
    if (p_ - start > 18) exact_integer = false;
    if (p_ < t_.size() && t_[p_] == '.') {
      exact_integer = false;
      ++p_;
      if (!digit()) return fail("bad number");
      while (digit()) ++p_;
    }
    if (p_ < t_.size() && (t_[p_] == 'e' || t_[p_] == 'E')) {
      exact_integer = false;
      ++p_;
      if (p_ < t_.size() && (t_[p_] == '+' || t_[p_] == '-')) ++p_;
      if (!digit()) return fail("bad number");
      while (digit()) ++p_;
    }
    // nlohmann reads what is not a 64-bit integer as a double and refuses what overflows one
    // (1e400, a 400-digit integer): so does this, or text passing here would not parse there.
    if (!exact_integer) {
      const std::string text(t_.substr(start, p_ - start));
      if (!std::isfinite(std::strtod(text.c_str(), nullptr))) {
        p_ = start;
        return fail("number out of range");
      }
    }
    return {};
  }

  Result<uint32_t> hex4() {
    if (p_ + 4 > t_.size()) return fail("bad \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      int d = hex_digit(t_[p_ + i]);
      if (d < 0) return fail("bad \\u escape");
      v = v * 16 + static_cast<uint32_t>(d);
    }
    p_ += 4;
    return v;
  }

  // At a backslash.
  Status escape(std::string* out) {
    ++p_;
    if (p_ >= t_.size()) return fail("unterminated string");
    char e = t_[p_++];
    char plain = 0;
    switch (e) {
      case '"':
        plain = '"';
        break;
      case '\\':
        plain = '\\';
        break;
      case '/':
        plain = '/';
        break;
      case 'b':
        plain = '\b';
        break;
      case 'f':
        plain = '\f';
        break;
      case 'n':
        plain = '\n';
        break;
      case 'r':
        plain = '\r';
        break;
      case 't':
        plain = '\t';
        break;
      case 'u': {
        auto hi = hex4();
        if (!hi) return hi.error();
        uint32_t cp = *hi;
        if (cp >= 0xDC00 && cp <= 0xDFFF) return fail("lone low surrogate");
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          if (p_ + 2 > t_.size() || t_[p_] != '\\' || t_[p_ + 1] != 'u')
            return fail("lone high surrogate");
          p_ += 2;
          auto lo = hex4();
          if (!lo) return lo.error();
          if (*lo < 0xDC00 || *lo > 0xDFFF) return fail("lone high surrogate");
          cp = 0x10000 + ((cp - 0xD800) << 10) + (*lo - 0xDC00);
        }
        if (out) append_utf8(*out, cp);
        return {};
      }
      default:
        return fail("bad escape");
    }
    if (out) *out += plain;
    return {};
  }

  // One multi-byte UTF-8 sequence at p_ (its lead byte is >= 0x80).
  Status utf8_sequence() {
    size_t n = utf8_sequence_length(reinterpret_cast<const unsigned char*>(t_.data()) + p_,
                                    t_.size() - p_);
    if (n == 0) return fail("invalid UTF-8");
    p_ += n;
    return {};
  }

  std::string_view t_;
  int max_depth_;
  size_t p_ = 0;
  std::vector<Frame> stack_;
  std::vector<std::string_view> names_;  // see Frame
  std::deque<std::string> owned_;        // names that had escapes (stable addresses)
};

}  // namespace

Status validate(std::string_view text, int max_depth) {
  return Scanner(text, max_depth).run(nullptr);
}

Result<std::vector<Member>> object_members(std::string_view text, int max_depth) {
  std::vector<Member> out;
  if (Status s = Scanner(text, max_depth).run(&out); !s) return s.error();
  return out;
}

bool append_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  const auto* b = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  out.reserve(out.size() + n + 2);
  out += '"';
  size_t i = 0;
  while (i < n) {
    size_t run = skip_plain(b, i, n);
    out.append(s.data() + i, run - i);
    i = run;
    if (i >= n) break;
    unsigned char c = b[i];
    if (c >= 0x80) {
      size_t len = utf8_sequence_length(b + i, n - i);
      if (len == 0) return false;
      out.append(s.data() + i, len);
      i += len;
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:  // other control characters
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 15];
    }
    ++i;
  }
  out += '"';
  return true;
}

const Member* find(const std::vector<Member>& members, std::string_view name) {
  for (const auto& m : members)
    if (m.name == name) return &m;
  return nullptr;
}

Result<std::string> string_value(std::string_view token) {
  if (token.empty() || token.front() != '"') return Error{"invalid_json", "not a string"};
  Scanner s(token, 1);
  std::string out;
  if (Status st = s.string(&out); !st) return st.error();
  if (s.pos() != token.size()) return Error{"invalid_json", "text after the string"};
  return out;
}

}  // namespace aaj::json_scan
