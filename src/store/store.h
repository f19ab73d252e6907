// The one storage interface of aaj. Backends (SQLite now, PostgreSQL when scaled out) are chosen
// by configuration and registered by name; nothing above this header knows which one runs.
// All methods are thread-safe. Errors carry code "store_unavailable" (I/O, locked database),
// or a domain code where stated.
#pragma once
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "core/time.h"

namespace aaj::store {

struct User {
  std::string iin;
  std::string user_type;  // an id of SPEC "Ids", e.g. "prosecutor"
  std::string body_bin;   // BIN of the user's body (organisation)
  std::string full_name;
  std::string phone;              // +7…, for SMS codes (next issue)
  std::string status = "active";  // "active" | "blocked"
  time::Instant created_at{};
  time::Instant last_entry_at{};  // last completed EDS entry (inactivity limit)
  time::Instant reminded_at{};    // last monthly EDS-password reminder (R-AUTH-4)
};

struct Body {
  std::string bin;
  std::string name;
};

struct Session {
  std::string token_hash;  // hex SHA-256 of the bearer token; the token itself is never stored
  std::string iin;
  time::Instant created_at{};
  time::Instant expires_at{};  // absolute limit (re-entry at least every 12 h by default)
  bool revoked = false;
  // "first_factor": EDS done, second factor pending; "full": both factors done.
  std::string stage = "full";
  time::Instant last_seen{};  // for the idle limit; updated coarsely (not on every call)
};

// The signed Agreement on terms of use (Appendix 6 of Rules No. 21), one per user and version.
struct Agreement {
  std::string iin;
  std::string version;
  std::string text_sha256;  // hex SHA-256 of the agreement text the user signed
  std::string cms_base64;   // the signature itself, kept as evidence
  time::Instant signed_at{};
};

// A WebAuthn credential (a platform authenticator: fingerprint / Face ID).
struct WebAuthnCredential {
  std::string id;  // base64url of the credential id
  std::string iin;
  std::string public_key_der;  // base64 of the SubjectPublicKeyInfo
  int alg = -7;                // COSE algorithm
  int64_t sign_count = 0;
  time::Instant created_at{};
  bool backup_eligible = false;  // a synced passkey (BE flag), fixed for the credential's life
};

// A staff role of an official (R-ACC, R-CTRL): "operator" (the Committee), "controller"
// (departmental control, scoped to body_bin), "prosecutor" (oversight), "admin".
struct StaffRole {
  std::string iin;
  std::string role;
  std::string body_bin;
};

// An electronic application for access (Appendix 5 of Rules No. 21) and its decision.
struct Application {
  std::string id;
  std::string kind;       // "new" | "transfer" | "block"
  std::string iin;        // the person the application is about
  std::string applicant;  // IIN of the signer (the person, or a controller for "block")
  std::string body_bin;
  std::string data;  // the signed application document (JSON text)
  std::string cms_base64;
  std::string checks;                // JSON array of the automatic checks on arrival
  std::string status = "submitted";  // "submitted" | "registered" | "refused"
  time::Instant received_at{};
  time::Instant due_at{};  // one day after receipt (R-ACC-2)
  time::Instant decided_at{};
  std::string decided_by;
  std::string reason;
  std::string decision_cms_base64;  // a refusal is signed with the operator's EDS
};

// A prosecutor's resolution (қаулы) opening a check of a body's users (R-CTRL-5), as registered:
// it lets its prosecutor read the event log's records of that body (of the listed people only,
// when it lists any) within its period. Dates are Astana calendar days "YYYY-MM-DD".
struct Resolution {
  std::string id;  // UUID, assigned at registration
  std::string prosecutor_iin;
  std::string number;  // the resolution's own number
  std::string date;
  std::string body_bin;
  std::vector<std::string> iins;  // empty: every user of the body
  std::string period_from, period_to;
  std::string purpose;
  std::string document;    // the signed document (JSON text)
  std::string cms_base64;  // the prosecutor's signature, kept as evidence
  time::Instant registered_at{};
  uint64_t log_seq = 0;  // the resolution_registered record
};

// An answer kept in the system with its material (R-USE-2): the exact bytes the officer received,
// attached to the request's legal ground. One row per resource of a request.
struct StoredAnswer {
  std::string request_id;
  std::string resource;         // "R01"…
  std::string material_type;    // the request's ground.type, e.g. "criminal_case"
  std::string material_number;  // the request's ground.number
  std::string iin;              // the requesting user
  std::string body_bin;         // the user's body when the answer was given (controllers' scope)
  bool found = true;            // false: the source had no such subject (data is "null")
  bool truncated = false;
  std::string data;    // the answer's bytes as the officer received them; empty once destroyed
  std::string sha256;  // hex SHA-256 of data: the event log's answer_sha256
  int64_t data_size = 0;
  uint64_t log_seq = 0;  // the event-log record that released it
  time::Instant logged_at{};
  time::Instant stored_at{};
  // Destruction with the material (R-USE-3); destroyed_at is zero while the data is kept.
  time::Instant destroyed_at{};
  std::string destroyed_by;          // the controller's IIN
  std::string destruction_act;       // the act's number
  std::string destruction_act_date;  // YYYY-MM-DD
  uint64_t destruction_log_seq = 0;  // the material_destroyed record
  bool destroyed() const { return destroyed_at != time::Instant{}; }
};

// What a destruction records on each answer it destroys.
struct Destruction {
  time::Instant at{};
  std::string by;  // the controller's IIN
  std::string act_number;
  std::string act_date;
  uint64_t log_seq = 0;
};

// A copy of a stored answer downloaded by its user (R-USE-2), until the user confirms destroying
// it.
struct Export {
  std::string id;
  std::string request_id;
  std::string iin;       // the exporting user (the one who made the request)
  std::string body_bin;  // the user's body at export time
  std::string format;    // "json" | "pdf"
  std::string sha256;    // hex SHA-256 of the exported bytes
  int64_t size = 0;
  time::Instant exported_at{};   // the time in the document's watermark
  uint64_t log_seq = 0;          // the answer_exported record
  time::Instant confirmed_at{};  // the user confirmed the local copy destroyed; zero until then
  bool confirmed() const { return confirmed_at != time::Instant{}; }
};

// Which exports list_exports returns (empty / zero members do not filter).
struct ExportFilter {
  std::string iin;
  std::string body_bin;
  bool unconfirmed_only = false;
  time::Instant exported_before{};  // only exports older than this
};

struct StoreConfig {
  std::string backend = "sqlite";  // registered backend name
  std::filesystem::path data_dir;  // sqlite: <data_dir>/aaj.db and <data_dir>/materials.db
  std::string dsn;                 // postgresql (future)
};

class Store {
 public:
  virtual ~Store() = default;
  Store() = default;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // A stamp that differs from the previous call's whenever a change was committed to the store
  // since then, by this process or any other (an operator's CLI included). Readers validate
  // caches with it: equal stamps mean nothing changed. Cheap (no table read). Thread-safe.
  // Error "store_unavailable".
  virtual Result<uint64_t> change_stamp() = 0;

