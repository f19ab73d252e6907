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

// Fetched once: EVP_sha256() would look the implementation up again on every init (OpenSSL 3).
const EVP_MD* sha256_md() {
  static const EVP_MD* md = [] {
    EVP_MD* m = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (!m) std::abort();  // libcrypto without SHA-256 cannot run a journal at all
    return m;
  }();
  return md;
}

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

}  // namespace

Status dump_body(const json& body, std::string& out) {
  if (!body.is_object()) return Error{"invalid_record", "body must be a JSON object"};
  const size_t start = out.size();
  if (dump_value(body, out)) return {};
  out.resize(start);
  if (Status s = check_body(body); !s) return s;  // names the float or binary value
  return Error{"invalid_record", "not valid UTF-8"};
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
