#include "journal/merkle.h"

#include <bit>
#include <cstring>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <openssl/evp.h>

namespace aaj::journal::merkle {
namespace {

using Proof = std::vector<Hash>;
using Range = std::pair<int64_t, int64_t>;  // records [first, second)

Hash H(std::string_view hex) {
  auto h = from_hex(hex);
  if (!h) ADD_FAILURE() << "bad hex in the test: " << hex;
  return h.value_or(Hash{});
}

std::string unhex_bytes(std::string_view hex) {
  std::string s;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    s.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  return s;
}

Hash openssl_sha256(const std::string& s) {
  Hash h;
  unsigned int n = 0;
  EVP_Digest(s.data(), s.size(), h.data(), &n, EVP_sha256(), nullptr);
  return h;
}

// ---- Reference implementation, straight from the RFC 9162 §2.1 definitions. ------------------
// Naive on purpose: MTH recomputed from the leaves every time, no storage layout.

int64_t ref_split(int64_t n) {  // largest power of two smaller than n (n >= 2)
  int64_t k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

// MTH(D[lo:hi]) where leaves[i] is the leaf hash of record i.
Hash ref_mth(const std::vector<Hash>& leaves, int64_t lo, int64_t hi) {
  if (hi == lo) return openssl_sha256("");
  if (hi - lo == 1) return leaves[lo];
  int64_t k = ref_split(hi - lo);
  return node_hash(ref_mth(leaves, lo, lo + k), ref_mth(leaves, lo + k, hi));
}

// The subtrees whose MTHs PATH(m, D[lo:hi]) lists, in order.
void ref_path_ranges(int64_t m, int64_t lo, int64_t hi, std::vector<Range>& out) {
  if (hi - lo <= 1) return;
  int64_t k = ref_split(hi - lo);
  if (m - lo < k) {
    ref_path_ranges(m, lo, lo + k, out);
    out.push_back({lo + k, hi});
  } else {
    ref_path_ranges(m, lo + k, hi, out);
    out.push_back({lo, lo + k});
  }
}

// The subtrees whose MTHs SUBPROOF(m - lo, D[lo:hi], b) lists, in order (m absolute).
void ref_subproof_ranges(int64_t m, int64_t lo, int64_t hi, bool b, std::vector<Range>& out) {
  if (m == hi) {
    if (!b) out.push_back({lo, hi});
    return;
  }
  int64_t k = ref_split(hi - lo);
  if (m - lo <= k) {
    ref_subproof_ranges(m, lo, lo + k, b, out);
    out.push_back({lo + k, hi});
  } else {
    ref_subproof_ranges(m, lo + k, hi, false, out);
    out.push_back({lo, lo + k});
  }
}

Proof ref_hashes(const std::vector<Hash>& leaves, const std::vector<Range>& ranges) {
  Proof p;
  for (auto [lo, hi] : ranges) p.push_back(ref_mth(leaves, lo, hi));
  return p;
}

Proof ref_path(const std::vector<Hash>& leaves, int64_t n, int64_t index) {
  std::vector<Range> r;
  ref_path_ranges(index, 0, n, r);
  return ref_hashes(leaves, r);
}

Proof ref_proof(const std::vector<Hash>& leaves, int64_t n, int64_t m) {
  std::vector<Range> r;
  ref_subproof_ranges(m, 0, n, true, r);
  return ref_hashes(leaves, r);
}

// A verifier derived from the same definitions rather than from the RFC's verification
// algorithm: the proof hashes are taken as the MTHs of the subtrees PATH/PROOF would list for
// the claimed sizes, and the roots are recomputed by the MTH recursion over them. It is the exact
// oracle for what a correct verifier must accept, including claims that differ from the one the
// proof was made for (some such claims are accepted by design; see SizeIsBoundOnlyByTheShape).
Hash ref_eval(const std::map<Range, Hash>& known, int64_t lo, int64_t hi, bool& complete) {
  if (auto it = known.find({lo, hi}); it != known.end()) return it->second;
  if (hi - lo <= 1) {
    complete = false;  // a leaf the proof does not cover: cannot happen for valid sizes
    return Hash{};
  }
  int64_t k = ref_split(hi - lo);
  return node_hash(ref_eval(known, lo, lo + k, complete), ref_eval(known, lo + k, hi, complete));
}

bool ref_check_record(const Proof& proof, int64_t n, const Hash& root, int64_t index,
                      const Hash& leaf) {
  if (n <= 0 || index < 0 || index >= n) return false;
  std::vector<Range> ranges;
  ref_path_ranges(index, 0, n, ranges);
  if (ranges.size() != proof.size()) return false;
  std::map<Range, Hash> known{{{index, index + 1}, leaf}};
  for (size_t i = 0; i < ranges.size(); ++i) known[ranges[i]] = proof[i];
  bool complete = true;
  Hash r = ref_eval(known, 0, n, complete);
  return complete && r == root;
}

bool ref_check_tree(const Proof& proof, int64_t n, const Hash& root_n, int64_t m,
                    const Hash& root_m) {
  if (m <= 0 || m > n) return false;
  if (m == n) return proof.empty() && root_m == root_n;
  std::vector<Range> ranges;
  ref_subproof_ranges(m, 0, n, true, ranges);
  if (ranges.size() != proof.size()) return false;
  std::map<Range, Hash> known;
  if (std::has_single_bit(static_cast<uint64_t>(m))) known[{0, m}] = root_m;
  for (size_t i = 0; i < ranges.size(); ++i) known[ranges[i]] = proof[i];
  bool complete = true;
  Hash rm = ref_eval(known, 0, m, complete);
  Hash rn = ref_eval(known, 0, n, complete);
  return complete && rm == root_m && rn == root_n;
}

// ---- Fixtures. --------------------------------------------------------------------------------

std::vector<Hash> make_leaves(int64_t n, uint64_t salt = 0) {
  std::vector<Hash> leaves;
  leaves.reserve(n);
  for (int64_t i = 0; i < n; ++i)
    leaves.push_back(leaf_hash("record " + std::to_string(i) + "/" + std::to_string(salt)));
  return leaves;
}

MemoryHashStore make_store(const std::vector<Hash>& leaves) {
  MemoryHashStore s;
  for (const Hash& l : leaves) EXPECT_TRUE(s.append_record(l).ok());
  return s;
}

// Counts the calls and indexes a computation reads, to hold it to O(log n).
class CountingReader final : public HashReader {
 public:
  explicit CountingReader(HashReader& inner) : inner_(inner) {}
  Result<std::vector<Hash>> read_hashes(const std::vector<int64_t>& indexes) override {
    ++calls;
    hashes += static_cast<int64_t>(indexes.size());
    return inner_.read_hashes(indexes);
  }
  int calls = 0;
  int64_t hashes = 0;

 private:
  HashReader& inner_;
};

class FailingReader final : public HashReader {
 public:
  Result<std::vector<Hash>> read_hashes(const std::vector<int64_t>&) override {
    return Error{"io_error", "disk gone"};
  }
};

// Returns one hash too few: a reader that breaks its contract.
class ShortReader final : public HashReader {
 public:
  Result<std::vector<Hash>> read_hashes(const std::vector<int64_t>& indexes) override {
    return std::vector<Hash>(indexes.size() - 1);
  }
};

// Pretends to store the hashes of a log of n records, whatever n: a made-up hash per index, and
// an error beyond stored_hash_count(n). For sizes no test could build.
class SyntheticReader final : public HashReader {
 public:
  explicit SyntheticReader(int64_t n) : count_(stored_hash_count(n)) {}
  Result<std::vector<Hash>> read_hashes(const std::vector<int64_t>& indexes) override {
    std::vector<Hash> out;
    for (int64_t i : indexes) {
      if (i < 0 || i >= count_) return Error{"bad_argument", "index " + std::to_string(i)};
      out.push_back(leaf_hash(std::to_string(i)));
    }
    return out;
  }

 private:
  int64_t count_;
};

std::string describe(const Status& s) {
  return s.ok() ? "ok" : s.error().code + ": " + s.error().detail;
}

// ---- Known answers. ---------------------------------------------------------------------------
// The reference tree of Certificate Transparency's C++ implementation,
// google/certificate-transparency cpp/merkletree/merkle_tree_test.cc (kInputs, kSHA256Roots,
// kSHA256Paths, kSHA256Proofs). Its paths number leaves from 1; here indexes are 0-based.

const char* const kInputs[8] = {"",
                                "00",
                                "10",
                                "2021",
                                "3031",
                                "40414243",
                                "5051525354555657",
                                "606162636465666768696a6b6c6d6e6f"};

const char* const kRoots[8] = {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                               "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
                               "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
                               "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                               "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
                               "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
                               "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
                               "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"};

constexpr const char* kEmptyRoot =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

struct InclusionVector {
  int64_t index, n;
  std::vector<const char*> proof;
};
const InclusionVector kInclusion[] = {
    {0, 1, {}},
    {0,
     8,
     {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {5,
     8,
     {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {2, 3, {"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
    {1,
     5,
     {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
};

struct ConsistencyVector {
  int64_t m, n;
  std::vector<const char*> proof;
};
const ConsistencyVector kConsistency[] = {
    {1, 1, {}},
    {1,
     8,
     {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {6,
     8,
     {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {2,
     5,
     {"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
};

std::vector<Hash> ct_leaves() {
  std::vector<Hash> leaves;
  for (const char* in : kInputs) leaves.push_back(leaf_hash(unhex_bytes(in)));
  return leaves;
}

Proof to_proof(const std::vector<const char*>& hex) {
  Proof p;
  for (const char* h : hex) p.push_back(H(h));
  return p;
}

TEST(Merkle, HashingMatchesTheDefinitionAndSha256) {
  EXPECT_EQ(to_hex(empty_root()), kEmptyRoot);
  EXPECT_EQ(empty_root(), openssl_sha256(""));
  EXPECT_EQ(leaf_hash(""), openssl_sha256(std::string(1, '\0')));
  EXPECT_EQ(leaf_hash("abc"), openssl_sha256(std::string(1, '\0') + "abc"));
  std::string big(100000, 'x');
  EXPECT_EQ(leaf_hash(big), openssl_sha256(std::string(1, '\0') + big));
  Hash a = leaf_hash("a"), b = leaf_hash("b");
  std::string cat = std::string(1, '\x01');
  cat.append(reinterpret_cast<const char*>(a.data()), a.size());
  cat.append(reinterpret_cast<const char*>(b.data()), b.size());
  EXPECT_EQ(node_hash(a, b), openssl_sha256(cat));
  EXPECT_NE(node_hash(a, b), node_hash(b, a));
}

TEST(Merkle, HexRoundTripAndRejectsMalformed) {
  Hash h = leaf_hash("x");
  std::string hex = to_hex(h);
  ASSERT_EQ(hex.size(), 64u);
  EXPECT_EQ(hex.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(from_hex(hex), h);
  std::string upper = hex;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(from_hex(upper), h);
  EXPECT_FALSE(from_hex(hex.substr(1)));
  EXPECT_FALSE(from_hex(hex + "0"));
  EXPECT_FALSE(from_hex(""));
  std::string bad = hex;
  bad[17] = 'g';
  EXPECT_FALSE(from_hex(bad));
  bad[17] = ' ';
  EXPECT_FALSE(from_hex(bad));
}

TEST(Merkle, KnownAnswerRoots) {
  auto leaves = ct_leaves();
  EXPECT_EQ(to_hex(leaves[0]), kRoots[0]);  // a 1-leaf tree's root is its leaf hash
  MemoryHashStore store;
  Frontier frontier;
  auto r0 = tree_hash(0, store);
  ASSERT_TRUE(r0.ok());
  EXPECT_EQ(to_hex(*r0), kEmptyRoot);
  EXPECT_EQ(to_hex(frontier.root()), kEmptyRoot);
  for (size_t i = 0; i < 8; ++i) {
    ASSERT_TRUE(store.append_record(leaves[i]).ok());
    ASSERT_TRUE(frontier.append(leaves[i]).ok());
    EXPECT_EQ(to_hex(frontier.root()), kRoots[i]) << "size " << i + 1;
    for (size_t j = 0; j <= i; ++j) {
      auto r = tree_hash(static_cast<int64_t>(j + 1), store);
      ASSERT_TRUE(r.ok());
      EXPECT_EQ(to_hex(*r), kRoots[j]) << "size " << j + 1 << " with " << i + 1 << " stored";
    }
  }
}

TEST(Merkle, KnownAnswerInclusionProofs) {
  auto leaves = ct_leaves();
  auto store = make_store(leaves);
  for (const auto& v : kInclusion) {
    SCOPED_TRACE("index " + std::to_string(v.index) + " n " + std::to_string(v.n));
    auto p = prove_record(v.n, v.index, store);
    ASSERT_TRUE(p.ok()) << p.error().detail;
    EXPECT_EQ(*p, to_proof(v.proof));
    Status s = check_record(to_proof(v.proof), v.n, H(kRoots[v.n - 1]), v.index, leaves[v.index]);
    EXPECT_TRUE(s.ok()) << describe(s);
  }
}

TEST(Merkle, KnownAnswerConsistencyProofs) {
  auto leaves = ct_leaves();
  auto store = make_store(leaves);
  for (const auto& v : kConsistency) {
    SCOPED_TRACE("m " + std::to_string(v.m) + " n " + std::to_string(v.n));
    auto p = prove_tree(v.n, v.m, store);
    ASSERT_TRUE(p.ok()) << p.error().detail;
    EXPECT_EQ(*p, to_proof(v.proof));
    Status s = check_tree(to_proof(v.proof), v.n, H(kRoots[v.n - 1]), v.m, H(kRoots[v.m - 1]));
    EXPECT_TRUE(s.ok()) << describe(s);
  }
}

// ---- Storage layout. --------------------------------------------------------------------------

TEST(Merkle, StoredHashIndexLayout) {
  // Record 0: leaf 0. Record 1: leaf 1, then (1,0). Record 2: leaf 2. Record 3: leaf 3, (1,1),
  // (2,0). Record 4: leaf 4. (The order golang.org/x/mod/sumdb/tlog documents.)
  EXPECT_EQ(stored_hash_index(0, 0), 0);
  EXPECT_EQ(stored_hash_index(0, 1), 1);
  EXPECT_EQ(stored_hash_index(1, 0), 2);
  EXPECT_EQ(stored_hash_index(0, 2), 3);
  EXPECT_EQ(stored_hash_index(0, 3), 4);
  EXPECT_EQ(stored_hash_index(1, 1), 5);
  EXPECT_EQ(stored_hash_index(2, 0), 6);
  EXPECT_EQ(stored_hash_index(0, 4), 7);
  EXPECT_EQ(stored_hash_count(0), 0);
  EXPECT_EQ(stored_hash_count(1), 1);
  EXPECT_EQ(stored_hash_count(2), 3);
  EXPECT_EQ(stored_hash_count(3), 4);
  EXPECT_EQ(stored_hash_count(4), 7);
  EXPECT_EQ(stored_hash_count(5), 8);

  // Edges: the last storable hash, and everything beyond refused rather than overflowing.
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(stored_hash_count(kMaxRecords), kMax);
  EXPECT_EQ(stored_hash_index(62, 0), kMax - 1);
  EXPECT_EQ(stored_hash_index(0, kMaxRecords - 1), stored_hash_count(kMaxRecords - 1));
  EXPECT_EQ(stored_hash_count(kMaxRecords + 1), -1);
  EXPECT_EQ(stored_hash_count(-1), -1);
  EXPECT_EQ(stored_hash_index(-1, 0), -1);
  EXPECT_EQ(stored_hash_index(0, -1), -1);
  EXPECT_EQ(stored_hash_index(63, 0), -1);
  EXPECT_EQ(stored_hash_index(62, 1), -1);
  EXPECT_EQ(stored_hash_index(0, kMaxRecords), -1);
  EXPECT_EQ(stored_hash_index(1000, 0), -1);
}

TEST(Merkle, StoreHoldsEveryCompleteSubtreeAtItsIndex) {
  constexpr int64_t kN = 300;
  auto leaves = make_leaves(kN);
  MemoryHashStore store;
  for (int64_t n = 1; n <= kN; ++n) {
    ASSERT_TRUE(store.append_record(leaves[n - 1]).ok());
    ASSERT_EQ(store.records(), n);
    ASSERT_EQ(static_cast<int64_t>(store.hashes().size()), stored_hash_count(n));
    // The record's hashes are exactly stored_hashes_for_record's, at the documented place.
    EXPECT_EQ(stored_hash_index(0, n - 1), stored_hash_count(n - 1));
  }
  // Every complete subtree of the 300 records is stored at its index, and the indexes of all
  // complete subtrees of any prefix n are exactly 0..stored_hash_count(n)-1.
  std::vector<int> seen(store.hashes().size(), 0);
  for (int level = 0; (int64_t{1} << level) <= kN; ++level) {
    int64_t width = int64_t{1} << level;
    for (int64_t k = 0; (k + 1) * width <= kN; ++k) {
      int64_t i = stored_hash_index(level, k);
      ASSERT_GE(i, 0);
      ASSERT_LT(i, static_cast<int64_t>(store.hashes().size()));
      ++seen[i];
      EXPECT_EQ(store.hashes()[i], ref_mth(leaves, k * width, (k + 1) * width))
          << "level " << level << " k " << k;
      // Stored once the subtree's last record is in, not before.
      EXPECT_LT(i, stored_hash_count((k + 1) * width));
      EXPECT_GE(i, stored_hash_count((k + 1) * width - 1));
    }
  }
  for (size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], 1) << "index " << i;
}

TEST(Merkle, StoredHashesForRecordReadsOnlyTheLeftSiblings) {
  auto leaves = make_leaves(64);
  MemoryHashStore store;
  for (int64_t n = 0; n < 64; ++n) {
    CountingReader counting(store);
    auto add = stored_hashes_for_record(n, leaves[n], counting);
    ASSERT_TRUE(add.ok());
    int completes = std::countr_one(static_cast<uint64_t>(n));
    ASSERT_EQ(static_cast<int>(add->size()), 1 + completes);
    EXPECT_EQ((*add)[0], leaves[n]);
    EXPECT_EQ(counting.hashes, completes);
    EXPECT_EQ(counting.calls, completes ? 1 : 0);
    ASSERT_TRUE(store.append_record(leaves[n]).ok());
    std::vector<Hash> tail(store.hashes().end() - static_cast<int64_t>(add->size()),
                           store.hashes().end());
    EXPECT_EQ(tail, *add);
  }
}

// ---- Properties against the reference, every shape up to 130 records. ------------------------

TEST(Merkle, AllSmallTreesMatchTheReference) {
  constexpr int64_t kN = 130;
  auto leaves = make_leaves(kN);
  auto store = make_store(leaves);
  for (int64_t n = 1; n <= kN; ++n) {
    SCOPED_TRACE("n " + std::to_string(n));
    int64_t log_bound = std::bit_width(static_cast<uint64_t>(n));
    Hash root = ref_mth(leaves, 0, n);
    {
      CountingReader counting(store);
      auto r = tree_hash(n, counting);
      ASSERT_TRUE(r.ok());
      EXPECT_EQ(*r, root);
      EXPECT_EQ(counting.calls, 1);
      EXPECT_EQ(counting.hashes, std::popcount(static_cast<uint64_t>(n)));
    }
    for (int64_t index = 0; index < n; ++index) {
      CountingReader counting(store);
      auto p = prove_record(n, index, counting);
      ASSERT_TRUE(p.ok());
      ASSERT_EQ(*p, ref_path(leaves, n, index)) << "index " << index;
      EXPECT_EQ(counting.calls, p->empty() ? 0 : 1);
      EXPECT_LE(counting.hashes, 2 * log_bound);
      Status s = check_record(*p, n, root, index, leaves[index]);
      EXPECT_TRUE(s.ok()) << "index " << index << ": " << describe(s);
      EXPECT_TRUE(ref_check_record(*p, n, root, index, leaves[index]));
    }
    for (int64_t m = 1; m <= n; ++m) {
      CountingReader counting(store);
      auto p = prove_tree(n, m, counting);
      ASSERT_TRUE(p.ok());
      ASSERT_EQ(*p, ref_proof(leaves, n, m)) << "m " << m;
      EXPECT_EQ(counting.calls, p->empty() ? 0 : 1);
      EXPECT_LE(counting.hashes, 2 * log_bound);
      Hash root_m = ref_mth(leaves, 0, m);
      Status s = check_tree(*p, n, root, m, root_m);
      EXPECT_TRUE(s.ok()) << "m " << m << ": " << describe(s);
      EXPECT_TRUE(ref_check_tree(*p, n, root, m, root_m));
    }
  }
}

TEST(Merkle, RandomLargeTreesMatchTheReference) {
  constexpr int64_t kN = 100000;
  auto leaves = make_leaves(kN, 7);
  auto store = make_store(leaves);
  std::mt19937_64 rng(20261122);  // fixed: a failure must reproduce
  std::vector<int64_t> sizes = {kN, kN - 1, 65536, 65537, 65535};
  for (int i = 0; i < 5; ++i) sizes.push_back(std::uniform_int_distribution<int64_t>(1, kN)(rng));
  for (int64_t n : sizes) {
    SCOPED_TRACE("n " + std::to_string(n));
    int64_t log_bound = std::bit_width(static_cast<uint64_t>(n));
    Hash root = ref_mth(leaves, 0, n);
    auto r = tree_hash(n, store);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(*r, root);
    std::vector<int64_t> indexes = {0, n - 1,
                                    std::uniform_int_distribution<int64_t>(0, n - 1)(rng)};
    for (int64_t index : indexes) {
      CountingReader counting(store);
      auto p = prove_record(n, index, counting);
      ASSERT_TRUE(p.ok());
      EXPECT_EQ(*p, ref_path(leaves, n, index)) << "index " << index;
      EXPECT_LE(counting.hashes, 2 * log_bound);
      EXPECT_TRUE(check_record(*p, n, root, index, leaves[index]).ok()) << "index " << index;
    }
    std::vector<int64_t> ms = {1, n, std::uniform_int_distribution<int64_t>(1, n)(rng)};
    for (int64_t m : ms) {
      CountingReader counting(store);
      auto p = prove_tree(n, m, counting);
      ASSERT_TRUE(p.ok());
      EXPECT_EQ(*p, ref_proof(leaves, n, m)) << "m " << m;
      EXPECT_LE(counting.hashes, 2 * log_bound);
      EXPECT_TRUE(check_tree(*p, n, root, m, ref_mth(leaves, 0, m)).ok()) << "m " << m;
    }
  }
}

// ---- Verification rejects every alteration. --------------------------------------------------

// Alterations of a valid proof that never leave it valid.
std::vector<std::pair<std::string, Proof>> structural_alterations(const Proof& p,
                                                                  const Hash& extra) {
  std::vector<std::pair<std::string, Proof>> out;
  if (!p.empty()) {
    out.push_back({"drop first", Proof(p.begin() + 1, p.end())});
    out.push_back({"drop last", Proof(p.begin(), p.end() - 1)});
    for (size_t i = 0; i + 1 < p.size(); ++i) {
      Proof q = p;
      q.erase(q.begin() + static_cast<int64_t>(i));
      out.push_back({"drop " + std::to_string(i), q});
      if (p[i] != p[i + 1]) {
        Proof swapped = p;
        std::swap(swapped[i], swapped[i + 1]);
        out.push_back({"swap " + std::to_string(i), swapped});
      }
    }
    Proof dup = p;
    dup.push_back(p.back());
    out.push_back({"repeat last", dup});
  }
  for (const Hash& h : {Hash{}, extra, empty_root()}) {
    Proof q = p;
    q.push_back(h);
    out.push_back({"append", q});
    q = p;
    q.insert(q.begin(), h);
    out.push_back({"prepend", q});
  }
  return out;
}

TEST(Merkle, InclusionVerificationRejectsEveryAlteration) {
  constexpr int64_t kN = 70;
  auto leaves = make_leaves(kN);
  auto store = make_store(leaves);
  std::vector<Hash> roots;
  for (int64_t n = 0; n <= kN; ++n) roots.push_back(ref_mth(leaves, 0, n));
  int64_t shape_twins = 0;
  for (int64_t n = 1; n <= kN; ++n) {
    const Hash& root = roots[n];
    for (int64_t index = 0; index < n; ++index) {
      SCOPED_TRACE("n " + std::to_string(n) + " index " + std::to_string(index));
      auto got = prove_record(n, index, store);
      ASSERT_TRUE(got.ok());
      const Proof& p = *got;
      const Hash& leaf = leaves[index];
      ASSERT_TRUE(check_record(p, n, root, index, leaf).ok());

      // Any flipped bit of any proof hash: every byte for small trees, one byte per hash (varying)
      // beyond.
      for (size_t j = 0; j < p.size(); ++j) {
        for (size_t b = 0; b < 32; ++b) {
          if (n > 24 && b != (j * 7 + static_cast<size_t>(index)) % 32) continue;
          Proof q = p;
          q[j][b] ^= static_cast<uint8_t>(1u << (b % 8));
          Status s = check_record(q, n, root, index, leaf);
          ASSERT_FALSE(s.ok()) << "hash " << j << " byte " << b;
          EXPECT_EQ(s.error().code, "bad_proof");
        }
      }
      for (const auto& [what, q] : structural_alterations(p, root)) {
        Status s = check_record(q, n, root, index, leaf);
        ASSERT_FALSE(s.ok()) << what;
        EXPECT_EQ(s.error().code, "bad_proof") << what;
        // The length is checked before any hash: the detail says which way it is wrong.
        if (q.size() != p.size()) {
          EXPECT_NE(s.error().detail.find(q.size() > p.size() ? "too long" : "too short"),
                    std::string::npos)
              << what << ": " << s.error().detail;
        }
      }
      // Wrong leaf, wrong root.
      EXPECT_FALSE(check_record(p, n, root, index, leaf_hash("forged")).ok());
      if (n > 1) {  // in a 1-record tree the root is the leaf hash
        EXPECT_FALSE(check_record(p, n, leaf, index, leaf).ok());
      }
      for (size_t b = 0; b < 32; b += 5) {
        Hash r = root, l = leaf;
        r[b] ^= 0x80;
        l[b] ^= 0x01;
        EXPECT_FALSE(check_record(p, n, r, index, leaf).ok());
        EXPECT_FALSE(check_record(p, n, root, index, l).ok());
      }
      // Any other index in the same tree.
      for (int64_t other = 0; other < n; ++other) {
        if (other != index) {
          EXPECT_FALSE(check_record(p, n, root, other, leaf).ok()) << other;
        }
      }
      // Out-of-range claims are refused as arguments.
      EXPECT_EQ(check_record(p, n, root, n, leaf).error().code, "bad_argument");
      EXPECT_EQ(check_record(p, n, root, -1, leaf).error().code, "bad_argument");
      // Any other size: never with that size's true root; with this root exactly when the
      // reference verifier accepts (the size is bound only through the proof's shape).
      for (int64_t other = index + 1; other <= 2 * n + 2; ++other) {
        if (other == n) continue;
        if (other <= kN) {
          EXPECT_FALSE(check_record(p, other, roots[other], index, leaf).ok()) << other;
        }
        bool want = ref_check_record(p, other, root, index, leaf);
        shape_twins += want;
        EXPECT_EQ(check_record(p, other, root, index, leaf).ok(), want) << "size " << other;
      }
    }
  }
  EXPECT_GT(shape_twins, 0);  // the oracle really is exercised on accepted size changes
}

TEST(Merkle, ConsistencyVerificationRejectsEveryAlteration) {
  constexpr int64_t kN = 64;
  auto leaves = make_leaves(kN);
  auto store = make_store(leaves);
  std::vector<Hash> roots;
  for (int64_t n = 0; n <= kN; ++n) roots.push_back(ref_mth(leaves, 0, n));
  for (int64_t n = 1; n <= kN; ++n) {
    for (int64_t m = 1; m <= n; ++m) {
      SCOPED_TRACE("n " + std::to_string(n) + " m " + std::to_string(m));
      auto got = prove_tree(n, m, store);
      ASSERT_TRUE(got.ok());
      const Proof& p = *got;
      const Hash &root_n = roots[n], &root_m = roots[m];
      ASSERT_TRUE(check_tree(p, n, root_n, m, root_m).ok());

      for (size_t j = 0; j < p.size(); ++j) {
        for (size_t b = 0; b < 32; ++b) {
          if (n > 20 && b != (j * 11 + static_cast<size_t>(m)) % 32) continue;
          Proof q = p;
          q[j][b] ^= static_cast<uint8_t>(1u << (b % 8));
          Status s = check_tree(q, n, root_n, m, root_m);
          ASSERT_FALSE(s.ok()) << "hash " << j << " byte " << b;
          EXPECT_EQ(s.error().code, "bad_proof");
        }
      }
      for (const auto& [what, q] : structural_alterations(p, root_m)) {
        Status s = check_tree(q, n, root_n, m, root_m);
        ASSERT_FALSE(s.ok()) << what;
        EXPECT_EQ(s.error().code, "bad_proof") << what;
        if (m < n && !q.empty() && q.size() != p.size()) {
          EXPECT_NE(s.error().detail.find(q.size() > p.size() ? "too long" : "too short"),
                    std::string::npos)
              << what << ": " << s.error().detail;
        }
      }
      if (m < n) {
        EXPECT_EQ(check_tree({}, n, root_n, m, root_m).error().code, "bad_proof");
        // Swapped roots, altered roots.
        EXPECT_FALSE(check_tree(p, n, root_m, m, root_n).ok());
        Hash rn = root_n, rm = root_m;
        rn[n % 32] ^= 1;
        rm[m % 32] ^= 1;
        EXPECT_FALSE(check_tree(p, n, rn, m, root_m).ok());
        EXPECT_FALSE(check_tree(p, n, root_n, m, rm).ok());
      } else {
        Hash rm = root_m;
        rm[0] ^= 1;
        EXPECT_EQ(check_tree({}, n, root_n, m, rm).error().code, "bad_proof");
        EXPECT_EQ(check_tree({root_n}, n, root_n, m, root_m).error().code, "bad_proof");
      }
      // Other sizes: never with their true roots; with these roots exactly as the reference.
      for (int64_t other = 1; other <= n; ++other) {
        if (other == m) continue;
        EXPECT_FALSE(check_tree(p, n, root_n, other, roots[other]).ok()) << "m' " << other;
        EXPECT_EQ(check_tree(p, n, root_n, other, root_m).ok(),
                  ref_check_tree(p, n, root_n, other, root_m))
            << "m' " << other;
      }
      for (int64_t other = m; other <= 2 * n + 2; ++other) {
        if (other == n) continue;
        if (other <= kN) {
          EXPECT_FALSE(check_tree(p, other, roots[other], m, root_m).ok()) << "n' " << other;
        }
        EXPECT_EQ(check_tree(p, other, root_n, m, root_m).ok(),
                  ref_check_tree(p, other, root_n, m, root_m))
            << "n' " << other;
      }
      EXPECT_EQ(check_tree(p, n, root_n, 0, root_m).error().code, "bad_argument");
      EXPECT_EQ(check_tree(p, n, root_n, n + 1, root_m).error().code, "bad_argument");
      EXPECT_EQ(check_tree(p, m - 1, root_n, m, root_m).error().code, "bad_argument");
    }
  }
}

// Documents the RFC property the tests above rely on: a proof does not commit to the tree size
// beyond its shape. Leaf 0 has the same path shape in trees of 5..8 records, so a 5-record proof
// "verifies" for size 6 against the 5-record root. Harmless, because a verifier takes size and
// root together from one signed tree head, and no honest head pairs 6 with that root.
TEST(Merkle, SizeIsBoundOnlyByTheShape) {
  auto leaves = make_leaves(8);
  auto store = make_store(leaves);
  auto p = prove_record(5, 0, store);
  ASSERT_TRUE(p.ok());
  Hash root5 = ref_mth(leaves, 0, 5), root6 = ref_mth(leaves, 0, 6);
  EXPECT_TRUE(check_record(*p, 6, root5, 0, leaves[0]).ok());
  EXPECT_FALSE(check_record(*p, 6, root6, 0, leaves[0]).ok());
  EXPECT_FALSE(check_record(*p, 9, root5, 0, leaves[0]).ok());
}

// ---- Frontier. --------------------------------------------------------------------------------

TEST(Merkle, FrontierRootEqualsTreeHashAtEverySize) {
  constexpr int64_t kN = 4100;
  auto leaves = make_leaves(kN, 3);
  MemoryHashStore store;
  Frontier f;
  EXPECT_EQ(f.size(), 0);
  EXPECT_EQ(f.root(), empty_root());
  for (int64_t n = 1; n <= kN; ++n) {
    ASSERT_TRUE(store.append_record(leaves[n - 1]).ok());
    ASSERT_TRUE(f.append(leaves[n - 1]).ok());
    ASSERT_EQ(f.size(), n);
    EXPECT_EQ(static_cast<int>(f.subtrees().size()), std::popcount(static_cast<uint64_t>(n)));
    auto r = tree_hash(n, store);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(f.root(), *r) << "n " << n;
  }
  EXPECT_EQ(f.root(), ref_mth(leaves, 0, kN));
}

TEST(Merkle, FrontierLoadsFromStorageAndContinues) {
  constexpr int64_t kN = 600;
  auto leaves = make_leaves(kN, 5);
  auto store = make_store(leaves);
  Frontier appended;
  for (int64_t n = 0; n <= kN; ++n) {
    CountingReader counting(store);
    auto loaded = Frontier::load(n, counting);
    ASSERT_TRUE(loaded.ok()) << n;
    EXPECT_EQ(loaded->size(), n);
    EXPECT_EQ(loaded->subtrees(), appended.subtrees()) << n;
    EXPECT_EQ(loaded->root(), appended.root()) << n;
    EXPECT_EQ(counting.hashes, std::popcount(static_cast<uint64_t>(n)));
    if (n % 97 == 0) {  // a loaded frontier continues like one that saw every append
      Frontier f = std::move(loaded).value();
      for (int64_t i = n; i < kN; ++i) ASSERT_TRUE(f.append(leaves[i]).ok());
      EXPECT_EQ(f.root(), ref_mth(leaves, 0, kN)) << n;
    }
    if (n < kN) {
      ASSERT_TRUE(appended.append(leaves[n]).ok());
    }
  }
  EXPECT_EQ(Frontier::load(kN + 1, store).error().code, "bad_argument");
  EXPECT_EQ(Frontier::load(-1, store).error().code, "bad_argument");
  EXPECT_EQ(Frontier::load(kMaxRecords + 1, store).error().code, "bad_argument");
  FailingReader failing;
  EXPECT_EQ(Frontier::load(5, failing).error().code, "io_error");
  ShortReader short_reader;
  EXPECT_EQ(Frontier::load(7, short_reader).error().code, "bad_reader");
}

// ---- Bad arguments and broken readers return errors. ------------------------------------------

TEST(Merkle, BadArgumentsAreRefused) {
  auto leaves = make_leaves(10);
  auto store = make_store(leaves);
  auto code = [](const auto& r) { return r.ok() ? std::string("ok") : r.error().code; };

  EXPECT_EQ(code(tree_hash(-1, store)), "bad_argument");
  EXPECT_EQ(code(tree_hash(kMaxRecords + 1, store)), "bad_argument");
  EXPECT_EQ(code(tree_hash(11, store)), "bad_argument");  // beyond what is stored
  EXPECT_EQ(code(tree_hash(kMaxRecords, store)), "bad_argument");

  EXPECT_EQ(code(prove_record(10, 10, store)), "bad_argument");
  EXPECT_EQ(code(prove_record(10, -1, store)), "bad_argument");
  EXPECT_EQ(code(prove_record(0, 0, store)), "bad_argument");
  EXPECT_EQ(code(prove_record(-5, 0, store)), "bad_argument");
  EXPECT_EQ(code(prove_record(kMaxRecords + 1, 0, store)), "bad_argument");
  EXPECT_EQ(code(prove_record(11, 3, store)), "bad_argument");  // beyond what is stored

  EXPECT_EQ(code(prove_tree(10, 11, store)), "bad_argument");
  EXPECT_EQ(code(prove_tree(10, 0, store)), "bad_argument");
  EXPECT_EQ(code(prove_tree(10, -1, store)), "bad_argument");
  EXPECT_EQ(code(prove_tree(-1, -1, store)), "bad_argument");
  EXPECT_EQ(code(prove_tree(0, 0, store)), "bad_argument");
  EXPECT_EQ(code(prove_tree(kMaxRecords + 1, 1, store)), "bad_argument");
  EXPECT_EQ(code(prove_tree(12, 3, store)), "bad_argument");  // beyond what is stored

  Hash root = ref_mth(leaves, 0, 10);
  EXPECT_EQ(code(check_record({}, 0, root, 0, leaves[0])), "bad_argument");
  EXPECT_EQ(code(check_record({}, -1, root, 0, leaves[0])), "bad_argument");
  EXPECT_EQ(code(check_record({}, kMaxRecords + 1, root, 0, leaves[0])), "bad_argument");
  EXPECT_EQ(code(check_tree({}, 10, root, 0, root)), "bad_argument");
  EXPECT_EQ(code(check_tree({}, 10, root, 11, root)), "bad_argument");
  EXPECT_EQ(code(check_tree({}, -1, root, -2, root)), "bad_argument");
  EXPECT_EQ(code(check_tree({}, kMaxRecords + 1, root, 1, root)), "bad_argument");

  EXPECT_EQ(code(stored_hashes_for_record(-1, leaves[0], store)), "bad_argument");
  EXPECT_EQ(code(stored_hashes_for_record(kMaxRecords, leaves[0], store)), "bad_argument");
  EXPECT_EQ(code(stored_hashes_for_record(15, leaves[0], store)), "bad_argument");

  EXPECT_EQ(code(store.read_hashes({0, -1})), "bad_argument");
  EXPECT_EQ(code(store.read_hashes({stored_hash_count(10)})), "bad_argument");
  auto ok = store.read_hashes({2, 0, 2});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, (std::vector<Hash>{store.hashes()[2], store.hashes()[0], store.hashes()[2]}));
}

TEST(Merkle, ReaderErrorsPassThrough) {
  auto leaf = leaf_hash("x");
  FailingReader failing;
  EXPECT_EQ(tree_hash(5, failing).error().code, "io_error");
  EXPECT_EQ(prove_record(5, 2, failing).error().code, "io_error");
  EXPECT_EQ(prove_tree(5, 3, failing).error().code, "io_error");
  EXPECT_EQ(stored_hashes_for_record(3, leaf, failing).error().code, "io_error");
  // Nothing to read: no reader call, no error.
  EXPECT_TRUE(tree_hash(0, failing).ok());
  EXPECT_TRUE(prove_record(1, 0, failing).ok());
  EXPECT_TRUE(prove_tree(5, 5, failing).ok());
  EXPECT_TRUE(stored_hashes_for_record(2, leaf, failing).ok());

  ShortReader short_reader;
  EXPECT_EQ(tree_hash(5, short_reader).error().code, "bad_reader");
  EXPECT_EQ(prove_record(5, 2, short_reader).error().code, "bad_reader");
  EXPECT_EQ(prove_tree(5, 3, short_reader).error().code, "bad_reader");
  EXPECT_EQ(stored_hashes_for_record(3, leaf, short_reader).error().code, "bad_reader");
}

TEST(Merkle, HugeSizesDoNotOverflow) {
  // A log of kMaxRecords records (or one less) that only pretends to exist: every index asked for
  // must be within its stored_hash_count, and proofs have the expected lengths.
  for (int64_t n : {kMaxRecords, kMaxRecords - 1}) {
    SyntheticReader reader(n);
    auto r = tree_hash(n, reader);
    ASSERT_TRUE(r.ok()) << r.error().detail;
    for (int64_t index : {int64_t{0}, n / 3, n - 1}) {
      auto p = prove_record(n, index, reader);
      ASSERT_TRUE(p.ok()) << p.error().detail;
      std::vector<Range> ranges;
      ref_path_ranges(index, 0, n, ranges);
      EXPECT_EQ(p->size(), ranges.size());
      EXPECT_GE(p->size(), 61u);
      // The synthetic hashes are no real tree: the proof must be refused, not crash.
      EXPECT_EQ(check_record(*p, n, *r, index, leaf_hash("x")).error().code, "bad_proof");
    }
    for (int64_t m : {int64_t{1}, n / 3, n - 1}) {
      auto p = prove_tree(n, m, reader);
      ASSERT_TRUE(p.ok()) << p.error().detail;
      std::vector<Range> ranges;
      ref_subproof_ranges(m, 0, n, true, ranges);
      EXPECT_EQ(p->size(), ranges.size());
      EXPECT_FALSE(p->empty());
      EXPECT_EQ(check_tree(*p, n, *r, m, leaf_hash("x")).error().code, "bad_proof");
    }
    auto f = Frontier::load(n, reader);
    ASSERT_TRUE(f.ok());
    EXPECT_EQ(f->root(), *r);
  }
  SyntheticReader full(kMaxRecords);
  auto f = Frontier::load(kMaxRecords, full);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->append(leaf_hash("one too many")).error().code, "bad_argument");
  EXPECT_EQ(f->size(), kMaxRecords);
  auto add = stored_hashes_for_record(kMaxRecords - 1, leaf_hash("last"), full);
  ASSERT_TRUE(add.ok());
  EXPECT_EQ(add->size(), 63u);  // the leaf and the 62 subtrees it completes
}

}  // namespace
}  // namespace aaj::journal::merkle
