// Merkle tree over the records of an append-only log, per RFC 6962 / RFC 9162 (Certificate
// Transparency v2): the tree hash of the first n records, inclusion proofs ("record i is in the
// tree of size n") and consistency proofs ("the tree of size m is a prefix of the tree of size n").
// A verifier that holds a signed (size, root) pair needs nothing but check_record/check_tree.
//
// Hashing (RFC 9162 §2.1.1), SHA-256:
//   leaf:  SHA-256(0x00 || entry)         node: SHA-256(0x01 || left || right)
//   empty tree: SHA-256("")
// The tree of n > 1 records splits at k, the largest power of two < n: left = first k records,
// right = the rest.
//
// Storage layout. An append-only log stores, for every COMPLETE subtree (2^L consecutive records
// starting at a multiple of 2^L), its hash, in the order the subtrees complete: when record r is
// appended, its leaf hash is stored, then the hash of each subtree record r completes, smallest
// first. The subtree at level L, index K (records [K*2^L, (K+1)*2^L)) thus has a dense index
// (stored_hash_index) that never changes as the log grows, a log of n records holds exactly
// stored_hash_count(n) = 2n - popcount(n) hashes, and any root or proof needs O(log n) of them.
// This is the scheme of Go's golang.org/x/mod/sumdb/tlog, so the indexes agree with it.
//
// Sizes and indexes are int64_t (records are numbered from 0); at most kMaxRecords records.
//
// Errors (Error::code):
//   "bad_argument"  a size or index out of range (e.g. index >= n, m > n). MemoryHashStore also
//                   uses it for an index it does not store (n beyond its records). The detail
//                   names the values.
//   "bad_proof"     check_record/check_tree: the proof does not prove the claim. The detail
//                   says what failed.
//   "bad_reader"    a HashReader broke its contract (returned the wrong number of hashes).
//   Errors returned by a HashReader are passed through unchanged.
//
// Proofs that need no hashes (n == 1 in prove_record, m == n in prove_tree), and tree_hash(0),
// are answered without calling the reader, so they do not check that it holds n records.
//
// Thread safety: everything here is thread-compatible. The free functions have no shared state
// (they are safe to call concurrently as long as each HashReader they are given is); a
// MemoryHashStore or Frontier needs external synchronization only when one thread mutates it
// while others use it. Nothing throws but std::bad_alloc; a libcrypto without SHA-256 aborts,
// as elsewhere in aaj.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace aaj::journal::merkle {

// Most records a tree may have: keeps 2n, and so every stored hash index, within int64_t.
inline constexpr int64_t kMaxRecords = int64_t{1} << 62;

using Hash = std::array<uint8_t, 32>;

// 64 lowercase hex characters.
std::string to_hex(const Hash& h);
// Parses exactly 64 hex characters (either case). nullopt for any other input.
std::optional<Hash> from_hex(std::string_view hex);

// SHA-256(0x00 || entry): the hash of a record's bytes as a leaf.
Hash leaf_hash(std::string_view entry);
// SHA-256(0x01 || left || right): the hash of an interior node.
Hash node_hash(const Hash& left, const Hash& right);
// SHA-256(""): the root of the tree of 0 records.
Hash empty_root();

// Where the hash of the complete subtree at `level` (0 = leaves), index k (covering records
// [k*2^level, (k+1)*2^level)) is stored. Returns -1 if level < 0, k < 0 or the subtree would
// reach past kMaxRecords.
int64_t stored_hash_index(int level, int64_t k);

// How many hashes are stored for a log of n records (2n - popcount(n)); the hashes of record r
// occupy [stored_hash_count(r), stored_hash_count(r + 1)). Returns -1 if n < 0 or
// n > kMaxRecords.
int64_t stored_hash_count(int64_t n);

// Read access to the stored hashes of a log (a file, a database table, memory).
class HashReader {
 public:
  virtual ~HashReader() = default;
  // Returns the hashes at the given storage indexes, in the same order (indexes may come in any
  // order and may repeat). Must fail, rather than return anything, if any index is negative or
  // not stored yet; the callers here pass that error through. The callers here ask for at most
  // O(log n) indexes per call and make one call per operation, so an implementation backed by
  // I/O can batch them.
  virtual Result<std::vector<Hash>> read_hashes(const std::vector<int64_t>& indexes) = 0;
};

// The hashes to store when record n (0-based: the log holds n records before it) is appended:
// `leaf` (its leaf_hash) followed by the hash of every subtree it completes, in storage order.
// Their storage indexes are stored_hash_count(n) onwards. Reads the left siblings (at most
// log2(n) hashes) from `reader`, which must hold exactly the hashes of the first n records: the
// result is not checked against the reader's size, so a wrong n yields wrong parents unless the
// reader refuses the indexes. Returns "bad_argument" if n < 0 or n >= kMaxRecords, or the
// reader's error.
Result<std::vector<Hash>> stored_hashes_for_record(int64_t n, const Hash& leaf, HashReader& reader);

