// Private to aaj_policy: the interned, dense form of the policy that decide() reads.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "policy/policy.h"

namespace aaj::policy {

// Maps a fixed set of short ids to small integers with one hash and one string comparison: the
// seed is searched at load time until no two keys share a slot (a perfect hash for this set).
class PerfectTable {
 public:
  // Keys must be unique and non-empty, and must outlive the table. Returns false only if no
  // perfect seed exists up to 64k slots (never for sets of tens of ids).
  bool build(const std::vector<std::string_view>& keys);

  // Index of `key`, or -1. No allocation; thread-safe.
  int find(std::string_view key) const {
    if (slots_.empty()) return -1;
    const Slot& s = slots_[hash(key, seed_, full_) & mask_];
    return s.key == key ? s.index : -1;
  }

 private:
  struct Slot {
    std::string_view key;  // empty: free (no valid id is empty)
    int index = -1;
  };
  // Fast mode reads only the length and the first and last 8 bytes (two loads, no per-byte
  // loop: ids are 3-25 characters and a byte-wise hash cost most of a decision). Ids that differ
  // only in the middle of a long string defeat it for every seed; build() then falls back to
  // the full byte-wise mode.
  static uint32_t hash(std::string_view s, uint32_t seed, bool full) {
    const size_t n = s.size();
    uint64_t h = (seed + 1) * 0x9e3779b97f4a7c15ull ^ n;
    if (full) {
      for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
    } else if (n >= 8) {
      uint64_t a, b;
      std::memcpy(&a, s.data(), 8);
      std::memcpy(&b, s.data() + n - 8, 8);
      h = (h ^ a) * 0xc2b2ae3d27d4eb4full;
      h = (h ^ b) * 0x165667b19e3779f9ull;
    } else {
      uint64_t a = 0;
      for (size_t i = 0; i < n; ++i) a |= uint64_t(static_cast<unsigned char>(s[i])) << (8 * i);
      h = (h ^ a) * 0xc2b2ae3d27d4eb4full;
    }
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    return static_cast<uint32_t>(h ^ (h >> 32));
  }
  bool try_build(const std::vector<std::string_view>& keys, bool full);
  std::vector<Slot> slots_;
  uint32_t seed_ = 0;
  uint32_t mask_ = 0;
  bool full_ = false;
};

enum class Kind : uint8_t { GroundMatrix, ResourceAccess };

struct GroundCell {
  std::string_view rule;
  bool allowed = false;
  bool verified = false;
};

struct Grant {
  std::string_view rule;
  Access access = Access::None;
  bool verified = false;
};

struct Version {
  std::string_view id;           // e.g. "order34-2026/app1"
  std::string_view rule_prefix;  // e.g. "order34/app1"; cited when the content is unknown
  int64_t effective_from = 0;
  bool effective_from_verified = false;
  bool content_known = false;
  std::vector<GroundCell> ground;  // GroundMatrix: [user_type * n_grounds + ground]
  std::vector<Grant> grants;       // ResourceAccess: [user_type * n_resources + resource]
};

struct Instrument {
  std::string_view id;  // e.g. "rules21/appendix1"
  Kind kind = Kind::GroundMatrix;
  std::vector<int64_t> starts;    // effective_from of versions, strictly increasing
  std::vector<Version> versions;  // same order

  // The version in force on `day`, or nullptr before the first one. Binary search, no allocation.
  const Version* at(int64_t day) const {
    auto it = std::upper_bound(starts.begin(), starts.end(), day);
    if (it == starts.begin()) return nullptr;
    return &versions[static_cast<size_t>(it - starts.begin()) - 1];
  }
};

// Parses a policy file's text as loader.cpp does: strict JSON, duplicate keys refused, the top
// level an object. Error "policy_invalid" whose detail starts with `path`. Thread-safe.
Result<nlohmann::json> parse_policy_json(const std::string& path, const std::string& text);

struct EngineImpl {
  // Owns every string a Decision may point to; a deque never moves its elements.
  std::deque<std::string> strings;
  std::string_view intern(std::string s) {
    strings.push_back(std::move(s));
    return strings.back();
  }

  std::vector<std::string_view> user_types;  // vocabulary order
  std::vector<std::string_view> grounds;
  PerfectTable user_type_index, ground_index, resource_index;
  Catalog catalog;
  std::vector<Instrument> instruments;
  std::vector<int> ground_instrument;    // per user type: index into instruments
  std::vector<int> resource_instrument;  // per user type: index into instruments
  size_t n_grounds = 0, n_resources = 0;
};

}  // namespace aaj::policy
