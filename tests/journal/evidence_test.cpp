// The journal as evidence (docs/journal-format.md): the Merkle tree kept beside the records,
// signed heads per group commit, the seal in every receipt, sealed segments, proofs, and what
// verify() and open() catch. The signature here is a keyed hash standing in for the system's
// CMS (the journal treats signatures as opaque; tests/integration covers the real keys).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "evidence/package.h"
#include "journal/heads.h"
#include "journal/journal.h"
#include "journal/merkle.h"
#include "test_files.h"

namespace aaj::journal {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

using test::read_file;
using test::read_lines;
using test::sha256_hex;
using test::TempDir;
using test::write_file;
using test::write_lines;

// A stand-in signature: SHA-256 of a secret and the bytes.
std::string fake_sign(std::string_view bytes, const std::string& key = "system-key") {
  return sha256_hex(key + std::string(bytes));
}

Options evidence_options(uint64_t segment_records = 0) {
  Options o;
  o.tree = true;
  o.log_id = "aaj:000000000000:test";
  o.sign = [](std::string_view canonical) -> Result<std::string> { return fake_sign(canonical); };
  o.segment_records = segment_records;
  o.commit_delay = std::chrono::microseconds(0);
  return o;
}

VerifyOptions checking() {
  VerifyOptions v;
  v.check_signature = [](std::string_view canonical, std::string_view sig) -> Status {
    if (fake_sign(canonical) != sig) return Error{"bad_signature", "does not match"};
    return {};
  };
  return v;
}

std::unique_ptr<Journal> open_ok(const fs::path& dir, Options o) {
  auto j = Journal::open(dir, std::move(o));
  EXPECT_TRUE(j.ok()) << (j.ok() ? "" : j.error().code + ": " + j.error().detail);
  return j.ok() ? std::move(j).value() : nullptr;
}

json body(int i) {
  return {{"request_id", "req-" + std::to_string(i)},
          {"answer_sha256", sha256_hex("answer " + std::to_string(i))},
          {"cms_sha256", sha256_hex("cms " + std::to_string(i))},
          {"user", {{"iin", "880101300123"}, {"body_bin", "000740000128"}}},
          {"note", "Әлия \"quoted\" " + std::to_string(i)}};
}

// A journal opened on `dir` with records body(1)…body(n) appended, then closed.
void write_records(const fs::path& dir, int n, Options o = evidence_options()) {
  auto j = open_ok(dir, std::move(o));
  ASSERT_TRUE(j);
  for (int i = 1; i <= n; ++i) ASSERT_TRUE(j->append("data_request", body(i)).ok());
}

merkle::Hash unhex(const std::string& h) {
  auto v = merkle::from_hex(h);
  EXPECT_TRUE(v.has_value()) << h;
  return v.value_or(merkle::Hash{});
}

// The root of the records' lines read back from every file, independently of the journal.
std::string independent_root(const fs::path& dir) {
  merkle::MemoryHashStore store;
  std::vector<fs::path> files;
  if (fs::exists(dir / "segments"))
    for (const auto& e : fs::directory_iterator(dir / "segments"))
      if (e.path().extension() == ".log") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  files.push_back(dir / kFileName);
  for (const auto& f : files)
    for (const auto& line : read_lines(f)) (void)store.append_record(merkle::leaf_hash(line));
  return merkle::to_hex(*merkle::tree_hash(store.records(), store));
}

// The flusher writes each seal leaf's canonical text directly; it must be exactly what dumping the
// leaf object gives, whichever fields the body has and whatever they hold.
TEST(SealLeaf, DirectCanonicalTextEqualsTheDumpedObject) {
  const std::string hash(64, 'a');
  std::vector<std::optional<std::string>> values = {
      std::nullopt, "0190f3c2-7d1e-7a00-8000-000000000001", "", "кириллица \"quoted\" \\ \n\t\x01"};
  for (const auto& request_id : values)
    for (const auto& answer : values)
      for (const auto& cms : values) {
        heads::SealLeafFields f{request_id, answer, cms};
        json body = json::object();
        if (request_id) body["request_id"] = *request_id;
        if (answer) body["answer_sha256"] = *answer;
        if (cms) body["cms_sha256"] = *cms;
        body["other"] = "x";
        std::string direct;
        ASSERT_TRUE(heads::append_canonical_seal_leaf(direct, 18446744073709551615ull, hash, f));
        EXPECT_EQ(direct,
                  heads::canonical(heads::seal_leaf(18446744073709551615ull, hash, body.dump())));
      }
  std::string out;
  EXPECT_FALSE(heads::append_canonical_seal_leaf(out, 1, hash, {std::string("\xff"), {}, {}}));
}

TEST(Evidence, EveryReceiptCarriesAVerifiableSealOfItsRecord) {
  TempDir dir;
  auto j = open_ok(dir.path(), evidence_options());
  ASSERT_TRUE(j);
  // Concurrent appends so that batches hold several records.
  std::vector<std::thread> ts;
  std::mutex mu;
  std::vector<Receipt> receipts;
  for (int t = 0; t < 8; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        auto r = j->append("data_request", body(t * 100 + i));
        ASSERT_TRUE(r.ok()) << r.error().detail;
        std::lock_guard<std::mutex> l(mu);
        receipts.push_back(*r);
      }
    });
  for (auto& t : ts) t.join();
  ASSERT_EQ(receipts.size(), 80u);
  const auto lines = read_lines(dir.path() / kFileName);
  for (const auto& h : read_lines(dir.path() / "heads.log")) EXPECT_EQ(json::parse(h).dump(), h);
  bool some_batch_had_several = false;
  for (const auto& r : receipts) {
    json seal = json::parse(r.seal);
    // Seals and heads are canonical JSON (verifiers re-serialize them to check signatures).
    EXPECT_EQ(seal.dump(), r.seal);
    const json& leaf = seal["leaf"];
    const json& head = seal["head"];
    // The leaf names this record and the body's hashes.
    EXPECT_EQ(leaf["log_seq"], r.seq);
    EXPECT_EQ(leaf["record_hash"], r.hash_hex);
    json rec = json::parse(lines[r.seq - 1]);
    EXPECT_EQ(leaf["request_id"], rec["body"]["request_id"]);
    EXPECT_EQ(leaf["answer_sha256"], rec["body"]["answer_sha256"]);
    EXPECT_EQ(leaf["cms_sha256"], rec["body"]["cms_sha256"]);
    // The live leaf is the one a verifier rebuilds from the stored record.
    EXPECT_EQ(leaf, heads::seal_leaf(r.seq, r.hash_hex, rec["body"].dump()));
    // The leaf is in the batch, and the batch head is signed.
    const uint64_t first = head["batch"]["first_seq"], last = head["batch"]["last_seq"];
    ASSERT_LE(first, r.seq);
    ASSERT_GE(last, r.seq);
    some_batch_had_several = some_batch_had_several || last > first;
    std::vector<merkle::Hash> proof;
    for (const auto& h : seal["proof"]) proof.push_back(unhex(h));
    EXPECT_TRUE(merkle::check_record(
                    proof, static_cast<int64_t>(last - first + 1), unhex(head["batch"]["root"]),
                    static_cast<int64_t>(r.seq - first), merkle::leaf_hash(leaf.dump()))
                    .ok());
    EXPECT_EQ(seal["signature"], fake_sign(head.dump()));
    // The head's tree is the records' tree at the batch's end.
    EXPECT_EQ(head["size"], last);
    EXPECT_EQ(head["root"], *j->tree_root_hex(last));
    EXPECT_EQ(head["log"], "aaj:000000000000:test");
    // A changed leaf (another answer) no longer reaches the signed root.
    json forged = leaf;
    forged["answer_sha256"] = sha256_hex("another answer");
    EXPECT_FALSE(merkle::check_record(
                     proof, static_cast<int64_t>(last - first + 1), unhex(head["batch"]["root"]),
                     static_cast<int64_t>(r.seq - first), merkle::leaf_hash(forged.dump()))
                     .ok());
  }
  EXPECT_TRUE(some_batch_had_several);
  EXPECT_EQ(*j->tree_root_hex(80), independent_root(dir.path()));
  j.reset();
  VerifyReport rep = verify(dir.path(), checking());
  EXPECT_TRUE(rep.ok) << rep.problem;
  EXPECT_TRUE(rep.signatures_checked);
  EXPECT_GT(rep.heads, 0u);
  EXPECT_EQ(rep.tree_root, independent_root(dir.path()));
}

