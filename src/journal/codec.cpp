#include "journal/codec.h"

#include <errno.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <cstring>

#include <openssl/evp.h>

#include "core/json_scan.h"

namespace aaj::journal::codec {
namespace {

using nlohmann::json;

bool is_lower_hex64(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// JSON pointer escaping of one reference token (RFC 6901).
std::string pointer_token(const std::string& k) {
  std::string r;
  for (char c : k) {
    if (c == '~')
      r += "~0";
    else if (c == '/')
      r += "~1";
    else
      r += c;
  }
  return r;
}

// Finds the first value JSON Lines records may not hold; builds its pointer while unwinding.
bool find_bad_value(const json& j, std::string& path, const char*& what) {
  switch (j.type()) {
    case json::value_t::number_float:
      what = "a floating-point number (pass a string or an integer)";
      return true;
    case json::value_t::binary:
      what = "a binary value";
      return true;
    case json::value_t::discarded:
      what = "a discarded value";
      return true;
    case json::value_t::object:
      for (auto it = j.begin(); it != j.end(); ++it) {
        if (find_bad_value(it.value(), path, what)) {
          path = "/" + pointer_token(it.key()) + path;
          return true;
        }
      }
      return false;
    case json::value_t::array:
      for (size_t i = 0; i < j.size(); ++i) {
        if (find_bad_value(j[i], path, what)) {
          path = "/" + std::to_string(i) + path;
          return true;
        }
      }
      return false;
    default:
      return false;
  }
}

// The serializer of dump_body: false on a value check_body refuses or invalid UTF-8.
bool dump_value(const json& j, std::string& out) {
  switch (j.type()) {
    case json::value_t::null:
      out += "null";
      return true;
    case json::value_t::boolean:
      out += j.get<bool>() ? "true" : "false";
      return true;
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: {
      char num[24];
      auto [p, ec] = j.is_number_unsigned()
                         ? std::to_chars(num, num + sizeof num, j.get<uint64_t>())
                         : std::to_chars(num, num + sizeof num, j.get<int64_t>());
      out.append(num, p);
      return true;
    }
    case json::value_t::string:
      return json_scan::append_string(out, j.get_ref<const std::string&>());
    case json::value_t::array: {
      out += '[';
      bool first = true;
      for (const auto& v : j) {
        if (!first) out += ',';
        first = false;
        if (!dump_value(v, out)) return false;
      }
      out += ']';
      return true;
    }
    case json::value_t::object: {
      out += '{';
      bool first = true;
      for (auto it = j.begin(); it != j.end(); ++it) {
        if (!first) out += ',';
        first = false;
        if (!json_scan::append_string(out, it.key())) return false;
        out += ':';
        if (!dump_value(it.value(), out)) return false;
      }
      out += '}';
      return true;
    }
    default:  // floats, binary, discarded
      return false;
  }
}

// ---- The fast path of decode(): a one-pass check that a line is exactly the canonical record
// nlohmann's dump() would write, without building a DOM and serializing it again. It is only
// ever *sufficient*: whatever it is not sure of (escapes it cannot prove canonical, numbers
// near the integer limits, deep nesting, any failure at all) goes to the exact check, which
// also words every error. So it can accept nothing the exact check refuses, and the
// differential test (tests/journal/journal_test.cpp) holds the two together.
class CanonicalScanner {
 public:
  explicit CanonicalScanner(std::string_view s) : s_(s) {}

  bool literal(std::string_view lit) {
    if (s_.substr(i_, lit.size()) != lit) return false;
    i_ += lit.size();
    return true;
  }
  bool at_end() const { return i_ == s_.size(); }
  size_t pos() const { return i_; }

  // A canonical string token; `decoded` gets its value. Plain printable ASCII is taken as it
  // is; anything else must come back byte for byte from the exact serializer.
  bool string(std::string& decoded) {
    if (i_ >= s_.size() || s_[i_] != '"') return false;
    const size_t start = i_;
    size_t j = i_ + 1;
    while (j < s_.size()) {
      const auto c = static_cast<unsigned char>(s_[j]);
      if (c == '"' || c == '\\' || c < 0x20 || c >= 0x7f) break;
      ++j;
    }
    if (j < s_.size() && s_[j] == '"') {
      decoded.assign(s_.data() + start + 1, j - start - 1);
      i_ = j + 1;
      return true;
    }
    // The token's end: the first '"' not escaped.
    for (; j < s_.size(); ++j) {
      if (s_[j] == '\\') {
        ++j;
        continue;
      }
      if (s_[j] == '"') break;
    }
    if (j >= s_.size()) return false;
    const std::string_view token = s_.substr(start, j + 1 - start);
    auto v = json_scan::string_value(token);
    if (!v) return false;
    std::string again;
    if (!json_scan::append_string(again, *v) || again != token) return false;
    decoded = std::move(*v);
    i_ = j + 1;
    return true;
  }

  // An integer as nlohmann writes it; at most 18 digits (always an int64/uint64, never a
  // float), and no fraction or exponent (records hold no floats).
  bool integer(bool allow_negative, uint64_t* value = nullptr) {
    size_t j = i_;
    bool negative = false;
    if (j < s_.size() && s_[j] == '-') {
      if (!allow_negative) return false;
      negative = true;
      ++j;
    }
    const size_t digits_at = j;
    while (j < s_.size() && s_[j] >= '0' && s_[j] <= '9') ++j;
    const size_t n = j - digits_at;
    if (n == 0 || n > 18) return false;
    if (s_[digits_at] == '0' && (n > 1 || negative)) return false;  // leading zero, "-0"
    if (j < s_.size() && (s_[j] == '.' || s_[j] == 'e' || s_[j] == 'E')) return false;
    if (value) {
      uint64_t v = 0;
      for (size_t k = digits_at; k < j; ++k) v = v * 10 + static_cast<uint64_t>(s_[k] - '0');
      *value = v;
    }
    i_ = j;
    return true;
  }

  bool value(int depth) {
    if (i_ >= s_.size() || depth > json_limits::kMaxDepth) return false;
    switch (s_[i_]) {
      case '{':
        return object(depth + 1);
      case '[': {
        ++i_;
        if (literal("]")) return true;
        for (;;) {
          if (!value(depth + 1)) return false;
          if (literal("]")) return true;
          if (!literal(",")) return false;
        }
      }
      case '"': {
        std::string ignored;
        return string(ignored);
      }
      case 't':
        return literal("true");
      case 'f':
        return literal("false");
      case 'n':
        return literal("null");
      default:
        return integer(true);
    }
  }

  // Members in strictly increasing order of their names' bytes (std::map's order, which is
  // also what rules out duplicates).
  bool object(int depth) {
    if (!literal("{")) return false;
    if (literal("}")) return true;
    std::string previous, name;
    for (bool first = true;; first = false) {
      if (!string(name)) return false;
      if (!first && !(previous < name)) return false;
      if (!literal(":") || !value(depth)) return false;
      if (literal("}")) return true;
      if (!literal(",")) return false;
      previous.swap(name);
    }
  }

 private:
  std::string_view s_;
  size_t i_ = 0;
};

// decode() when the line is canonical and everything holds; false sends the caller to the exact
// check (for a verdict and its wording), with `out` in an unspecified state.
bool decode_fast(std::string_view line, Sha256& sha, Decoded& out, bool keep_body) {
  CanonicalScanner c(line);
  std::string at, at_astana, hash, prev, type;
  uint64_t seq = 0;
  if (!c.literal(R"({"at":)") || !c.string(at) || !c.literal(R"(,"at_astana":)") ||
      !c.string(at_astana) || !c.literal(R"(,"body":)"))
    return false;
  const size_t body_at = c.pos();
  if (!c.object(1)) return false;
  const size_t body_end = c.pos();
  const size_t hash_key_at = c.pos();
  if (!c.literal(R"(,"hash":)") || !c.string(hash) || !c.literal(R"(,"prev":)") ||
      !c.string(prev) || !c.literal(R"(,"seq":)") || !c.integer(false, &seq) ||
      !c.literal(R"(,"type":)") || !c.string(type) || !c.literal("}") || !c.at_end())
    return false;
  if (!is_lower_hex64(hash) || !is_lower_hex64(prev) || type.empty()) return false;
  auto instant = time::parse_iso8601(at);
  if (!instant) return false;
  // The hashed bytes: the line without `,"hash":"<64 hex>"` (74 bytes).
  sha.update(line.substr(0, hash_key_at));
  sha.update(line.substr(hash_key_at + 74));
  std::string computed;
  sha.hex_final(computed);
  if (computed != hash) return false;
  if (keep_body) {
    out.body = json::parse(line.substr(body_at, body_end - body_at), nullptr, false);
    if (out.body.is_discarded()) return false;
  }
  out.seq = seq;
  out.instant = *instant;
  out.at = std::move(at);
  out.at_astana = std::move(at_astana);
  out.prev = std::move(prev);
  out.hash = std::move(hash);
  out.type = std::move(type);
  return true;
}

}  // namespace

Status dump_body(const json& body, std::string& out) {
  if (!body.is_object()) return Error{"invalid_record", "body must be a JSON object"};
  const size_t start = out.size();
  if (dump_value(body, out)) return {};
  out.resize(start);
  if (Status s = check_body(body); !s) return s;  // names the float or binary value
  return Error{"invalid_record", "not valid UTF-8"};
}

const EVP_MD* sha256_md() {
  static const EVP_MD* md = [] {
    EVP_MD* m = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (!m) std::abort();  // libcrypto without SHA-256 cannot run a journal at all
    return m;
  }();
  return md;
}

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_DigestInit_ex(ctx_, sha256_md(), nullptr) != 1) std::abort();
}
Sha256::~Sha256() {
  EVP_MD_CTX_free(ctx_);
}

