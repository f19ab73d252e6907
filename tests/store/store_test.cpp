#include "store/store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <thread>
#include <vector>

#include "sqlite_fixture.h"

namespace fs = std::filesystem;
using namespace aaj;

namespace {
class StoreTest : public store::test::SqliteStoreTest {
 protected:
  store::User user(const std::string& iin) {
    return {iin,      "prosecutor", "050140000105", "НУРЛАНОВ ЕРЛАН", "+77010000001",
            "active", time::now()};
  }
};
}  // namespace

TEST_F(StoreTest, UsersRoundTripAndAreUnique) {
  ASSERT_TRUE(store_->add_user(user("850615300000")).ok());
  auto again = store_->add_user(user("850615300000"));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, "user_exists");
  auto u = store_->find_user("850615300000");
  ASSERT_TRUE(u.ok() && u->has_value());
  EXPECT_EQ((*u)->full_name, "НУРЛАНОВ ЕРЛАН");
  EXPECT_EQ((*u)->status, "active");
  auto none = store_->find_user("000000000000");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST_F(StoreTest, BlockingAndUnknownUsers) {
  ASSERT_TRUE(store_->add_user(user("850615300000")).ok());
  ASSERT_TRUE(store_->set_user_status("850615300000", "blocked").ok());
  EXPECT_EQ((*store_->find_user("850615300000"))->status, "blocked");
  auto missing = store_->set_user_status("111111111111", "blocked");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, "user_unknown");
  // The schema refuses a status outside the two known ones.
  EXPECT_FALSE(store_->set_user_status("850615300000", "deleted").ok());
}

TEST_F(StoreTest, SessionsRevokeOneOrAllOfAUser) {
  auto now = time::now();
  for (const char* h : {"aa", "bb"})
    ASSERT_TRUE(
        store_->add_session({h, "850615300000", now, now + std::chrono::hours(1), false}).ok());
  ASSERT_TRUE(
      store_->add_session({"cc", "990106300596", now, now + std::chrono::hours(1), false}).ok());
  ASSERT_TRUE(store_->revoke_session("aa").ok());
  EXPECT_TRUE((*store_->find_session("aa"))->revoked);
  EXPECT_FALSE((*store_->find_session("bb"))->revoked);
  ASSERT_TRUE(store_->revoke_sessions_of("850615300000").ok());
  EXPECT_TRUE((*store_->find_session("bb"))->revoked);
  EXPECT_FALSE((*store_->find_session("cc"))->revoked);
}

TEST_F(StoreTest, DataSurvivesReopenAndConcurrentReaders) {
  ASSERT_TRUE(store_->add_user(user("850615300000")).ok());
  store_.reset();
  auto s = store::open_store({"sqlite", dir_, ""});
  ASSERT_TRUE(s.ok());
  std::vector<std::thread> ts;
  std::atomic<int> found{0};
  for (int i = 0; i < 8; ++i)
    ts.emplace_back([&] {
      for (int k = 0; k < 50; ++k)
        if (auto u = (*s)->find_user("850615300000"); u.ok() && u->has_value()) ++found;
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(found.load(), 400);
}

TEST(StoreRegistry, UnknownBackendIsAClearError) {
  auto s = store::open_store({"oracle", "/tmp", ""});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, "unknown_backend");
}

#include <sqlite3.h>

// A database written by the first schema (v1) opens, is migrated in place, and works.
TEST(StoreMigration, VersionOneDatabaseIsUpgraded) {
  char tmpl[] = "/tmp/aaj-migrate-XXXXXX";
  fs::path dir = mkdtemp(tmpl);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir / "aaj.db").c_str(), &db), SQLITE_OK);
  const char* v1 = R"SQL(
CREATE TABLE bodies (bin TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE users (iin TEXT PRIMARY KEY, user_type TEXT NOT NULL, body_bin TEXT NOT NULL,
  full_name TEXT NOT NULL, phone TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('active', 'blocked')), created_at INTEGER NOT NULL);
