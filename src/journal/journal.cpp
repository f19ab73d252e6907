#include "journal/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "core/json_scan.h"
#include "core/thread_name.h"
#include "journal/codec.h"
#include "journal/heads.h"
#include "journal/segments.h"
#include "journal/tree.h"

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
// `base` is the record before the file's first one (the last of the sealed segments; seq 0 and
// zero hash when there is none). An empty file's head is the base.
Result<Head> find_head(int fd, uint64_t size, const Head& base) {
  Head h = base;
  h.complete_end = 0;
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
  } else if (problem.empty() && (d.seq != base.seq + 1 || d.prev != base.hash)) {
    problem = base.seq == 0 ? "the only record is not seq 1 with a zero prev"
                            : "the file's only record does not follow the last sealed segment";
  }
  if (!problem.empty())
    return Error{"journal_corrupt", "last record (byte offset " + std::to_string(at) + ", seq " +
                                        std::to_string(d.seq) + "): " + problem +
                                        "; run `aaj log verify`"};
  h.seq = d.seq;
  h.hash = d.hash;
  return h;
}

// The seal of a segment (docs/journal-format.md §5), before signing.
json segment_seal(uint64_t first, uint64_t last, const std::string& first_prev,
                  const std::string& last_hash, const merkle::Hash& segment_root,
                  const merkle::Hash& root, time::Instant at, const std::string& log_id,
                  const std::string& segment) {
  return {{"first_seq", first},
          {"last_seq", last},
          {"first_prev", first_prev},
          {"last_hash", last_hash},
          {"records", last - first + 1},
          {"segment_root", merkle::to_hex(segment_root)},
          {"size", last},
          {"root", merkle::to_hex(root)},
          {"sealed_at", time::format_utc(at)},
          {"sealed_at_astana", time::format_astana(at)},
          {"log", log_id},
          {"segment", segment}};
}

// {"seal","signature"}: the seal signed with the system key.
Result<json> sign_seal(json seal, const Options& opt) {
  auto signature = opt.sign(heads::canonical(seal));
  if (!signature) return signature.error();
  return json{{"seal", std::move(seal)}, {"signature", *signature}};
}

// Writes segments/NNNNNN.seal.json durably (temp file, fsync, rename, fsync of the directory).
Status write_seal_file(const fs::path& seal_path, const json& signed_seal) {
  const fs::path tmp = seal_path.string() + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return sys_error("journal_unavailable", "cannot write " + tmp.string());
  Status s = codec::write_all(fd, heads::canonical(signed_seal) + "\n");
  if (s) s = datasync(fd);
  ::close(fd);
  if (!s) return s;
  if (::rename(tmp.c_str(), seal_path.c_str()) != 0)
    return sys_error("journal_unavailable", "cannot rename " + tmp.string());
  return sync_dir(seal_path.parent_path());
}

// One batch's seal leaves and their tree, and then each record's seal under the batch's signed
// head (docs/journal-format.md §3-§4). Seals are built by concatenating canonical parts:
// canonical JSON of an object is its sorted members' canonical texts, so this equals dumping
// the whole object, without re-serializing the head once per record.
class BatchSeals {
 public:
  Status add(std::string leaf_canonical) {
    Status s = tree_.append_record(merkle::leaf_hash(leaf_canonical));
    leaves_.push_back(std::move(leaf_canonical));
    return s;
  }
  size_t size() const { return leaves_.size(); }
  Result<merkle::Hash> root() { return merkle::tree_hash(static_cast<int64_t>(size()), tree_); }

  // Signs the head (canonical text). Returns heads.log's line for it, {"head","signature"}
  // (the caller appends it); seal() may be called afterwards.
  Result<std::string> sign_head(const Options& opt, std::string head) {
    auto signature = opt.sign(head);
    if (!signature) return signature.error();
    head_ = std::move(head);
    signature_json_ = json(*signature).dump();
    return "{\"head\":" + head_ + ",\"signature\":" + signature_json_ + "}";
  }

