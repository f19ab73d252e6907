// The witness (docs/journal-format.md §6): a separate process, run by the prosecutor's office,
// that keeps the last signed tree head of the event log it co-signed and co-signs a newer one
// only when it is consistent with it (RFC 9162 consistency proof). The operator can then not
// rewrite history unnoticed: a rewritten log either has no co-signature for its heads, or a
// co-signature that contradicts one the witness gave before.
//
// This file is the service logic, independent of HTTP (server.h puts it on HTTPS), and the pure
// helpers the system side shares with it (canonical_head, parse_head, verify_signed_head,
// verify_cosignature).
//
// Error codes (Error::code) of Witness::submit, in the order §6 checks them, and their HTTP
// status (http_status()):
//   "malformed"              400  the body is not the §6 request, or the head not a §3 head
//   "bad_signature"          403  the system's CMS does not verify over the canonical head (any
//                                 reason: untrusted, expired, revoked, revocation_unavailable,
//                                 wrong key usage, …; the detail names it), or the signer's BIN
//                                 is not the configured operator's
//   "unknown_log"            403  head.log is not the configured log id
//   "stale"                  409  head.size < the last co-signed size
//   "wrong_previous_size"    409  previous_size != the last co-signed size (0 before the first)
//   "inconsistent"           409  the consistency proof does not prove that the last co-signed
//                                 tree is a prefix of head (same size with another root
//                                 included)
//   "witness_storage_failed" 503  the state could not be written durably; the witness then
//                                 refuses everything until it is restarted (after a failed
//                                 fsync the file's content on disk is unknown)
//   "internal_error"         500  the witness could not sign
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "core/time.h"
#include "journal/merkle.h"
#include "pki/certificate.h"
#include "pki/cms.h"
#include "pki/crl.h"
#include "pki/issue.h"
#include "pki/trust.h"

namespace aaj::witness {

// ---- Pure helpers (no I/O, no shared state, thread-safe, never throw but std::bad_alloc) ----

// The canonical bytes of a head: nlohmann::json dump() (no whitespace, keys sorted, UTF-8 as
// is). What the system's signature and the witness's co-signature are made over. Strings of
// invalid UTF-8 (impossible in parsed JSON) are replaced by U+FFFD instead of throwing.
std::string canonical_head(const nlohmann::json& head);

// What the witness needs of a head.
struct HeadSummary {
  int64_t size = 0;
  journal::merkle::Hash root{};
  std::string root_hex;  // lowercase, as in the head
  std::string log;
};

// Checks that `head` is a §3 head and returns its size, root and log. Required: "at" and
// "at_astana" (ISO 8601 strings), "batch" {"first_seq","last_seq","root"} with
// 1 <= first_seq <= last_seq == size, "log" (non-empty string), "root" and "batch.root" (64
// lowercase hex), "size" (integer, 1..merkle::kMaxRecords). Other members are allowed (they are
// signed like the rest). No floating-point number anywhere: canonical JSON has integers only.
// Error "malformed" naming the member.
Result<HeadSummary> parse_head(const nlohmann::json& head);

// Verifies a signed head {"head": head, "signature": "<base64 CMS>"}: a detached CMS over
// canonical_head(head), checked by `verifier` (its trust anchors, and its CRLs when it has a
// CrlStore — otherwise revocation is "not_checked") as of `at` with signing usage, whose signer
// certificate's BIN equals `expected_bin` (must not be empty). Does not check the head's shape
// (parse_head does). Returns the signer's certificate description. Errors: "malformed" (not an
// object with an object "head" and a base64 string "signature"), "bad_signature" (the CMS does
// not verify, for any reason the verifier gives — the detail starts with its reason code — or
// the BIN differs).
Result<pki::CertInfo> verify_signed_head(const nlohmann::json& signed_head,
                                         const pki::CmsVerifier& verifier,
                                         std::string_view expected_bin, time::Instant at);

// Verifies a witness's co-signature: a detached CMS (base64) over canonical_head(head) by a
// signing certificate that `verifier` trusts as of `at`, with BIN `expected_bin` unless that is
// empty. Returns the witness's certificate description. Errors: "malformed" (not base64),
// "bad_signature" (as verify_signed_head).
Result<pki::CertInfo> verify_cosignature(const nlohmann::json& head,
                                         std::string_view cosignature_b64,
                                         const pki::CmsVerifier& verifier,
                                         std::string_view expected_bin, time::Instant at);

// The HTTP status of a submit() error code (see the table at the top); 500 for other codes.
int http_status(std::string_view code);

// Every error code the witness answers with (submit's, the HTTP front's and the server-level
// ones), for the catalogue test: each must be in i18n/errors.json.
const std::vector<std::string>& error_codes();

// ---- The service ----

struct Config {
  std::string name;          // the witness's name, returned with every co-signature
  std::string log_id;        // the log it witnesses: "aaj:<operator BIN>:<installation>"
  std::string operator_bin;  // 12 digits: the BIN the system's signing certificate must carry
  // CA certificates (PEM or DER files) that the system's signing certificate must chain to,
  // loaded as a pki::TrustStore.
  std::vector<std::filesystem::path> trust;
  // CRL folder (pki::CrlStore, reloaded every crl_reload_seconds). Empty: revocation of the
  // system's certificate is NOT checked ("not_checked") — acceptable only where the CRLs are
  // checked elsewhere; with a folder, no fresh CRL refuses every head (fail closed).
  std::filesystem::path crl_dir;
  int crl_reload_seconds = 60;
  // The witness's own key: a PKCS#12 store with a signing certificate (profile Signing or
  // unmarked, currently valid) and its key.
  std::filesystem::path key_store;
  std::string key_store_password;
  // Where the state lives: latest.json (the last co-signed head, its signature and the
  // co-signature), refused.log (JSON Lines, append-only), lock (flock: one witness per folder).
  // Created if missing.
  std::filesystem::path state_dir;
};

class Witness {
 public:
  // Loads the trust anchors, the CRL folder (and starts its watcher), the key store, and the
  // state (a missing latest.json means nothing co-signed yet). Takes an exclusive flock on
  // state_dir/lock for the object's lifetime. Errors: "config" (missing name/log_id, operator
  // BIN not 12 digits, a witness certificate that is not a signing one, expired, or does not
  // match its key), the loaders' errors ("unreadable", "not_a_ca", "bad_password", …),
  // "state_locked" (another witness holds the folder), "state_corrupt" (latest.json unreadable
  // or not a head of this witness's shape), "state_mismatch" (latest.json is of another log),
  // "state_unavailable" (the folder or its files cannot be created or opened), "time_zone"
  // (the Astana zone cannot be loaded: refused.log needs it).
  static Result<std::unique_ptr<Witness>> open(Config cfg);

