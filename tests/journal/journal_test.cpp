#include "journal/journal.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <functional>
#include <random>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <pthread.h>

#include "journal/codec.h"
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

std::unique_ptr<Journal> open_ok(const fs::path& dir, Options o = {}) {
  auto j = Journal::open(dir, std::move(o));
  EXPECT_TRUE(j.ok()) << (j.ok() ? "" : j.error().code + ": " + j.error().detail);
  if (!j.ok()) return nullptr;
  return std::move(j).value();
}

// A chain of n records with varied bodies (unicode, escapes, nested values, a "hash" key).
void make_chain(const fs::path& dir, int n) {
  auto j = open_ok(dir);
  ASSERT_TRUE(j);
  for (int i = 1; i <= n; ++i) {
    json body = {{"i", i},
                 {"user", "Әлия Нұрланқызы"},
                 {"iin", "880101300123"},
                 {"note", "quote \" backslash \\ tab \t end"},
                 {"neg", -i},
                 {"flags", {true, false, nullptr}},
                 {"nested", {{"hash", "not the record hash"}, {"k", {1, 2, 3}}}}};
    auto r = j->append(i % 2 ? "request" : "result", body);
    ASSERT_TRUE(r.ok()) << r.error().detail;
    ASSERT_EQ(r->seq, static_cast<uint64_t>(i));
  }
}

TEST(Journal, ChainOfAppendsVerifiesAndFollowsTheFormat) {
  TempDir dir;
  make_chain(dir.path(), 100);
  auto rep = verify(dir.path());
  EXPECT_TRUE(rep.ok) << rep.problem;
  EXPECT_EQ(rep.records, 100u);
  EXPECT_EQ(rep.incomplete_tail_bytes, 0u);

  // Recompute the spec's formula independently of the library: hash = SHA-256 of the sorted,
  // unindented dump without "hash"; prev = previous hash; the line is that dump with "hash".
  std::string prev(64, '0');
  auto lines = read_lines(dir.log());
  ASSERT_EQ(lines.size(), 100u);
  for (size_t i = 0; i < lines.size(); ++i) {
    json r = json::parse(lines[i]);
    EXPECT_EQ(r.dump(), lines[i]);
    EXPECT_EQ(r["seq"], i + 1);
    EXPECT_EQ(r["prev"], prev);
    std::string hash = r["hash"];
    r.erase("hash");
    EXPECT_EQ(sha256_hex(r.dump()), hash) << "line " << i + 1;
    EXPECT_EQ(r["body"]["user"], "Әлия Нұрланқызы");
    EXPECT_TRUE(std::string(r["at"]).ends_with("Z"));
    prev = hash;
  }
  EXPECT_EQ(rep.head_hash, prev);

  int n = 0;
  ASSERT_TRUE(scan(dir.path(), [&](const Record& r) {
                ++n;
                EXPECT_EQ(r.seq, static_cast<uint64_t>(n));
                EXPECT_EQ(r.body["i"], n);
                EXPECT_EQ(r.type, n % 2 ? "request" : "result");
                return true;
              }).ok());
  EXPECT_EQ(n, 100);
}