  // Adds a user. Error "user_exists" when the IIN is taken.
  virtual Status add_user(const User& u) = 0;
  // The user with this IIN, or nullopt.
  virtual Result<std::optional<User>> find_user(std::string_view iin) = 0;
  // Sets "active"/"blocked". Error "user_unknown" when absent.
  virtual Status set_user_status(std::string_view iin, std::string_view status) = 0;
  virtual Result<std::vector<User>> list_users() = 0;

  // Inserts or replaces a body.
  virtual Status put_body(const Body& b) = 0;
  virtual Result<std::optional<Body>> find_body(std::string_view bin) = 0;

  virtual Status add_session(const Session& s) = 0;
  virtual Result<std::optional<Session>> find_session(std::string_view token_hash) = 0;
  // Revokes one session (logout) or all of a user's sessions (block).
  virtual Status revoke_session(std::string_view token_hash) = 0;
  virtual Status revoke_sessions_of(std::string_view iin) = 0;
  // Moves a session to `stage` ("full" after the second factor). Error "unauthenticated" when
  // the session is unknown or revoked.
  virtual Status set_session_stage(std::string_view token_hash, std::string_view stage) = 0;
  virtual Status touch_session(std::string_view token_hash, time::Instant last_seen) = 0;
  virtual Result<std::vector<Session>> sessions_of(std::string_view iin) = 0;

  // Error "agreement_exists" when this user already signed this version.
  virtual Status add_agreement(const Agreement& a) = 0;
  virtual Result<std::optional<Agreement>> find_agreement(std::string_view iin,
                                                          std::string_view version) = 0;

  // Error "credential_exists" when the id is registered already (to anyone).
  virtual Status add_credential(const WebAuthnCredential& c) = 0;
  virtual Result<std::vector<WebAuthnCredential>> credentials_of(std::string_view iin) = 0;
  // Stores the counter of the last accepted assertion, only if it moves forward (or stays 0 for
  // authenticators without a counter). Error "counter_regression" otherwise.
  virtual Status set_sign_count(std::string_view credential_id, int64_t sign_count) = 0;

