// The Log-journal (R-LOG): a tamper-evident, durable, append-only record of every request and its
// processing result. A record is acknowledged only once it is on disk (fdatasync), so the server
// can send an answer only after the event that caused it is recorded.
//
// Format (docs/journal-format.md is normative): the active file <dir>/journal.log and, once they
// are sealed, <dir>/segments/NNNNNN.log, JSON Lines, one record per line, keys sorted:
//   {"at":"2026-11-22T11:50:45.123456Z","at_astana":"2026-11-22T16:50:45.123+05:00",
//    "body":{...},"hash":"<64 hex>","prev":"<64 hex>","seq":1,"type":"request"}
// - seq starts at 1 and is dense.
// - prev is the "hash" value of the previous record (64 zeros for seq 1).
// - hash = lowercase hex SHA-256 over the canonical serialization of the record without the
//   "hash" key: nlohmann::json (std::map, sorted keys), dump() with no indent, UTF-8 as is.
// - Every line is byte-for-byte that canonical serialization (with "hash"), so verify() can
//   require canonical bytes and thereby detect any altered byte, not only semantic changes.
// - at/at_astana are the time the journal sequenced the record; all records committed in one
//   batch share it. The clock is recorded as read: it is not forced to be monotonic.
// - Bodies are JSON objects of strings, integers, booleans, null, arrays and objects. Floating-
//   point numbers are refused (their text form is not canonical across implementations).
//
// Tamper evidence covers altered, removed, inserted and reordered records. Cutting records off
// the END of the log cleanly, or rewriting the whole chain from some point, cannot be detected
// from the chain alone; with Options::tree and ::sign every group commit signs the log's Merkle
// root (heads.log), each record gets a seal, and full segments are sealed, so such a rewrite
// fails against any signed head kept elsewhere (answers' seals, the witness's co-signatures).
#pragma once
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "core/time.h"

namespace aaj::journal {

// File name of the journal inside its directory.
inline constexpr const char* kFileName = "journal.log";

struct Options {
  // Call fdatasync before acknowledging. false ONLY for benchmarks' ablation: appends are then
  // not durable.
  bool sync = true;
  // Most records written with one write()+fdatasync (a write is also kept near 4 MiB). Larger
  // queues are split into several batches.
  size_t max_batch = 1024;
  // Group commit under load (like PostgreSQL's commit_delay): when records have been arriving
  // fast enough that at least two more are expected within this time, the flusher waits this
  // long (or until 64 are queued) before writing, so that one fdatasync covers many records.
  // Under light load it never waits. 0 = never wait.
  std::chrono::microseconds commit_delay{1000};
  // Source of record timestamps; empty means time::now(). For tests.
  std::function<time::Instant()> clock;

  // ---- Evidence (docs/journal-format.md), for the ONE process that owns the log's tree: the
  // server. Other writers (operator CLI commands) leave these off; their records enter the tree
  // when the owner next commits.
  // Maintain the Merkle tree's stored hashes (merkle.hashes).
  bool tree = false;
  // Signs the canonical bytes of a tree head; returns a base64 detached CMS. When set (requires
  // tree), every group commit signs a head (heads.log) and every receipt carries the seal of its
  // record. A failure to sign fails that batch's appends with "journal_unavailable" (their
  // records are on disk; nothing is released unsealed).
  std::function<Result<std::string>(std::string_view canonical)> sign;
  // The log's identity in heads and seals ("aaj:<operator BIN>:<installation>").
  std::string log_id;
  // Seal the active segment once it holds this many records (requires sign); 0 = only when
  // seal_segment() is called.
  uint64_t segment_records = 0;
};

// Proof of a durable append, returned to the caller (e.g. to quote seq in the answer).
struct Receipt {
  uint64_t seq = 0;
  std::string hash_hex;
  time::Instant at;
  std::string at_astana;
  // The record's seal (docs/journal-format.md §4) as JSON text, when Options::sign; else "".
  std::string seal;
};

// One record as read back by scan().
struct Record {
  uint64_t seq = 0;
  std::string type;
  time::Instant at;
  std::string at_astana;
  nlohmann::json body;
  std::string prev, hash;
};

// Counters since open(), for metrics. Thread-safe snapshot (fields read separately).
struct Stats {
  uint64_t records = 0;  // records this object appended
  uint64_t batches = 0;  // write()+fdatasync rounds
  uint64_t bytes = 0;    // bytes this object appended
};

// Error codes (Error::code):
//   "journal_unavailable"  open/write/sync failed, or the file changed under us in a way that is
//                          not a valid continuation of the chain. Sticky: see append().
//   "journal_corrupt"      open(): the last complete record is damaged or does not chain.
//   "invalid_record"       append(): empty type, body not an object, a float or binary value in
//                          the body, or invalid UTF-8. A programming error of the caller; the
//                          journal stays usable.
class Journal {
 public:
  // Opens (creating if needed, mode 0700 dir / 0600 file) <dir>/journal.log and starts the
  // flusher thread. Under an exclusive flock it:
  //  - truncates an incomplete last line (no trailing '\n'): it was never acknowledged, because a
  //    record is acknowledged only after its whole line is written and synced. The number of
  //    bytes removed is recovered_bytes();
  //  - fully checks the last complete record (canonical bytes, hash, and that it chains to the
  //    record before it) to learn the head (seq, hash). Earlier records are not read: open is
  //    O(1) in the file size; run verify() for a full check.
  // Returns "journal_corrupt" if the head does not check out (fail closed: the server must not
  // start on a damaged journal), "journal_unavailable" on I/O errors or a missing tz database.
  static Result<std::unique_ptr<Journal>> open(const std::filesystem::path& dir, Options = {});

