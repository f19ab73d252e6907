// Answers kept with their materials and destroyed with them (R-USE-3), exports (R-USE-2), and the
// schema step 4 → 5, on the SQLite backend.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>

#include "sqlite_fixture.h"
#include "store/store.h"

namespace fs = std::filesystem;
using namespace aaj;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

// Runs one statement on a connection of the test's own.
void sql(const fs::path& db_file, const std::string& statement) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_file.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  int rc = sqlite3_exec(db, statement.c_str(), nullptr, nullptr, &err);
  std::string m = err ? err : "";
  sqlite3_free(err);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK) << m;
}

class MaterialsStore : public store::test::SqliteStoreTest {
 protected:
  static store::StoredAnswer answer(const std::string& id, const std::string& resource,
                                    const std::string& number, const std::string& body,
                                    const std::string& data) {
    store::StoredAnswer a;
    a.request_id = id;
    a.resource = resource;
    a.material_type = "criminal_case";
    a.material_number = number;
    a.iin = "900302400123";
    a.body_bin = body;
    a.data = data;
    a.sha256 = "sha-of-" + id + resource;
    a.log_seq = 7;
    a.logged_at = time::now();
    a.stored_at = time::now();
    return a;
  }
};

const std::string kCase = "267510000000031";
const std::string kMia = "050140000102";
const std::string kGpo = "050140000101";

TEST_F(MaterialsStore, DestructionRemovesTheBytesFromTheDatabaseFiles) {
  // A small answer (inside its b-tree page) and a large one (overflow pages), both Cyrillic.
  const std::string small_marker = "ЖОЮҒА-ТИІС-МӘЛІМЕТ-7f3a";
  std::string big = "{\"history\":\"";
  for (int i = 0; i < 600; ++i) big += "ҮЛКЕН-ЖАЗБА-" + std::to_string(i) + " ";
  big += "\"}";
  const std::string kept_marker = "САҚТАЛАТЫН-ЖАУАП-91c2";
  ASSERT_TRUE(
      store_
          ->add_answers({answer("req-1", "R01", kCase, kMia, "{\"name\":\"" + small_marker + "\"}"),
                         answer("req-1", "R05", kCase, kMia, big),
                         answer("req-2", "R01", "267510000000048", kMia,
                                "{\"name\":\"" + kept_marker + "\"}")})
          .ok());
  // Sanity: after a checkpoint the bytes are in the database file, where the test looks for them
  // (materials.db; aaj.db, the accounts' file, never holds answers).
  sql(dir_ / "materials.db", "PRAGMA wal_checkpoint(TRUNCATE)");
  ASSERT_NE(slurp(dir_ / "materials.db").find(small_marker), std::string::npos);
  ASSERT_NE(slurp(dir_ / "materials.db").find("ҮЛКЕН-ЖАЗБА-599"), std::string::npos);
  EXPECT_EQ(slurp(dir_ / "aaj.db").find(small_marker), std::string::npos);

  auto rows = store_->answers_of_material("criminal_case", kCase, kMia);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_TRUE((*rows)[0].data.empty());  // listed without their data
  std::vector<std::pair<std::string, std::string>> keys;
  for (const auto& r : *rows) keys.emplace_back(r.request_id, r.resource);

  store::Destruction d{time::now(), "800707300123", "12-ЖА", "2026-05-01", 42};
  bool checkpointed = false;
  auto done = store_->destroy_answers(keys, d, &checkpointed);
  ASSERT_TRUE(done.ok()) << done.error().detail;
  EXPECT_EQ(done->size(), 2u);
  EXPECT_TRUE(checkpointed);

  // Gone from the database file and from the WAL (the checkpoint truncated it).
  std::string db = slurp(dir_ / "materials.db");
  EXPECT_EQ(db.find(small_marker), std::string::npos);
  for (int i : {0, 300, 599})
    EXPECT_EQ(db.find("ҮЛКЕН-ЖАЗБА-" + std::to_string(i) + " "), std::string::npos) << i;
  if (fs::exists(dir_ / "materials.db-wal")) {
    std::string wal = slurp(dir_ / "materials.db-wal");
    EXPECT_EQ(wal.find(small_marker), std::string::npos);
    EXPECT_EQ(wal.find("ҮЛКЕН-ЖАЗБА-599"), std::string::npos);
  }
  // The other material's answer is untouched.
  EXPECT_NE(db.find(kept_marker), std::string::npos);

  // The rows keep their trace: ids, hashes, times, who destroyed them and by which act.
  auto after = store_->answers_of_request("req-1");
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->size(), 2u);
  for (const auto& a : *after) {
    EXPECT_TRUE(a.destroyed());
    EXPECT_TRUE(a.data.empty());
    EXPECT_EQ(a.sha256, "sha-of-req-1" + a.resource);
    EXPECT_EQ(a.destroyed_by, "800707300123");
    EXPECT_EQ(a.destruction_act, "12-ЖА");
    EXPECT_EQ(a.destruction_act_date, "2026-05-01");
    EXPECT_EQ(a.destruction_log_seq, 42u);
    EXPECT_GT(a.data_size, 0);
    EXPECT_NE(a.logged_at, time::Instant{});
  }
  // Destroying again destroys nothing new.
  auto again = store_->destroy_answers(keys, d, &checkpointed);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->empty());
  auto other = store_->answers_of_request("req-2");
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE((*other)[0].destroyed());
  EXPECT_EQ((*other)[0].data, "{\"name\":\"" + kept_marker + "\"}");
}

