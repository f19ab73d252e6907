// Internal to src/app: the gateway's implementation, split by concern across gateway.cpp
// (routing, the request pipeline) and entry.cpp (EDS, second factors, sessions, agreement).
#pragma once
#include <array>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "app/answer_archive.h"
#include "app/config.h"
#include "app/gateway.h"
#include "app/replay_guard.h"
#include "app/traffic.h"
#include "app/user_ref.h"
#include "app/witness_link.h"
#include "auth/challenges.h"
#include "auth/sms.h"
#include "auth/webauthn.h"
#include "journal/journal.h"
#include "pki/cms.h"
#include "pki/crl.h"
#include "pki/system_key.h"
#include "pki/trust.h"
#include "policy/log_access.h"
#include "policy/policy.h"
#include "sources/connector.h"
#include "store/store.h"

namespace aaj::app::detail {

using nlohmann::json;

// HTTP status of each error code the API can answer with.
int status_of(const std::string& code);
http::Response json_response(int status, const json& j);
// The API's error body {"error": {"code", "message", "detail"?}, "request_id"?}, and the
// response carrying it with the code's status.
json error_json(const std::string& code, const std::string& request_id, const std::string& detail);
http::Response error_response(const std::string& code, const std::string& request_id,
                              const std::string& detail);
std::string uuid_v7();
// The CMS verifier's reasons that describe an unreadable container map to malformed_cms.
std::string cms_code(const std::string& reason);
json signer_json(const pki::CertInfo& c);
// "ip:port" → "ip" (IPv6 addresses keep their colons).
std::string client_address(const std::string& remote);
bool has_explicit_offset(const std::string& s);
// Parses untrusted JSON text; null when malformed or nested deeper than json_limits allows.
json parse_json(std::string_view text);
// A query string (application/x-www-form-urlencoded): each parameter, decoded, in order, to
// `each`, whose first error is returned. Errors "malformed_request": a parameter without '=', a
// broken %-escape, a parameter given twice.
Status parse_query(std::string_view query,
                   const std::function<Status(const std::string&, const std::string&)>& each);
// j[key] when j is an object and the member is a string; "" otherwise (never throws).
std::string string_field(const json& j, const char* key);
// The one rule for a signature acting for a signed-in user: the signer's IIN is the user's, the
// certificate is not an information system's, and an organisation certificate names the user's
// body. Errors: "signer_mismatch", "information_system_certificate", "organisation_mismatch".
Status signer_acts_for(const pki::CertInfo& signer, const store::User& user);
// A signed document's `signed_at`: ISO 8601 with an explicit offset ("invalid_document"
// otherwise) and within ± skew of now ("stale_request" otherwise).
Status check_signed_at(const std::string& signed_at, time::Instant now, std::chrono::seconds skew);

// A document signed with a signing key: the CMS bytes, the verification, the parsed content.
struct SignedDocument {
  std::string der;
  pki::VerifyResult verified;
  json content;  // null when the signed content is not JSON
};

// One access-log line: {"event":"http","method","path","remote","status","us"} (JSON, keys in
// this order; a path that is not UTF-8 is logged with replacement characters).
std::string access_log_line(std::string_view method, std::string_view path, int status,
                            int64_t micros, std::string_view remote);

// The portal's session cookie (Secure, HttpOnly, SameSite=Strict); "" and 0 clear it.
std::string session_cookie(const std::string& token, int max_age_seconds);
// The session token from "Authorization: Bearer …" (API clients) or the aaj_session cookie.
std::string bearer_or_cookie(const http::Request& req);

// What one data request accumulated on its way; becomes its event-log record.
struct Trace {
  std::string request_id;
  std::string remote;
  json user;
  json signer;
  std::string cms_sha256;
  std::string cms_base64;  // the signed request itself, kept as evidence
  json document;
  json policy;
  std::string answer_sha256;
  json system;        // a system-to-system request: the client system and its certificates
  json ground_check;  // the case register's answer when grounds are verified
};

// Whose request is being served: a signed-in user, or a system client acting for a user.
struct Asker {
  store::User user;
  const Config::SystemClient* system = nullptr;
};

// One data request in flight: what it has accumulated and where its answer goes. Shared by the
// callbacks that carry it from the sources to the log to the answer; only one of them runs at a
// time, so it needs no lock.
struct Pending {
  Trace tr;
  std::function<void(http::Response)> respond;  // cleared once answered
  std::string path;
  std::chrono::steady_clock::time_point started;
  Asker asker;
  // What the signed document asks, once checked.
  bool many = false;  // "resources": [...] rather than "resource"
  std::vector<std::string> resources;
  std::vector<const policy::ResourceInfo*> infos;
  std::vector<policy::Decision> decisions;
  json subject;
  json ground;  // the material the answers are attached to (R-USE-2)
};
using PendingPtr = std::shared_ptr<Pending>;

// The answer to resource `i` of a request as the archive keeps it (R-USE-2): `data` the bytes
// released, `sha256` their hash as logged. Built before its record is appended; the log position
// (log_seq, logged_at) is all the journal's completion adds.
store::StoredAnswer stored_answer(const Pending& p, size_t i, bool found, std::string data,
                                  std::string sha256);

// The replay guard's key of the party that signed a request: the user's IIN, or "system:<BIN>"
// for a system client (a system signs for many users; its nonces are its own). `record` is a
// data_request record body as logged.
std::string replay_key_of(const json& record);

// The signed-in caller of an authenticated endpoint.
struct Caller {
  store::User user;
  store::Session session;
  uint64_t stamp = 0;  // the store's change stamp when they were read
};

// Sessions with their users and agreement status, valid only while the store's change stamp is
// unchanged: any change committed anywhere (a block, a logout, an operator's CLI in another
// process) invalidates every entry, so the next request reads the store again. This spares the
// three reads per request without delaying a block by even one request. Thread-safe (sharded).
class SessionCache {
 public:
  struct Entry {
    store::Session session;
    store::User user;
    std::optional<bool> agreed;
    uint64_t stamp = 0;
  };
  // The entry for this session hash read under `stamp`, or nullopt.
  std::optional<Entry> get(const std::string& hash, uint64_t stamp);
  void put(const std::string& hash, Entry e);
  // Records the agreement status of a cached session (ignored if the entry is stale or gone).
  void set_agreed(const std::string& hash, uint64_t stamp, bool agreed);

