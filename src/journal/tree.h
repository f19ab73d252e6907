// The log's Merkle tree on disk (docs/journal-format.md §2): `merkle.hashes` holds the stored
// hashes of merkle.h's layout, 32 raw bytes each, for the records 1..records() in seq order (leaf
// entry = the record's line without '\n'). Derived data: it can always be rebuilt from the
// records, so it is written without fdatasync per batch and validated against signed heads when
// it is opened (see Journal).
#pragma once
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/result.h"
#include "journal/merkle.h"

namespace aaj::journal {

inline constexpr const char* kTreeFileName = "merkle.hashes";

// Error codes: "journal_unavailable" (I/O), merkle.h's for proofs.
//
// Thread safety: one writer (append/flush/truncate from one thread at a time), any number of
// concurrent readers (read_hashes, tree_hash, prove_*): reads of hashes already appended see
// them, whether flushed to the file or still buffered.
class TreeFile final : public merkle::HashReader {
 public:
  // Opens dir/merkle.hashes (created when `writable`). A trailing partial hash or a record's
  // incomplete group of hashes is cut off (writable) or ignored (read-only). Errors:
  // "journal_unavailable" (cannot open or read; a read-only open of a missing file).
  static Result<std::unique_ptr<TreeFile>> open(const std::filesystem::path& dir, bool writable);
  ~TreeFile() override;
  TreeFile(const TreeFile&) = delete;
  TreeFile& operator=(const TreeFile&) = delete;

  // Records whose hashes are held.
  int64_t records() const;
  // The root of the tree of all records() records.
  merkle::Hash root() const;

  // Appends the next record (number records()) given its leaf hash: its stored hashes are
  // computed from the right edge in memory and buffered. Writable only.
  Status append(const merkle::Hash& leaf);
  // Writes the buffered hashes to the file (one write; no fdatasync).
  Status flush();
  // fdatasync of the file (after flush()).
  Status sync();
  // Forgets every record from `records` on (file truncated, edge rebuilt). Writable only.
  Status truncate_to(int64_t records);

  Result<std::vector<merkle::Hash>> read_hashes(const std::vector<int64_t>& indexes) override;

 private:
  TreeFile(int fd, bool writable, int64_t records, int64_t stored);
  Status load_edge();

  const int fd_;
  const bool writable_;
  mutable std::mutex mu_;
  int64_t records_ = 0;
  int64_t flushed_ = 0;                // stored hashes in the file
  std::vector<merkle::Hash> pending_;  // stored hashes after flushed_, not yet written
  merkle::Frontier edge_;              // right edge of the tree of records_ records
};

}  // namespace aaj::journal