  ~Witness();
  Witness(const Witness&) = delete;
  Witness& operator=(const Witness&) = delete;

  // Handles one §6 request body {"checkpoint": {"head","signature"}, "previous_size": m,
  // "consistency": ["<hex>", …]} (at most 128 proof hashes). Checks, in order: shape
  // (malformed), the system's signature as of now (bad_signature), head.log (unknown_log),
  // head.size >= the last co-signed size (stale), previous_size (wrong_previous_size), the
  // consistency proof against the stored root (inconsistent; for m == 0 the proof must be
  // empty, for m == size it must be empty and the roots equal). Then signs canonical_head(head)
  // with the witness key (detached CMS with signing time, the key store's chain included),
  // stores {"head","signature","cosignature","witness"} durably (temp file, fsync, rename,
  // fsync of the folder) and only then returns {"witness": name, "cosignature": "<base64>"}.
  // Re-submitting the head it holds (or another head of the same tree) is co-signed again.
  //
  // Every refusal after the signature verified (unknown_log, stale, wrong_previous_size,
  // inconsistent) is appended to refused.log with fdatasync before returning, as
  // {"at","at_astana","reason":{"code","detail"},"checkpoint","previous_size","consistency",
  //  "held":{"head","signature"} (the witness's last co-signed signed head, null before the
  //  first)}: only the operator can sign heads, so such a line is evidence, and unsigned
  // garbage cannot fill the disk. Signed heads are public, though (GET /v1/latest), and only the
  // head is signed, not previous_size or the proof: so at most kMaxRefusalLines lines are
  // written per (code, canonical head) while the witness runs; beyond that the refusal is still
  // answered, its detail saying it was not recorded again. If the append fails, the refusal
  // stands and its detail says so.
  //
  // `latest` (if not null) receives {"size","root"} of the last co-signed tree as the decision
  // saw it (size 0 and the empty tree's root before the first), for the 409 answers.
  // Thread-safe: concurrent calls are serialized around the check-and-store, so two heads can
  // never both be co-signed against the same previous state.
  Result<nlohmann::json> submit(const nlohmann::json& request, nlohmann::json* latest = nullptr);

  // How many refused.log lines one (code, head) pair gets while the witness runs.
  static constexpr int kMaxRefusalLines = 16;

  // {"size","root","head","signature","cosignature","witness"} of the last co-signed head, or
  // nullopt before the first. Thread-safe.
  std::optional<nlohmann::json> latest() const;

  // The configuration (immutable after open()). Thread-safe.
  const Config& config() const { return cfg_; }

 private:
  struct Held {
    HeadSummary summary;
    nlohmann::json head;
    std::string signature;
    std::string cosignature;
  };

  explicit Witness(Config cfg) : cfg_(std::move(cfg)) {}
  Status load_state();
  Status store_state(const nlohmann::json& state);
  // Appends one line to refused.log unless the (why.code, head) pair has had kMaxRefusalLines
  // already. Returns whether it wrote the line, or the failure.
  Result<bool> record_refusal(const Error& why, const nlohmann::json& request);
  nlohmann::json latest_tree_locked() const;

  const Config cfg_;
  std::shared_ptr<const pki::TrustStore> trust_;
  std::shared_ptr<pki::CrlStore> crls_;  // null without crl_dir
  std::optional<pki::CmsVerifier> verifier_;
  pki::KeyStore key_;
  std::vector<X509*> chain_;  // key_.chain, not owned
  int lock_fd_ = -1;
  int refused_fd_ = -1;

  mutable std::mutex mu_;  // guards the fields below and every write to the state files
  std::optional<Held> held_;
  bool broken_ = false;  // a state write failed: refuse until restarted
  // refused.log lines written per code + '\n' + SHA-256 (hex) of the canonical head.
  std::unordered_map<std::string, int> refusal_lines_;
  std::string broken_detail_;
};

}  // namespace aaj::witness