  // Waits until every append queued before the call is committed (their callers are answered),
  // then stops the flusher thread. No append may be called concurrently with or after it.
  ~Journal();

  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Appends one record and blocks until it is durably on disk (with Options::sync).
  // Group commit: the flusher thread takes everything queued, assigns seq/at/prev/hash in queue
  // order, writes the batch with one write() and one fdatasync, then wakes the callers.
  // The body is validated and serialized on the calling thread.
  // Returns the receipt, "invalid_record" (nothing written), or "journal_unavailable". After a
  // write/sync failure the journal refuses every further append with "journal_unavailable"
  // (fail closed: the file may end in a half-written batch; reopen to recover). A record whose
  // append failed may still be in the log (the failure may have come after the bytes reached
  // the disk); an acknowledged record is never missing.
  // Thread-safe. Must not be called from an append_async callback (it would deadlock).
  Result<Receipt> append(std::string_view type, nlohmann::json body);

  // Like append() but does not block: done(result) runs later on the flusher thread, in seq
  // order, or immediately on the calling thread for "invalid_record" or when the journal has
  // already failed. done must be cheap and must not throw; it may call append_async.
  // Thread-safe.
  void append_async(std::string_view type, nlohmann::json body,
                    std::function<void(Result<Receipt>)> done);

  // seq of the last record this object knows of: the head found by open(), raised by each of
  // its commits and by records of other processes it has read before chaining. It does not see
  // another process's appends until this object next commits. Thread-safe.
  uint64_t last_seq() const;

  // Bytes of incomplete tail removed by open() and by later recoveries (an incomplete line left
  // by another process that died while writing). Thread-safe.
  uint64_t recovered_bytes() const;

  Stats stats() const;

  // ---- With Options::tree. Thread-safe; sizes up to the records committed so far.
  // The root of the first `size` records.
  Result<std::string> tree_root_hex(uint64_t size) const;
  // RFC 9162 inclusion proof of record `seq` in the tree of the first `size` records.
  Result<std::vector<std::string>> prove_inclusion(uint64_t seq, uint64_t size) const;
  // RFC 9162 consistency proof from the tree of `m` records to that of `n`.
  Result<std::vector<std::string>> prove_consistency(uint64_t m, uint64_t n) const;
  // The newest signed head this object made, {"head":…,"signature":…} as JSON text; "" when
  // none (no Options::sign, or nothing committed since open and no head on disk).
  std::string latest_head() const;

  // Seals the active segment now (docs/journal-format.md §5), if it holds any record: it is
  // renamed into segments/ and its signed seal written; the next record starts a new active
  // file. Requires Options::sign. Blocks until done. Thread-safe.
  Status seal_segment();

