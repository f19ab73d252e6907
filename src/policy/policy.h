// Who may request what: the regulation's role x ground matrix (Appendix 1 of Rules No. 21 as
// replaced by Order 34, and Appendix 1 of the AFM Rules) and the per-role access to the 52
// information resources, decided under the version of each instrument in force on a given day.
//
// The regulation lives as versioned DATA (policy/*.json, catalog/*.json at the repository root,
// compiled in as defaults); this module only interprets it. See policy/README.md for the format.
#pragma once
#include <cstdint>
#include <filesystem>
#include <limits>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"

namespace aaj::policy {

// What a granted request may see of a resource: nothing, the catalogue's truncated view
// (whitelisted fields only, see apply_truncation), or the whole answer.
enum class Access : uint8_t { None, Truncated, Full };

// "none", "truncated", "full".
std::string_view to_string(Access a);

// Sentinel for Decision::effective_from when no version of the instrument was in force.
inline constexpr int64_t kNoDay = std::numeric_limits<int64_t>::min();

// The outcome of Engine::decide. Every string_view points into the Engine that produced it (or
// to static storage) and stays valid as long as that Engine is alive: keep the shared_ptr.
struct Decision {
  bool allow = false;
  // Allowed with a resource: the access granted. Allowed without a resource (ground check only)
  // and every denial: Access::None.
  Access access = Access::None;
  // "" when allowed, else one of: unknown_user_type, unknown_ground, unknown_resource,
  // ground_not_allowed, resource_not_granted, no_policy_in_force (all in i18n/errors.json).
  std::string_view code;
  // The rule that decided, e.g. "order34/app1/row3/search_case" or "afm2025/app2/R11". For
  // no_policy_in_force: the prefix of the version whose text is unknown, or the instrument id when
  // no version at all was in force. Empty for unknown ids.
  std::string_view rule;
  // When a resource was decided: the Appendix-1 cell that allowed the ground (the request needs
  // both). Empty otherwise.
  std::string_view ground_rule;
  // The version cited with `rule` (e.g. "order34-2026/app1"); empty when none was in force.
  std::string_view version;
  // First day (days since 1970-01-01, Astana calendar) of `version`; kNoDay when none.
  int64_t effective_from = kNoDay;
  // False when that date is our estimate (publication dates unknown), see the data files.
  bool effective_from_verified = false;
  // True only when every cell/grant that decided is confirmed by the regulation's text; false
  // for reconstructed matrix cells, assumptions, unknown texts and unknown ids.
  bool verified = false;
};

struct ResourceInfo {
  std::string id;                 // "R01".."R52", numbered as in Appendix 2 of the AFM Rules
  nlohmann::json names;           // {"kk": ..., "ru": ..., "en": ...}
  std::string holder;             // the state body or company that holds the database (English)
  std::vector<std::string> keys;  // search key types, e.g. "iin", "cadastral_number"
  // Top-level member names of the source's answer (the simulator's contract; unique, non-empty).
  std::vector<std::string> fields;
  Access default_access = Access::None;
  // The truncated view: names of the fields kept at any depth (a whitelist, so a field the source
  // adds later is dropped, not leaked). Empty when the resource has no truncated view.
  std::vector<std::string> truncated_keep;
};

// The resource catalogue. Immutable after load; thread-safe.
class Catalog {
 public:
  // The resource with this id, or nullptr. No allocation.
  const ResourceInfo* find(std::string_view id) const;
  // All resources in catalogue order.
  const std::vector<ResourceInfo>& all() const { return resources_; }

 private:
  friend class Engine;
  friend struct EngineBuilder;
  std::vector<ResourceInfo> resources_;
  std::vector<uint16_t> by_id_;  // indices into resources_, sorted by id (binary search)
};

struct EngineImpl;

// The loaded policy. Immutable after load, so any number of threads may call any method
// concurrently without locks.
class Engine {
 public:
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // The defaults compiled into the binary (policy/*.json and catalog/*.json of the repository).
  // Returns error code "policy_invalid" only if the shipped data is broken (a test guards it).
  static Result<std::shared_ptr<const Engine>> load_embedded();

  // The same layout on disk: root/policy/*.json and root/catalog/*.json (other files ignored).
  // Validation is strict: unknown or duplicate keys, unknown ids, duplicate rows/cells/versions,
  // malformed dates, missing required fields and truncated grants without a truncated view all
  // fail with code "policy_invalid" (or "policy_unreadable" for I/O) and a detail naming the
  // file and the offending field. The certain per-row plus counts of Appendix 1 are NOT enforced
  // here (an administrator may need to load a corrected matrix); the tests check shipped data.
  static Result<std::shared_ptr<const Engine>> load_dir(const std::filesystem::path& root);

  // Decides whether `user_type` may request on `ground` (and, when `resource` is not empty, with
  // what access to that resource) at Astana calendar day `day` (days since 1970-01-01), under
  // the version of each instrument in force that day (effective_from <= day, latest wins).
  // Order of checks: ids, then the ground (Appendix 1), then the resource. Fails closed: a day
  // with no version, or a version whose text is unknown, gives no_policy_in_force.
  // No allocation, no locks; thread-safe.
  Decision decide(std::string_view user_type, std::string_view ground, std::string_view resource,
                  int64_t day) const;

  bool is_user_type(std::string_view id) const;
  bool is_ground(std::string_view id) const;
  const Catalog& catalog() const;

  // Ids in the vocabulary's order (the order of Appendix 1, then the AFM worker / ground).
  std::vector<std::string> user_types() const;
  std::vector<std::string> grounds() const;

 private:
  friend struct EngineBuilder;
  Engine();
  std::unique_ptr<EngineImpl> impl_;
};

// {"decision": "allow"|"deny", "access": "full"|"truncated"|"none", "rule", "policy_version",
//  "effective_from": "YYYY-MM-DD", "effective_from_verified", "verified", "code" (denials only),
//  "ground_rule" (when a resource was decided)}. rule/policy_version/effective_from are null
// when there is none.
nlohmann::json explain(const Decision& d);

// Returns a copy of `data` keeping, at every depth, only object members whose key is in
// info.truncated_keep; arrays are walked element by element, scalars are kept as they are.
// A resource without a truncated view (empty whitelist) yields empty objects: fail closed.
nlohmann::json apply_truncation(const nlohmann::json& data, const ResourceInfo& info);

// `aaj policy explain --user-type T --ground G [--resource R] [--at YYYY-MM-DD]`.
// Decides at day `at` (empty: today in Astana) with the embedded policy, or the one under
// `policy_dir` when not empty, and writes ONE JSON object and a newline to `out`: explain(...)
// on a decision, or {"error": code, "message": ...} on a usage error (malformed date, unknown
// id) or when the policy cannot be loaded. A one-line human note goes to `err` on errors.
// Returns 0 allow, 1 deny, 2 usage/load error.
int policy_explain_command(const std::string& user_type, const std::string& ground,
                           const std::string& resource, const std::string& at,
                           const std::string& policy_dir, std::ostream& out, std::ostream& err);

}  // namespace aaj::policy