TEST(Evidence, InclusionAndConsistencyProofsFromTheJournal) {
  TempDir dir;
  auto j = open_ok(dir.path(), evidence_options());
  ASSERT_TRUE(j);
  for (int i = 1; i <= 37; ++i) ASSERT_TRUE(j->append("data_request", body(i)).ok());
  const auto lines = read_lines(dir.path() / kFileName);
  for (uint64_t size : {1u, 2u, 13u, 32u, 37u}) {
    auto root = unhex(*j->tree_root_hex(size));
    for (uint64_t seq = 1; seq <= size; ++seq) {
      auto p = j->prove_inclusion(seq, size);
      ASSERT_TRUE(p.ok());
      std::vector<merkle::Hash> proof;
      for (const auto& h : *p) proof.push_back(unhex(h));
      EXPECT_TRUE(merkle::check_record(proof, static_cast<int64_t>(size), root,
                                       static_cast<int64_t>(seq - 1),
                                       merkle::leaf_hash(lines[seq - 1]))
                      .ok());
      // Any other record's line fails.
      if (size > 1) {
        EXPECT_FALSE(merkle::check_record(proof, static_cast<int64_t>(size), root,
                                          static_cast<int64_t>(seq - 1),
                                          merkle::leaf_hash(lines[seq % size]))
                         .ok());
      }
    }
    for (uint64_t m = 1; m <= size; ++m) {
      auto p = j->prove_consistency(m, size);
      ASSERT_TRUE(p.ok());
      std::vector<merkle::Hash> proof;
      for (const auto& h : *p) proof.push_back(unhex(h));
      EXPECT_TRUE(merkle::check_tree(proof, static_cast<int64_t>(size), root,
                                     static_cast<int64_t>(m), unhex(*j->tree_root_hex(m)))
                      .ok());
    }
  }
  EXPECT_EQ(j->prove_inclusion(38, 37).error().code, "bad_argument");
  EXPECT_EQ(j->prove_inclusion(1, 38).error().code, "bad_argument");
}