TEST_F(MaterialsStore, AMaterialIsScopedByBody) {
  ASSERT_TRUE(store_
                  ->add_answers({answer("a", "R01", kCase, kMia, "{}"),
                                 answer("b", "R01", kCase, kGpo, "{}")})
                  .ok());
  auto mia = store_->answers_of_material("criminal_case", kCase, kMia);
  ASSERT_TRUE(mia.ok());
  ASSERT_EQ(mia->size(), 1u);
  EXPECT_EQ((*mia)[0].request_id, "a");
  auto none = store_->answers_of_material("criminal_case", kCase, "050140000103");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  // A repeated answer (same request and resource) is ignored, not an error that would stall a
  // batch.
  EXPECT_TRUE(store_->add_answers({answer("a", "R01", kCase, kMia, "{\"changed\":1}")}).ok());
  EXPECT_EQ((*store_->answers_of_request("a"))[0].data, "{}");
}

TEST_F(MaterialsStore, ExportsAreListedUntilConfirmed) {
  auto now = time::now();
  store::Export e{
      "exp-1", "req-1", "900302400123", kMia, "pdf", "ab", 100, now - std::chrono::minutes(90),
      10,      {}};
  store::Export f{
      "exp-2", "req-2", "900302400123", kMia, "json", "cd", 50, now - std::chrono::minutes(5),
      11,      {}};
  store::Export g{
      "exp-3", "req-3", "860101300011", kGpo, "json", "ef", 50, now - std::chrono::minutes(120),
      12,      {}};
  for (const auto& x : {e, f, g}) ASSERT_TRUE(store_->add_export(x).ok());
  // Reminded: this user's unconfirmed exports older than an hour.
  auto due = store_->list_exports({"900302400123", "", true, now - std::chrono::minutes(60)});
  ASSERT_TRUE(due.ok());
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ((*due)[0].id, "exp-1");
  // The body's unconfirmed exports, oldest first.
  auto body = store_->list_exports({"", kMia, true, {}});
  ASSERT_TRUE(body.ok());
  ASSERT_EQ(body->size(), 2u);
  EXPECT_EQ((*body)[0].id, "exp-1");
  ASSERT_TRUE(store_->confirm_export("exp-1", now).ok());
  auto twice = store_->confirm_export("exp-1", now);
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error().code, "already_confirmed");
  auto unknown = store_->confirm_export("exp-9", now);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, "export_unknown");
  EXPECT_EQ(store_->list_exports({"", kMia, true, {}})->size(), 1u);
  EXPECT_EQ(store_->list_exports({"900302400123", "", false, {}})->size(), 2u);
  auto found = store_->find_export("exp-1");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_TRUE((*found)->confirmed());
  EXPECT_EQ((*found)->format, "pdf");
  EXPECT_EQ((*found)->log_seq, 10u);
}

// Answers are written at the rate of data requests: their commits must not change the store's
// change stamp, which validates the session cache (materials.db is a file of its own).
TEST_F(MaterialsStore, StoringAnswersLeavesTheChangeStampAlone) {
  auto before = store_->change_stamp();
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(store_->add_answers({answer("s", "R01", kCase, kMia, "{}")}).ok());
  ASSERT_TRUE(
      store_->add_export({"exp", "s", "900302400123", kMia, "json", "ab", 2, time::now(), 1, {}})
          .ok());
  EXPECT_EQ(*store_->change_stamp(), *before);
  // A change to accounts does change it.
  ASSERT_TRUE(store_->put_body({kMia, "ІІМ"}).ok());
  EXPECT_NE(*store_->change_stamp(), *before);
}

// A version-4 installation (aaj.db only, before answers and exports) is upgraded in place and
// keeps its data.
TEST(MaterialsMigration, VersionFourGetsTheNewTables) {
  char tmpl[] = "/tmp/aaj-migrate5-XXXXXX";
  fs::path dir = mkdtemp(tmpl);
  {
    auto s = store::open_store({"sqlite", dir, ""});
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE((*s)->add_user({"850615300000", "prosecutor", kGpo, "OLD USER", "+77010000001",
                                "active", time::now()})
                    .ok());
  }
  sql(dir / "aaj.db", "PRAGMA user_version=4;");
  for (const char* f : {"materials.db", "materials.db-wal", "materials.db-shm"})
    fs::remove(dir / f);
  auto s = store::open_store({"sqlite", dir, ""});
  ASSERT_TRUE(s.ok()) << s.error().detail;
  EXPECT_TRUE((*s)->find_user("850615300000")->has_value());
  store::StoredAnswer a;
  a.request_id = "r";
  a.resource = "R01";
  a.material_type = "criminal_case";
  a.material_number = kCase;
  a.data = "null";
  a.found = false;
  ASSERT_TRUE((*s)->add_answers({a}).ok());
  EXPECT_EQ((*s)->answers_of_request("r")->size(), 1u);
  s->reset();
  EXPECT_TRUE(fs::exists(dir / "materials.db"));
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir / "aaj.db").c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, nullptr);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(st, 0), 6);  // through 5 (materials) to 6 (resolutions)
  sqlite3_finalize(st);
  sqlite3_close(db);
  fs::remove_all(dir);
}

}  // namespace