TEST(Journal, ReopenContinuesTheChain) {
  TempDir dir;
  make_chain(dir.path(), 3);
  auto j = open_ok(dir.path());
  ASSERT_TRUE(j);
  EXPECT_EQ(j->last_seq(), 3u);
  EXPECT_EQ(j->recovered_bytes(), 0u);
  auto r = j->append("request", {{"x", 1}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->seq, 4u);
  j.reset();
  EXPECT_TRUE(verify(dir.path()).ok);
  EXPECT_EQ(verify(dir.path()).records, 4u);
}

TEST(Journal, EmptyJournalVerifies) {
  TempDir dir;
  { ASSERT_TRUE(open_ok(dir.path())); }
  auto rep = verify(dir.path());
  EXPECT_TRUE(rep.ok);
  EXPECT_EQ(rep.records, 0u);
  EXPECT_EQ(rep.head_hash, std::string(64, '0'));
}

// Every single-byte change anywhere in a middle record (including its '\n') is detected and the
// report names that line.
TEST(Journal, AnyFlippedByteIsDetectedAtItsLine) {
  TempDir dir;
  make_chain(dir.path(), 10);
  const std::string original = read_file(dir.log());
  auto lines = read_lines(dir.log());
  size_t begin = 0;
  for (int i = 0; i < 4; ++i) begin += lines[i].size() + 1;
  const size_t len = lines[4].size() + 1;  // line 5, with its newline
  int checked = 0;
  // Patch one byte in place (and back) rather than rewriting the file 1,000+ times.
  int fd = ::open(dir.log().c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  for (unsigned char mask : {0x01, 0x20, 0x80}) {
    for (size_t k = 0; k < len; ++k) {
      const off_t at = static_cast<off_t>(begin + k);
      const char bad = static_cast<char>(original[begin + k] ^ mask);
      ASSERT_EQ(::pwrite(fd, &bad, 1, at), 1);
      auto rep = verify(dir.path());
      ASSERT_EQ(::pwrite(fd, &original[begin + k], 1, at), 1);
      ASSERT_FALSE(rep.ok) << "offset " << k << " mask " << int(mask);
      ASSERT_EQ(rep.first_bad_line, 5u) << "offset " << k << ": " << rep.problem;
      ++checked;
    }
  }
  ::close(fd);
  EXPECT_GT(checked, 300);
  EXPECT_EQ(read_file(dir.log()), original);
  write_file(dir.log(), original);
  EXPECT_TRUE(verify(dir.path()).ok);
}

// Edits an attacker could attempt with a text editor: well-formed changes in chosen fields.
TEST(Journal, TargetedEditsAreDetected) {
  TempDir dir;
  make_chain(dir.path(), 10);
  const auto lines = read_lines(dir.log());
  auto edit = [&](const std::string& from, const std::string& to) {
    auto l = lines;
    auto pos = l[6].find(from);
    EXPECT_NE(pos, std::string::npos) << from;
    l[6].replace(pos, from.size(), to);
    write_lines(dir.log(), l);
    return verify(dir.path());
  };
  auto body = edit("880101300123", "880101300124");
  EXPECT_EQ(body.first_bad_line, 7u);
  EXPECT_EQ(body.first_bad_seq, 7u);
  EXPECT_EQ(body.problem, "hash mismatch");

  json r7 = json::parse(lines[6]);
  std::string h = r7["hash"];
  std::string h2 = h;
  h2[10] = h2[10] == 'a' ? 'b' : 'a';
  auto hash = edit(h, h2);
  EXPECT_EQ(hash.first_bad_line, 7u);
  EXPECT_EQ(hash.problem, "hash mismatch");

  auto seq = edit("\"seq\":7", "\"seq\":8");
  EXPECT_EQ(seq.first_bad_line, 7u);
  EXPECT_EQ(seq.problem, "hash mismatch");

  auto type = edit("\"type\":\"request\"", "\"type\":\"result\"");
  EXPECT_EQ(type.first_bad_line, 7u);

  auto spaced = edit("\"seq\":7", "\"seq\": 7");
  EXPECT_EQ(spaced.first_bad_line, 7u);
  EXPECT_EQ(spaced.problem, "non-canonical encoding");
}

TEST(Journal, DeletedMiddleLineIsDetected) {
  TempDir dir;
  make_chain(dir.path(), 10);
  auto lines = read_lines(dir.log());
  lines.erase(lines.begin() + 4);  // seq 5
  write_lines(dir.log(), lines);
  auto rep = verify(dir.path());
  EXPECT_FALSE(rep.ok);
  EXPECT_EQ(rep.first_bad_line, 5u);
  EXPECT_EQ(rep.first_bad_seq, 6u);
  EXPECT_EQ(rep.problem, "seq gap: expected 5 got 6");
  EXPECT_EQ(rep.records, 4u);
}

TEST(Journal, DuplicatedOrInsertedLineIsDetected) {
  TempDir dir;
  make_chain(dir.path(), 10);
  const auto lines = read_lines(dir.log());
  auto dup = lines;
  dup.insert(dup.begin() + 5, lines[4]);
  write_lines(dir.log(), dup);
  auto rep = verify(dir.path());
  EXPECT_FALSE(rep.ok);
  EXPECT_EQ(rep.first_bad_line, 6u);
  EXPECT_EQ(rep.first_bad_seq, 5u);
  EXPECT_EQ(rep.problem, "seq out of order: expected 6 got 5");

  // A well-formed record with the right seq but from another chain.
  TempDir other;
  make_chain(other.path(), 10);
  auto forged = read_lines(other.log())[5];
  auto ins = lines;
  ins.insert(ins.begin() + 5, forged);
  write_lines(dir.log(), ins);
  rep = verify(dir.path());
  EXPECT_FALSE(rep.ok);
  EXPECT_EQ(rep.first_bad_line, 6u);
  EXPECT_EQ(rep.problem, "prev does not match previous hash");

  // Replacing instead of inserting is caught too.
  auto rep_lines = lines;
  rep_lines[5] = forged;
  write_lines(dir.log(), rep_lines);
  rep = verify(dir.path());
  EXPECT_EQ(rep.first_bad_line, 6u);
}

TEST(Journal, SwappedLinesAreDetected) {
  TempDir dir;
  make_chain(dir.path(), 10);
  auto lines = read_lines(dir.log());
  std::swap(lines[3], lines[4]);
  write_lines(dir.log(), lines);
  auto rep = verify(dir.path());
  EXPECT_FALSE(rep.ok);
  EXPECT_EQ(rep.first_bad_line, 4u);
  EXPECT_EQ(rep.first_bad_seq, 5u);
}

TEST(Journal, TornTailIsRecoveredOnOpenAndTheChainContinues) {
  TempDir dir;
  make_chain(dir.path(), 5);
  const std::string good = read_file(dir.log());
  // Two kinds of torn tail: a cut line, and a whole record missing only its '\n'.
  TempDir other;
  make_chain(other.path(), 6);
  const std::string whole = read_lines(other.log())[5];
  for (const std::string& tail : {good.substr(good.size() - 120, 70), whole}) {
    write_file(dir.log(), good + tail);
    auto rep = verify(dir.path());
    EXPECT_TRUE(rep.ok) << rep.problem;  // documented choice: a note, not a failure
    EXPECT_EQ(rep.records, 5u);
    EXPECT_EQ(rep.incomplete_tail_bytes, tail.size());

    auto j = open_ok(dir.path());
    ASSERT_TRUE(j);
    EXPECT_EQ(j->recovered_bytes(), tail.size());
    EXPECT_EQ(j->last_seq(), 5u);
    auto r = j->append("request", {{"after", "recovery"}});
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->seq, 6u);
    j.reset();
    rep = verify(dir.path());
    EXPECT_TRUE(rep.ok) << rep.problem;
    EXPECT_EQ(rep.records, 6u);
    EXPECT_EQ(rep.incomplete_tail_bytes, 0u);
  }
  // Only a torn line, no complete record at all.
  write_file(dir.log(), "{\"at\":\"20");
  auto j = open_ok(dir.path());
  ASSERT_TRUE(j);
  EXPECT_EQ(j->last_seq(), 0u);
  EXPECT_EQ(j->append("request", json::object())->seq, 1u);
}

TEST(Journal, CorruptHeadRefusesToOpenAndLeavesTheFileAlone) {
  TempDir dir;
  make_chain(dir.path(), 5);
  auto lines = read_lines(dir.log());
  lines[4][lines[4].find("Әлия")] ^= 1;
  write_lines(dir.log(), lines);
  const std::string damaged = read_file(dir.log()) + "torn";
  write_file(dir.log(), damaged);
  auto j = Journal::open(dir.path());
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.error().code, "journal_corrupt");
  EXPECT_EQ(read_file(dir.log()), damaged);

  // The last record is intact but does not chain to the one before (a record was removed).
  make_chain(dir.path() / "x", 5);
  lines = read_lines(dir.path() / "x" / kFileName);
  lines.erase(lines.begin() + 3);
  write_lines(dir.log(), lines);
  j = Journal::open(dir.path());
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.error().code, "journal_corrupt");

  // The right seq, but the last record comes from another chain.
  lines = read_lines(dir.path() / "x" / kFileName);
  make_chain(dir.path() / "y", 5);
  lines[4] = read_lines(dir.path() / "y" / kFileName)[4];
  write_lines(dir.log(), lines);
  j = Journal::open(dir.path());
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.error().code, "journal_corrupt");
  EXPECT_NE(j.error().detail.find("prev does not match"), std::string::npos) << j.error().detail;

  // Garbage as the only line.
  write_file(dir.log(), "not json\n");
  EXPECT_EQ(Journal::open(dir.path()).error().code, "journal_corrupt");
}

