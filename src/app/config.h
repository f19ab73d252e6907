// The installation's configuration (TOML). Relative paths are resolved against the config file's
// folder, so a demo installation can be moved as a whole.
#pragma once
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "auth/sms.h"
#include "core/result.h"
#include "sources/connector.h"
#include "store/store.h"

namespace aaj::app {

struct Config {
  std::filesystem::path file;        // the config file itself
  std::string mode = "development";  // "development" | "production"

  // [server]
  std::string listen = "127.0.0.1:8443";
  std::filesystem::path tls_cert, tls_key;
  int io_threads = 2;
  int worker_threads = 32;
  size_t max_body_bytes = 1 << 20;
  int read_timeout_seconds = 30;
  int idle_timeout_seconds = 60;

  // [storage], [journal]
  store::StoreConfig store;
  std::filesystem::path journal_dir;
  // The system's own signing key (docs/journal-format.md): it signs the tree head of every group
  // commit (sealing every answer) and every sealed segment. An organisation signing certificate
  // of the operator (PEM, the chain after it) and its unencrypted PEM key. Required in
  // production mode; without it answers carry no seal (development only).
  std::filesystem::path system_cert, system_key;
  std::string log_id;                 // "aaj:<operator BIN>:<installation>"
  uint64_t segment_records = 100000;  // the active segment is sealed at this many records
  // Group commit under load: how long the log's writer may wait for more records before one
  // fdatasync and one signed head cover them (journal::Options::commit_delay; decision 66).
  int64_t commit_delay_us = 1000;

  // [pki]
  std::vector<std::filesystem::path> trust;
  std::filesystem::path crl_dir;
  int crl_reload_seconds = 10;

  // [policy]
  std::filesystem::path policy_dir;  // empty: the policy compiled into the binary

  // [auth], [requests]
  int challenge_ttl_seconds = 120;
  // Open (unanswered, unexpired) challenges one client address may hold; a flood from one
  // address cannot lock everybody out. Behind a reverse proxy, raise it.
  int max_open_challenges_per_client = 32;
  int session_ttl_seconds = 12 * 3600;   // re-entry at least every 12 hours (CJIS default)
  int max_clock_skew_seconds = 300;      // replay window: signed_at within ± this of now
  int session_idle_seconds = 30 * 60;    // a session unused this long is locked (CJIS)
  int lockout_threshold = 5;             // failed second-factor attempts …
  int lockout_window_seconds = 15 * 60;  // … within this window lock the account for the window
  int inactive_days = 90;                // accounts unused this long are disabled (CJIS)
  int password_reminder_days = 30;       // the EDS password is changed at least monthly (R-AUTH-4)
  bool sms_enabled = true;               // SMS is the weaker factor: can be switched off …
  std::vector<std::string> sms_disabled_bodies;  // … globally or for these body BINs

  // [access]
  int application_deadline_seconds = 24 * 3600;  // the operator decides within one day (R-ACC-2)

  // [exports], [archive]: obtained information's life (R-USE-2, R-USE-3)
  int export_remind_after_minutes = 60;  // unconfirmed exports older than this are reminded
  std::filesystem::path export_pdf_font = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
  int archive_max_queue = 16384;  // answers waiting to be stored; beyond: withheld (decisions.md)

  // [sms]
  auth::SmsConfig sms;

  // [webauthn]
  std::string webauthn_rp_id = "localhost";
  std::vector<std::string> webauthn_origins;  // default: https://localhost:<port of listen>
  bool webauthn_require_uv = true;            // biometrics: user verification required

  // [grounds]: optional verification of the request's case against the case register (a source
  // like the others: the pseudo-resource "CASES" of the http-json protocol).
  bool verify_grounds = false;
  sources::ConnectorConfig case_register;  // [grounds.register]; its url is required if verifying
  std::vector<std::string> verified_grounds;  // ground types checked; empty = all

  // [systems]: system-to-system clients (the court bodies' information system, R-COURT). They
  // connect to their own listener with mutual TLS and send CMS-signed requests on behalf of a
  // named user (a judge).
  struct SystemClient {
    std::string name;                                 // e.g. "court-is"
    std::string bin;                                  // the organisation's BIN in its certificates
    std::vector<std::string> user_types = {"judge"};  // on whose behalf it may ask
    bool require_mtls = true;  // a TLS client certificate with the same BIN is required
  };
  std::string systems_listen;  // "HOST:PORT"; empty: no system-to-system listener
  std::vector<SystemClient> systems;

  // [witness]: the co-signer of the event log's heads (docs/journal-format.md §6), run by the
  // prosecutor's office. Empty url: no witness.
  struct Witness {
    std::string url;                           // https://HOST:PORT
    std::filesystem::path ca_file;             // trusts the witness's TLS server certificate
    std::vector<std::filesystem::path> trust;  // CAs of its signing key; default pki.trust
    std::string bin;                           // the BIN its signing certificate must carry
    int interval_seconds = 5;                  // how often the newest head is offered
  } witness;

  // [sources]
  std::string simulator_listen = "127.0.0.1:8470";
  std::filesystem::path simulator_cases;  // the simulated case register's data file (optional)
  sources::ConnectorConfig default_source;
  std::map<std::string, sources::ConnectorConfig> source_overrides;  // by resource id
};

// Reads and validates the file. Error "config" with the file, key and reason.
Result<Config> load_config(const std::filesystem::path& file);

}  // namespace aaj::app
