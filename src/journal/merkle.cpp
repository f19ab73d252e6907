#include "journal/merkle.h"

#include <bit>
#include <cassert>
#include <cstdlib>
#include <cstring>
#include <utility>

#include <openssl/evp.h>

#include "journal/codec.h"

namespace aaj::journal::merkle {
namespace {

Hash sha256(const void* data, size_t size) {
  Hash out;
  unsigned int len = 0;
  if (EVP_Digest(data, size, out.data(), &len, codec::sha256_md(), nullptr) != 1 ||
      len != out.size())
    std::abort();  // only on allocation failure inside libcrypto
  return out;
}

Error bad_argument(std::string detail) {
  return Error{"bad_argument", std::move(detail)};
}
Error bad_proof(std::string detail) {
  return Error{"bad_proof", std::move(detail)};
}

// floor(log2(x)) for x > 0.
int floor_log2(int64_t x) {
  return 63 - std::countl_zero(static_cast<uint64_t>(x));
}

// The RFC's split point: the largest power of two smaller than n (n >= 2).
int64_t split_point(int64_t n) {
  return int64_t{1} << floor_log2(n - 1);
}

// A batch of subtree hashes to compute: each item is the MTH of a range of records, built from
// the stored hashes of the complete subtrees that make up the range. All indexes are read with
// one read_hashes call.
class Plan {
 public:
  // Adds the MTH of records [lo, hi) (lo < hi) as the next item. Every range the RFC recursion
  // produces starts at a multiple of the largest power of two <= its length, so greedily taking
  // the largest complete subtree from the left always lands on stored (aligned) subtrees, and
  // they combine right to left exactly as the RFC splits.
  void add_range(int64_t lo, int64_t hi) {
    assert(lo < hi);
    while (lo < hi) {
      int level = floor_log2(hi - lo);
      assert((lo & ((int64_t{1} << level) - 1)) == 0);
      indexes_.push_back(stored_hash_index(level, lo >> level));
      lo += int64_t{1} << level;
    }
    ends_.push_back(indexes_.size());
  }

  // Reads the stored hashes; on success `hashes` holds them in plan order.
  Status read(HashReader& reader, std::vector<Hash>& hashes) const {
    if (indexes_.empty()) {
      hashes.clear();
      return {};
    }
    auto got = reader.read_hashes(indexes_);
    if (!got) return got.error();
    if (got->size() != indexes_.size())
      return Error{"bad_reader", "asked for " + std::to_string(indexes_.size()) +
                                     " hashes, the reader returned " + std::to_string(got->size())};
    hashes = std::move(*got);
    return {};
  }

  // Reads and folds: one hash per item, in the order the items were added.
  Result<std::vector<Hash>> run(HashReader& reader) const {
    std::vector<Hash> stored;
    if (Status s = read(reader, stored); !s) return s.error();
    std::vector<Hash> out;
    out.reserve(ends_.size());
    size_t begin = 0;
    for (size_t end : ends_) {
      Hash h = stored[end - 1];
      for (size_t i = end - 1; i-- > begin;) h = node_hash(stored[i], h);
      out.push_back(h);
      begin = end;
    }
    return out;
  }

 private:
  std::vector<int64_t> indexes_;
  std::vector<size_t> ends_;  // ends_[i]: one past the last index of item i
};

// RFC 9162 §2.1.3.1 PATH(index, D[lo:hi]), siblings from the leaf up.
void plan_path(int64_t index, int64_t lo, int64_t hi, Plan& plan) {
  if (hi - lo <= 1) return;
  int64_t mid = lo + split_point(hi - lo);
  if (index < mid) {
    plan_path(index, lo, mid, plan);
    plan.add_range(mid, hi);
  } else {
    plan_path(index, mid, hi, plan);
    plan.add_range(lo, mid);
  }
}

// RFC 9162 §2.1.4.1 SUBPROOF(m - lo, D[lo:hi], whole_old_tree) for lo < m <= hi (m absolute).
// whole_old_tree is the RFC's b: the old tree's root is this very subtree, which the verifier
// already has, so it is left out.
void plan_subproof(int64_t m, int64_t lo, int64_t hi, bool whole_old_tree, Plan& plan) {
  if (m == hi) {
    if (!whole_old_tree) plan.add_range(lo, hi);
    return;
  }
  int64_t mid = lo + split_point(hi - lo);
  if (m <= mid) {
    plan_subproof(m, lo, mid, whole_old_tree, plan);
    plan.add_range(mid, hi);
  } else {
    plan_subproof(m, mid, hi, false, plan);
    plan.add_range(lo, mid);
  }
}

std::string sizes(int64_t n, int64_t i, const char* i_name) {
  return std::string(i_name) + " " + std::to_string(i) + ", n " + std::to_string(n);
}

}  // namespace

std::string to_hex(const Hash& h) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s(64, '0');
  for (size_t i = 0; i < h.size(); ++i) {
    s[2 * i] = kDigits[h[i] >> 4];
    s[2 * i + 1] = kDigits[h[i] & 15];
  }
  return s;
}