TEST(Journal, LongRecordsAcrossReadChunks) {
  TempDir dir;
  {
    auto j = open_ok(dir.path());
    ASSERT_TRUE(j);
    ASSERT_TRUE(j->append("request", {{"blob", std::string(1500 * 1024, 'a')}}).ok());
    ASSERT_TRUE(j->append("request", {{"blob", std::string(200 * 1024, 'b')}}).ok());
    ASSERT_TRUE(j->append("request", {{"small", 1}}).ok());
  }
  auto j = open_ok(dir.path());  // the head search must grow past its first 64 KiB window
  ASSERT_TRUE(j);
  EXPECT_EQ(j->last_seq(), 3u);
  EXPECT_TRUE(j->append("request", {{"blob", std::string(100 * 1024, 'c')}}).ok());
  j.reset();
  j = open_ok(dir.path());
  ASSERT_TRUE(j);
  EXPECT_EQ(j->last_seq(), 4u);
  auto rep = verify(dir.path());
  EXPECT_TRUE(rep.ok) << rep.problem;
  EXPECT_EQ(rep.records, 4u);
}

TEST(Journal, ConcurrentAppendsAreDenseUniqueAndGroupCommitted) {
  TempDir dir;
  auto j = open_ok(dir.path());
  ASSERT_TRUE(j);
  constexpr int kThreads = 32, kEach = 200;
  std::vector<std::vector<Receipt>> got(kThreads);
  std::atomic<int> failures{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        auto r = j->append("request", {{"thread", t}, {"i", i}});
        if (!r.ok()) {
          ++failures;
          continue;
        }
        got[t].push_back(std::move(r).value());
      }
    });
  }
  for (auto& t : ts) t.join();
  ASSERT_EQ(failures, 0);
  std::set<uint64_t> seqs;
  std::set<std::string> hashes;
  for (auto& v : got) {
    uint64_t last = 0;
    for (auto& r : v) {
      EXPECT_GT(r.seq, last);  // a thread's own appends keep their order
      last = r.seq;
      seqs.insert(r.seq);
      hashes.insert(r.hash_hex);
    }
  }
  constexpr uint64_t kTotal = kThreads * kEach;
  EXPECT_EQ(seqs.size(), kTotal);
  EXPECT_EQ(*seqs.begin(), 1u);
  EXPECT_EQ(*seqs.rbegin(), kTotal);
  EXPECT_EQ(hashes.size(), kTotal);
  EXPECT_EQ(j->last_seq(), kTotal);
  auto st = j->stats();
  EXPECT_EQ(st.records, kTotal);
  EXPECT_LT(st.batches, kTotal / 2) << "no group commit happened";
  j.reset();
  auto rep = verify(dir.path());
  EXPECT_TRUE(rep.ok) << rep.problem;
  EXPECT_EQ(rep.records, kTotal);
}