// The root (RFC 9162 MTH) of the first n records, from at most log2(n)+1 stored hashes read in
// one call. n == 0 gives empty_root() without reading. Returns "bad_argument" if n < 0 or
// n > kMaxRecords, or the reader's error (e.g. when it holds fewer than n records).
Result<Hash> tree_hash(int64_t n, HashReader& reader);

// The inclusion proof (RFC 9162 §2.1.3.1 PATH) of record `index` in the tree of the first n
// records, ordered from the leaf's sibling up to the root's child. Reads at most about 2*log2(n)
// hashes in one call. Returns "bad_argument" unless 0 <= index < n <= kMaxRecords, or the
// reader's error.
Result<std::vector<Hash>> prove_record(int64_t n, int64_t index, HashReader& reader);

// The consistency proof (RFC 9162 §2.1.4.1 PROOF) that the tree of the first m records is a
// prefix of the tree of the first n. Empty when m == n. Reads at most about 2*log2(n) hashes in
// one call. Returns "bad_argument" unless 0 < m <= n <= kMaxRecords, or the reader's error.
Result<std::vector<Hash>> prove_tree(int64_t n, int64_t m, HashReader& reader);

// Verifies an inclusion proof exactly per RFC 9162 §2.1.3.2: that `leaf` (a leaf_hash) is record
// `index` of the tree of size n whose root is `root`. Returns OK, "bad_argument" unless
// 0 <= index < n <= kMaxRecords, or "bad_proof" (wrong length, or the recomputed root differs).
// As in the RFC, n is checked only through the proof's shape (its length and which side each
// hash is on): (n, root) must come from one signed tree head, which is what binds the size.
Status check_record(const std::vector<Hash>& proof, int64_t n, const Hash& root, int64_t index,
                    const Hash& leaf);

// Verifies a consistency proof exactly per RFC 9162 §2.1.4.2: that the tree of size m with root
// root_m is a prefix of the tree of size n with root root_n. For m == n the proof must be empty
// and the roots equal (the RFC algorithm covers only m < n). Returns OK, "bad_argument" unless
// 0 < m <= n <= kMaxRecords, or "bad_proof" (empty or wrong-length proof, or a recomputed root
// differs). Sizes are bound as for check_record: through each (size, root) tree head.
Status check_tree(const std::vector<Hash>& proof, int64_t n, const Hash& root_n, int64_t m,
                  const Hash& root_m);

// The stored hashes of a log held in memory (a vector in the layout above): for tests, tools and
// small trees. Copyable and movable. Concurrent read_hashes calls are safe; append_record needs
// exclusive access.
class MemoryHashStore final : public HashReader {
 public:
  // Appends record number records() with the given leaf hash (its leaf_hash) and the subtree
  // hashes it completes. Returns "bad_argument" when the store already holds kMaxRecords.
  Status append_record(const Hash& leaf);

  // Fails with "bad_argument" naming the first index that is negative or >= hashes().size().
  Result<std::vector<Hash>> read_hashes(const std::vector<int64_t>& indexes) override;

  // Records appended so far.
  int64_t records() const { return records_; }
  // All stored hashes, stored_hash_count(records()) of them, in storage order.
  const std::vector<Hash>& hashes() const { return hashes_; }

 private:
  std::vector<Hash> hashes_;
  int64_t records_ = 0;
};

// The running root of an append-only sequence in O(log n) memory (a "compact range"): the hashes
// of the complete subtrees that make up the first size() records, largest first. For a process
// that appends and must know the current root without reading storage. Copyable and movable.
class Frontier {
 public:
  // The frontier of the empty sequence.
  Frontier() = default;

  // Rebuilds the frontier of the first n records from stored hashes (popcount(n) of them, read
  // in one call), e.g. at start-up. Returns "bad_argument" if n < 0 or n > kMaxRecords, or the
  // reader's error.
  static Result<Frontier> load(int64_t n, HashReader& reader);

  // Adds the next record, given its leaf_hash: amortized O(1) hashing. Returns "bad_argument"
  // (and changes nothing) when size() is already kMaxRecords. When `completed` is given, appends
  // to it the leaf and then each subtree hash the leaf completes, smallest first: the hashes a
  // tree file stores for this record (stored_hash_index order).
  Status append(const Hash& leaf, std::vector<Hash>* completed = nullptr);

  // Records appended (or loaded).
  int64_t size() const { return size_; }

  // The root of the first size() records (empty_root() when empty); equals
  // tree_hash(size(), ...). O(log n) hashing.
  Hash root() const;

  // The complete-subtree hashes, largest (leftmost) first: one per set bit of size().
  const std::vector<Hash>& subtrees() const { return subtrees_; }

 private:
  std::vector<Hash> subtrees_;
  int64_t size_ = 0;
};

}  // namespace aaj::journal::merkle