 private:
  struct Shard {
    std::mutex mu;
    std::unordered_map<std::string, Entry> map;
  };
  Shard& shard(const std::string& hash) { return shards_[std::hash<std::string>{}(hash) % 16]; }
  std::array<Shard, 16> shards_;
};

class GatewayImpl final : public Gateway {
 public:
  GatewayImpl(const Config& cfg, std::shared_ptr<http::Runtime> rt)
      : cfg_(cfg),
        rt_(std::move(rt)),
        challenges_(std::chrono::seconds(cfg.challenge_ttl_seconds), 100000,
                    static_cast<size_t>(cfg.max_open_challenges_per_client)),
        replay_(std::chrono::seconds(cfg.max_clock_skew_seconds)) {}

  Status init();
  http::Response handle(const http::Request& req) override;
  // Logs the data requests' summary every `every` (see traffic.h), on the runtime's timer.
  void log_traffic_every(std::chrono::seconds every);
  bool handle_async(http::Request& req, const http::Responder& respond) override;

 private:
  // The acceptance window of signing times (and of the replay guard).
  std::chrono::seconds skew() const { return std::chrono::seconds(cfg_.max_clock_skew_seconds); }
  http::Response route(const http::Request& req);

  // 200 "ok" when requests can be served; 503 "degraded" naming what would make every request
  // fail closed (today: a trust anchor without a fresh CRL).
  http::Response health(const http::Request&);

  // ---- the data request pipeline (requests.cpp) ----
  // Every outcome, refusals and failures included, is logged before it is answered. The steps
  // never block: they run on I/O threads and continue in callbacks from the sources and the log.
  void start_request(http::Request& req, std::function<void(http::Response)> respond, bool system);
  // The same pipeline for a caller on a worker thread (routes reached through handle()).
  http::Response data_request_blocking(const http::Request& req, bool system);
  http::Response data_request(const http::Request& req);
  // POST /api/v1/system/requests: a system client (the court bodies' IS) asks on behalf of a
  // user; mutual TLS and a CMS by the organisation.
  http::Response system_request(const http::Request& req);
  template <class F>
  void guarded(const PendingPtr& p, F&& step);
  void process_request(const PendingPtr& p, http::Request& req);
  void process_system_request(const PendingPtr& p, http::Request& req);
  // The part shared by both: the signed document's rules, ground, policy; then the sources.
  void serve_document(const PendingPtr& p, const pki::VerifyResult& v, time::Instant now);
  // Asks the case register about the request's ground when configured (fail closed), then
  // runs `then`. Refusals: ground_not_registered, ground_closed, ground_other_body,
  // ground_register_unavailable.
  void check_ground_register(const PendingPtr& p, const json& ground, std::function<void()> then);
  void ask_sources(const PendingPtr& p);
  // One resource: logged durably, then released; the data's own bytes are passed on.
  void deliver(const PendingPtr& p, Result<sources::Answer> a);
  // Several resources asked at once: every resource's outcome is its own log record.
  void deliver_many(const PendingPtr& p, std::vector<Result<sources::Answer>> answers);
  json record_of(Trace& tr, const std::string& outcome, const std::string& code, int status);
  // A refusal or failure: logged, then answered.
  void finish(const PendingPtr& p, const Error& e);
  // Answers once, with an access-log line.
  void reply(const PendingPtr& p, http::Response r);

