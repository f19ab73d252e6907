// Private to aaj_policy: the interned, dense form of the policy that decide() reads, and the
// reading of policy files shared by the policy loader (loader.cpp) and the log-access policy
// (log_access.cpp).
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <deque>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.h"
#include "policy/policy.h"

namespace aaj::policy {

// ---- Reading policy files (strict: a typo stops the load, naming the file and the field) ----

// A policy file: its path relative to the root ("policy/order34-appendix1.json") and its text.
struct SourceFile {
  std::string path;
  std::string text;
};

// Thrown while reading files; load_*() turn it into Error "policy_invalid" with this detail.
struct Invalid {
  std::string detail;
};

[[noreturn]] inline void fail(std::string detail) {
  throw Invalid{std::move(detail)};
}

// The fields every policy file starts with (policy/README.md).
inline const std::vector<std::string_view> kHeaderFields = {"instrument",
                                                            "kind",
                                                            "version",
                                                            "effective_from",
                                                            "effective_from_basis",
                                                            "effective_from_verified",
                                                            "source",
                                                            "notes"};

// A JSON object of a file being read, with its location for messages. Its checks throw Invalid.
class Obj {
 public:
  Obj(const nlohmann::json& j, std::string file, std::string path)
      : j_(j), file_(std::move(file)), path_(std::move(path)) {
    if (!j_.is_object()) err("must be an object");
  }

  [[noreturn]] void err(const std::string& what) const {
    fail(file_ + ": " + (path_.empty() ? "" : path_ + ": ") + what);
  }
  std::string at(const std::string& key) const { return (path_.empty() ? "" : path_ + ".") + key; }
  const std::string& file() const { return file_; }

  // Every member must be one of `allowed`: catches misspelt fields instead of ignoring them.
  void only(std::initializer_list<std::string_view> allowed) const {
    for (auto it = j_.begin(); it != j_.end(); ++it)
      if (std::find(allowed.begin(), allowed.end(), it.key()) == allowed.end())
        err("unknown field \"" + it.key() + "\"");
  }
  // Like only(), the header fields (kHeaderFields) allowed as well.
  void only_with_header(std::initializer_list<std::string_view> allowed) const {
    for (auto it = j_.begin(); it != j_.end(); ++it)
      if (std::find(allowed.begin(), allowed.end(), it.key()) == allowed.end() &&
          std::find(kHeaderFields.begin(), kHeaderFields.end(), it.key()) == kHeaderFields.end())
        err("unknown field \"" + it.key() + "\"");
  }
  bool has(const std::string& key) const { return j_.contains(key); }
  const nlohmann::json& need(const std::string& key) const {
    auto it = j_.find(key);
    if (it == j_.end()) err("missing required field \"" + key + "\"");
    return *it;
  }
  std::string str(const std::string& key) const {
    const nlohmann::json& v = need(key);
    if (!v.is_string() || v.get_ref<const std::string&>().empty())
      err("field \"" + key + "\" must be a non-empty string");
    return v.get<std::string>();
  }
  bool boolean(const std::string& key) const {
    const nlohmann::json& v = need(key);
    if (!v.is_boolean()) err("field \"" + key + "\" must be true or false");
    return v.get<bool>();
  }
  int64_t positive(const std::string& key) const {
    const nlohmann::json& v = need(key);
    if (!v.is_number_integer() || v.get<int64_t>() <= 0)
      err("field \"" + key + "\" must be a positive integer");
    return v.get<int64_t>();
  }
  // "YYYY-MM-DD", a real calendar date, as days since the epoch.
  int64_t date(const std::string& key) const {
    std::string s = str(key);
    auto d = time::parse_date(s);
    if (!d) err("field \"" + key + "\" must be a real date YYYY-MM-DD, got \"" + s + "\"");
    return *d;
  }
  // A non-empty array of distinct non-empty strings.
  std::vector<std::string> strings(const std::string& key) const {
    const nlohmann::json& v = need(key);
    if (!v.is_array() || v.empty()) err("field \"" + key + "\" must be a non-empty array");
    std::vector<std::string> out;
    for (const nlohmann::json& e : v) {
      if (!e.is_string() || e.get_ref<const std::string&>().empty())
        err("field \"" + key + "\" must hold non-empty strings");
      std::string s = e.get<std::string>();
      if (std::find(out.begin(), out.end(), s) != out.end())
        err("field \"" + key + "\" lists \"" + s + "\" twice");
      out.push_back(std::move(s));
    }
    return out;
  }
  const nlohmann::json& j() const { return j_; }

 private:
  const nlohmann::json& j_;
  std::string file_, path_;
};

// The header every file carries (kHeaderFields), checked.
struct Header {
  std::string instrument, kind, version;
  int64_t effective_from = 0;
  bool effective_from_verified = false;
};
Header read_header(const Obj& o);

// The top-level *.json files of each of `dirs` ("policy", "catalog") under `root`, or of the
// embedded bundle, sorted by path. Errors (read_policy_dirs): "policy_unreadable".
Result<std::vector<SourceFile>> read_policy_dirs(const std::filesystem::path& root,
                                                 std::initializer_list<const char*> dirs);
std::vector<SourceFile> embedded_policy_files(std::initializer_list<const char*> dirs);

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