TEST(Evidence, SegmentsAreSealedAsTheyFillAndVerified) {
  TempDir dir;
  ASSERT_NO_FATAL_FAILURE(write_records(dir.path(), 25, evidence_options(/*segment_records=*/10)));
  ASSERT_TRUE(fs::exists(dir.path() / "segments/000001.log"));
  ASSERT_TRUE(fs::exists(dir.path() / "segments/000002.log"));
  EXPECT_EQ(read_lines(dir.path() / "segments/000001.log").size(), 10u);
  auto seal = json::parse(read_file(dir.path() / "segments/000001.seal.json"));
  EXPECT_EQ(seal["seal"]["first_seq"], 1);
  EXPECT_EQ(seal["seal"]["last_seq"], 10);
  EXPECT_EQ(seal["seal"]["segment"], "000001.log");
  EXPECT_EQ(seal["signature"], fake_sign(seal["seal"].dump()));
  VerifyReport rep = verify(dir.path(), checking());
  ASSERT_TRUE(rep.ok) << rep.problem;
  EXPECT_EQ(rep.segments, 2u);
  EXPECT_EQ(rep.records, 25u);
  // Reopened, the chain goes on across the segments.
  {
    auto j = open_ok(dir.path(), evidence_options(10));
    ASSERT_TRUE(j);
    auto r = j->append("data_request", body(26));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->seq, 26u);
    ASSERT_TRUE(j->seal_segment().ok());  // on demand
  }
  EXPECT_TRUE(fs::exists(dir.path() / "segments/000003.seal.json"));
  EXPECT_TRUE(verify(dir.path(), checking()).ok);

  // A changed byte in a sealed segment is named with its file.
  auto seg = dir.path() / "segments/000002.log";
  std::string original = read_file(seg);
  std::string changed = original;
  changed[changed.find("Әлия") + 2] ^= 1;
  write_file(seg, changed);
  rep = verify(dir.path(), checking());
  EXPECT_FALSE(rep.ok);
  EXPECT_EQ(rep.first_bad_file, "000002.log");
  EXPECT_EQ(rep.first_bad_seq, 11u);
  write_file(seg, original);

  // A seal that does not match its records, and one whose signature is wrong.
  auto seal_path = dir.path() / "segments/000001.seal.json";
  std::string seal_text = read_file(seal_path);
  json s = json::parse(seal_text);
  s["seal"]["segment_root"] = std::string(64, '0');
  write_file(seal_path, s.dump() + "\n");
  rep = verify(dir.path(), checking());
  EXPECT_FALSE(rep.ok);
  EXPECT_NE(rep.problem.find("segment_root"), std::string::npos) << rep.problem;
  s = json::parse(seal_text);
  s["signature"] = fake_sign(s["seal"].dump(), "someone else's key");
  write_file(seal_path, s.dump() + "\n");
  rep = verify(dir.path(), checking());
  EXPECT_FALSE(rep.ok);
  EXPECT_NE(rep.problem.find("signature"), std::string::npos) << rep.problem;
  EXPECT_TRUE(verify(dir.path()).ok);  // without keys the signature is not judged
  write_file(seal_path, seal_text);

  // A lost seal is signed again when the owner opens the log.
  fs::remove(dir.path() / "segments/000003.seal.json");
  EXPECT_FALSE(verify(dir.path(), checking()).ok);
  { ASSERT_TRUE(open_ok(dir.path(), evidence_options(10))); }
  EXPECT_TRUE(verify(dir.path(), checking()).ok);
}