  // Every accepted document is in the log, so nonces of the last window survive a restart.
  Status refill_replay_guard();

  http::Response challenge(const http::Request& req);

  http::Response enter_with_eds(const http::Request& req);

  http::Response process_entry(const http::Request& req, json& rec);

  // The caller behind the bearer token (see entry.cpp). needs_full: both factors done.
  Result<Caller> authenticate(const http::Request& req, time::Instant now, bool needs_full);

  // Ends the session behind the bearer token; logged. 401 for an unknown or ended session.
  http::Response logout(const http::Request& req);

  http::Response me(const http::Request& req);

  // ---- entry: second factors and the agreement (entry.cpp) ----
  Status init_entry();
  // The steps this session still has to take: "webauthn"/"sms" (alternatives) and "agreement".
  json next_steps(const store::User& u, const store::Session& s);
  Result<bool> agreement_signed(const std::string& iin);
  // The same for a caller, through the session cache.
  Result<bool> agreement_signed_for(const Caller& c);
  // Error "locked_out" when the user has too many recent second-factor failures.
  Status check_lockout(const std::string& iin, time::Instant now);
  Status record_failure(const std::string& iin, time::Instant now);
  // Serializes one user's second-factor attempts (striped: users share a few locks).
  std::mutex& factor_lock(const std::string& iin);
  bool sms_allowed(const store::User& u) const;
  // Upgrades the session to "full" after a second factor; logs; answers with the next steps.
  http::Response second_factor_done(const Caller& c, const std::string& method, const json& detail);
  http::Response sms_send(const http::Request& req);
  http::Response sms_verify(const http::Request& req);
  http::Response agreement_text(const http::Request& req);
  http::Response agreement_sign(const http::Request& req);
  http::Response sessions(const http::Request& req);
  http::Response end_session(const http::Request& req);

  // Decodes base64 `cms`, verifies it as a *signing* CMS at `now` (chain, key usage, revocation)
  // and parses its content. Errors: "malformed_cms", the verifier's reasons.
  Result<SignedDocument> signed_document(const json& cms, time::Instant now);

  // ---- access lifecycle (access.cpp) ----
  // A full session holding `role`; *body_bin gets the role's body (controllers' scope).
  Result<Caller> staff(const http::Request& req, const std::string& role, std::string* body_bin);
  http::Response submit_application(const http::Request& req);
  http::Response refused_on_arrival(const http::Request& req, const pki::VerifyResult& v,
                                    const std::string& code, const std::string& detail);
  http::Response staff_refusal(const http::Request& req, const std::string& iin, const Error& e);
  http::Response refusal_or_error(const http::Request& req, const Error& e);
  http::Response application_status(const http::Request& req);
  json application_json(const store::Application& a, time::Instant now) const;
  Result<store::Application> application_for_decision(const Caller& c, const std::string& id);
  http::Response operator_queue(const http::Request& req);
  http::Response operator_register(const http::Request& req);
  http::Response operator_refuse(const http::Request& req);
  http::Response set_status_by(const http::Request& req, const std::string& role,
                               const std::string& status);
  http::Response operator_edit(const http::Request& req);
  http::Response operator_block(const http::Request& req);
  http::Response operator_unblock(const http::Request& req);
  http::Response controller_block(const http::Request& req);