std::optional<Hash> from_hex(std::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  Hash h;
  for (size_t i = 0; i < h.size(); ++i) {
    int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    h[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return h;
}

Hash leaf_hash(std::string_view entry) {
  // One context per thread, reused: a leaf is hashed for every record appended and verified.
  struct Ctx {
    EVP_MD_CTX* p = EVP_MD_CTX_new();
    ~Ctx() { EVP_MD_CTX_free(p); }
  };
  static thread_local Ctx ctx;
  static constexpr uint8_t kLeafPrefix = 0x00;
  Hash out;
  unsigned int len = 0;
  bool ok = ctx.p && EVP_DigestInit_ex(ctx.p, codec::sha256_md(), nullptr) == 1 &&
            EVP_DigestUpdate(ctx.p, &kLeafPrefix, 1) == 1 &&
            EVP_DigestUpdate(ctx.p, entry.data(), entry.size()) == 1 &&
            EVP_DigestFinal_ex(ctx.p, out.data(), &len) == 1 && len == out.size();
  if (!ok) std::abort();  // only on allocation failure inside libcrypto
  return out;
}

Hash node_hash(const Hash& left, const Hash& right) {
  uint8_t buf[1 + 2 * sizeof(Hash)];
  buf[0] = 0x01;
  std::memcpy(buf + 1, left.data(), left.size());
  std::memcpy(buf + 1 + left.size(), right.data(), right.size());
  return sha256(buf, sizeof buf);
}

Hash empty_root() {
  return sha256("", 0);
}

int64_t stored_hash_index(int level, int64_t k) {
  if (level < 0 || level > 62 || k < 0 || k >= (kMaxRecords >> level)) return -1;
  // The subtree completes when its last record r is appended: r's leaf goes at
  // stored_hash_count(r), followed by the subtrees r completes, levels 1, 2, ... in order.
  int64_t r = ((k + 1) << level) - 1;
  return stored_hash_count(r) + level;
}

int64_t stored_hash_count(int64_t n) {
  if (n < 0 || n > kMaxRecords) return -1;
  // Level L holds floor(n / 2^L) complete subtrees; summed over L that is 2n - popcount(n).
  // Written as n + (n - popcount) so that n == kMaxRecords does not overflow.
  return n + (n - std::popcount(static_cast<uint64_t>(n)));
}

Result<std::vector<Hash>> stored_hashes_for_record(int64_t n, const Hash& leaf,
                                                   HashReader& reader) {
  if (n < 0 || n >= kMaxRecords)
    return bad_argument("record " + std::to_string(n) + " out of range");
  // Record n completes one subtree per trailing 1 bit of n; each one's left half is stored.
  std::vector<int64_t> siblings;
  for (int level = 0; (n >> level) & 1; ++level)
    siblings.push_back(stored_hash_index(level, (n >> level) - 1));
  std::vector<Hash> out{leaf};
  if (siblings.empty()) return out;
  auto got = reader.read_hashes(siblings);
  if (!got) return got.error();
  if (got->size() != siblings.size())
    return Error{"bad_reader", "asked for " + std::to_string(siblings.size()) +
                                   " hashes, the reader returned " + std::to_string(got->size())};
  for (const Hash& left : *got) out.push_back(node_hash(left, out.back()));
  return out;
}

Result<Hash> tree_hash(int64_t n, HashReader& reader) {
  if (n < 0 || n > kMaxRecords) return bad_argument("tree size " + std::to_string(n));
  if (n == 0) return empty_root();
  Plan plan;
  plan.add_range(0, n);
  auto r = plan.run(reader);
  if (!r) return r.error();
  return (*r)[0];
}

Result<std::vector<Hash>> prove_record(int64_t n, int64_t index, HashReader& reader) {
  if (n <= 0 || n > kMaxRecords || index < 0 || index >= n)
    return bad_argument("inclusion proof needs 0 <= index < n: " + sizes(n, index, "index"));
  Plan plan;
  plan_path(index, 0, n, plan);
  return plan.run(reader);
}

Result<std::vector<Hash>> prove_tree(int64_t n, int64_t m, HashReader& reader) {
  if (n > kMaxRecords || m <= 0 || m > n)
    return bad_argument("consistency proof needs 0 < m <= n: " + sizes(n, m, "m"));
  Plan plan;
  plan_subproof(m, 0, n, true, plan);
  return plan.run(reader);
}

Status check_record(const std::vector<Hash>& proof, int64_t n, const Hash& root, int64_t index,
                    const Hash& leaf) {
  if (n <= 0 || n > kMaxRecords || index < 0 || index >= n)
    return bad_argument("inclusion proof needs 0 <= index < n: " + sizes(n, index, "index"));
  // RFC 9162 §2.1.3.2, step by step. fn is our node's position in its level, sn the last
  // position of that level. The proof hash is our left sibling when our node is a right child
  // (fn odd) or the last of its level (fn == sn): a last node without a right sibling rises
  // unchanged until it is a right child, so the next proof hash is the left one up there.
  uint64_t fn = static_cast<uint64_t>(index), sn = static_cast<uint64_t>(n - 1);
  Hash r = leaf;
  for (const Hash& p : proof) {
    if (sn == 0)
      return bad_proof("inclusion proof of " + std::to_string(proof.size()) +
                       " hashes is too long for " + sizes(n, index, "index"));
    if ((fn & 1) || fn == sn) {
      r = node_hash(p, r);
      while (!(fn & 1) && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      r = node_hash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0)
    return bad_proof("inclusion proof of " + std::to_string(proof.size()) +
                     " hashes is too short for " + sizes(n, index, "index"));
  if (r != root) return bad_proof("inclusion proof does not lead to the root");
  return {};
}

Status check_tree(const std::vector<Hash>& proof, int64_t n, const Hash& root_n, int64_t m,
                  const Hash& root_m) {
  if (n > kMaxRecords || m <= 0 || m > n)
    return bad_argument("consistency proof needs 0 < m <= n: " + sizes(n, m, "m"));
  if (m == n) {
    // Not covered by the RFC algorithm (0 < first < second): a tree is consistent with itself.
    if (!proof.empty()) return bad_proof("consistency proof between equal sizes must be empty");
    if (root_m != root_n) return bad_proof("equal tree sizes with different roots");
    return {};
  }
  // RFC 9162 §2.1.4.2, step by step.
  if (proof.empty()) return bad_proof("consistency proof is empty");
  // Step 2: when m is a power of two the old root is a node of the new tree and is omitted from
  // the proof; the verifier starts from root_m instead.
  const bool prepend = std::has_single_bit(static_cast<uint64_t>(m));
  auto path = [&](size_t i) -> const Hash& {
    return prepend ? (i == 0 ? root_m : proof[i - 1]) : proof[i];
  };
  const size_t len = proof.size() + (prepend ? 1 : 0);
  uint64_t fn = static_cast<uint64_t>(m - 1), sn = static_cast<uint64_t>(n - 1);
  while (fn & 1) {
    fn >>= 1;
    sn >>= 1;
  }
  Hash fr = path(0), sr = path(0);
  for (size_t i = 1; i < len; ++i) {
    const Hash& c = path(i);
    if (sn == 0)
      return bad_proof("consistency proof is too long for sizes m " + std::to_string(m) + ", n " +
                       std::to_string(n));
    if ((fn & 1) || fn == sn) {
      fr = node_hash(c, fr);
      sr = node_hash(c, sr);
      while (!(fn & 1) && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      sr = node_hash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0)
    return bad_proof("consistency proof is too short for sizes m " + std::to_string(m) + ", n " +
                     std::to_string(n));
  if (fr != root_m) return bad_proof("consistency proof does not lead to the old root");
  if (sr != root_n) return bad_proof("consistency proof does not lead to the new root");
  return {};
}

Status MemoryHashStore::append_record(const Hash& leaf) {
  auto add = stored_hashes_for_record(records_, leaf, *this);
  if (!add) return add.error();
  hashes_.insert(hashes_.end(), add->begin(), add->end());
  ++records_;
  return {};
}

Result<std::vector<Hash>> MemoryHashStore::read_hashes(const std::vector<int64_t>& indexes) {
  std::vector<Hash> out;
  out.reserve(indexes.size());
  for (int64_t i : indexes) {
    if (i < 0 || static_cast<uint64_t>(i) >= hashes_.size())
      return bad_argument("hash index " + std::to_string(i) + " not stored (" +
                          std::to_string(hashes_.size()) + " hashes for " +
                          std::to_string(records_) + " records)");
    out.push_back(hashes_[static_cast<size_t>(i)]);
  }
  return out;
}

Result<Frontier> Frontier::load(int64_t n, HashReader& reader) {
  if (n < 0 || n > kMaxRecords) return bad_argument("tree size " + std::to_string(n));
  Frontier f;
  f.size_ = n;
  if (n == 0) return f;
  Plan plan;
  plan.add_range(0, n);  // exactly the complete subtrees of the frontier, largest first
  if (Status s = plan.read(reader, f.subtrees_); !s) return s.error();
  return f;
}

Status Frontier::append(const Hash& leaf, std::vector<Hash>* completed) {
  if (size_ >= kMaxRecords) return bad_argument("the tree already has kMaxRecords records");
  // Each trailing 1 bit of the old size is a subtree the new leaf completes.
  Hash h = leaf;
  if (completed) completed->push_back(h);
  for (int64_t s = size_; s & 1; s >>= 1) {
    h = node_hash(subtrees_.back(), h);
    subtrees_.pop_back();
    if (completed) completed->push_back(h);
  }
  subtrees_.push_back(h);
  ++size_;
  return {};
}

Hash Frontier::root() const {
  if (subtrees_.empty()) return empty_root();
  Hash h = subtrees_.back();
  for (size_t i = subtrees_.size() - 1; i-- > 0;) h = node_hash(subtrees_[i], h);
  return h;
}

}  // namespace aaj::journal::merkle