TEST(Journal, AsyncAppendsCompleteInOrderAndDestructorDrains) {
  TempDir dir;
  std::vector<uint64_t> seqs;  // written only on the flusher thread
  std::atomic<int> errors{0};
  std::string flusher_name;  // likewise
  {
    Options o;
    o.max_batch = 16;
    auto j = open_ok(dir.path(), o);
    ASSERT_TRUE(j);
    for (int i = 0; i < 500; ++i) {
      j->append_async("request", {{"i", i}}, [&](Result<Receipt> r) {
        char n[16] = {};
        pthread_getname_np(pthread_self(), n, sizeof n);
        flusher_name = n;
        if (r.ok())
          seqs.push_back(r->seq);
        else
          ++errors;
      });
    }
    std::atomic<bool> refused{false};
    j->append_async("request", {{"f", 0.5}}, [&](Result<Receipt> r) {
      refused = !r.ok() && r.error().code == "invalid_record";
    });
    EXPECT_TRUE(refused);  // invalid bodies are answered at once, on the calling thread
  }
  EXPECT_EQ(errors, 0);
  EXPECT_EQ(flusher_name, "aaj-journal");  // completions run on the named flusher thread
  ASSERT_EQ(seqs.size(), 500u);
  for (size_t i = 0; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], i + 1);
  EXPECT_EQ(verify(dir.path()).records, 500u);
}

// Two Journal objects on one directory (as the server and an operator CLI would be) append
// interleaved; flock per open file description makes them exclude each other in-process too.
TEST(Journal, TwoWritersOnOneDirectoryKeepOneChain) {
  TempDir dir;
  auto a = open_ok(dir.path());
  auto b = open_ok(dir.path());
  ASSERT_TRUE(a && b);
  std::set<uint64_t> seqs;
  std::mutex mu;
  auto run = [&](Journal* j, const char* who) {
    for (int i = 0; i < 300; ++i) {
      auto r = j->append(who, {{"i", i}});
      ASSERT_TRUE(r.ok()) << r.error().detail;
      std::lock_guard lk(mu);
      EXPECT_TRUE(seqs.insert(r->seq).second);
    }
  };
  std::thread ta(run, a.get(), "server"), tb(run, b.get(), "cli");
  // Strict alternation as well: each must read the other's record before chaining.
  ta.join();
  tb.join();
  for (int i = 0; i < 20; ++i) {
    auto ra = a->append("server", {{"alt", i}});
    auto rb = b->append("cli", {{"alt", i}});
    ASSERT_TRUE(ra.ok() && rb.ok());
    EXPECT_EQ(rb->seq, ra->seq + 1);
  }
  EXPECT_EQ(b->last_seq(), 640u);
  a.reset();
  b.reset();
  auto rep = verify(dir.path());
  EXPECT_TRUE(rep.ok) << rep.problem;
  EXPECT_EQ(rep.records, 640u);
  EXPECT_EQ(seqs.size(), 600u);
}

TEST(Journal, ForkedProcessAppendsInterleaved) {
  TempDir dir;
  int go[2];
  ASSERT_EQ(::pipe(go), 0);
  // Fork while this process is still single-threaded (no Journal open yet), so the child is a
  // clean process like a CLI started next to the server; then both append at the same time.
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Child: its own open file description, its own flusher. Only _exit from here.
    char c;
    if (::read(go[0], &c, 1) != 1) ::_exit(3);
    auto cj = Journal::open(dir.path());
    if (!cj.ok()) ::_exit(4);
    for (int i = 0; i < 300; ++i)
      if (!(*cj)->append("cli", {{"i", i}}).ok()) ::_exit(5);
    cj->reset();
    ::_exit(0);
  }
  auto j = open_ok(dir.path());
  ASSERT_TRUE(j);
  ASSERT_TRUE(j->append("server", {{"before", "child"}}).ok());
  ASSERT_EQ(::write(go[1], "x", 1), 1);
  for (int i = 0; i < 300; ++i) ASSERT_TRUE(j->append("server", {{"i", i}}).ok());
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ::close(go[0]);
  ::close(go[1]);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  // The parent learns the child's records on its next commit.
  auto last = j->append("server", {{"after", "child"}});
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last->seq, 602u);
  j.reset();
  auto rep = verify(dir.path());
  EXPECT_TRUE(rep.ok) << rep.problem;
  EXPECT_EQ(rep.records, 602u);
  int cli = 0;
  ASSERT_TRUE(scan(dir.path(), [&](const Record& r) {
                cli += r.type == "cli";
                return true;
              }).ok());
  EXPECT_EQ(cli, 300);
}

