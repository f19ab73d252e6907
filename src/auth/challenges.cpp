#include "auth/challenges.h"

#include "pki/openssl_util.h"

#include <openssl/rand.h>

#include <stdexcept>

namespace aaj::auth {

std::string random_bytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1)
    throw std::runtime_error("RAND_bytes failed");  // no randomness: refuse to continue
  return out;
}

std::string random_hex(size_t n) {
  return pki::to_hex(random_bytes(n));
}

std::optional<Challenge> ChallengeTable::create(time::Instant now, const std::string& client) {
  Challenge c{random_hex(16), random_bytes(32), now + ttl_, client};
  std::lock_guard<std::mutex> l(mu_);
  if (per_client_[client] >= max_per_client_ || open_.size() >= max_) purge(now);
  if (per_client_[client] >= max_per_client_ || open_.size() >= max_) return std::nullopt;
  ++per_client_[client];
  open_[c.id] = c;
  return c;
}

std::optional<Challenge> ChallengeTable::take(const std::string& id, time::Instant now) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = open_.find(id);
  if (it == open_.end()) return std::nullopt;
  Challenge c = it->second;
  forget(it);
  if (c.expires_at < now) return std::nullopt;
  return c;
}

void ChallengeTable::forget(std::unordered_map<std::string, Challenge>::iterator& it) {
  auto pc = per_client_.find(it->second.client);
  if (pc != per_client_.end() && --pc->second == 0) per_client_.erase(pc);
  it = open_.erase(it);
}

void ChallengeTable::purge(time::Instant now) {
  for (auto it = open_.begin(); it != open_.end();) {
    if (it->second.expires_at < now)
      forget(it);
    else
      ++it;
  }
}

}  // namespace aaj::auth