  // The seal of the i-th record of the batch, after sign_head().
  Result<std::string> seal(size_t i) {
    auto proof = merkle::prove_record(static_cast<int64_t>(size()), static_cast<int64_t>(i), tree_);
    if (!proof) return proof.error();
    std::string seal;
    seal.reserve(head_.size() + leaves_[i].size() + proof->size() * 67 + signature_json_.size() +
                 48);
    seal.append("{\"head\":").append(head_).append(",\"leaf\":").append(leaves_[i]);
    seal.append(",\"proof\":[");
    for (size_t k = 0; k < proof->size(); ++k) {
      if (k) seal.push_back(',');
      seal.push_back('"');
      seal.append(merkle::to_hex((*proof)[k]));
      seal.push_back('"');
    }
    seal.append("],\"signature\":").append(signature_json_).push_back('}');
    return seal;
  }

 private:
  std::vector<std::string> leaves_;
  merkle::MemoryHashStore tree_;
  std::string head_, signature_json_;
};

// The size and root of heads.log's last signed head; nullopt when there is none yet. A last line
// that is not a signed head fails closed: without it neither the check of the log against what
// the system signed nor the recovery of lost heads can be trusted.
struct HeadRef {
  uint64_t size = 0;
  std::string root;
};
Result<std::optional<HeadRef>> newest_head_ref(const std::string& line) {
  if (line.empty()) return std::optional<HeadRef>();
  auto h = heads::parse_head_line(line);
  if (!h || !h->is_signed())
    return Error{"journal_corrupt", "the last line of heads.log is not a signed head"};
  return std::optional<HeadRef>(HeadRef{h->size, std::move(h->root)});
}

}  // namespace

// What open() learned about the log's files, handed to the Impl.
struct OpenState {
  Head head;             // the log's last record and journal.log's complete length
  Head base;             // the record before journal.log's first (last of the sealed segments)
  int last_segment = 0;  // number of the last sealed segment
  uint64_t recovered = 0;
  std::unique_ptr<TreeFile> tree;  // with Options::tree
  merkle::Frontier segment;        // the active segment's leaves
  std::string latest_head;         // last line of heads.log
  int owner_fd = -1;               // flock'd owner.lock with Options::tree
};

class Journal::Impl {
 public:
  Impl(fs::path dir, Options opt, int fd, OpenState st)
      : opt_(std::move(opt)),
        dir_(std::move(dir)),
        fd_(fd),
        owner_fd_(st.owner_fd),
        tree_(std::move(st.tree)),
        segment_(std::move(st.segment)),
        last_segment_(st.last_segment),
        active_first_seq_(st.base.seq + 1),
        active_first_prev_(st.base.hash),
        latest_head_(std::move(st.latest_head)),
        head_seq_(st.head.seq),
        head_hash_(st.head.hash),
        end_(st.head.complete_end),
        last_seq_(st.head.seq),
        recovered_(st.recovered) {
    if (opt_.max_batch == 0) opt_.max_batch = 1;
    if (tree_) committed_tree_.store(static_cast<uint64_t>(tree_->records()));
    flusher_ = std::thread([this] {
      name_this_thread("aaj-journal");
      run();
    });
  }