void Sha256::update(std::string_view data) {
  EVP_DigestUpdate(ctx_, data.data(), data.size());
}

void Sha256::hex_final(std::string& out) {
  unsigned char d[32];
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx_, d, &n);
  EVP_DigestInit_ex(ctx_, sha256_md(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  out.resize(64);
  for (int i = 0; i < 32; ++i) {
    out[2 * i] = kHex[d[i] >> 4];
    out[2 * i + 1] = kHex[d[i] & 15];
  }
}

Status check_body(const json& body) {
  if (!body.is_object()) return Error{"invalid_record", "body must be a JSON object"};
  std::string path;
  const char* what = "";
  if (find_bad_value(body, path, what))
    return Error{"invalid_record", std::string("body holds ") + what + " at " + path};
  return {};
}

void encode(Sha256& sha, uint64_t seq, std::string_view at_utc, std::string_view at_astana,
            std::string_view type_json, std::string_view body_json, std::string_view prev,
            std::string& out, std::string& hash_out) {
  // Sorted keys: at, at_astana, body, hash, prev, seq, type. The hash covers the same bytes
  // minus `,"hash":"<64 hex>"`, so the line is written once with a placeholder that is filled
  // in after hashing the two pieces around it.
  const size_t start = out.size();
  out += R"({"at":")";
  out += at_utc;
  out += R"(","at_astana":")";
  out += at_astana;
  out += R"(","body":)";
  out += body_json;
  const size_t hash_at = out.size();
  out += R"(,"hash":")";
  const size_t hex_at = out.size();
  out.append(64, '0');
  out += '"';
  const size_t tail_at = out.size();
  out += R"(,"prev":")";
  out += prev;
  out += R"(","seq":)";
  char num[24];
  auto [p, ec] = std::to_chars(num, num + sizeof num, seq);
  out.append(num, p);
  out += R"(,"type":)";
  out += type_json;
  out += '}';
  std::string_view all(out);
  sha.update(all.substr(start, hash_at - start));
  sha.update(all.substr(tail_at));
  sha.hex_final(hash_out);
  std::memcpy(out.data() + hex_at, hash_out.data(), 64);
  out += '\n';
}