// A chain can be rewritten from any record on with every later hash recomputed: the chain alone
// cannot tell. The signed heads can.
TEST(Evidence, ARewrittenChainIsCaughtByTheSignedHeads) {
  TempDir dir;
  ASSERT_NO_FATAL_FAILURE(write_records(dir.path(), 12));
  ASSERT_TRUE(verify(dir.path(), checking()).ok);
  auto lines = read_lines(dir.path() / kFileName);
  std::string prev = std::string(64, '0');
  for (size_t i = 0; i < lines.size(); ++i) {
    json rec = json::parse(lines[i]);
    if (i == 4) rec["body"]["answer_sha256"] = sha256_hex("a different answer");
    rec["prev"] = prev;
    rec.erase("hash");
    rec["hash"] = sha256_hex(rec.dump());
    prev = rec["hash"];
    lines[i] = rec.dump();
  }
  write_lines(dir.path() / kFileName, lines);
  VerifyReport rep = verify(dir.path(), checking());
  EXPECT_FALSE(rep.ok);
  EXPECT_EQ(rep.first_bad_file, "heads.log");
  EXPECT_NE(rep.problem.find("root"), std::string::npos) << rep.problem;
  // And the owner refuses to open a log that is not what it signed.
  auto j = Journal::open(dir.path(), evidence_options());
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.error().code, "journal_corrupt");
}

TEST(Evidence, TheTreeFileIsRebuiltWhenLostOrDamaged) {
  TempDir dir;
  std::string root;
  {
    auto j = open_ok(dir.path(), evidence_options());
    ASSERT_TRUE(j);
    for (int i = 1; i <= 20; ++i) ASSERT_TRUE(j->append("data_request", body(i)).ok());
    root = *j->tree_root_hex(20);
  }
  fs::remove(dir.path() / "merkle.hashes");
  {
    auto j = open_ok(dir.path(), evidence_options());
    ASSERT_TRUE(j);
    EXPECT_EQ(*j->tree_root_hex(20), root);
  }
  // Zeros where hashes were (as an unsynced tail may leave): caught by the signed head.
  std::string t = read_file(dir.path() / "merkle.hashes");
  std::fill(t.begin() + 100, t.begin() + 400, '\0');
  write_file(dir.path() / "merkle.hashes", t);
  {
    auto j = open_ok(dir.path(), evidence_options());
    ASSERT_TRUE(j);
    EXPECT_EQ(*j->tree_root_hex(20), root);
    ASSERT_TRUE(j->append("data_request", body(21)).ok());
  }
  EXPECT_TRUE(verify(dir.path(), checking()).ok);
}

