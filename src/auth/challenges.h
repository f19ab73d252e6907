// Entry, first factor: the server hands out a random nonce; the user signs it (CMS, attached
// content = the nonce bytes) with the authentication key; the challenge can be answered once.
#pragma once
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "core/time.h"

namespace aaj::auth {

// `bytes` random bytes from OpenSSL's CSPRNG, raw or as lower-case hex. Throws only when the
// generator fails (no randomness: the process must not go on issuing tokens). Thread-safe.
// (Hashing and base64 live in pki/openssl_util.h.)
std::string random_hex(size_t bytes);
std::string random_bytes(size_t bytes);

struct Challenge {
  std::string id;     // opaque
  std::string nonce;  // raw bytes the user signs
  time::Instant expires_at;
  std::string client;  // the address that asked
};

// In-memory table of outstanding challenges. A challenge lives for `ttl` and can be taken once;
// a restart forgets them (the user simply asks for a new one). Thread-safe.
class ChallengeTable {
 public:
  ChallengeTable(std::chrono::seconds ttl, size_t max_outstanding = 100000,
                 size_t max_per_client = 32)
      : ttl_(ttl), max_(max_outstanding), max_per_client_(max_per_client) {}
  // Creates a challenge for `client` (an address); nullopt when that client already holds
  // max_per_client unexpired challenges, or the table is full, so callers answer 503.
  std::optional<Challenge> create(time::Instant now, const std::string& client = "");
  // Removes and returns the challenge if it exists and has not expired at `now`.
  std::optional<Challenge> take(const std::string& id, time::Instant now);

 private:
  void purge(time::Instant now);
  void forget(std::unordered_map<std::string, Challenge>::iterator& it);  // advances it
  std::chrono::seconds ttl_;
  size_t max_;
  size_t max_per_client_;
  std::mutex mu_;
  std::unordered_map<std::string, Challenge> open_;
  std::unordered_map<std::string, size_t> per_client_;  // open challenges by client
};

}  // namespace aaj::auth
