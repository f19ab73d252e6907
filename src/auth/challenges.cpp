#include "auth/challenges.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <stdexcept>

namespace aaj::auth {

std::string random_bytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1)
    throw std::runtime_error("RAND_bytes failed");  // no randomness: refuse to continue
  return out;
}

std::string random_hex(size_t n) {
  static const char* hex = "0123456789abcdef";
  std::string raw = random_bytes(n), out;
  out.reserve(2 * n);
  for (unsigned char c : raw) {
    out.push_back(hex[c >> 4]);
    out.push_back(hex[c & 15]);
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (unsigned char c : md) {
    out.push_back(hex[c >> 4]);
    out.push_back(hex[c & 15]);
  }
  return out;
}

std::string base64_encode(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()),
                          static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::optional<std::string> base64_decode(std::string_view b64) {
  std::string clean;
  clean.reserve(b64.size());
  for (char c : b64) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/' || c == '=';
    if (!ok) return std::nullopt;
    clean.push_back(c);
  }
  if (clean.empty() || clean.size() % 4 != 0) return std::nullopt;
  std::string out(clean.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(clean.data()),
                          static_cast<int>(clean.size()));
  if (n < 0) return std::nullopt;
  size_t pad = 0;
  if (clean.back() == '=') ++pad;
  if (clean.size() > 1 && clean[clean.size() - 2] == '=') ++pad;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

std::optional<Challenge> ChallengeTable::create(time::Instant now) {
  Challenge c{random_hex(16), random_bytes(32), now + ttl_};
  std::lock_guard<std::mutex> l(mu_);
  if (open_.size() >= max_) purge(now);
  if (open_.size() >= max_) return std::nullopt;
  open_[c.id] = c;
  return c;
}

std::optional<Challenge> ChallengeTable::take(const std::string& id, time::Instant now) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = open_.find(id);
  if (it == open_.end()) return std::nullopt;
  Challenge c = it->second;
  open_.erase(it);
  if (c.expires_at < now) return std::nullopt;
  return c;
}

void ChallengeTable::purge(time::Instant now) {
  for (auto it = open_.begin(); it != open_.end();)
    it = it->second.expires_at < now ? open_.erase(it) : std::next(it);
}

}  // namespace aaj::auth
