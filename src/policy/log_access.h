// Who may read which records of the event log, and which of their fields (R-LOG-3: the operator
// keeps users and their requests confidential; R-CTRL-2: controllers review their body's
// requests; R-CTRL-5: the prosecutor checks a body's users under a resolution).
//
// The rules are versioned DATA like the rest of the regulation: policy/log-access-*.json
// (kind "log_access", compiled in, replaceable by a folder), format in policy/README.md. This
// module loads and validates them, decides which rule governs a staff role on a day, tests
// whether a record is opened by a rule, and shapes a record to the fields the rule lets through.
// It knows records only as JSON ({"seq","at","at_astana","type","body","prev","hash"}, as
// journal::scan reads them); it does no I/O after loading.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"

namespace aaj::policy {

// Which records a rule opens.
enum class LogScope : uint8_t {
  All,         // every record
  ReaderBody,  // records whose `body_bin` path names one of the reader's bodies (controllers)
  Resolution,  // records a registered resolution opens: its body, its IINs, its period
};

// A record field as a path of member names from the record's top level, e.g. {"body", "user",
// "body_bin"}; written "body.user.body_bin" in the files.
using FieldPath = std::vector<std::string>;

// One rule of a version: what `role` may read. Immutable after load.
struct LogRule {
  std::string role;  // "operator" | "controller" | "prosecutor" | "admin"
  std::string rule;  // cited id: "<rule_prefix>/<id>", e.g. "log-access-2026/controller/own-body"
  LogScope scope = LogScope::All;
  FieldPath body_bin;  // ReaderBody, Resolution: where a record names the body it concerns
  FieldPath iin;       // Resolution: where a record names the person it concerns
  // True: the whole record. False: only `fields` (the rest is removed, not blanked).
  bool all_fields = false;
  std::vector<FieldPath> fields;
};

// The outcome of LogAccessPolicy::decide. Pointers and views stay valid while the policy lives.
struct LogAccessDecision {
  bool allow = false;
  // "" when allowed; "no_policy_in_force" (no version on that day) or "log_access_not_granted"
  // (the version in force has no rule for the role).
  std::string_view code;
  std::string_view version;    // e.g. "log-access-2026/v1"; empty when no version was in force
  std::string_view rule;       // the rule's id; the version's rule prefix for a denial
  int64_t effective_from = 0;  // first day of `version` (days since 1970-01-01)
  bool effective_from_verified = false;  // false while the date is our estimate
  const LogRule* grant = nullptr;        // the rule when allowed
};

// What a prosecutor's registered resolution (қаулы) opens: one body's records, optionally only
// those of the listed people, within a period of Astana calendar days (both ends inclusive).
struct ResolutionScope {
  std::string body_bin;
  std::vector<std::string> iins;  // empty: every person of the body
  int64_t from_day = 0, to_day = 0;
};

// Who reads, as far as a rule's scope needs to know.
struct LogReaderScope {
  std::vector<std::string> bodies;              // ReaderBody: the bodies the reader controls
  const ResolutionScope* resolution = nullptr;  // Resolution: the resolution read under
};

// The loaded log-access policy. Immutable after load: any number of threads may use it.
class LogAccessPolicy {
 public:
  // The policy/*.json files of kind "log_access" compiled into the binary. Error
  // "policy_invalid" only if the shipped data is broken (a test guards it).
  static Result<std::shared_ptr<const LogAccessPolicy>> load_embedded();
  // The same from root/policy/*.json (files of other kinds are left to Engine::load_dir).
  // Errors: "policy_unreadable" (I/O), "policy_invalid" with a detail naming the file and field.
  static Result<std::shared_ptr<const LogAccessPolicy>> load_dir(const std::filesystem::path& root);
  // From (relative path, text) pairs; files whose kind is not "log_access" are skipped. Strict:
  // duplicate or unknown keys, missing fields, malformed dates, unknown roles, field paths or
  // field sets, two rules for one role, two versions on one day, and no log_access file at all
  // are "policy_invalid".
  static Result<std::shared_ptr<const LogAccessPolicy>> load_files(
      const std::vector<std::pair<std::string, std::string>>& files);

  // The rule for a staff `role` under the version in force on Astana day `day` (latest
  // effective_from <= day). Fails closed: no version, or no rule for the role, denies.
  LogAccessDecision decide(std::string_view role, int64_t day) const;

  ~LogAccessPolicy();
  LogAccessPolicy(const LogAccessPolicy&) = delete;
  LogAccessPolicy& operator=(const LogAccessPolicy&) = delete;

 private:
  struct Impl;
  LogAccessPolicy();
  std::unique_ptr<Impl> impl_;
};

// Whether `rule` opens `record` for this reader. ReaderBody: the record's body_bin path holds one
// of reader.bodies. Resolution: reader.resolution is set, the record's body_bin path holds its
// body, its iin path holds one of its IINs (when it lists any), and the Astana calendar day of
// the record's "at" (UTC) lies in its period. A missing or non-string field, or an unreadable
// "at", never opens a record (fail closed).
bool opens(const LogRule& rule, const nlohmann::json& record, const LogReaderScope& reader);

// The record as `rule` lets it be read: the whole record, or only the members on the rule's
// field paths that the record has (absent ones are not added; a member is never blanked).
nlohmann::json shape(const LogRule& rule, const nlohmann::json& record);

// A resolution document (the content a prosecutor signs): {"number", "date", "body_bin",
// "iins"?: [...], "period": {"from", "to"}, "purpose", "signed_at"}. parse_resolution checks
// its form only (not the signature, signed_at or whether the body is registered): no unknown
// fields; number 1-64 characters; date, period.from and period.to real dates "YYYY-MM-DD" (Astana
// calendar) not after `today`; from <= to; body_bin a valid BIN; iins, when present, 1-1000
// distinct valid IINs; purpose 3-2000 characters. Error "invalid_document" naming the field.
struct ResolutionDocument {
  std::string number;
  int64_t date = 0;
  std::string purpose;
  ResolutionScope scope;
};
Result<ResolutionDocument> parse_resolution(const nlohmann::json& doc, int64_t today);

}  // namespace aaj::policy