TEST(Evidence, OtherWritersRecordsJoinTheTreeAndFollowASeal) {
  TempDir dir;
  auto owner = open_ok(dir.path(), evidence_options());
  ASSERT_TRUE(owner);
  Options plain;
  plain.commit_delay = std::chrono::microseconds(0);
  auto cli = open_ok(dir.path(), plain);  // e.g. `aaj user block` in another process
  ASSERT_TRUE(cli);
  ASSERT_TRUE(owner->append("data_request", body(1)).ok());
  ASSERT_TRUE(cli->append("user_blocked", {{"iin", "880101300123"}}).ok());
  ASSERT_TRUE(owner->seal_segment().ok());  // seals records 1-2 while cli holds the old file
  ASSERT_TRUE(cli->append("user_unblocked", {{"iin", "880101300123"}}).ok());
  auto r = owner->append("data_request", body(2));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->seq, 4u);
  EXPECT_EQ(read_lines(dir.path() / kFileName).size(), 2u);  // 3 and 4 in the new file
  json head = json::parse(json::parse(r->seal)["head"].dump());
  EXPECT_EQ(head["size"], 4);  // the tree includes the other writer's records
  EXPECT_EQ(head["root"], independent_root(dir.path()));
  // One owner of the tree per log.
  auto second = Journal::open(dir.path(), evidence_options());
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().detail.find("owner.lock"), std::string::npos);
  owner.reset();
  cli.reset();
  VerifyReport rep = verify(dir.path(), checking());
  EXPECT_TRUE(rep.ok) << rep.problem;
  EXPECT_EQ(rep.segments, 1u);
}

TEST(Evidence, HeadsUseAstanaTimeAcrossThe2024Change) {
  TempDir dir;
  Options o = evidence_options();
  // Clocks went back from 00:00 +06:00 to 23:00 +05:00 at 2024-02-29T18:00Z: the same local time
  // happened twice, and only the offset tells them apart.
  time::Instant when = *time::parse_iso8601("2024-02-29T17:30:00Z");
  o.clock = [&when] { return when; };
  auto j = open_ok(dir.path(), o);
  ASSERT_TRUE(j);
  auto before = j->append("data_request", body(1));
  when = *time::parse_iso8601("2024-02-29T18:30:00Z");
  auto after = j->append("data_request", body(2));
  ASSERT_TRUE(before.ok() && after.ok());
  EXPECT_EQ(json::parse(before->seal)["head"]["at_astana"], "2024-02-29T23:30:00.000+06:00");
  EXPECT_EQ(json::parse(after->seal)["head"]["at_astana"], "2024-02-29T23:30:00.000+05:00");
  EXPECT_EQ(before->at_astana, "2024-02-29T23:30:00.000+06:00");
  EXPECT_EQ(after->at_astana, "2024-02-29T23:30:00.000+05:00");
}

// A whole last line of heads.log that is not a signed head is damage, not a torn tail: the owner
// refuses to open rather than skip the check against the newest signed head.
TEST(Evidence, AJunkLastHeadRefusesToOpen) {
  TempDir dir;
  ASSERT_NO_FATAL_FAILURE(write_records(dir.path(), 3));
  const fs::path heads_file = dir.path() / "heads.log";
  const std::string before = read_file(heads_file);
  write_file(heads_file, before + "{\"not\":\"a head\"}\n");
  auto j = Journal::open(dir.path(), evidence_options());
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.error().code, "journal_corrupt");
  EXPECT_NE(j.error().detail.find("heads.log"), std::string::npos) << j.error().detail;
  // Nothing was cut or appended.
  EXPECT_EQ(read_file(heads_file), before + "{\"not\":\"a head\"}\n");
}

TEST(Evidence, AFailedSignatureReleasesNothing) {
  TempDir dir;
  Options o = evidence_options();
  bool broken = false;
  o.sign = [&broken](std::string_view c) -> Result<std::string> {
    if (broken) return Error{"sign_failed", "the key is unavailable"};
    return fake_sign(c);
  };
  auto j = open_ok(dir.path(), o);
  ASSERT_TRUE(j);
  ASSERT_TRUE(j->append("data_request", body(1)).ok());
  broken = true;
  auto r = j->append("data_request", body(2));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "journal_unavailable");
  EXPECT_NE(r.error().detail.find("sealed"), std::string::npos) << r.error().detail;
  broken = false;
  EXPECT_TRUE(j->append("data_request", body(3)).ok());
}

