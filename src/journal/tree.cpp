#include "journal/tree.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

namespace aaj::journal {
namespace {

constexpr int64_t kHashSize = 32;

Error io_error(const std::string& what) {
  return Error{"journal_unavailable", what + ": " + std::strerror(errno)};
}

// The most records whose complete groups of stored hashes fit in `stored` hashes.
int64_t records_within(int64_t stored) {
  // stored_hash_count(r) = 2r - popcount(r) grows by at least 1 per record: search from stored/2.
  int64_t r = stored / 2;
  while (merkle::stored_hash_count(r + 1) <= stored) ++r;
  while (r > 0 && merkle::stored_hash_count(r) > stored) --r;
  return r;
}

}  // namespace

TreeFile::TreeFile(int fd, bool writable, int64_t records, int64_t stored)
    : fd_(fd), writable_(writable), records_(records), flushed_(stored) {}

TreeFile::~TreeFile() {
  ::close(fd_);
}

Result<std::unique_ptr<TreeFile>> TreeFile::open(const std::filesystem::path& dir, bool writable) {
  const auto path = dir / kTreeFileName;
  int fd = writable ? ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600)
                    : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_error("cannot open " + path.string());
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    Error e = io_error("fstat " + path.string());
    ::close(fd);
    return e;
  }
  const int64_t stored = static_cast<int64_t>(st.st_size) / kHashSize;
  const int64_t records = records_within(stored);
  const int64_t keep = merkle::stored_hash_count(records);
  if (writable && static_cast<int64_t>(st.st_size) != keep * kHashSize &&
      ::ftruncate(fd, static_cast<off_t>(keep * kHashSize)) != 0) {
    Error e = io_error("truncate " + path.string());
    ::close(fd);
    return e;
  }
  std::unique_ptr<TreeFile> t(new TreeFile(fd, writable, records, keep));
  if (Status s = t->load_edge(); !s) return s.error();
  return t;
}

Status TreeFile::load_edge() {
  auto f = merkle::Frontier::load(records_, *this);
  if (!f) return f.error();
  edge_ = std::move(*f);
  return {};
}

int64_t TreeFile::records() const {
  std::lock_guard<std::mutex> l(mu_);
  return records_;
}

merkle::Hash TreeFile::root() const {
  std::lock_guard<std::mutex> l(mu_);
  return edge_.root();
}

Status TreeFile::append(const merkle::Hash& leaf) {
  if (!writable_) return Error{"journal_unavailable", "the Merkle tree file is read-only"};
  std::lock_guard<std::mutex> l(mu_);
  // The leaf and the subtrees it completes, as the frontier computes them (one hash each).
  if (Status s = edge_.append(leaf, &pending_); !s) return s;
  ++records_;
  return {};
}

Status TreeFile::flush() {
  std::vector<merkle::Hash> out;
  int64_t at;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (pending_.empty()) return {};
    out = pending_;
    at = flushed_;
  }
  const auto* p = reinterpret_cast<const char*>(out.data());
  size_t len = out.size() * sizeof(merkle::Hash), done = 0;
  while (done < len) {
    ssize_t n = ::pwrite(fd_, p + done, len - done, static_cast<off_t>(at * kHashSize + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error("write of the Merkle tree file");
    done += static_cast<size_t>(n);
  }
  std::lock_guard<std::mutex> l(mu_);
  flushed_ += static_cast<int64_t>(out.size());
  pending_.erase(pending_.begin(), pending_.begin() + static_cast<long>(out.size()));
  return {};
}

Status TreeFile::sync() {
  while (::fdatasync(fd_) != 0)
    if (errno != EINTR) return io_error("fdatasync of the Merkle tree file");
  return {};
}

Status TreeFile::truncate_to(int64_t records) {
  if (!writable_) return Error{"journal_unavailable", "the Merkle tree file is read-only"};
  {
    std::lock_guard<std::mutex> l(mu_);
    if (records < 0 || records > records_)
      return Error{"bad_argument", "cannot truncate the tree to " + std::to_string(records) +
                                       " records (it has " + std::to_string(records_) + ")"};
    const int64_t keep = merkle::stored_hash_count(records);
    if (keep <= flushed_) {
      pending_.clear();
      if (::ftruncate(fd_, static_cast<off_t>(keep * kHashSize)) != 0)
        return io_error("truncate of the Merkle tree file");
      flushed_ = keep;
    } else {
      pending_.resize(static_cast<size_t>(keep - flushed_));
    }
    records_ = records;
  }
  return load_edge();
}

Result<std::vector<merkle::Hash>> TreeFile::read_hashes(const std::vector<int64_t>& indexes) {
  std::vector<merkle::Hash> out(indexes.size());
  int64_t flushed;
  {
    std::lock_guard<std::mutex> l(mu_);
    flushed = flushed_;
    const int64_t total = flushed_ + static_cast<int64_t>(pending_.size());
    for (size_t i = 0; i < indexes.size(); ++i) {
      const int64_t idx = indexes[i];
      if (idx < 0 || idx >= total)
        return Error{"bad_argument", "stored hash " + std::to_string(idx) + " is not held (" +
                                         std::to_string(total) + " are)"};
      if (idx >= flushed_) out[i] = pending_[static_cast<size_t>(idx - flushed_)];
    }
  }
  // Written hashes never change, so they are read without the lock.
  for (size_t i = 0; i < indexes.size(); ++i) {
    if (indexes[i] >= flushed) continue;
    auto* p = reinterpret_cast<char*>(out[i].data());
    size_t got = 0;
    while (got < sizeof(merkle::Hash)) {
      ssize_t n = ::pread(fd_, p + got, sizeof(merkle::Hash) - got,
                          static_cast<off_t>(indexes[i] * kHashSize + static_cast<int64_t>(got)));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return io_error("read of the Merkle tree file");
      got += static_cast<size_t>(n);
    }
  }
  return out;
}

}  // namespace aaj::journal
