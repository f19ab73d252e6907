#include "store/store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

namespace fs = std::filesystem;
using namespace aaj;

namespace {
class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/aaj-store-XXXXXX";
    dir_ = mkdtemp(tmpl);
    auto s = store::open_store({"sqlite", dir_, ""});
    ASSERT_TRUE(s.ok()) << s.error().detail;
    store_ = std::move(*s);
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }
  store::User user(const std::string& iin) {
    return {iin,      "prosecutor", "050140000105", "НУРЛАНОВ ЕРЛАН", "+77010000001",
            "active", time::now()};
  }
  fs::path dir_;
  std::unique_ptr<store::Store> store_;
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
