#include "pki/openssl_util.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/provider.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <mutex>
#include <random>

namespace aaj::pki {
namespace {

std::once_flag g_init_once;
std::atomic<bool> g_legacy_loaded{false};

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

int b64_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// b64_value as a table (0xFF = not in the alphabet), for the four-at-a-time path.
struct B64Table {
  unsigned char v[256];
  constexpr B64Table() : v{} {
    for (int c = 0; c < 256; ++c) {
      int x = c >= 'A' && c <= 'Z'   ? c - 'A'
              : c >= 'a' && c <= 'z' ? c - 'a' + 26
              : c >= '0' && c <= '9' ? c - '0' + 52
              : c == '+'             ? 62
              : c == '/'             ? 63
                                     : 0xFF;
      v[c] = static_cast<unsigned char>(x);
    }
  }
};
constexpr B64Table kB64;

// True when `s` is one complete DER/BER TLV starting with a SEQUENCE: the encoded length must
// cover exactly the input (so base64 text that happens to start with '0' is not taken for DER).
bool looks_like_der(std::string_view s) {
  if (s.size() < 2 || static_cast<unsigned char>(s[0]) != 0x30) return false;
  auto l0 = static_cast<unsigned char>(s[1]);
  if (l0 == 0x80) return s.size() >= 4;  // BER indefinite length (e.g. streamed CMS)
  size_t header = 2, len = 0;
  if (l0 < 0x80) {
    len = l0;
  } else {
    size_t n = l0 & 0x7f;
    if (n == 0 || n > 4 || s.size() < 2 + n) return false;
    for (size_t i = 0; i < n; ++i) len = (len << 8) | static_cast<unsigned char>(s[2 + i]);
    header += n;
  }
  return header + len == s.size();
}

Status write_file_mode(const std::filesystem::path& path, std::string_view data, mode_t mode) {
  std::random_device rd;
  // Hidden name: folder watchers (CrlStore) skip dot-files, so they never see a partial file.
  std::filesystem::path tmp =
      path.parent_path() / ("." + path.filename().string() + ".tmp." + std::to_string(rd()));
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return Error{"write_failed", tmp.string() + ": " + std::strerror(errno)};
  // The umask may have narrowed the mode; make it exact.
  ::fchmod(fd, mode);
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::string why = std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      return Error{"write_failed", tmp.string() + ": " + why};
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    return Error{"write_failed", tmp.string() + ": " + why};
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    return Error{"write_failed", path.string() + ": " + why};
  }
  return Status::Ok();
}

}  // namespace

void init_openssl() {
  std::call_once(g_init_once, [] {
    // Loading any provider explicitly disables the implicit "default" one, so load both. The
    // providers stay loaded for the life of the process (never unloaded).
    OSSL_PROVIDER_load(nullptr, "default");
    if (OSSL_PROVIDER_load(nullptr, "legacy") != nullptr) g_legacy_loaded = true;
    ERR_clear_error();
  });
}

bool legacy_provider_loaded() {
  init_openssl();
  return g_legacy_loaded;
}

std::string last_openssl_error() {
  return drain_openssl_errors(nullptr);
}

std::string drain_openssl_errors(bool* unsupported) {
  if (unsupported != nullptr) *unsupported = false;
  std::string out;
  const char* data = nullptr;
  int flags = 0;
  unsigned long e;
  while ((e = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags)) != 0) {
    if (unsupported != nullptr) {
      int lib = ERR_GET_LIB(e), reason = ERR_GET_REASON(e);
      if (reason == ERR_R_UNSUPPORTED ||
          (lib == ERR_LIB_EVP &&
           (reason == EVP_R_UNSUPPORTED_ALGORITHM || reason == EVP_R_UNSUPPORTED_CIPHER ||
            reason == EVP_R_UNSUPPORTED_PRIVATE_KEY_ALGORITHM ||
            reason == EVP_R_UNSUPPORTED_KEY_DERIVATION_FUNCTION || reason == EVP_R_UNKNOWN_CIPHER ||
            reason == EVP_R_UNKNOWN_DIGEST)))
        *unsupported = true;
    }
    if (!out.empty()) out += "; ";
    const char* reason = ERR_reason_error_string(e);
    const char* lib = ERR_lib_error_string(e);
    if (reason != nullptr) {
      out += reason;
    } else {
      char buf[256];
      ERR_error_string_n(e, buf, sizeof buf);
      out += buf;
    }
    if (lib != nullptr) out += std::string(" (") + lib + ")";
    if (data != nullptr && (flags & ERR_TXT_STRING) && *data != '\0')
      out += std::string(" [") + data + "]";
  }
  return out;
}

void clear_openssl_errors() {
  ERR_clear_error();
}

std::string to_hex(std::string_view bytes) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0xf]);
  }
  return out;
}