TEST(Journal, ForeignBadRecordMakesTheWriterFailClosed) {
  TempDir dir;
  auto j = open_ok(dir.path());
  ASSERT_TRUE(j);
  ASSERT_TRUE(j->append("request", {{"i", 1}}).ok());
  // Someone appends a record that does not chain (copied from another journal).
  TempDir other;
  make_chain(other.path(), 2);
  std::ofstream(dir.log(), std::ios::app) << read_lines(other.log())[1] << "\n";
  auto r = j->append("request", {{"i", 2}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "journal_unavailable");
  r = j->append("request", {{"i", 3}});  // sticky
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "journal_unavailable");
}

// Another process died in the middle of writing its batch: the survivor removes the incomplete
// line under the lock and chains on the last complete record.
TEST(Journal, IncompleteLineFromAnotherWriterIsRecoveredOnCatchUp) {
  TempDir dir;
  auto j = open_ok(dir.path());
  auto other = open_ok(dir.path());
  ASSERT_TRUE(j && other);
  ASSERT_TRUE(j->append("server", {{"i", 1}}).ok());
  ASSERT_TRUE(other->append("cli", {{"i", 2}}).ok());
  other.reset();
  std::ofstream(dir.log(), std::ios::app) << R"({"at":"2026-01-01T00:00:00.000000Z","at_as)";
  auto r = j->append("server", {{"i", 3}});
  ASSERT_TRUE(r.ok()) << r.error().detail;
  EXPECT_EQ(r->seq, 3u);
  EXPECT_EQ(j->recovered_bytes(), 42u);
  j.reset();
  auto rep = verify(dir.path());
  EXPECT_TRUE(rep.ok) << rep.problem;
  EXPECT_EQ(rep.records, 3u);
  EXPECT_EQ(rep.incomplete_tail_bytes, 0u);
}

// A real write failure (file size limit) in a child process: the failed append and every later
// one are refused; reopening recovers the half-written batch.
TEST(Journal, WriteFailureFailsClosedAndReopenRecovers) {
  TempDir dir;
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::signal(SIGXFSZ, SIG_IGN);  // get EFBIG instead of being killed
    auto j = Journal::open(dir.path());
    if (!j.ok()) ::_exit(3);
    if (!(*j)->append("request", {{"i", 1}}).ok()) ::_exit(4);
    rlimit lim{static_cast<rlim_t>(fs::file_size(dir.log()) + 100), RLIM_INFINITY};
    if (::setrlimit(RLIMIT_FSIZE, &lim) != 0) ::_exit(5);
    auto r = (*j)->append("request", {{"big", std::string(1000, 'x')}});
    if (r.ok() || r.error().code != "journal_unavailable") ::_exit(6);
    lim.rlim_cur = RLIM_INFINITY;
    if (::setrlimit(RLIMIT_FSIZE, &lim) != 0) ::_exit(7);
    r = (*j)->append("request", {{"i", 2}});
    if (r.ok() || r.error().code != "journal_unavailable") ::_exit(8);
    bool async_refused = false;
    (*j)->append_async("request", {{"i", 3}}, [&](Result<Receipt> r) { async_refused = !r.ok(); });
    if (!async_refused) ::_exit(9);
    j->reset();
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  auto rep = verify(dir.path());
  EXPECT_TRUE(rep.ok);
  EXPECT_EQ(rep.incomplete_tail_bytes, 100u);
  auto j = open_ok(dir.path());
  ASSERT_TRUE(j);
  EXPECT_EQ(j->recovered_bytes(), 100u);
  EXPECT_EQ(j->append("request", {{"i", 2}})->seq, 2u);
}

TEST(Journal, FloatsAndOtherInvalidRecordsAreRefused) {
  TempDir dir;
  auto j = open_ok(dir.path());
  ASSERT_TRUE(j);
  auto f = j->append("request", {{"amount", 1.5}});
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().code, "invalid_record");
  EXPECT_NE(f.error().detail.find("/amount"), std::string::npos) << f.error().detail;
  auto nested = j->append("request", {{"a", {1, {{"b/c", 2.0}}}}});
  ASSERT_FALSE(nested.ok());
  EXPECT_NE(nested.error().detail.find("/a/1/b~1c"), std::string::npos) << nested.error().detail;
}

