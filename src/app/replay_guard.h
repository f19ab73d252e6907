// Rejects replayed request documents: a document's (signer IIN, nonce) may be used once while its
// signed_at is inside the acceptance window (± max skew of the server's clock). Documents outside
// the window are refused as stale anyway, so remembering nonces for 2 × window is enough.
// After a restart the guard is refilled from the event log (every accepted document is logged),
// so a replay is refused across restarts too.
#pragma once
#include <array>
#include <chrono>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/time.h"

namespace aaj::app {

class ReplayGuard {
 public:
  explicit ReplayGuard(std::chrono::seconds window) : window_(window) {}
  // True if the pair was new (and is now remembered); false for a replay. Thread-safe; sharded
  // so concurrent requests rarely contend.
  bool remember(std::string_view signer_iin, std::string_view nonce, time::Instant now);
  // Remembers a pair seen at `seen_at` (used when refilling from the log).
  void restore(std::string_view signer_iin, std::string_view nonce, time::Instant seen_at);
  std::chrono::seconds window() const { return window_; }

 private:
  struct Shard {
    std::mutex mu;
    std::unordered_map<std::string, time::Instant> seen;  // key -> when first seen
    time::Instant last_purge{};
  };
  Shard& shard_for(const std::string& key);
  bool insert(const std::string& key, time::Instant seen_at, time::Instant now);

  std::chrono::seconds window_;
  std::array<Shard, 16> shards_;
};

}  // namespace aaj::app