std::string decode(std::string_view line, Sha256& sha, Decoded& out, bool keep_body) {
  if (decode_fast(line, sha, out, keep_body)) return {};
  return decode_exact(line, sha, out, keep_body);
}

bool decode_is_fast(std::string_view line) {
  Sha256 sha;
  Decoded d;
  return decode_fast(line, sha, d, false);
}

std::string decode_exact(std::string_view line, Sha256& sha, Decoded& out, bool keep_body) {
  out = Decoded{};
  json j = json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return "unparseable line";
  if (!j.is_object()) return "malformed record: not a JSON object";
  if (auto it = j.find("seq"); it != j.end() && it->is_number_unsigned())
    out.seq = it->get<uint64_t>();
  if (j.size() != 7)
    return "malformed record: expected keys at, at_astana, body, hash, prev, seq, type";
  auto str = [&](const char* k) -> const std::string* {
    auto it = j.find(k);
    return it != j.end() && it->is_string() ? it->get_ptr<const std::string*>() : nullptr;
  };
  const std::string *at = str("at"), *ast = str("at_astana"), *hash = str("hash"),
                    *prev = str("prev"), *type = str("type");
  auto body = j.find("body");
  auto seq = j.find("seq");
  if (!at || !ast || !hash || !prev || !type || body == j.end() || seq == j.end())
    return "malformed record: missing key or wrong type";
  if (!seq->is_number_unsigned()) return "malformed record: seq is not a positive integer";
  if (!is_lower_hex64(*hash) || !is_lower_hex64(*prev))
    return "malformed record: hash/prev are not 64 lowercase hex digits";
  if (type->empty()) return "malformed record: empty type";
  if (auto s = check_body(*body); !s.ok()) return "malformed record: " + s.error().detail;
  auto instant = time::parse_iso8601(*at);
  if (!instant) return "malformed record: at is not a date-time";
  // Requiring the exact canonical bytes makes any changed byte visible: if the bytes differ
  // but parse to the same value, this fails; if they parse to a different value, the hash does.
  std::string canonical;
  try {
    canonical = j.dump();
  } catch (const json::exception&) {
    return "non-canonical encoding";
  }
  if (canonical != line) return "non-canonical encoding";
  // The line is canonical, so the hashed serialization is the line without `,"hash":"…"`. The
  // last occurrence is the top-level key: only prev (hex), seq (digits) and type (a string, in
  // which every '"' is escaped) follow it.
  size_t pos = line.rfind(R"(,"hash":")");
  if (pos == std::string_view::npos || pos + 74 > line.size()) return "non-canonical encoding";
  sha.update(line.substr(0, pos));
  sha.update(line.substr(pos + 74));
  std::string computed;
  sha.hex_final(computed);
  if (computed != *hash) return "hash mismatch";
  out.instant = *instant;
  out.at = *at;
  out.at_astana = *ast;
  out.prev = *prev;
  out.hash = *hash;
  out.type = *type;
  if (keep_body) out.body = std::move(*body);
  return {};
}

