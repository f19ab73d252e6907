// Certificate revocation lists from a folder (or a fixed list of files), verified against the
// trust anchors, with fail-closed freshness rules. The server never fetches CRLs itself: an
// operator job or the connector drops NCA's CRL files into the folder and the store picks them
// up (reload() or start_watching()).
//
// Freshness rules of status(cert, issuer, at) — "at" is the time the caller verifies as of:
//   * no CRL held for the issuer                     -> Unknown
//   * nextUpdate < at (the CRL had expired at `at`)  -> Unknown ("stale")
//   * listed with revocationDate <= at               -> Revoked (certificateHold included)
//   * listed with revocationDate >  at               -> Good (revoked only later)
//   * not listed, thisUpdate <= at <= nextUpdate     -> Good
//   * not listed, at < thisUpdate (a CRL newer than the time asked about, i.e. checking old
//     evidence with today's CRL): a CRL lists every revoked certificate until it has expired,
//     so its silence proves "not revoked by thisUpdate", hence not revoked at `at` — but only
//     if the certificate was still unexpired at thisUpdate. CAs drop entries of expired
//     certificates, so for a certificate that expired before thisUpdate the answer is Unknown.
// Unknown always carries a detail saying why; callers must refuse (fail closed) on Unknown.
//
// Limits (deliberate for now): only complete CRLs; delta CRLs ("Freshest CRL", NCA publishes
// them) and partitioned/indirect CRLs are rejected by reload(), so a revocation that is so far
// only in NCA's delta CRL is seen once the next base CRL arrives. A CRL is accepted only when
// its issuer is one of the trust anchors (configure NCA intermediates as anchors).
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "core/time.h"
#include "pki/openssl_util.h"
#include "pki/trust.h"

namespace aaj::pki {

struct RevocationStatus {
  enum class Kind { Good, Revoked, Unknown };
  Kind kind = Kind::Unknown;
  std::optional<time::Instant> revoked_at;  // set when Revoked (and for Good-but-revoked-later)
  std::string crl_reason;  // CRL entry reason ("keyCompromise", "certificateHold", …) or ""
  std::string detail;      // human-readable explanation, always set
};

// "good", "revoked", "unknown".
std::string_view to_string(RevocationStatus::Kind k);

class CrlStore {
 public:
  // A store over every regular file in `folder` (PEM or DER, any file name except dot-files,
  // which atomic writers use for staging; a PEM file may hold several CRLs). Performs the first
  // reload(); its report is last_report(). A folder without any usable CRL is not an error (every
  // status is then Unknown). Error "unreadable" when the folder does not exist or is not a
  // directory.
  static Result<std::shared_ptr<CrlStore>> open(const std::filesystem::path& folder,
                                                std::shared_ptr<const TrustStore> trust);

  // A store over exactly these files (the CLI's --crl). Same rules; a missing file is reported
  // as rejected ("unreadable"), not an error.
  static Result<std::shared_ptr<CrlStore>> from_files(std::vector<std::filesystem::path> files,
                                                      std::shared_ptr<const TrustStore> trust);

  // A store over CRLs held in memory, each (name, PEM or DER bytes), e.g. an evidence package's:
  // no file is written or read. Same rules; the report names each CRL by its name.
  static Result<std::shared_ptr<CrlStore>> from_bytes(
      std::vector<std::pair<std::string, std::string>> crls,
      std::shared_ptr<const TrustStore> trust);

  // Stops and joins the watcher thread, if any.
  ~CrlStore();
  CrlStore(const CrlStore&) = delete;
  CrlStore& operator=(const CrlStore&) = delete;