CREATE TABLE sessions (token_hash TEXT PRIMARY KEY, iin TEXT NOT NULL, created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL, revoked INTEGER NOT NULL DEFAULT 0);
INSERT INTO users VALUES('850615300000','prosecutor','050140000105','OLD USER','+77010000001',
  'active', 1);
INSERT INTO sessions VALUES('aa','850615300000',1,4102444800000000,0);
PRAGMA user_version=1;
)SQL";
  ASSERT_EQ(sqlite3_exec(db, v1, nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);

  auto s = store::open_store({"sqlite", dir, ""});
  ASSERT_TRUE(s.ok()) << s.error().detail;
  auto u = (*s)->find_user("850615300000");
  ASSERT_TRUE(u.ok() && u->has_value());
  // The inactivity clock starts at the upgrade, not at the (ancient) creation.
  EXPECT_GT((*u)->last_entry_at, time::now() - std::chrono::minutes(5));
  auto session = (*s)->find_session("aa");
  ASSERT_TRUE(session.ok() && session->has_value());
  EXPECT_EQ((*session)->stage, "full");
  store::WebAuthnCredential c{"cred", "850615300000", "key", -7, 0, time::now(), true};
  ASSERT_TRUE((*s)->add_credential(c).ok());
  auto creds = (*s)->credentials_of("850615300000");
  ASSERT_TRUE(creds.ok());
  ASSERT_EQ(creds->size(), 1u);
  EXPECT_TRUE((*creds)[0].backup_eligible);
  // Opening again is a no-op.
  s->reset();
  ASSERT_TRUE(store::open_store({"sqlite", dir, ""}).ok());
  fs::remove_all(dir);
}

// Prosecutors' resolutions (schema v6): stored whole, listed per prosecutor, numbers unique per
// prosecutor.
TEST_F(StoreTest, ResolutionsRoundTripAndNumbersAreUniquePerProsecutor) {
  store::Resolution r;
  r.id = "0b8e7c2a-0000-4000-8000-000000000001";
  r.prosecutor_iin = "850615300000";
  r.number = "2-15/2026";
  r.date = "2026-12-01";
  r.body_bin = "050140000105";
  r.iins = {"860417300015", "990106300596"};
  r.period_from = "2026-11-01";
  r.period_to = "2026-11-30";
  r.purpose = "проверка законности";
  r.document = R"({"number":"2-15/2026"})";
  r.cms_base64 = "MIIB";
  r.registered_at = time::from_micros(1700000000000000);
  r.log_seq = 42;
  ASSERT_TRUE(store_->add_resolution(r).ok());
  auto found = store_->find_resolution(r.id);
  ASSERT_TRUE(found.ok() && found->has_value());
  const store::Resolution& f = **found;
  EXPECT_EQ(f.prosecutor_iin, r.prosecutor_iin);
  EXPECT_EQ(f.number, r.number);
  EXPECT_EQ(f.date, r.date);
  EXPECT_EQ(f.body_bin, r.body_bin);
  EXPECT_EQ(f.iins, r.iins);
  EXPECT_EQ(f.period_from, r.period_from);
  EXPECT_EQ(f.period_to, r.period_to);
  EXPECT_EQ(f.purpose, r.purpose);
  EXPECT_EQ(f.document, r.document);
  EXPECT_EQ(f.cms_base64, r.cms_base64);
  EXPECT_EQ(f.registered_at, r.registered_at);
  EXPECT_EQ(f.log_seq, 42u);

  store::Resolution again = r;
  again.id = "0b8e7c2a-0000-4000-8000-000000000002";
  auto dup = store_->add_resolution(again);
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, "resolution_exists");
  // Another prosecutor may use the same number; a whole-body resolution lists no IINs.
  again.prosecutor_iin = "990106300596";
  again.iins.clear();
  ASSERT_TRUE(store_->add_resolution(again).ok());
  EXPECT_TRUE((*store_->find_resolution(again.id))->iins.empty());
  // An inverted period cannot be stored, and is not taken for a duplicate: the table's CHECK
  // used to come back as "resolution_exists".
  store::Resolution inverted = again;
  inverted.id = "0b8e7c2a-0000-4000-8000-000000000003";
  inverted.number = "3";
  inverted.period_from = "2026-12-01";
  ASSERT_GT(inverted.period_from, inverted.period_to);
  auto refused = store_->add_resolution(inverted);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "invalid_document") << refused.error().detail;
  EXPECT_FALSE(store_->find_resolution(inverted.id)->has_value());

  auto mine = store_->resolutions_of("850615300000");
  ASSERT_TRUE(mine.ok());
  ASSERT_EQ(mine->size(), 1u);
  EXPECT_EQ((*mine)[0].id, r.id);
  EXPECT_FALSE(store_->find_resolution("nope")->has_value());
}