 private:
  class Impl;
  explicit Journal(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Multi-process use: the server holds the journal open while CLI commands (operator actions such
// as `aaj user add`) open it and append too. Every batch takes flock(LOCK_EX) on the file for the
// write and the sync; if the file grew since this process last wrote, the new records (from
// another process) are read and checked (canonical, hash, seq, prev) to learn the head before
// chaining. When nobody else wrote this costs one fstat. flock is per open file description, so
// two Journal objects in one process also exclude each other.

// Whether `body` can be a record's body: an object without floating-point or binary values.
// The error ("invalid_record") names the offending value's JSON pointer. append() checks this
// too; callers use it to refuse bad input early, with their own error code. Thread-safe.
Status check_body(const nlohmann::json& body);

// Checks one record line on its own (as stored, without '\n'): canonical bytes and its hash
// (not its place in the chain). Fills *out (body included). Error "journal_corrupt" naming the
// problem. For evidence checked away from the log (an evidence package). Thread-safe.
Status check_record_line(std::string_view line, Record* out);

// Reads the journal in order and calls fn for each record until fn returns false. Each record is
// checked (canonical bytes, hash, dense seq, prev) before fn sees it; an incomplete last line is
// skipped (it was never acknowledged). Returns "journal_unavailable" if the file cannot be read
// and "journal_corrupt" (detail names line and seq) at the first bad record; records before it
// have already been passed to fn. Safe to run while a Journal appends (reads a snapshot of the
// file size at the start). Thread-safe.
Status scan(const std::filesystem::path& dir, const std::function<bool(const Record&)>& fn);

struct VerifyReport {
  bool ok = false;
  // Complete records read up to and including the last good one.
  uint64_t records = 0;
  // 1-based line number (counted across all the log's files, oldest first) and, when it could be
  // read, the seq of the first bad record; the file it is in. For a problem of heads.log, its
  // line in heads.log.
  std::optional<uint64_t> first_bad_line;
  std::optional<uint64_t> first_bad_seq;
  std::string first_bad_file;
  // Empty when ok. E.g. "hash mismatch", "seq gap: expected 7 got 8", "prev does not match
  // previous hash", "unparseable line", "non-canonical encoding", "malformed record: ...",
  // "seal of 000002.log: segment_root does not match its records", "heads.log line 9: ...".
  std::string problem;
  // Hash of the last good record (64 zeros for an empty journal): an anchor to compare with one
  // kept elsewhere.
  std::string head_hash;
  // The Merkle root of all records read (docs/journal-format.md §2), hex.
  std::string tree_root;
  // Sealed segments and signed heads checked (their fields against the records and the tree).
  uint64_t segments = 0;
  uint64_t heads = 0;
  // Whether the seals' and heads' signatures were checked too (VerifyOptions::check_signature).
  bool signatures_checked = false;
  // Bytes after the last '\n' of journal.log. Choice: this is NOT a failure (ok stays true)
  // because a live server may be mid-write, and a crash leaves such a tail that was never
  // acknowledged; open() truncates it. Reported so an operator sees it.
  uint64_t incomplete_tail_bytes = 0;
  // Bytes after the last '\n' of heads.log: a head whose write a crash tore, never used (open()
  // cuts it). Incomplete, not bad: ok stays true.
  uint64_t heads_incomplete_tail_bytes = 0;
  // The file could not be opened or read (problem says why); no verdict on the content.
  bool unreadable = false;
};

struct VerifyOptions {
  // Checks a base64 detached CMS over canonical bytes (the seals' and heads' signatures); Error
  // when it does not verify. Empty: signatures are not checked (the report says so). The journal
  // has no PKI of its own: the caller (aaj log verify) brings the trust anchors.
  std::function<Status(std::string_view canonical, std::string_view signature_b64)> check_signature;
};

// Checks the whole log: every line canonical, every hash, seq dense from 1, every prev, across
// the sealed segments and journal.log; each segment's seal against its records (first/last seq,
// hashes, count, segment_root, the log's size and root at its end); every signed head in
// heads.log against the tree of the records (size and root); signatures when asked. Detects any
// altered byte, a removed, inserted or duplicated record and reordered records, and names the
// first bad one. Streams the files (memory O(log n)). Safe while a Journal appends and seals. An
// archive folder (sealed segments without journal.log) verifies the same way.
VerifyReport verify(const std::filesystem::path& dir, const VerifyOptions& opts = {});

// {"ok":…,"records":…,"first_bad_line":…|null,"first_bad_seq":…|null,"first_bad_file":…,
//  "problem":…,"head_hash":…,"tree_root":…,"segments":…,"heads":…,"signatures_checked":…,
//  "incomplete_tail_bytes":…,"heads_incomplete_tail_bytes":…,"unreadable":…}
nlohmann::json to_json(const VerifyReport& r);

// `aaj log verify`: prints to_json(verify(dir, opts)) as one line. Returns the exit code: 0 ok,
// 1 bad (the JSON names the first bad record), 2 unreadable.
int log_verify_command(const std::filesystem::path& journal_dir, std::ostream& out,
                       const VerifyOptions& opts = {});

}  // namespace aaj::journal