TEST(Evidence, HeadsLostInACrashAreSignedAgainAtOpen) {
  TempDir dir;
  ASSERT_NO_FATAL_FAILURE(write_records(dir.path(), 5));
  const fs::path heads_file = dir.path() / "heads.log";
  auto heads = read_lines(heads_file);
  ASSERT_EQ(heads.size(), 5u);
  // A power loss kept two heads whole and half of the third (heads.log is not synced).
  write_file(heads_file, heads[0] + "\n" + heads[1] + "\n" + heads[2].substr(0, 40));
  {
    auto j = open_ok(dir.path(), evidence_options());
    ASSERT_TRUE(j);
    // The torn piece is gone and one head covers the records whose heads were lost.
    heads = read_lines(heads_file);
    ASSERT_EQ(heads.size(), 3u);
    for (const auto& h : heads) ASSERT_EQ(json::parse(h).dump(), h);
    json recovery = json::parse(heads[2]);
    const json& head = recovery["head"];
    EXPECT_EQ(head["size"], 5);
    EXPECT_EQ(head["batch"]["first_seq"], 3);
    EXPECT_EQ(head["batch"]["last_seq"], 5);
    EXPECT_EQ(head["root"], independent_root(dir.path()));
    EXPECT_EQ(recovery["signature"], fake_sign(head.dump()));
    EXPECT_EQ(j->latest_head(), heads[2]);
    // Its batch root is the tree of records 3-5's seal leaves, so they have seals again.
    const auto lines = read_lines(dir.path() / kFileName);
    merkle::MemoryHashStore batch;
    for (uint64_t seq = 3; seq <= 5; ++seq) {
      json rec = json::parse(lines[seq - 1]);
      ASSERT_TRUE(
          batch
              .append_record(merkle::leaf_hash(
                  heads::seal_leaf(seq, rec["hash"].get<std::string>(), rec["body"].dump()).dump()))
              .ok());
    }
    EXPECT_EQ(head["batch"]["root"], merkle::to_hex(*merkle::tree_hash(3, batch)));
    // Appending goes on after it.
    auto r = j->append("data_request", body(6));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(json::parse(r->seal)["head"]["batch"]["first_seq"], 6);
  }
  // Nothing to recover: opening adds no head.
  { ASSERT_TRUE(open_ok(dir.path(), evidence_options())); }
  EXPECT_EQ(read_lines(heads_file).size(), 4u);
  auto rep = verify(dir.path(), checking());
  EXPECT_TRUE(rep.ok) << rep.problem;
  EXPECT_EQ(rep.heads, 4u);
}