  ~Impl() {
    {
      std::lock_guard lk(mu_);
      stopping_ = true;
    }
    cv_.notify_one();
    flusher_.join();
    if (tree_) (void)tree_->flush();
    ::close(fd_);
    if (owner_fd_ >= 0) ::close(owner_fd_);
    if (heads_fd_ >= 0) ::close(heads_fd_);
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

  // The tree can answer for `size` records: it is kept and that many are committed.
  Status tree_covers(uint64_t size) const {
    if (!tree_) return Error{"journal_unavailable", "this journal does not keep the tree"};
    if (size > committed_tree_.load(std::memory_order_acquire))
      return Error{"bad_argument", "size " + std::to_string(size) + " is beyond the log"};
    return {};
  }
  Result<std::string> tree_root_hex(uint64_t size) const {
    if (Status s = tree_covers(size); !s) return s.error();
    auto r = merkle::tree_hash(static_cast<int64_t>(size), *tree_);
    if (!r) return r.error();
    return merkle::to_hex(*r);
  }
  Result<std::vector<std::string>> prove_inclusion(uint64_t seq, uint64_t size) const {
    if (Status s = tree_covers(size); !s) return s.error();
    if (seq == 0) return Error{"bad_argument", "seq starts at 1"};
    auto p =
        merkle::prove_record(static_cast<int64_t>(size), static_cast<int64_t>(seq - 1), *tree_);
    if (!p) return p.error();
    return heads::hex_list(*p);
  }
  Result<std::vector<std::string>> prove_consistency(uint64_t m, uint64_t n) const {
    if (Status s = tree_covers(n); !s) return s.error();
    auto p = merkle::prove_tree(static_cast<int64_t>(n), static_cast<int64_t>(m), *tree_);
    if (!p) return p.error();
    return heads::hex_list(*p);
  }
  std::string latest_head() const {
    std::lock_guard lk(head_mu_);
    return latest_head_;
  }
  Status seal_segment() {
    if (!opt_.sign) return Error{"journal_unavailable", "sealing needs the system's signing key"};
    auto done = std::make_shared<std::promise<Status>>();
    auto f = done->get_future();
    {
      std::lock_guard lk(mu_);
      if (failed_) return failure_;
      seal_requests_.push_back(done);
    }
    cv_.notify_one();
    return f.get();
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
    heads::SealLeafFields leaf;  // with Options::sign: the body's fields a seal's leaf names
    Waiter* waiter = nullptr;
    std::function<void(Result<Receipt>)> done;
  };

  static constexpr size_t kMaxBatchBytes = 4 << 20;
  static constexpr size_t kRecordOverhead = 256;  // keys, times, hashes, seq
  static constexpr size_t kBodyReserve = 8192;

  // Validation and serialization of the body run on the caller's thread, in parallel; only
  // sequencing and hashing are left for the serial flusher.
  Status prepare(std::string_view type, const json& body, Pending& p) const {
    if (type.empty()) return Error{"invalid_record", "empty type"};
    if (!json_scan::append_string(p.type_json, type))
      return Error{"invalid_record", "type is not valid UTF-8"};
    // A data request's record is a few KB (the signed request's base64 alone is ~2.6 KB): room
    // for it up front spares the doubling copies of a growing string.
    p.body_json.reserve(kBodyReserve);
    if (Status s = codec::dump_body(body, p.body_json); !s) return s;
    // A small record does not keep the room while it waits in the queue.
    if (p.body_json.size() < kBodyReserve / 4) p.body_json.shrink_to_fit();
    // The leaf's fields come from the body object here, on the caller's thread, rather than
    // from scanning the serialized body again on the flusher (same fields as heads::seal_leaf).
    if (opt_.sign) p.leaf = heads::seal_leaf_fields(body);
    return {};
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
        cv_.wait(lk, [&] { return !queue_.empty() || stopping_ || !seal_requests_.empty(); });
        if (queue_.empty() && !seal_requests_.empty()) {
          auto requests = std::move(seal_requests_);
          seal_requests_.clear();
          lk.unlock();
          Status st = seal_active();
          for (auto& r : requests) r->set_value(st);
          continue;
        }
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
      // "Archived as it fills": the active segment is sealed between batches.
      if (opt_.sign && opt_.segment_records > 0 &&
          head_seq_ + 1 - active_first_seq_ >= opt_.segment_records) {
        if (Status st = seal_active(); !st) record_failure(st.error());
      }
    }
  }