// A database of schema v4 (before v5 and v6) gains the resolutions table and version 6.
TEST(StoreMigration, VersionFourDatabaseGainsResolutions) {
  char tmpl[] = "/tmp/aaj-migrate-XXXXXX";
  fs::path dir = mkdtemp(tmpl);
  {
    auto s = store::open_store({"sqlite", dir, ""});
    ASSERT_TRUE(s.ok());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir / "aaj.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(
      sqlite3_exec(db, "DROP TABLE resolutions; PRAGMA user_version=4;", nullptr, nullptr, nullptr),
      SQLITE_OK);
  sqlite3_close(db);

  // A v4 file had no materials.db either: its tables come with the upgrade.
  for (const char* f : {"materials.db", "materials.db-wal", "materials.db-shm"})
    fs::remove(dir / f);
  auto s = store::open_store({"sqlite", dir, ""});
  ASSERT_TRUE(s.ok()) << s.error().detail;
  EXPECT_TRUE(fs::exists(dir / "materials.db"));
  auto answers = (*s)->answers_of_request("nothing");
  ASSERT_TRUE(answers.ok()) << answers.error().detail;
  EXPECT_TRUE(answers->empty());
  auto exports = (*s)->list_exports({});
  ASSERT_TRUE(exports.ok()) << exports.error().detail;
  store::Resolution r;
  r.id = "id";
  r.prosecutor_iin = "850615300000";
  r.number = "1";
  r.date = r.period_from = r.period_to = "2026-12-01";
  r.body_bin = "050140000105";
  r.registered_at = time::now();
  EXPECT_TRUE((*s)->add_resolution(r).ok());
  s->reset();
  ASSERT_EQ(sqlite3_open((dir / "aaj.db").c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(st, 0), 6);
  sqlite3_finalize(st);
  sqlite3_close(db);
  fs::remove_all(dir);
}

// The change stamp validates the session cache (decision 28): any commit to aaj.db, by any
// connection or process, must change it before the next request, and nothing else may be needed
// to see it. It is read from the WAL index header in shared memory (bit 63 set) once the store
// has read it through SQLite the first time.
namespace {
class ChangeStampTest : public store::test::SqliteStoreTest {
 protected:
  // A commit to aaj.db through a connection of our own, as another program would make it.
  void commit_elsewhere(const std::string& bin) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ / "aaj.db").c_str(), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    const std::string sql = "INSERT INTO bodies(bin,name) VALUES('" + bin + "','x')";
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db);
    sqlite3_close(db);
  }
  uint64_t stamp() {
    auto s = store_->change_stamp();
    EXPECT_TRUE(s.ok());
    return s ? *s : 0;
  }
};
}  // namespace

TEST_F(ChangeStampTest, ReadFromTheWalIndexAndChangedByEveryCommit) {
  stamp();  // the first read goes through SQLite and sets up the fast path
  const uint64_t a = stamp();
  EXPECT_NE(a >> 63, 0u) << "the WAL index header is not used";
  EXPECT_EQ(stamp(), a);  // nothing committed
  commit_elsewhere("111111111111");
  const uint64_t b = stamp();
  EXPECT_NE(b, a);
  EXPECT_NE(b >> 63, 0u);
  ASSERT_TRUE(store_->put_body({"222222222222", "y"}).ok());  // the store's own pool
  const uint64_t c = stamp();
  EXPECT_NE(c, b);
  EXPECT_EQ(stamp(), c);
}