// heads.log has one reader (heads::HeadsReader): a torn last line is incomplete, not bad, for
// verify() as for the evidence tools; a bad line is named by its line in heads.log.
TEST(Evidence, ATornLastHeadIsIncompleteAndABadHeadIsNamedByItsLine) {
  TempDir dir;
  ASSERT_NO_FATAL_FAILURE(write_records(dir.path(), 3));
  const fs::path heads_file = dir.path() / "heads.log";
  const std::string before = read_file(heads_file);
  const auto lines = read_lines(heads_file);
  ASSERT_EQ(lines.size(), 3u);
  // A crash tore the write of a fourth head.
  const std::string torn = lines.back().substr(0, 40);
  write_file(heads_file, before + torn);
  heads::HeadsReader in(heads_file);
  int n = 0;
  for (heads::HeadsReader::Line l; in.next(l);) {
    ++n;
    EXPECT_EQ(l.number, static_cast<uint64_t>(n));
    ASSERT_TRUE(l.head.has_value());
    EXPECT_TRUE(l.head->is_signed());
    EXPECT_EQ(l.head->size, static_cast<uint64_t>(n));
  }
  EXPECT_EQ(n, 3);
  EXPECT_EQ(in.incomplete_tail_bytes(), torn.size());
  VerifyReport r = verify(dir.path(), checking());
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.heads, 3u);
  EXPECT_EQ(r.heads_incomplete_tail_bytes, torn.size());
  EXPECT_EQ(to_json(r)["heads_incomplete_tail_bytes"], torn.size());

  // A bad line in the middle: heads.log and its line, not a record line.
  write_file(heads_file, lines[0] + "\n{\"head\":{\"size\":\"2\"}}\n" + lines[2] + "\n");
  r = verify(dir.path(), checking());
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad_file, "heads.log");
  EXPECT_EQ(r.first_bad_line, 2u);
  EXPECT_NE(r.problem.find("heads.log line 2"), std::string::npos) << r.problem;
  // A head of the wrong root on line 3.
  std::string wrong = lines[2];
  wrong.replace(wrong.find("\"root\":\"", wrong.find("\"log\"")) + 8, 4, "0000");
  write_file(heads_file, lines[0] + "\n" + lines[1] + "\n" + wrong + "\n");
  r = verify(dir.path(), checking());
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad_file, "heads.log");
  EXPECT_EQ(r.first_bad_line, 3u) << r.problem;

  // The evidence tools read it the same way: a torn or junk line is no head, never a crash.
  write_file(heads_file, before + "{\"head\":{\"size\":\"x\",\"batch\":[]}}\n" + torn);
  auto seal = evidence::rebuild_seal(dir.path(), 2);
  ASSERT_TRUE(seal.ok()) << seal.error().detail;
  EXPECT_EQ((*seal)["leaf"]["log_seq"], 2);
  EXPECT_EQ(evidence::rebuild_seal(dir.path(), 9).error().code, "not_sealed");
}

// The records of a request for several resources: one data_request and one resource_answer per
// resource, each with its own seq, found from any of them (the stored answers name the
// resource_answer records).
TEST(Evidence, TheRecordsOfARequestAreFoundFromAnyOfItsRecords) {
  TempDir dir;
  std::vector<uint64_t> answer_seqs;
  uint64_t main_seq = 0;
  {
    auto j = open_ok(dir.path(), evidence_options());
    ASSERT_TRUE(j);
    ASSERT_TRUE(j->append("data_request", body(1)).ok());
    json main = {{"request_id", "req-multi"},
                 {"resources", json::array({{{"resource", "R01"}}, {{"resource", "R11"}}})}};
    auto m = j->append("data_request", main);
    ASSERT_TRUE(m.ok());
    main_seq = m->seq;
    ASSERT_TRUE(j->append("data_request", body(2)).ok());  // another request in between
    for (const char* r : {"R01", "R11"}) {
      auto a = j->append(
          "resource_answer",
          {{"request_id", "req-multi"}, {"resource", r}, {"answer_sha256", sha256_hex(r)}});
      ASSERT_TRUE(a.ok());
      answer_seqs.push_back(a->seq);
    }
    ASSERT_TRUE(j->append("answer_read", {{"request_id", "req-multi"}}).ok());
  }
  auto lines = evidence::request_records(dir.path(), answer_seqs, "req-multi");
  ASSERT_TRUE(lines.ok()) << lines.error().code << ": " << lines.error().detail;
  ASSERT_EQ(lines->size(), 3u);
  EXPECT_EQ(json::parse((*lines)[0])["seq"], main_seq);
  EXPECT_EQ(json::parse((*lines)[0])["type"], "data_request");
  EXPECT_EQ(json::parse((*lines)[1])["seq"], answer_seqs[0]);
  EXPECT_EQ(json::parse((*lines)[2])["seq"], answer_seqs[1]);
  // From the data_request's seq alone, too (a single-resource request's stored answer).
  auto from_main = evidence::request_records(dir.path(), {main_seq}, "req-multi");
  ASSERT_TRUE(from_main.ok());
  EXPECT_EQ(*from_main, *lines);
  // A seq that is not the request's is refused.
  auto other = evidence::request_records(dir.path(), {answer_seqs[0], 1}, "req-multi");
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code, "record_unknown");
  EXPECT_EQ(evidence::request_records(dir.path(), {1}, "req-none").error().code, "record_unknown");
}

}  // namespace
}  // namespace aaj::journal