  // Failed second-factor attempts, for the lockout (CJIS: 5 within 15 minutes).
  virtual Status record_auth_failure(std::string_view iin, time::Instant at) = 0;
  virtual Result<int> count_auth_failures(std::string_view iin, time::Instant since) = 0;

  // Staff roles. add_staff_role is idempotent.
  virtual Status add_staff_role(const StaffRole& r) = 0;
  virtual Result<std::vector<StaffRole>> staff_roles_of(std::string_view iin) = 0;

  virtual Status add_application(const Application& a) = 0;
  virtual Result<std::optional<Application>> find_application(std::string_view id) = 0;
  // Applications with this status ("" = all), oldest first.
  virtual Result<std::vector<Application>> list_applications(std::string_view status) = 0;
  // Records the decision on a submitted application. Error "already_decided" when it is not
  // "submitted" any more (two operators deciding at once: the first one wins).
  virtual Status decide_application(const Application& decided) = 0;
  // Records an EDS entry (and, if `reminded`, that the password reminder was shown).
  virtual Status record_entry(std::string_view iin, time::Instant at, bool reminded) = 0;
  // Edits contact details (R-ACC-5). Empty values are left unchanged.
  virtual Status edit_user(std::string_view iin, std::string_view full_name,
                           std::string_view phone) = 0;
  // Replaces a user's type and body (a transfer).
  virtual Status update_user_post(std::string_view iin, std::string_view user_type,
                                  std::string_view body_bin) = 0;

  // Prosecutors' resolutions (schema v6). Error "resolution_exists" when this prosecutor has
  // registered a resolution with this number already; "invalid_document" when period_from is
  // after period_to.
  virtual Status add_resolution(const Resolution& r) = 0;
  virtual Result<std::optional<Resolution>> find_resolution(std::string_view id) = 0;
  // One prosecutor's resolutions, newest registration first.
  virtual Result<std::vector<Resolution>> resolutions_of(std::string_view prosecutor_iin) = 0;
  // ---- answers and their materials (R-USE-2, R-USE-3) ----
  // Adds answers in one transaction (one commit, durable on return). A row whose
  // (request_id, resource) is stored already is left as it is.
  virtual Status add_answers(const std::vector<StoredAnswer>& answers) = 0;
  // The answers of a request, one per resource (ordered by resource); destroyed ones without data.
  virtual Result<std::vector<StoredAnswer>> answers_of_request(std::string_view request_id) = 0;
  // The answers of a material obtained by users of a body, without their data (oldest first).
  virtual Result<std::vector<StoredAnswer>> answers_of_material(std::string_view material_type,
                                                                std::string_view material_number,
                                                                std::string_view body_bin) = 0;
  // Destroys the data of these answers (request_id, resource) that are not destroyed yet, in one
  // transaction: the bytes are overwritten with zeros in place, then removed (secure_delete is on,
  // so freed space is zeroed too); the rows keep their ids, hashes and times and record `d`. Then
  // checkpoints the WAL into the database file and truncates it (*checkpointed: whether that
  // completed; readers can delay it). Returns the keys it destroyed.
  virtual Result<std::vector<std::pair<std::string, std::string>>> destroy_answers(
      const std::vector<std::pair<std::string, std::string>>& keys, const Destruction& d,
      bool* checkpointed) = 0;

  virtual Status add_export(const Export& e) = 0;
  virtual Result<std::optional<Export>> find_export(std::string_view id) = 0;
  // Records the user's confirmation that the local copy is destroyed. Error "already_confirmed"
  // when it was confirmed before, "export_unknown" when there is no such export.
  virtual Status confirm_export(std::string_view id, time::Instant at) = 0;
  // Exports matching the filter, oldest first.
  virtual Result<std::vector<Export>> list_exports(const ExportFilter& f) = 0;
};

using StoreFactory = std::function<Result<std::unique_ptr<Store>>(const StoreConfig&)>;

// Registers a backend under `name` (called from each backend's translation unit at startup via
// register_builtin_backends()). Not thread-safe with concurrent open_store calls; call at startup.
void register_backend(const std::string& name, StoreFactory factory);

// Opens the backend named in cfg. Error "store_unavailable" with the reason, or
// "unknown_backend" when no backend has that name.
Result<std::unique_ptr<Store>> open_store(const StoreConfig& cfg);

}  // namespace aaj::store
