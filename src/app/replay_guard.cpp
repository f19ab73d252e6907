#include "app/replay_guard.h"

#include <functional>

namespace aaj::app {

ReplayGuard::Shard& ReplayGuard::shard_for(const std::string& key) {
  return shards_[std::hash<std::string>{}(key) % shards_.size()];
}

bool ReplayGuard::insert(const std::string& key, time::Instant seen_at, time::Instant now) {
  Shard& s = shard_for(key);
  std::lock_guard<std::mutex> l(s.mu);
  // Forget pairs older than twice the window, at most once per window per shard.
  if (now - s.last_purge > window_) {
    for (auto it = s.seen.begin(); it != s.seen.end();)
      it = now - it->second > 2 * window_ ? s.seen.erase(it) : std::next(it);
    s.last_purge = now;
  }
  return s.seen.emplace(key, seen_at).second;
}

bool ReplayGuard::remember(std::string_view signer_iin, std::string_view nonce, time::Instant now) {
  std::string key;
  key.reserve(signer_iin.size() + nonce.size() + 1);
  key.append(signer_iin).push_back('\n');
  key.append(nonce);
  return insert(key, now, now);
}

void ReplayGuard::restore(std::string_view signer_iin, std::string_view nonce,
                          time::Instant seen_at) {
  std::string key(signer_iin);
  key.push_back('\n');
  key.append(nonce);
  insert(key, seen_at, time::now());
}

}  // namespace aaj::app