// Run by ACommitByAnotherProcessIsSeenAtOnce in a process of its own (the test binary again,
// started afresh: SQLite must not be carried across a bare fork()). Skips otherwise.
TEST(ChangeStampOtherProcess, Commit) {
  const char* path = std::getenv("AAJ_STAMP_COMMIT_DB");
  if (path == nullptr) GTEST_SKIP() << "run by ChangeStampTest.ACommitByAnotherProcessIsSeenAtOnce";
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path, &db), SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  EXPECT_EQ(
      sqlite3_exec(db, "UPDATE users SET status='blocked'; INSERT INTO bodies VALUES('3','z')",
                   nullptr, nullptr, nullptr),
      SQLITE_OK)
      << sqlite3_errmsg(db);
  sqlite3_close(db);
}

TEST_F(ChangeStampTest, ACommitByAnotherProcessIsSeenAtOnce) {
  stamp();
  const uint64_t before = stamp();
  const std::string db = (dir_ / "aaj.db").string();
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    setenv("AAJ_STAMP_COMMIT_DB", db.c_str(), 1);
    execl("/proc/self/exe", "store_test", "--gtest_filter=ChangeStampOtherProcess.Commit",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  const uint64_t after = stamp();
  EXPECT_NE(after, before);
  EXPECT_NE(after >> 63, 0u);  // seen in the WAL index, not by the fallback
}

// After a checkpoint that empties the WAL, the next commit starts it again (new salts, frame
// count from zero): the stamp still changes, never comes back to an earlier value by accident.
TEST_F(ChangeStampTest, CommitsAfterTheWalRestartsStillChangeIt) {
  stamp();
  std::vector<uint64_t> seen{stamp()};
  for (int i = 0; i < 5; ++i) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ / "aaj.db").c_str(), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    EXPECT_EQ(sqlite3_wal_checkpoint_v2(db, "main", SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr),
              SQLITE_OK)
        << sqlite3_errmsg(db);
    sqlite3_close(db);
    commit_elsewhere("44444444444" + std::to_string(i));
    const uint64_t now = stamp();
    for (uint64_t earlier : seen) EXPECT_NE(now, earlier) << i;
    seen.push_back(now);
  }
}

// Readers on many threads while commits go on: every read succeeds, together they see the stamp
// change, and once the writer is done each of them reads the final stamp, from the WAL index.
TEST_F(ChangeStampTest, ConcurrentReadersWhileCommitting) {
  stamp();  // sets up the fast path
  const uint64_t first = stamp();
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  std::atomic<int> changes_seen{0};
  std::vector<uint64_t> last(4);
  std::vector<std::thread> readers;
  readers.reserve(4);
  for (int t = 0; t < 4; ++t)
    readers.emplace_back([&, t] {
      uint64_t prev = first;
      while (!done.load()) {
        auto s = store_->change_stamp();
        if (!s) {
          ++failures;
          continue;
        }
        if (*s != prev) ++changes_seen;
        prev = *s;
      }
      auto s = store_->change_stamp();  // after the last commit
      last[static_cast<size_t>(t)] = s ? *s : 0;
    });
  // No ASSERT while the readers run: returning early would leave their threads unjoined.
  for (int i = 0; i < 50; ++i)
    if (!store_->put_body({"5" + std::to_string(i), "n"}).ok()) {
      ADD_FAILURE() << "commit " << i;
      break;
    }
  done = true;
  for (auto& r : readers) r.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(changes_seen.load(), 0);
  const uint64_t final_stamp = stamp();
  EXPECT_NE(final_stamp, first);
  EXPECT_NE(final_stamp >> 63, 0u);
  for (uint64_t l : last) EXPECT_EQ(l, final_stamp);
}
