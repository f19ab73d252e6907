// The answer archive: every answered data request's data is kept with its material (R-USE-2),
// written by a background thread so the request path never waits for SQLite.
//
//   submit()  — from the request path (I/O threads, the journal's flusher thread): never blocks
//               and does no I/O; takes all answers of one request or none.
//   writer    — one thread takes everything queued (up to max_batch answers) and writes it with
//               one call of the write function (the store: one transaction, one commit with
//               synchronous=FULL), so under load many answers share one fsync. Woken by the
//               first answer, it gathers for gather_delay (unless a flush() waits or max_batch
//               are queued) before writing: the answers are already released, so the wait costs
//               no one anything and saves an fsync per few answers.
//   flush()   — waits until everything submitted before it is written: readers that must see the
//               latest answers (destruction) call it first.
//   pending() — whether a request's answers are still queued or being written: a reader of one
//               request (exports, reads) flushes only then, so asking for an unknown request id
//               costs no flush.
//
// Bounded: at most max_queue answers / max_queue_bytes wait. When full, submit() refuses
// (returns false) and the caller withholds the answer — an answer that cannot be kept with its
// material is not released (fail safe for evidence; docs/decisions.md). A failed write is retried
// with backoff, without limit while running: nothing submitted is dropped, and the queue filling
// up refuses new answers meanwhile. Answers still unwritten when the archive is destroyed are
// written first (a few attempts), and those that still fail are handed to on_lost.
//
// Durability: an answer is on disk once its batch is committed, shortly after it is released.
// A crash loses at most what was queued; the event log holds their hashes (decisions.md).
// Thread-safe.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/result.h"
#include "store/store.h"

namespace aaj::app {

class AnswerArchive {
 public:
  // Writes one batch durably, all or nothing (Store::add_answers).
  using WriteFn = std::function<Status(const std::vector<store::StoredAnswer>&)>;
  // Told of answers that could not be written before the archive stopped, with the last error.
  using LostFn = std::function<void(const std::vector<store::StoredAnswer>&, const Error&)>;

  struct Options {
    size_t max_queue = 16384;                      // answers waiting to be written
    size_t max_queue_bytes = 256u << 20;           // their data bytes
    size_t max_batch = 1024;                       // answers per write (one transaction)
    std::chrono::milliseconds retry_first{50};     // backoff after a failed write, doubling …
    std::chrono::milliseconds retry_max{2000};     // … up to this
    int attempts_at_stop = 3;                      // writes tried for what is left at destruction
    std::chrono::microseconds gather_delay{5000};  // see above; 0 = write at once
  };

  struct Stats {
    uint64_t submitted = 0;  // answers accepted
    uint64_t refused = 0;    // answers refused (queue full or stopped)
    uint64_t written = 0;    // answers committed
    uint64_t batches = 0;    // successful writes
    uint64_t failures = 0;   // failed writes (each retried)
    uint64_t lost = 0;       // answers handed to on_lost
    size_t queued = 0;       // answers waiting now
    size_t queued_bytes = 0;
  };

  explicit AnswerArchive(WriteFn write);  // default Options
  AnswerArchive(WriteFn write, Options options, LostFn on_lost = nullptr);
  // Writes what is queued (see above), then stops the writer thread.
  ~AnswerArchive();
  AnswerArchive(const AnswerArchive&) = delete;
  AnswerArchive& operator=(const AnswerArchive&) = delete;

  // Queues the answers of one request, all or none. false when the queue cannot take them all
  // (max_queue / max_queue_bytes) or the archive is stopping. Never blocks on I/O; holds one
  // mutex for the push.
  bool submit(std::vector<store::StoredAnswer> answers);

  // Waits until every answer submitted before the call is written, or `timeout` passes.
  // Error "archive_unavailable" on timeout (writes are failing, or too slow).
  Status flush(std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // Whether answers of `request_id` were submitted and are not written yet (queued, or in the
  // batch being written). false once they are committed (or given up at stop): a read of the
  // store after a false sees every answer of that request submitted before the call.
  bool pending(const std::string& request_id) const;
  // flush() when answers of `request_id` are pending, at once (no wait, no write forced)
  // otherwise: what a reader of one request calls before reading the store.
  Status flush_if_pending(const std::string& request_id,
                          std::chrono::milliseconds timeout = std::chrono::seconds(10));

  Stats stats() const;

 private:
  void run();
  bool pending_locked(const std::string& request_id) const;
  Status flush_locked(std::unique_lock<std::mutex>& l, std::chrono::milliseconds timeout);

  WriteFn write_;
  Options opt_;
  LostFn on_lost_;
  mutable std::mutex mu_;
  std::condition_variable work_;  // the writer waits for answers or stop
  std::condition_variable done_;  // flush() waits for written_upto_
  std::deque<store::StoredAnswer> queue_;
  // The batch being written (writer thread; filled and cleared under mu_, so pending() may read
  // its request ids meanwhile; the writer only reads it, or sets stored_at, between).
  std::vector<store::StoredAnswer> batch_;
  uint64_t submitted_upto_ = 0;  // answers ever queued (a position in the stream)
  uint64_t written_upto_ = 0;    // answers ever written or given up
  bool stopping_ = false;
  bool writer_idle_ = false;  // waiting for a first answer: submit() must wake it
  int flush_waiters_ = 0;     // flush() calls waiting: the writer must not gather
  Stats stats_;
  std::thread writer_;
};

}  // namespace aaj::app