std::string base64_encode(std::string_view bytes) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = (uint32_t(uint8_t(bytes[i])) << 16) | (uint32_t(uint8_t(bytes[i + 1])) << 8) |
                 uint8_t(bytes[i + 2]);
    out.push_back(kAlphabet[v >> 18]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  size_t rest = bytes.size() - i;
  if (rest == 1) {
    uint32_t v = uint32_t(uint8_t(bytes[i])) << 16;
    out.push_back(kAlphabet[v >> 18]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out += "==";
  } else if (rest == 2) {
    uint32_t v = (uint32_t(uint8_t(bytes[i])) << 16) | (uint32_t(uint8_t(bytes[i + 1])) << 8);
    out.push_back(kAlphabet[v >> 18]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back('=');
  }
  return out;
}

Result<std::string> base64_decode(std::string_view text) {
  std::string out;
  // Four characters at a time while they are all in the alphabet (a request's CMS is one long
  // unbroken line); the first quantum with whitespace or padding goes to the careful loop below,
  // which starts cleanly because only whole quanta were taken.
  out.resize(text.size() / 4 * 3);
  size_t i = 0, o = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(text.data());
  for (; i + 4 <= text.size(); i += 4) {
    unsigned a = kB64.v[in[i]], b = kB64.v[in[i + 1]], c = kB64.v[in[i + 2]], d = kB64.v[in[i + 3]];
    if ((a | b | c | d) & 0x80) break;
    uint32_t v = (a << 18) | (b << 12) | (c << 6) | d;
    out[o++] = static_cast<char>(v >> 16);
    out[o++] = static_cast<char>((v >> 8) & 0xff);
    out[o++] = static_cast<char>(v & 0xff);
  }
  out.resize(o);
  text.remove_prefix(i);
  uint32_t acc = 0;
  int bits = 0, count = 0, pad = 0;
  for (char ch : text) {
    if (is_space(ch)) continue;
    if (ch == '=') {
      ++pad;
      continue;
    }
    if (pad > 0) return Error{"malformed_base64", "data after '=' padding"};
    int v = b64_value(static_cast<unsigned char>(ch));
    if (v < 0) return Error{"malformed_base64", "character outside the base64 alphabet"};
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    ++count;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  if (count % 4 == 1) return Error{"malformed_base64", "truncated base64 quantum"};
  if (pad > 2 || (pad > 0 && (count + pad) % 4 != 0))
    return Error{"malformed_base64", "bad base64 padding"};
  return out;
}

Result<std::string> decode_der_or_base64(std::string_view input) {
  if (input.empty()) return Error{"malformed_encoding", "empty input"};
  if (looks_like_der(input)) return std::string(input);
  size_t start = 0;
  while (start < input.size() && is_space(input[start])) ++start;
  std::string_view text = input.substr(start);
  if (text.rfind("-----BEGIN ", 0) == 0) {
    size_t label_end = text.find("-----", 11);
    if (label_end == std::string_view::npos)
      return Error{"malformed_encoding", "PEM header without closing dashes"};
    size_t body = text.find('\n', label_end);
    size_t end = text.find("-----END ", label_end + 5);
    if (body == std::string_view::npos || end == std::string_view::npos || end < body)
      return Error{"malformed_encoding", "PEM armour without an END line"};
    // Skip RFC 1421 style headers ("Name: value") if any.
    std::string clean;
    std::string_view b = text.substr(body + 1, end - body - 1);
    size_t pos = 0;
    while (pos < b.size()) {
      size_t nl = b.find('\n', pos);
      std::string_view line =
          b.substr(pos, nl == std::string_view::npos ? b.size() - pos : nl - pos);
      if (line.find(':') == std::string_view::npos) clean.append(line);
      if (nl == std::string_view::npos) break;
      pos = nl + 1;
    }
    auto der = base64_decode(clean);
    if (!der.ok() || der->empty()) return Error{"malformed_encoding", "PEM body is not base64"};
    return std::move(der).value();
  }
  auto der = base64_decode(text);
  if (!der.ok())
    return Error{"malformed_encoding", "neither DER nor base64: " + der.error().detail};
  if (der->empty()) return Error{"malformed_encoding", "empty input"};
  return std::move(der).value();
}

const EVP_MD* sha256_md() {
  static const EVP_MD* const kSha256 = [] {
    const EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);  // kept for the process
    return md != nullptr ? md : EVP_sha256();
  }();
  return kSha256;
}

std::string sha256_hex(std::string_view bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), md, &len, sha256_md(), nullptr) != 1)
    EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr);
  return to_hex(std::string_view(reinterpret_cast<const char*>(md), len));
}

std::optional<time::Instant> from_asn1_time(const ASN1_TIME* t) {
  if (t == nullptr) return std::nullopt;
  struct tm tm {};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return std::nullopt;
  int64_t days = time::days_from_civil(tm.tm_year + 1900, static_cast<unsigned>(tm.tm_mon + 1),
                                       static_cast<unsigned>(tm.tm_mday));
  int64_t secs = days * 86400 + tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
  return time::from_micros(secs * 1000000);
}

std::string oid_text(const ASN1_OBJECT* obj) {
  if (obj == nullptr) return "";
  char buf[128];
  int n = OBJ_obj2txt(buf, sizeof buf, obj, 1);
  if (n <= 0) return "";
  if (static_cast<size_t>(n) < sizeof buf) return std::string(buf, static_cast<size_t>(n));
  std::string big(static_cast<size_t>(n) + 1, '\0');
  OBJ_obj2txt(big.data(), n + 1, obj, 1);
  big.resize(static_cast<size_t>(n));
  return big;
}

Result<std::string> read_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    return Error{"unreadable", path.string() + ": is a directory"};
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{"unreadable", path.string() + ": " + std::strerror(errno)};
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return Error{"unreadable", path.string() + ": read error"};
  return data;
}

Status write_secret_file(const std::filesystem::path& path, std::string_view data) {
  return write_file_mode(path, data, 0600);
}

Status write_public_file(const std::filesystem::path& path, std::string_view data) {
  return write_file_mode(path, data, 0644);
}

}  // namespace aaj::pki