TEST(Journal, NonObjectBodiesEmptyTypesAndBadUtf8AreRefused) {
  TempDir dir;
  auto j = open_ok(dir.path());
  ASSERT_TRUE(j);
  EXPECT_EQ(j->append("request", json::array({1})).error().code, "invalid_record");
  EXPECT_EQ(j->append("request", 5).error().code, "invalid_record");
  EXPECT_EQ(j->append("", json::object()).error().code, "invalid_record");
  EXPECT_EQ(j->append("request", {{"s", std::string("\xff\xfe")}}).error().code, "invalid_record");
  EXPECT_EQ(j->append(std::string("\xc3"), json::object()).error().code, "invalid_record");
  // Nothing was written and the journal still works.
  auto r = j->append("request", {{"n", 9007199254740993LL}, {"u", 18446744073709551615ULL}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->seq, 1u);
  j.reset();
  EXPECT_TRUE(verify(dir.path()).ok);
}

TEST(Journal, AstanaTimeIsRenderedWithTheOffsetInForce) {
  TempDir dir;
  auto before = *time::parse_iso8601("2024-02-29T12:00:00Z");
  time::Instant when = before;
  Options o;
  o.clock = [&] { return when; };
  auto j = open_ok(dir.path(), o);
  ASSERT_TRUE(j);
  auto r1 = j->append("request", json::object());
  ASSERT_TRUE(r1.ok());
  EXPECT_EQ(r1->at_astana, "2024-02-29T18:00:00.000+06:00");
  EXPECT_EQ(r1->at, before);
  when = time::now();
  auto r2 = j->append("request", json::object());
  ASSERT_TRUE(r2.ok());
  EXPECT_TRUE(r2->at_astana.ends_with("+05:00")) << r2->at_astana;
  j.reset();
  std::vector<Record> recs;
  ASSERT_TRUE(scan(dir.path(), [&](const Record& r) {
                recs.push_back(r);
                return true;
              }).ok());
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].at, before);
  EXPECT_EQ(recs[0].at_astana, "2024-02-29T18:00:00.000+06:00");
  EXPECT_TRUE(recs[1].at_astana.ends_with("+05:00"));
  EXPECT_EQ(recs[1].at, r2->at);
  auto line = json::parse(read_lines(dir.log())[0]);
  EXPECT_EQ(line["at"], "2024-02-29T12:00:00.000000Z");
}

TEST(Journal, AcknowledgedRecordIsInTheFile) {
  TempDir dir;
  auto j = open_ok(dir.path());
  ASSERT_TRUE(j);
  for (int i = 0; i < 5; ++i) {
    auto r = j->append("request", {{"i", i}});
    ASSERT_TRUE(r.ok());
    // Read through a separate descriptor while the journal is still open.
    auto lines = read_lines(dir.log());
    ASSERT_EQ(lines.size(), r->seq);
    auto rec = json::parse(lines.back());
    EXPECT_EQ(rec["seq"], r->seq);
    EXPECT_EQ(rec["hash"], r->hash_hex);
    EXPECT_EQ(rec["body"]["i"], i);
    EXPECT_EQ(rec["at_astana"], r->at_astana);
  }
}

TEST(Journal, ScanStopsEarlyAndReportsCorruption) {
  TempDir dir;
  make_chain(dir.path(), 10);
  int n = 0;
  ASSERT_TRUE(scan(dir.path(), [&](const Record&) { return ++n < 3; }).ok());
  EXPECT_EQ(n, 3);
  auto lines = read_lines(dir.log());
  std::swap(lines[6], lines[7]);
  write_lines(dir.log(), lines);
  n = 0;
  Status s = scan(dir.path(), [&](const Record&) { return ++n, true; });
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, "journal_corrupt");
  EXPECT_NE(s.error().detail.find("line 7"), std::string::npos) << s.error().detail;
  EXPECT_EQ(n, 6);
  EXPECT_EQ(scan(dir.path() / "missing", [](const Record&) { return true; }).error().code,
            "journal_unavailable");
}

TEST(Journal, LogVerifyCommandPrintsOneJsonObjectAndExitCodes) {
  TempDir dir;
  make_chain(dir.path(), 4);
  std::ostringstream out;
  EXPECT_EQ(log_verify_command(dir.path(), out), 0);
  auto ok = json::parse(out.str());
  EXPECT_EQ(ok["ok"], true);
  EXPECT_EQ(ok["records"], 4);
  EXPECT_TRUE(ok["first_bad_line"].is_null());

  auto lines = read_lines(dir.log());
  lines.erase(lines.begin() + 1);
  write_lines(dir.log(), lines);
  out.str("");
  EXPECT_EQ(log_verify_command(dir.path(), out), 1);
  auto bad = json::parse(out.str());
  EXPECT_EQ(bad["ok"], false);
  EXPECT_EQ(bad["first_bad_line"], 2);
  EXPECT_EQ(bad["first_bad_seq"], 3);
  EXPECT_EQ(bad["problem"], "seq gap: expected 2 got 3");

  out.str("");
  EXPECT_EQ(log_verify_command(dir.path() / "nope", out), 2);
  EXPECT_EQ(json::parse(out.str())["unreadable"], true);
}

}  // namespace
}  // namespace aaj::journal