  // ---- reading the event log under the log-access policy (log_access.cpp) ----
  Status init_log_access();
  // GET /api/v1/log: the records the caller's staff role may read, shaped by the policy; the
  // read is logged (log_read) before the answer, refusals too (log_read_refused).
  http::Response log_read(const http::Request& req);
  // POST and GET /api/v1/prosecutor/resolutions: a prosecutor registers a signed resolution
  // (logged resolution_registered before it is stored) and lists their own.
  http::Response resolution_register(const http::Request& req);
  http::Response resolution_list(const http::Request& req);
  // ---- obtained information: answers kept with their materials, exports, destruction
  // (materials.cpp, exports.cpp; R-USE-2, R-USE-3) ----
  Status init_materials();
  // The request path's hook, after the answers' log records are durable and before they are
  // released: the answers (stored_answer, with their log positions) go to the archive (never
  // blocks). When the archive cannot take them, the answer is withheld: `answer_withheld` is
  // logged and 503 archive_unavailable answered, and it returns false (the caller stops).
  bool archive_answers(const PendingPtr& p, std::vector<store::StoredAnswer> answers);
  void withhold(const PendingPtr& p, const std::string& detail);
  // POST /api/v1/materials/destroy (controller, CMS-signed act).
  http::Response destroy_material(const http::Request& req);
  // GET /api/v1/controller/exports: the controller's body's unconfirmed exports.
  http::Response controller_exports(const http::Request& req);
  // POST /api/v1/exports, POST /api/v1/exports/destroyed, GET /api/v1/exports,
  // GET /api/v1/answers?request_id=
  http::Response create_export(const http::Request& req);
  http::Response confirm_export(const http::Request& req);
  http::Response list_exports(const http::Request& req);
  http::Response read_answer(const http::Request& req);
  // GET /api/v1/evidence?request_id=: the evidence package (evidence/package.h).
  http::Response evidence_package(const http::Request& req);
  // Adds "unconfirmed_exports" (exports older than [exports] remind_after_minutes, not yet
  // confirmed destroyed) to an answer about `u`, and a reminder to its "reminders" if it has them.
  void add_export_reminders(const store::User& u, time::Instant now, json& answer);
  // A full session of a requesting user (a user type, the agreement signed): data requests' rule.
  Result<Caller> requesting_user(const http::Request& req, time::Instant now);
  // The stored answers of a request; when its answers are still queued in the archive (released
  // a moment ago) they are written first. An unknown request id flushes nothing.
  Result<std::vector<store::StoredAnswer>> answers_of(const std::string& request_id);
  // The stored answers of the caller's (`iin`) own request, or the refusal to answer with:
  // answer_unknown, not_your_answer, answer_destroyed when `destroyed_refused` (each logged by
  // answer_access_refused), or the store's error. The caller holds materials_mu_ (shared).
  struct OwnAnswers {
    std::vector<store::StoredAnswer> rows;
    std::optional<http::Response> refusal;
  };
  OwnAnswers own_answers(const http::Request& req, const std::string& action,
                         const std::string& iin, const std::string& request_id,
                         bool destroyed_refused);
  // A refused access to a stored answer or export by a signed-in user: logged
  // (answer_access_refused), then answered; `extra` members are added to the error answer
  // (a destroyed answer's "destroyed": when, by whom, which act).
  http::Response answer_access_refused(const http::Request& req, const std::string& action,
                                       const std::string& iin, const std::string& id,
                                       const Error& e, const json& extra = nullptr);

  // ---- WebAuthn (webauthn_routes.cpp) ----
  auth::webauthn::RelyingParty relying_party() const;
  std::string new_webauthn_challenge(const std::string& session, time::Instant now);
  std::optional<std::string> take_webauthn_challenge(const std::string& session, time::Instant now);
  http::Response webauthn_register_options(const http::Request& req);
  http::Response webauthn_register(const http::Request& req);
  http::Response webauthn_options(const http::Request& req);
  http::Response webauthn_verify(const http::Request& req);
  http::Response second_factor_failed(const Caller& c, const std::string& method, const Error& e);
  Result<Caller> pending_caller(const http::Request& req, time::Instant now);

  Config cfg_;
  std::shared_ptr<http::Runtime> rt_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<journal::Journal> journal_;
  std::shared_ptr<const pki::TrustStore> trust_;
  std::shared_ptr<pki::CrlStore> crls_;
  std::unique_ptr<pki::CmsVerifier> verifier_;
  std::shared_ptr<const pki::SystemKey> system_key_;  // null: answers carry no seal
  std::shared_ptr<WitnessLink> witness_;              // null: no witness configured
  std::shared_ptr<const policy::Engine> policy_;
  std::shared_ptr<const policy::LogAccessPolicy> log_policy_;
  std::shared_ptr<sources::SourceRouter> router_;
  std::shared_ptr<sources::SourceRouter> case_register_;  // null unless grounds are verified
  auth::ChallengeTable challenges_;
  ReplayGuard replay_;
  SessionCache session_cache_;
  TrafficSummary traffic_;
  std::shared_ptr<auth::SmsGateway> sms_gateway_;
  std::unique_ptr<auth::SmsCodes> sms_codes_;
  std::array<std::mutex, 64> factor_locks_;
  std::mutex webauthn_mu_;
  // session hash -> (challenge, expiry): one outstanding WebAuthn ceremony per session
  std::unordered_map<std::string, std::pair<std::string, time::Instant>> webauthn_challenges_;
  json agreement_;                // the agreement file (version, title, clauses)
  std::string agreement_sha256_;  // of the canonical {"clauses","title","version"}
  // Declared after store_ and journal_: destroyed first, it writes what is queued into them.
  std::unique_ptr<AnswerArchive> archive_;
  // Exports and reads share it; a destruction takes it alone, so no export is made of an answer
  // while its material is being destroyed.
  std::shared_mutex materials_mu_;
};

}  // namespace aaj::app::detail
