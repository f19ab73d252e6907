#include "journal/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "core/json_scan.h"
#include "journal/codec.h"

namespace aaj::journal {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

Error sys_error(const char* code, const std::string& what) {
  return Error{code, what + ": " + std::strerror(errno)};
}

Status flock_retry(int fd, int op) {
  while (::flock(fd, op) != 0) {
    if (errno != EINTR) return sys_error("journal_unavailable", "flock failed");
  }
  return {};
}

Status datasync(int fd) {
  // Retry only on EINTR: after EIO the kernel may have dropped the dirty pages, so a second
  // fdatasync could "succeed" without the data (the 2018 fsyncgate lesson). The caller fails
  // closed instead.
  while (::fdatasync(fd) != 0) {
    if (errno != EINTR) return sys_error("journal_unavailable", "fdatasync failed");
  }
  return {};
}

Status sync_dir(const fs::path& dir) {
  int d = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (d < 0) return sys_error("journal_unavailable", "cannot open " + dir.string());
  int rc;
  do {
    rc = ::fsync(d);
  } while (rc != 0 && errno == EINTR);
  Status s = rc == 0 ? Status() : Status(sys_error("journal_unavailable", "fsync of directory"));
  ::close(d);
  return s;
}

// Reads [from, to) of the file.
Status read_range(int fd, uint64_t from, uint64_t to, std::string& out) {
  out.resize(to - from);
  size_t got = 0;
  while (got < out.size()) {
    ssize_t n = ::pread(fd, out.data() + got, out.size() - got, static_cast<off_t>(from + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sys_error("journal_unavailable", "read failed");
    if (n == 0) return Error{"journal_unavailable", "file shrank while reading it"};
    got += static_cast<size_t>(n);
  }
  return {};
}

struct Head {
  uint64_t seq = 0;
  std::string hash{codec::kZeroHash};
  uint64_t complete_end = 0;  // offset just after the last '\n'
};

// Finds the last two complete lines by reading backwards from the end (so opening a large
// journal does not read it all) and checks the last record and its link to the one before.
Result<Head> find_head(int fd, uint64_t size) {
  Head h;
  std::string s;
  uint64_t from = 0;
  std::string_view last, before;
  bool has_before = false;
  for (uint64_t span = 64 * 1024;; span *= 2) {
    from = size > span ? size - span : 0;
    if (auto st = read_range(fd, from, size, s); !st.ok()) return st.error();
    size_t nl = s.rfind('\n');
    if (nl == std::string::npos) {
      if (from == 0) return h;  // no complete line at all: empty journal (maybe a torn tail)
      continue;
    }
    size_t p1 = nl == 0 ? std::string::npos : s.rfind('\n', nl - 1);
    if (p1 == std::string::npos && from != 0) continue;
    size_t last_begin = p1 == std::string::npos ? 0 : p1 + 1;
    last = std::string_view(s).substr(last_begin, nl - last_begin);
    if (p1 != std::string::npos) {
      size_t p0 = p1 == 0 ? std::string::npos : s.rfind('\n', p1 - 1);
      if (p0 == std::string::npos && from != 0) continue;
      size_t b = p0 == std::string::npos ? 0 : p0 + 1;
      before = std::string_view(s).substr(b, p1 - b);
      has_before = true;
    }
    h.complete_end = from + nl + 1;
    break;
  }
  codec::Sha256 sha;
  codec::Decoded d, dprev;
  const uint64_t at = h.complete_end - last.size() - 1;
  std::string problem = codec::decode(last, sha, d, false);
  if (problem.empty() && has_before) {
    std::string p = codec::decode(before, sha, dprev, false);
    if (!p.empty()) {
      problem = "the record before it: " + p;
    } else if (d.seq != dprev.seq + 1) {
      problem = "seq " + std::to_string(d.seq) + " follows seq " + std::to_string(dprev.seq);
    } else if (d.prev != dprev.hash) {
      problem = "prev does not match previous hash";
    }
  } else if (problem.empty() && (d.seq != 1 || d.prev != codec::kZeroHash)) {
    problem = "the only record is not seq 1 with a zero prev";
  }
  if (!problem.empty())
    return Error{"journal_corrupt", "last record (byte offset " + std::to_string(at) + ", seq " +
                                        std::to_string(d.seq) + "): " + problem +
                                        "; run `aaj log verify`"};
  h.seq = d.seq;
  h.hash = d.hash;
  return h;
}

}  // namespace

class Journal::Impl {
 public:
  Impl(Options opt, int fd, const Head& head, uint64_t recovered)
      : opt_(std::move(opt)),
        fd_(fd),
        head_seq_(head.seq),
        head_hash_(head.hash),
        end_(head.complete_end),
        last_seq_(head.seq),
        recovered_(recovered) {
    if (opt_.max_batch == 0) opt_.max_batch = 1;
    flusher_ = std::thread([this] { run(); });
  }

  ~Impl() {
    {
      std::lock_guard lk(mu_);
      stopping_ = true;
    }
    cv_.notify_one();
    flusher_.join();
    ::close(fd_);
  }

  Result<Receipt> append(std::string_view type, json body) {
    Pending p;
    if (auto s = prepare(type, body, p); !s.ok()) return s.error();
    Waiter w;
    p.waiter = &w;
    if (auto s = enqueue(std::move(p)); !s.ok()) return s.error();
    std::unique_lock lk(w.mu);
    w.cv.wait(lk, [&] { return w.result.has_value(); });
    return std::move(*w.result);
  }

  void append_async(std::string_view type, json body, std::function<void(Result<Receipt>)> done) {
    Pending p;
    if (auto s = prepare(type, body, p); !s.ok()) {
      if (done) done(s.error());
      return;
    }
    p.done = std::move(done);
    // enqueue() leaves p.done in place when it refuses, so it can be called here.
    if (auto s = enqueue(std::move(p)); !s.ok() && p.done) p.done(s.error());
  }

  uint64_t last_seq() const { return last_seq_.load(std::memory_order_acquire); }
  uint64_t recovered_bytes() const { return recovered_.load(std::memory_order_relaxed); }
  Stats stats() const {
    return Stats{records_.load(std::memory_order_relaxed), batches_.load(std::memory_order_relaxed),
                 bytes_.load(std::memory_order_relaxed)};
  }

 private:
  // A blocked append(). Not a std::binary_semaphore: libstdc++'s atomic wait spins with
  // sched_yield before sleeping, which with dozens of waiters on two cores burned ~10% CPU.
  struct Waiter {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<Result<Receipt>> result;  // guarded by mu; set once
  };
  struct Pending {
    std::string type_json, body_json;
    Waiter* waiter = nullptr;
    std::function<void(Result<Receipt>)> done;
  };

  static constexpr size_t kMaxBatchBytes = 4 << 20;
  static constexpr size_t kRecordOverhead = 256;  // keys, times, hashes, seq

  // Validation and serialization of the body run on the caller's thread, in parallel; only
  // sequencing and hashing are left for the serial flusher.
  static Status prepare(std::string_view type, const json& body, Pending& p) {
    if (type.empty()) return Error{"invalid_record", "empty type"};
    if (!json_scan::append_string(p.type_json, type))
      return Error{"invalid_record", "type is not valid UTF-8"};
    return codec::dump_body(body, p.body_json);
  }

  // Queues p unless the journal has failed. On refusal p is left untouched.
  Status enqueue(Pending&& p) {
    bool wake;
    {
      std::lock_guard lk(mu_);
      if (failed_) return failure_;
      queue_.push_back(std::move(p));
      // The flusher sleeps while the queue is empty, so the first item must wake it; and during
      // a commit delay, a full group ends the wait early.
      wake = queue_.size() == 1 || queue_.size() == kDelayGroup;
    }
    if (wake) cv_.notify_one();
    return {};
  }

  void run() {
    std::vector<Pending> batch;
    for (;;) {
      {
        std::unique_lock lk(mu_);
        cv_.wait(lk, [&] { return !queue_.empty() || stopping_; });
        if (queue_.empty()) return;  // stopping and drained
        auto now = std::chrono::steady_clock::now();
        const double delay_s = std::chrono::duration<double>(opt_.commit_delay).count();
        if (delay_s > 0 && !stopping_ && queue_.size() < kDelayGroup &&
            arrival_rate_ * delay_s >= 2.0) {
          cv_.wait_until(lk, now + opt_.commit_delay,
                         [&] { return stopping_ || queue_.size() >= kDelayGroup; });
          now = std::chrono::steady_clock::now();
        }
        // Records per second since the previous take, smoothed: decides the next delay.
        double since = std::chrono::duration<double>(now - last_take_).count();
        if (since > 0) {
          double rate = static_cast<double>(queue_.size()) / since;
          arrival_rate_ = since > 1.0 ? rate : 0.7 * arrival_rate_ + 0.3 * rate;
        }
        last_take_ = now;
        // Swapping keeps both vectors' capacity: no allocation per batch in steady state.
        batch.swap(queue_);
      }
      // Cut into chunks of at most max_batch records and about kMaxBatchBytes, so that one
      // burst of large bodies does not build a huge write buffer.
      size_t first = 0, bytes = 0;
      for (size_t i = 0; i < batch.size(); ++i) {
        bytes += batch[i].body_json.size() + batch[i].type_json.size() + kRecordOverhead;
        if (i + 1 - first == opt_.max_batch || bytes >= kMaxBatchBytes || i + 1 == batch.size()) {
          commit(batch.data() + first, i + 1 - first);
          first = i + 1;
          bytes = 0;
        }
      }
      batch.clear();
    }
  }

  void commit(Pending* items, size_t n) {
    Status s;
    {
      std::lock_guard lk(mu_);
      if (failed_) s = failure_;
    }
    bool locked = false;
    if (s.ok()) {
      s = flock_retry(fd_, LOCK_EX);
      locked = s.ok();
    }
    if (s.ok()) s = catch_up();
    time::Instant at{};
    uint64_t seq = head_seq_;
    if (s.ok()) {
      at = opt_.clock ? opt_.clock() : time::now();
      at_utc_ = time::format_utc(at);
      at_astana_ = time::format_astana(at);
      buf_.clear();
      hashes_.resize(n);
      const std::string* prev = &head_hash_;
      for (size_t i = 0; i < n; ++i) {
        codec::encode(sha_, ++seq, at_utc_, at_astana_, items[i].type_json, items[i].body_json,
                      *prev, buf_, hashes_[i]);
        prev = &hashes_[i];
      }
      s = codec::write_all(fd_, buf_);
      if (s.ok() && opt_.sync) s = datasync(fd_);
    }
    // Held through the sync: another process must not chain on records that may still be lost.
    if (locked) (void)flock_retry(fd_, LOCK_UN);

    if (!s.ok()) {
      Error e{"journal_unavailable", s.error().detail};
      {
        std::lock_guard lk(mu_);
        if (!failed_) {
          failed_ = true;
          failure_ = e;
        }
      }
      for (size_t i = 0; i < n; ++i) complete(items[i], e);
      return;
    }
    end_ += buf_.size();
    head_seq_ = seq;
    head_hash_ = hashes_[n - 1];
    last_seq_.store(seq, std::memory_order_release);
    records_.fetch_add(n, std::memory_order_relaxed);
    batches_.fetch_add(1, std::memory_order_relaxed);
    bytes_.fetch_add(buf_.size(), std::memory_order_relaxed);
    const uint64_t first = seq - n + 1;
    for (size_t i = 0; i < n; ++i)
      complete(items[i], Receipt{first + i, std::move(hashes_[i]), at, at_astana_});
  }

  static void complete(Pending& p, Result<Receipt> r) {
    if (p.waiter) {
      // Notify while holding the lock: once it is released the waiter may return and destroy
      // the Waiter (it lives on its stack).
      std::lock_guard lk(p.waiter->mu);
      p.waiter->result.emplace(std::move(r));
      p.waiter->cv.notify_one();
    } else if (p.done) {
      p.done(std::move(r));
    }
  }

  // Called with the flock held. If another process appended since our last write, reads and
  // checks its records to learn the head; removes an incomplete line left by a writer that died
  // mid-write (it released the lock by dying, so nobody is writing it now).
  Status catch_up() {
    struct stat st;
    if (::fstat(fd_, &st) != 0) return sys_error("journal_unavailable", "fstat failed");
    const auto size = static_cast<uint64_t>(st.st_size);
    if (size == end_) return {};
    if (size < end_)
      return Error{"journal_unavailable", "journal.log shrank from " + std::to_string(end_) +
                                              " to " + std::to_string(size) + " bytes"};
    codec::LineReader r(fd_, end_, size);
    std::string_view line;
    codec::Decoded d;
    while (r.next(line)) {
      std::string problem = codec::decode(line, sha_, d, false);
      if (problem.empty() && d.seq != head_seq_ + 1)
        problem = "seq " + std::to_string(d.seq) + " after seq " + std::to_string(head_seq_);
      if (problem.empty() && d.prev != head_hash_) problem = "prev does not match previous hash";
      if (!problem.empty())
        return Error{"journal_unavailable", "record appended by another writer at byte offset " +
                                                std::to_string(r.line_offset()) + " is bad (" +
                                                problem + ")"};
      head_seq_ = d.seq;
      head_hash_ = std::move(d.hash);
    }
    if (!r.error().empty()) return Error{"journal_unavailable", r.error()};
    const uint64_t complete_end = size - r.tail_bytes();
    if (complete_end < size) {
      if (::ftruncate(fd_, static_cast<off_t>(complete_end)) != 0)
        return sys_error("journal_unavailable", "ftruncate of incomplete tail failed");
      recovered_.fetch_add(size - complete_end, std::memory_order_relaxed);
    }
    end_ = complete_end;
    last_seq_.store(head_seq_, std::memory_order_release);
    return {};
  }

  Options opt_;
  const int fd_;

  // A commit delay ends early once this many records are queued.
  static constexpr size_t kDelayGroup = 64;

  std::mutex mu_;
  std::condition_variable cv_;
  double arrival_rate_ = 0;                            // records/s, smoothed; flusher thread only
  std::chrono::steady_clock::time_point last_take_{};  // flusher thread only
  std::vector<Pending> queue_;                         // guarded by mu_
  bool stopping_ = false;                              // guarded by mu_
  bool failed_ = false;                                // guarded by mu_; sticky
  Error failure_;                                      // guarded by mu_

  // Flusher thread only (and the constructor, before it starts).
  uint64_t head_seq_;
  std::string head_hash_;
  uint64_t end_;  // file size after our last write or catch-up: where the next record goes
  std::string buf_, at_utc_, at_astana_;
  std::vector<std::string> hashes_;
  codec::Sha256 sha_;

  std::atomic<uint64_t> last_seq_;
  std::atomic<uint64_t> recovered_;
  std::atomic<uint64_t> records_{0}, batches_{0}, bytes_{0};
  std::thread flusher_;  // last: started when everything else is initialized
};

Result<std::unique_ptr<Journal>> Journal::open(const fs::path& dir, Options opt) {
  // Refuse to start rather than abort on the first record when the tz database is missing.
  if (auto s = time::load_astana_zone(); !s.ok())
    return Error{"journal_unavailable", "tz database: " + s.error().detail};
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    const fs::path parent = dir.has_parent_path() ? dir.parent_path() : fs::path(".");
    fs::create_directories(parent, ec);
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
      return sys_error("journal_unavailable", "cannot create " + dir.string());
    // The new directory's own entry must be durable too.
    if (auto s = sync_dir(parent); !s.ok()) return s.error();
  }
  if (!fs::is_directory(dir, ec))
    return Error{"journal_unavailable", dir.string() + " is not a directory"};
  const fs::path path = dir / kFileName;
  const bool existed = fs::exists(path, ec);
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return sys_error("journal_unavailable", "cannot open " + path.string());
  auto fail = [fd](Error e) -> Result<std::unique_ptr<Journal>> {
    ::close(fd);
    return e;
  };
  // Exclusive while recovering: another process may be in the middle of writing a batch, and
  // its half-written line must not be mistaken for a torn tail.
  if (auto s = flock_retry(fd, LOCK_EX); !s.ok()) return fail(s.error());
  struct stat st;
  if (::fstat(fd, &st) != 0) return fail(sys_error("journal_unavailable", "fstat failed"));
  const auto size = static_cast<uint64_t>(st.st_size);
  auto head = find_head(fd, size);
  if (!head.ok()) return fail(head.error());  // leave a damaged file untouched for forensics
  uint64_t recovered = 0;
  if (head->complete_end < size) {
    if (::ftruncate(fd, static_cast<off_t>(head->complete_end)) != 0)
      return fail(sys_error("journal_unavailable", "ftruncate of incomplete tail failed"));
    if (auto s = datasync(fd); !s.ok()) return fail(s.error());
    recovered = size - head->complete_end;
  }
  // The file's directory entry must be durable before any record in it is acknowledged.
  if (!existed) {
    if (auto s = sync_dir(dir); !s.ok()) return fail(s.error());
  }
  (void)flock_retry(fd, LOCK_UN);
  auto impl = std::make_unique<Impl>(std::move(opt), fd, *head, recovered);
  return std::unique_ptr<Journal>(new Journal(std::move(impl)));
}

Journal::Journal(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Journal::~Journal() = default;

Result<Receipt> Journal::append(std::string_view type, json body) {
  return impl_->append(type, std::move(body));
}
void Journal::append_async(std::string_view type, json body,
                           std::function<void(Result<Receipt>)> done) {
  impl_->append_async(type, std::move(body), std::move(done));
}
uint64_t Journal::last_seq() const {
  return impl_->last_seq();
}
uint64_t Journal::recovered_bytes() const {
  return impl_->recovered_bytes();
}
Stats Journal::stats() const {
  return impl_->stats();
}

Status check_body(const nlohmann::json& body) {
  return codec::check_body(body);
}

}  // namespace aaj::journal