  // Rescans the files. Per issuer the newest good CRL (by thisUpdate) is held. A file that is
  // empty, corrupt, badly signed, from an unknown issuer, of an unsupported kind (delta,
  // partitioned), without nextUpdate, or not newer than the CRL held never replaces the last
  // good one; a deleted file does not drop it either (a CRL stays usable until its nextUpdate,
  // and deleting a file must not un-revoke anyone). Returns the report:
  //   {"loaded":   [{file, issuer, this_update, next_update, entries, crl_number, sha256}],
  //    "unchanged":[{file, issuer}],             // identical to the CRL already held
  //    "rejected": [{file, reason, detail}],     // reason: empty, unreadable, corrupt,
  //                 // unknown_issuer, bad_signature, unsupported_algorithm, not_crl_signer,
  //                 // delta_crl_unsupported, partitioned_crl_unsupported,
  //                 // unsupported_critical_extension, no_next_update, from_the_future,
  //                 // not_newer, crl_number_regressed
  //    "held":     [{issuer, file, this_update, next_update, entries}]}
  // Serialised with other reloads; readers are never blocked (they keep the old snapshot).
  nlohmann::json reload();

  // The report of the most recent reload (copy). Thread-safe.
  nlohmann::json last_report() const;

  // Revocation status of `cert` issued by `issuer` as of `at` (see the rules at the top).
  // Neither pointer is owned or modified beyond OpenSSL's internal caches. Thread-safe; never
  // waits for a reload (it reads an immutable snapshot that reload() swaps atomically).
  RevocationStatus status(X509* cert, X509* issuer, time::Instant at) const;
  // The same with the issuer's lookup key already known (issuer_key_of(issuer)), for callers
  // that check many certificates of one kept issuer: the key costs two SHA-256 and a DER
  // encoding per call otherwise.
  RevocationStatus status(X509* cert, X509* issuer, const std::string& issuer_key,
                          time::Instant at) const;
  // The key a CA's CRL is held under: its subject name and public key (a re-issued CA
  // certificate with the same key shares the CRL; a re-keyed CA does not). Pure, thread-safe.
  static std::string issuer_key_of(X509* issuer);

  // Starts a background thread that every `period` compares the files' names, sizes and
  // modification times with those seen by the last reload() and reloads when they differ.
  // A second call does nothing. The thread is stopped and joined by the destructor.
  void start_watching(std::chrono::seconds period);

  // Called (on the watcher thread) with the report of each reload the watcher makes. Set it
  // before start_watching().
  void set_reload_listener(std::function<void(const nlohmann::json&)> listener);

  // Number of reloads performed so far (for tests and metrics).
  uint64_t reload_count() const { return reloads_.load(); }

 private:
  struct Held;
  struct State;
  struct Candidate;

  CrlStore(std::shared_ptr<const TrustStore> trust) : trust_(std::move(trust)) {}

  std::vector<std::filesystem::path> list_files() const;
  std::string fingerprint() const;
  template <class Source>
  static Result<std::shared_ptr<CrlStore>> create(std::shared_ptr<const TrustStore> trust,
                                                  Source&& source);
  void parse_file(const std::filesystem::path& file, std::vector<Candidate>& out,
                  nlohmann::json& rejected) const;
  void parse_bytes(const std::string& name, const std::string& data, std::vector<Candidate>& out,
                   nlohmann::json& rejected) const;
  void watch_loop(std::chrono::seconds period);

  std::shared_ptr<const TrustStore> trust_;
  std::optional<std::filesystem::path> folder_;             // folder mode
  std::vector<std::filesystem::path> files_;                // fixed-list mode
  std::vector<std::pair<std::string, std::string>> blobs_;  // in-memory mode: (name, bytes)

  std::atomic<std::shared_ptr<const State>> state_;
  std::atomic<uint64_t> reloads_{0};

  mutable std::mutex reload_mu_;  // serialises reload(); guards the fields below
  std::string last_fingerprint_;
  nlohmann::json last_report_;

  std::mutex watch_mu_;  // guards stop_, listener_, watcher_ start
  std::condition_variable watch_cv_;
  bool stop_ = false;
  std::function<void(const nlohmann::json&)> listener_;
  std::thread watcher_;
};

}  // namespace aaj::pki