LineReader::LineReader(int fd, uint64_t begin, uint64_t end)
    : fd_(fd), next_read_(begin), end_(end), buf_offset_(begin) {}

bool LineReader::next(std::string_view& line) {
  static constexpr size_t kChunk = 1 << 20;
  size_t scan_from = pos_;
  for (;;) {
    const char* base = buf_.data();
    const void* nl = std::memchr(base + scan_from, '\n', buf_.size() - scan_from);
    if (nl) {
      size_t e = static_cast<const char*>(nl) - base;
      line = std::string_view(base + pos_, e - pos_);
      line_offset_ = buf_offset_ + pos_;
      pos_ = e + 1;
      return true;
    }
    if (next_read_ >= end_ || !error_.empty()) {
      tail_bytes_ = buf_.size() - pos_;
      return false;
    }
    // Keep only the unconsumed piece, then read more after it.
    buf_.erase(0, pos_);
    buf_offset_ += pos_;
    pos_ = 0;
    scan_from = buf_.size();
    size_t want = static_cast<size_t>(std::min<uint64_t>(kChunk, end_ - next_read_));
    buf_.resize(scan_from + want);
    ssize_t n;
    do {
      n = ::pread(fd_, buf_.data() + scan_from, want, static_cast<off_t>(next_read_));
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      error_ = std::string("read failed: ") + std::strerror(errno);
      buf_.resize(scan_from);
      tail_bytes_ = buf_.size();
      return false;
    }
    buf_.resize(scan_from + static_cast<size_t>(n));
    if (n == 0) end_ = next_read_;  // the file is shorter than expected: stop there
    next_read_ += static_cast<uint64_t>(n);
  }
}

Status write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error{"journal_unavailable", std::string("write failed: ") + std::strerror(errno)};
    }
    if (n == 0) return Error{"journal_unavailable", "write made no progress"};
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

}  // namespace aaj::journal::codec