namespace aaj::journal {
namespace {

// dump_body is the canonical serialization the hash covers: it must be nlohmann's dump() to the
// byte, for every kind of value, escape and UTF-8 sequence, and refuse what dump() refuses.
TEST(JournalCodec, DumpBodyIsNlohmannDumpByteForByte) {
  std::mt19937 rng(11);
  const std::vector<std::string> pieces = {"a",    "\"",
                                           "\\",   "/",
                                           "\b",   "\f",
                                           "\n",   "\r",
                                           "\t",   std::string(1, '\0'),
                                           "\x01", "\x1f",
                                           "\x7f", "қ",
                                           "Ә",    "€",
                                           "😀",    "MIIHBAYJKoZIhvcNAQcCoIIG9TCCBvECAQEx",
                                           " ",    "~"};
  auto random_string = [&] {
    std::string s;
    for (int n = static_cast<int>(rng() % 8); n > 0; --n) s += pieces[rng() % pieces.size()];
    return s;
  };
  std::function<json(int)> random_value = [&](int depth) -> json {
    switch (depth > 3 ? rng() % 5 : rng() % 7) {
      case 0:
        return nullptr;
      case 1:
        return rng() % 2 == 0;
      case 2:
        return static_cast<int64_t>(rng()) - (int64_t{1} << 31);
      case 3:
        return static_cast<uint64_t>(rng()) << 32 | rng();
      case 4:
        return random_string();
      case 5: {
        json a = json::array();
        for (int n = static_cast<int>(rng() % 4); n > 0; --n) a.push_back(random_value(depth + 1));
        return a;
      }
      default: {
        json o = json::object();
        for (int n = static_cast<int>(rng() % 4); n > 0; --n)
          o[random_string()] = random_value(depth + 1);
        return o;
      }
    }
  };
  for (int i = 0; i < 5000; ++i) {
    json body = json::object();
    for (int n = static_cast<int>(rng() % 5); n > 0; --n) body[random_string()] = random_value(0);
    std::string out = "prefix";
    ASSERT_TRUE(codec::dump_body(body, out).ok());
    ASSERT_EQ(out, "prefix" + body.dump());
  }
  std::string out;
  EXPECT_EQ(codec::dump_body(json::array(), out).error().code, "invalid_record");
  auto bad = codec::dump_body({{"k", std::string("ok\xC3(")}}, out);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, "invalid_record");
  auto flt = codec::dump_body({{"x", {{"y", 0.5}}}}, out);
  ASSERT_FALSE(flt.ok());
  EXPECT_NE(flt.error().detail.find("/x/y"), std::string::npos);
  EXPECT_TRUE(out.empty());  // nothing half-written
}

// ---- decode(): the one-pass fast check against the exact one (parse, dump, compare) ----

// Puts the right hash into a line shaped like a record (so that a variant is judged on its form,
// not refused for its hash); lines without that shape are returned as they are.
std::string rehash(std::string line) {
  size_t pos = line.rfind(R"(,"hash":")");
  if (pos == std::string::npos || pos + 74 > line.size()) return line;
  std::string hashed = line.substr(0, pos) + line.substr(pos + 74);
  std::string h = sha256_hex(hashed);
  line.replace(pos + 9, 64, h);
  return line;
}

// Same verdict, same wording and, when accepted, the same fields; and the fast check never
// accepts what the exact one refuses.
void expect_same_verdict(const std::string& line) {
  codec::Sha256 sha1, sha2;
  codec::Decoded a, b;
  const std::string fast = codec::decode(line, sha1, a, true);
  const std::string exact = codec::decode_exact(line, sha2, b, true);
  ASSERT_EQ(fast, exact) << line;
  if (codec::decode_is_fast(line)) {
    ASSERT_TRUE(exact.empty()) << line;
  }
  if (exact.empty()) {
    EXPECT_EQ(a.seq, b.seq);
    EXPECT_EQ(a.type, b.type);
    EXPECT_EQ(a.at, b.at);
    EXPECT_EQ(a.at_astana, b.at_astana);
    EXPECT_EQ(a.prev, b.prev);
    EXPECT_EQ(a.hash, b.hash);
    EXPECT_EQ(a.instant, b.instant);
    EXPECT_EQ(a.body, b.body) << line;
  }
}

TEST(Codec, FastDecodeAgreesWithTheExactCheck) {
  TempDir dir;
  std::vector<json> bodies = {
      {{"request_id", "0c6b1a9e-4a53-4d2f-9c3e-1f2a3b4c5d6e"}, {"outcome", "answered"}},
      {{"name", "Әлия Нұрланқызы Жақсыбекова"}, {"city", "Астана"}, {"emoji", "\xF0\x9F\x98\x80"}},
      {{"quote", "a \"quoted\" \\ back/slash"},
       {"ctl", std::string("\x01\x08\t\n\x0c\r\x1f\x7f", 8)}},
      {{"numbers",
        {0, 1, -1, 42, -9007199254740993LL, 123456789012345678LL, INT64_MIN, INT64_MAX,
         UINT64_MAX}}},
      {{"empty_object", json::object()},
       {"empty_array", json::array()},
       {"null", nullptr},
       {"flags", {true, false}}},
      {{"ключ", 1}, {"a\"b", 2}, {"a\\b", 3}, {"a\nb", 4}, {"", 5}, {"A", 6}, {"a", 7}},
      {{"deep", {{"x", {{"y", {{"z", {1, {2, {3, {{"w", "v"}}}}}}}}}}}}},
      {{"cms", std::string(3000, 'A') + "=="}, {"document", {{"resource", "R01"}}}},
  };
  std::vector<std::string> lines;
  {
    auto j = Journal::open(dir.path(), Options{});
    ASSERT_TRUE(j.ok());
    for (const auto& b : bodies) ASSERT_TRUE((*j)->append("data_request", b).ok());
    ASSERT_TRUE((*j)->append("type \"with\" quotes and Қ", bodies[0]).ok());
  }
  lines = read_lines(dir.log());
  ASSERT_EQ(lines.size(), bodies.size() + 1);
  // Records as the journal writes them take the fast path (that is its point), except numbers
  // of 19 or more digits, which it leaves to the exact check (bodies[3]).
  for (size_t i = 0; i < lines.size(); ++i) EXPECT_EQ(codec::decode_is_fast(lines[i]), i != 3) << i;
  for (const auto& l : lines) expect_same_verdict(l);

  // Valid JSON with the right hash but not the canonical bytes: refused, with the exact wording.
  const std::string base = lines[0];
  auto variant = [&](const std::string& from, const std::string& to) {
    std::string v = base;
    size_t p = v.find(from);
    EXPECT_NE(p, std::string::npos) << from;
    if (p == std::string::npos) return v;
    v.replace(p, from.size(), to);
    return rehash(v);
  };
  std::vector<std::string> variants = {
      variant(R"("outcome":"answered")", R"("outcome": "answered")"),
      variant(R"("outcome":"answered")", R"("outcome":"answ\u0065red")"),
      variant(R"("outcome":"answered")", R"("outcome":"answ\/ered")"),
      variant(R"("outcome":"answered")", R"("outcome":1.0)"),
      variant(R"("outcome":"answered")", R"("outcome":1e2)"),
      variant(R"("outcome":"answered")", R"("outcome":-0)"),
      variant(R"("outcome":"answered")", R"("outcome":007)"),
      variant(R"("outcome":"answered")", R"("outcome":12345678901234567890123)"),
      variant(R"("outcome":"answered")", R"("outcome":"x","outcome":"y")"),
      variant(R"("outcome":"answered")", R"("outcome":"x","a":"y")"),
      variant(R"("outcome":"answered")", R"("outcome":"\u001F")"),
      variant(R"("outcome":"answered")", R"("outcome":"\u0009")"),
      variant(R"("outcome":"answered")", R"("outcome":"\ud83d\ude00")"),
      variant(R"("outcome":"answered")", "\"outcome\":\"\xC3\x28\""),
      variant(R"("outcome":"answered")", "\"outcome\":\"\xED\xA0\x80\""),
      variant(R"("outcome":"answered")", R"("outcome":[1,2,])"),
      variant(R"("outcome":"answered")", R"("outcome":tru)"),
      variant(R"("seq":)", R"("seq":0)"),
      variant(R"("seq":)", R"("seq":-)"),
      variant(R"("type":"data_request")", R"("type":"")"),
      variant(R"("at":")", R"("at":"x)"),
      variant(R"({"at")", R"( {"at")"),
  };
  for (const auto& v : variants) {
    expect_same_verdict(v);
    // Each of these bodies differs from what dump() writes, or is not a record at all.
    EXPECT_FALSE(codec::decode_is_fast(v)) << v;
  }
  // A control character is written as a lowercase \u escape: that is canonical.
  const std::string lower = variant(R"("outcome":"answered")", R"("outcome":"\u001f")");
  expect_same_verdict(lower);
  EXPECT_TRUE(codec::decode_is_fast(lower));

  // Every line damaged at many places in many ways, with and without a fixed-up hash.
  const std::string replacements[] = {
      " ",    "\"",   "\\",   "0", "a", "}", ",", ":", "-", ".", std::string(1, '\0'),
      "\xC3", "\x7f", "\x1f", "e"};
  std::mt19937 rng(12345);
  size_t checked = 0;
  for (const auto& l : lines) {
    for (size_t pos = 0; pos < l.size(); pos += 1 + rng() % 11) {
      for (const auto& r : replacements) {
        std::string m = l;
        m.replace(pos, 1, r);
        expect_same_verdict(m);
        expect_same_verdict(rehash(m));
        std::string ins = l;
        ins.insert(pos, r);
        expect_same_verdict(rehash(ins));
        checked += 3;
      }
      std::string del = l;
      del.erase(pos, 1);
      expect_same_verdict(rehash(del));
      ++checked;
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
  EXPECT_GT(checked, 5000u);
}

}  // namespace
}  // namespace aaj::journal