  void record_failure(const Error& e) {
    std::lock_guard lk(mu_);
    if (!failed_) {
      failed_ = true;
      failure_ = Error{"journal_unavailable", e.detail};
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
    if (s.ok()) s = follow_seal();
    if (s.ok()) s = catch_up();
    time::Instant at{};
    uint64_t seq = head_seq_;
    if (s.ok()) {
      at = opt_.clock ? opt_.clock() : time::now();
      at_utc_ = time::format_utc(at);
      at_astana_ = time::format_astana(at);
      buf_.clear();
      hashes_.resize(n);
      line_ends_.resize(n);
      const std::string* prev = &head_hash_;
      for (size_t i = 0; i < n; ++i) {
        codec::encode(sha_, ++seq, at_utc_, at_astana_, items[i].type_json, items[i].body_json,
                      *prev, buf_, hashes_[i]);
        line_ends_[i] = buf_.size() - 1;  // at its '\n'
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

    // The records are durable; now the tree, the signed head and each record's seal.
    std::vector<std::string> seals(n);
    Status sealed = grow_tree(n);
    if (sealed && opt_.sign) sealed = sign_batch(items, n, first, at, seals);
    if (!sealed) {
      Error e{"journal_unavailable", "records " + std::to_string(first) + "-" +
                                         std::to_string(seq) + " are logged but could not be " +
                                         "sealed: " + sealed.error().detail};
      for (size_t i = 0; i < n; ++i) complete(items[i], e);
      return;
    }
    for (size_t i = 0; i < n; ++i)
      complete(items[i],
               Receipt{first + i, std::move(hashes_[i]), at, at_astana_, std::move(seals[i])});
  }

  // Adds this batch's records (the lines in buf_) to the tree and the active segment's tree.
  Status grow_tree(size_t n) {
    if (!tree_) return {};
    size_t begin = 0;
    for (size_t i = 0; i < n; ++i) {
      auto leaf = merkle::leaf_hash(std::string_view(buf_).substr(begin, line_ends_[i] - begin));
      begin = line_ends_[i] + 1;
      if (Status s = tree_->append(leaf); !s) return s;
      if (Status s = segment_.append(leaf); !s) return s;
    }
    if (Status s = tree_->flush(); !s) return s;
    committed_tree_.store(static_cast<uint64_t>(tree_->records()), std::memory_order_release);
    return {};
  }

  // Signs the head of the batch [first, first + n) and makes each record's seal
  // (docs/journal-format.md §3-§4).
  Status sign_batch(Pending* items, size_t n, uint64_t first, time::Instant at,
                    std::vector<std::string>& seals) {
    BatchSeals batch;
    for (size_t i = 0; i < n; ++i) {
      std::string leaf;
      leaf.reserve(256);
      // The body was dumped already, so its strings are valid UTF-8.
      if (!heads::append_canonical_seal_leaf(leaf, first + i, hashes_[i], items[i].leaf))
        return Error{"invalid_record", "a seal leaf field is not valid UTF-8"};
      if (Status s = batch.add(std::move(leaf)); !s) return s;
    }
    auto batch_root = batch.root();
    if (!batch_root) return batch_root.error();
    if (heads_fd_ < 0) {
      heads_fd_ = ::open((dir_ / files::kHeadsFile).c_str(),
                         O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
      if (heads_fd_ < 0) return sys_error("journal_unavailable", "cannot open heads.log");
    }
    auto line = batch.sign_head(
        opt_, heads::canonical(heads::make_head(opt_.log_id, head_seq_, tree_->root(), first,
                                                first + n - 1, *batch_root, at)));
    if (!line) return line.error();
    if (Status s = codec::write_all(heads_fd_, *line + '\n'); !s) return s.error();
    {
      std::lock_guard lk(head_mu_);
      latest_head_ = std::move(*line);
    }
    for (size_t i = 0; i < n; ++i) {
      auto seal = batch.seal(i);
      if (!seal) return seal.error();
      seals[i] = std::move(*seal);
    }
    return {};
  }

  // Seals the active segment (docs/journal-format.md §5): renamed into segments/, a signed seal
  // beside it, a new active file. Flusher thread only.
  Status seal_active() {
    if (!opt_.sign || !tree_) return Error{"journal_unavailable", "sealing needs the tree and key"};
    if (Status s = flock_retry(fd_, LOCK_EX); !s) return s;
    struct Unlock {
      int fd;
      ~Unlock() {
        if (fd >= 0) (void)flock_retry(fd, LOCK_UN);
      }
    } unlock{fd_};
    if (Status s = catch_up(); !s) return s;
    if (head_seq_ < active_first_seq_) return {};  // nothing to seal
    if (Status s = tree_->flush(); !s) return s;
    if (Status s = tree_->sync(); !s) return s;
    const int number = last_segment_ + 1;
    const fs::path seg_dir = dir_ / files::kSegmentsDir;
    std::error_code ec;
    if (!fs::exists(seg_dir, ec)) {
      if (::mkdir(seg_dir.c_str(), 0700) != 0 && errno != EEXIST)
        return sys_error("journal_unavailable", "cannot create " + seg_dir.string());
      if (Status s = sync_dir(dir_); !s) return s;
    }
    const std::string name = files::segment_name(number);
    const time::Instant at = opt_.clock ? opt_.clock() : time::now();
    auto seal = sign_seal(segment_seal(active_first_seq_, head_seq_, active_first_prev_, head_hash_,
                                       segment_.root(), tree_->root(), at, opt_.log_id, name),
                          opt_);
    if (!seal) return seal.error();
    // Renamed first: a crash before the seal is written leaves a sealed segment without its
    // seal file, which open() signs again.
    const fs::path target = seg_dir / name;
    if (::rename((dir_ / kFileName).c_str(), target.c_str()) != 0)
      return sys_error("journal_unavailable", "cannot move journal.log to " + target.string());
    int nfd = ::open((dir_ / kFileName).c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (nfd < 0) return sys_error("journal_unavailable", "cannot create a new journal.log");
    if (Status s = sync_dir(seg_dir); !s) {
      ::close(nfd);
      return s;
    }
    if (Status s = sync_dir(dir_); !s) {
      ::close(nfd);
      return s;
    }
    Status written = write_seal_file(seg_dir / (name.substr(0, 6) + ".seal.json"), *seal);
    // Writers waiting for the old file's lock find it renamed and follow (follow_seal()).
    unlock.fd = -1;
    (void)flock_retry(fd_, LOCK_UN);
    ::close(fd_);
    fd_ = nfd;
    end_ = 0;
    last_segment_ = number;
    active_first_seq_ = head_seq_ + 1;
    active_first_prev_ = head_hash_;
    segment_ = merkle::Frontier();
    return written;
  }

  // Called with the flock held: when the owner sealed the file we hold (renamed it into
  // segments/), finishes reading it and moves to the new journal.log.
  Status follow_seal() {
    for (int tries = 0; tries < 100; ++tries) {
      struct stat mine, current;
      if (::fstat(fd_, &mine) != 0) return sys_error("journal_unavailable", "fstat failed");
      const fs::path path = dir_ / kFileName;
      if (::stat(path.c_str(), &current) == 0 && current.st_ino == mine.st_ino &&
          current.st_dev == mine.st_dev)
        return {};
      if (Status s = catch_up(); !s) return s;  // the rest of the sealed file
      int nfd = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
      if (nfd < 0) return sys_error("journal_unavailable", "cannot open the new journal.log");
      if (Status s = flock_retry(nfd, LOCK_EX); !s) {
        ::close(nfd);
        return s;
      }
      (void)flock_retry(fd_, LOCK_UN);
      ::close(fd_);
      fd_ = nfd;
      end_ = 0;
      active_first_seq_ = head_seq_ + 1;
      active_first_prev_ = head_hash_;
    }
    return Error{"journal_unavailable", "journal.log keeps being replaced"};
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
      if (tree_) {
        auto leaf = merkle::leaf_hash(line);
        if (Status s = tree_->append(leaf); !s) return s;
        if (Status s = segment_.append(leaf); !s) return s;
      }
    }
    if (!r.error().empty()) return Error{"journal_unavailable", r.error()};
    if (tree_) {
      if (Status s = tree_->flush(); !s) return s;
      committed_tree_.store(static_cast<uint64_t>(tree_->records()), std::memory_order_release);
    }
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
  const fs::path dir_;
  int fd_;  // journal.log; replaced when a segment is sealed (flusher thread)
  const int owner_fd_;
  int heads_fd_ = -1;  // heads.log, opened by the flusher at its first signed head
  std::unique_ptr<TreeFile> tree_;
  merkle::Frontier segment_;  // the active segment's tree (flusher thread)
  int last_segment_;
  uint64_t active_first_seq_;
  std::string active_first_prev_;
  mutable std::mutex head_mu_;
  std::string latest_head_;  // guarded by head_mu_
  std::atomic<uint64_t> committed_tree_{0};
  std::vector<std::shared_ptr<std::promise<Status>>> seal_requests_;  // guarded by mu_
  std::vector<size_t> line_ends_;

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

namespace {

// The record before journal.log's first one: the last record of the last sealed segment (from
// its seal when present and well-formed, else from the segment's last line).
Result<Head> sealed_base(const fs::path& dir, int* last_number) {
  Head base;
  auto segs = files::list_segments(dir);
  *last_number = segs.empty() ? 0 : segs.back().number;
  if (segs.empty()) return base;
  // Only the segment's last record is needed here; verify() checks the rest.
  auto line = files::last_line(segs.back().log);
  if (!line) return line.error();
  codec::Sha256 sha;
  codec::Decoded d;
  std::string problem = line->empty() ? "empty" : codec::decode(*line, sha, d, false);
  if (!problem.empty())
    return Error{"journal_corrupt", "last record of " + segs.back().log.string() + ": " + problem};
  base.seq = d.seq;
  base.hash = d.hash;
  return base;
}

// Brings the tree file up to the log's records and checks it against the newest signed head.
Status reconcile_tree(const fs::path& dir, TreeFile& tree, uint64_t records,
                      const std::optional<HeadRef>& newest) {
  if (static_cast<uint64_t>(tree.records()) > records) {
    if (Status s = tree.truncate_to(static_cast<int64_t>(records)); !s) return s;
  }
  auto extend = [&]() -> Status {
    Status err;
    Status walk = files::for_each_line(dir, static_cast<uint64_t>(tree.records()) + 1,
                                       [&](uint64_t seq, std::string_view line) {
                                         if (seq > records) return false;
                                         err = tree.append(merkle::leaf_hash(line));
                                         return err.ok();
                                       });
    if (!walk) return walk;
    if (!err) return err;
    return tree.flush();
  };
  // A hash file that lost its unsynced tail may hold garbage below its size, and records may
  // have been changed behind the file's back: the last leaf is compared with its record, and
  // the tree with the newest signed head; on any doubt the tree is rebuilt from the records.
  if (Status s = extend(); !s) return s;
  bool rebuilt = false;
  auto rebuild = [&]() -> Status {
    rebuilt = true;
    if (Status s = tree.truncate_to(0); !s) return s;
    return extend();
  };
  if (tree.records() > 0) {
    std::string line;
    Status walk = files::for_each_line(dir, static_cast<uint64_t>(tree.records()),
                                       [&](uint64_t, std::string_view l) {
                                         line = std::string(l);
                                         return false;
                                       });
    if (!walk) return walk;
    auto stored = tree.read_hashes({merkle::stored_hash_index(0, tree.records() - 1)});
    if (!stored || (*stored)[0] != merkle::leaf_hash(line)) {
      if (Status s = rebuild(); !s) return s;
    }
  }
  if (newest) {
    const uint64_t size = newest->size;
    if (size > records)
      return Error{"journal_corrupt", "the newest signed head covers " + std::to_string(size) +
                                          " records; the log holds " + std::to_string(records)};
    auto root = merkle::tree_hash(static_cast<int64_t>(size), tree);
    if (!root) return root.error();
    if (merkle::to_hex(*root) != newest->root && !rebuilt) {
      if (Status s = rebuild(); !s) return s;
      root = merkle::tree_hash(static_cast<int64_t>(size), tree);
      if (!root) return root.error();
    }
    if (merkle::to_hex(*root) != newest->root)
      return Error{"journal_corrupt", "the log's first " + std::to_string(size) +
                                          " records do not match the signed head of that " +
                                          "size: the log was changed after it was signed"};
  }
  return tree.sync();
}

// Signs a head for records no signed head covers yet, when the newest head is older than the
// log: heads.log is a side file written after the records' fdatasync and not synced itself, so
// a power loss can take the last heads with it (the answers' seals were already given out and
// stay valid); and records that other writers appended while no owner ran. The recovery head's
// batch is exactly those records, so that each of them has a seal again (evidence packages).
// Returns the new signed head's line, or "" when every record is covered.
Result<std::string> sign_uncovered(const fs::path& dir, TreeFile& tree, uint64_t records,
                                   uint64_t signed_size, const Options& opt) {
  if (records <= signed_size) return std::string();
  BatchSeals batch;
  Status err;
  Status walk = files::for_each_line(dir, signed_size + 1, [&](uint64_t seq, std::string_view l) {
    if (seq > records) return false;
    json r = json::parse(l, nullptr, false);
    if (!r.is_object() || !r.contains("body") || !r.contains("hash") || !r["hash"].is_string()) {
      err = Error{"journal_corrupt", "record " + std::to_string(seq) + " is not a record"};
      return false;
    }
    err = batch.add(
        heads::canonical(heads::seal_leaf(seq, r["hash"].get<std::string>(), r["body"].dump())));
    return err.ok();
  });
  if (!walk) return walk.error();
  if (!err) return err.error();
  if (batch.size() != records - signed_size)
    return Error{"journal_unavailable", "records " + std::to_string(signed_size + 1) + "-" +
                                            std::to_string(records) + " could not all be read"};
  auto batch_root = batch.root();
  if (!batch_root) return batch_root.error();
  auto root = merkle::tree_hash(static_cast<int64_t>(records), tree);
  if (!root) return root.error();
  auto line = batch.sign_head(
      opt, heads::canonical(heads::make_head(opt.log_id, records, *root, signed_size + 1, records,
                                             *batch_root, opt.clock ? opt.clock() : time::now())));
  if (!line) return line.error();
  if (Status s = files::append_line(dir / files::kHeadsFile, *line); !s) return s.error();
  return line;
}

// Re-signs the seal of a sealed segment that lacks one (a crash between renaming it and
// writing its seal).
Status reseal_if_missing(const fs::path& dir, TreeFile& tree, const Options& opt) {
  auto segs = files::list_segments(dir);
  if (segs.empty() || !opt.sign) return {};
  const files::Segment& last = segs.back();
  std::error_code ec;
  if (fs::exists(last.seal, ec)) return {};
  uint64_t first = 0, last_seq = 0;
  std::string first_prev, last_hash;
  merkle::Frontier segment;
  int fd = ::open(last.log.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return sys_error("journal_unavailable", "cannot open " + last.log.string());
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return sys_error("journal_unavailable", "fstat " + last.log.string());
  }
  codec::LineReader r(fd, 0, static_cast<uint64_t>(st.st_size));
  std::string_view line;
  codec::Sha256 sha;
  codec::Decoded d;
  while (r.next(line)) {
    if (std::string p = codec::decode(line, sha, d, false); !p.empty()) {
      ::close(fd);
      return Error{"journal_corrupt", last.log.string() + ": " + p};
    }
    if (first == 0) {
      first = d.seq;
      first_prev = d.prev;
    }
    last_seq = d.seq;
    last_hash = d.hash;
    (void)segment.append(merkle::leaf_hash(line));
  }
  ::close(fd);
  if (first == 0) return {};
  auto root = merkle::tree_hash(static_cast<int64_t>(last_seq), tree);
  if (!root) return root.error();
  auto seal = sign_seal(
      segment_seal(first, last_seq, first_prev, last_hash, segment.root(), *root,
                   opt.clock ? opt.clock() : time::now(), opt.log_id, last.log.filename().string()),
      opt);
  if (!seal) return seal.error();
  return write_seal_file(last.seal, *seal);
}

}  // namespace

Result<std::unique_ptr<Journal>> Journal::open(const fs::path& dir, Options opt) {
  // Refuse to start rather than abort on the first record when the tz database is missing.
  if (auto s = time::load_astana_zone(); !s.ok())
    return Error{"journal_unavailable", "tz database: " + s.error().detail};
  if (opt.sign && !opt.tree) return Error{"journal_unavailable", "signing needs Options::tree"};
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
  OpenState st;
  // One owner of the tree per log: a second server on the same directory is refused.
  if (opt.tree) {
    st.owner_fd = ::open((dir / "owner.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (st.owner_fd < 0) return sys_error("journal_unavailable", "cannot open owner.lock");
    if (::flock(st.owner_fd, LOCK_EX | LOCK_NB) != 0) {
      ::close(st.owner_fd);
      return Error{"journal_unavailable",
                   "another process keeps this log's tree (owner.lock is held): one server per "
                   "log"};
    }
  }
  auto fail = [&st](Error e, int fd = -1) -> Result<std::unique_ptr<Journal>> {
    if (fd >= 0) ::close(fd);
    if (st.owner_fd >= 0) ::close(st.owner_fd);
    return e;
  };
  const fs::path path = dir / kFileName;
  const bool existed = fs::exists(path, ec);
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return fail(sys_error("journal_unavailable", "cannot open " + path.string()));
  // Exclusive while recovering: another process may be in the middle of writing a batch, and
  // its half-written line must not be mistaken for a torn tail.
  if (auto s = flock_retry(fd, LOCK_EX); !s.ok()) return fail(s.error(), fd);
  auto base = sealed_base(dir, &st.last_segment);
  if (!base) return fail(base.error(), fd);
  st.base = *base;
  struct stat fst;
  if (::fstat(fd, &fst) != 0) return fail(sys_error("journal_unavailable", "fstat failed"), fd);
  const auto size = static_cast<uint64_t>(fst.st_size);
  auto head = find_head(fd, size, st.base);
  if (!head.ok()) return fail(head.error(), fd);  // leave a damaged file untouched for forensics
  st.head = *head;
  if (head->complete_end < size) {
    if (::ftruncate(fd, static_cast<off_t>(head->complete_end)) != 0)
      return fail(sys_error("journal_unavailable", "ftruncate of incomplete tail failed"), fd);
    if (auto s = datasync(fd); !s.ok()) return fail(s.error(), fd);
    st.recovered = size - head->complete_end;
  }
  // The file's directory entry must be durable before any record in it is acknowledged.
  if (!existed) {
    if (auto s = sync_dir(dir); !s.ok()) return fail(s.error(), fd);
  }
  if (opt.tree) {
    if (Status s = files::drop_incomplete_tail(dir / files::kHeadsFile); !s)
      return fail(s.error(), fd);
    auto last = files::last_line(dir / files::kHeadsFile);
    if (!last) return fail(last.error(), fd);
    st.latest_head = *last;
    auto newest = newest_head_ref(st.latest_head);
    if (!newest) return fail(newest.error(), fd);
    auto tree = TreeFile::open(dir, true);
    if (!tree) return fail(tree.error(), fd);
    if (Status s = reconcile_tree(dir, **tree, st.head.seq, *newest); !s)
      return fail(s.error(), fd);
    if (Status s = reseal_if_missing(dir, **tree, opt); !s) return fail(s.error(), fd);
    if (opt.sign) {
      auto recovery = sign_uncovered(dir, **tree, st.head.seq, *newest ? (*newest)->size : 0, opt);
      if (!recovery) return fail(recovery.error(), fd);
      if (!recovery->empty()) st.latest_head = std::move(*recovery);
    }
    // The active segment's own tree, from the stored leaves.
    std::vector<int64_t> leaves;
    for (uint64_t q = st.base.seq + 1; q <= st.head.seq; ++q)
      leaves.push_back(merkle::stored_hash_index(0, static_cast<int64_t>(q - 1)));
    if (!leaves.empty()) {
      auto hashes = (*tree)->read_hashes(leaves);
      if (!hashes) return fail(hashes.error(), fd);
      for (const auto& h : *hashes) (void)st.segment.append(h);
    }
    st.tree = std::move(*tree);
  }
  (void)flock_retry(fd, LOCK_UN);
  auto impl = std::make_unique<Impl>(dir, std::move(opt), fd, std::move(st));
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
Result<std::string> Journal::tree_root_hex(uint64_t size) const {
  return impl_->tree_root_hex(size);
}
Result<std::vector<std::string>> Journal::prove_inclusion(uint64_t seq, uint64_t size) const {
  return impl_->prove_inclusion(seq, size);
}
Result<std::vector<std::string>> Journal::prove_consistency(uint64_t m, uint64_t n) const {
  return impl_->prove_consistency(m, n);
}
std::string Journal::latest_head() const {
  return impl_->latest_head();
}
Status Journal::seal_segment() {
  return impl_->seal_segment();
}

Status check_body(const nlohmann::json& body) {
  return codec::check_body(body);
}

}  // namespace aaj::journal
