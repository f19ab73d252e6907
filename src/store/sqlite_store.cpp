// SQLite backend: WAL mode, synchronous=FULL (a user or session acknowledged is on disk), a small
// pool of connections so worker threads do not serialise on one handle.
#include <sqlite3.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <variant>
#include <vector>

#include "store/sqlite_materials.h"
#include "store/sqlite_util.h"
#include "store/store.h"

namespace aaj::store {
namespace {

// aaj.db's WAL index header, read where SQLite keeps it for every process: the shared memory
// (the -shm file) begins with two copies of a 48-byte header that a writer rewrites when it
// commits (copy 2 first, then copy 1), and that every reader reads before it starts a
// transaction; its layout and checksum are part of SQLite's documented file formats
// (walformat.html, §2.1). A header that both copies agree on and whose checksum holds names
// exactly the commits visible to a reader starting now, so it changes with every commit by any
// connection or process, as PRAGMA data_version does, without the read transaction (two fcntl
// locks) and the mutex the PRAGMA costs per request. Anything unexpected (a header being written,
// not initialised, a checksum that fails) answers nullopt and the caller asks SQLite instead.
//
// The memory is SQLite's own mapping of region 0, obtained through the VFS (xShmMap) of the
// store's stamp connection: no descriptor of ours (closing one would drop the process's POSIX
// locks on the file, SQLite's included), and the mapping is the one SQLite itself reads. It stays
// valid while that connection is open in WAL mode: the store never changes its journal mode and
// closes it only in its destructor, after dropping the watch.
class WalIndexWatch {
 public:
  // The watch of `db`'s main database, when it is a file in WAL mode with normal locking and its
  // WAL index is mapped (db has read once). Call with db not in use by another thread.
  static std::unique_ptr<WalIndexWatch> of(sqlite3* db) {
    const char* file = sqlite3_db_filename(db, "main");
    if (file == nullptr || *file == '\0') return nullptr;
    sqlite::Stmt mode(db, "PRAGMA main.journal_mode");
    if (!mode.ok() || mode.step() != SQLITE_ROW || mode.col_text(0) != "wal") return nullptr;
    // In exclusive locking mode the WAL index lives in the connection's heap, unseen by others.
    sqlite::Stmt locking(db, "PRAGMA main.locking_mode");
    if (!locking.ok() || locking.step() != SQLITE_ROW || locking.col_text(0) != "normal")
      return nullptr;
    sqlite3_file* f = nullptr;
    if (sqlite3_file_control(db, "main", SQLITE_FCNTL_FILE_POINTER, &f) != SQLITE_OK ||
        f == nullptr || f->pMethods == nullptr || f->pMethods->iVersion < 2 ||
        f->pMethods->xShmMap == nullptr)
      return nullptr;
    void volatile* region = nullptr;
    // Region 0 at SQLite's own region size (WALINDEX_PGSZ), without extending it.
    if (f->pMethods->xShmMap(f, 0, 32768, 0, &region) != SQLITE_OK || region == nullptr)
      return nullptr;
    return std::unique_ptr<WalIndexWatch>(
        new WalIndexWatch(static_cast<const volatile unsigned char*>(region)));
  }
  WalIndexWatch(const WalIndexWatch&) = delete;
  WalIndexWatch& operator=(const WalIndexWatch&) = delete;

  // A stamp of the header (bit 63 set), or nullopt (see above). Thread-safe.
  std::optional<uint64_t> stamp() const {
    unsigned char first[kHeader], second[kHeader];
    // The order SQLite's readers use (walIndexTryHdr): copy 1, a barrier, copy 2. Volatile
    // reads, as SQLite's own: another process writes this memory.
    const volatile unsigned char* shared = header_;
    for (size_t i = 0; i < kHeader; ++i) first[i] = shared[i];
    std::atomic_thread_fence(std::memory_order_acquire);
    for (size_t i = 0; i < kHeader; ++i) second[i] = shared[kHeader + i];
    if (std::memcmp(first, second, kHeader) != 0) return std::nullopt;  // being written
    uint32_t w[kHeader / 4];
    std::memcpy(w, first, kHeader);
    const bool initialised = first[12] != 0;  // isInit
    if (w[0] != 3007000 || !initialised) return std::nullopt;
    // walChecksumBytes over the first 40 bytes, native byte order.
    uint32_t s1 = 0, s2 = 0;
    for (int i = 0; i < 10; i += 2) {
      s1 += w[i] + s2;
      s2 += w[i + 1] + s1;
    }
    if (s1 != w[10] || s2 != w[11]) return std::nullopt;
    uint64_t h = 14695981039346656037ull;  // FNV-1a over the whole header
    for (unsigned char c : first) h = (h ^ c) * 1099511628211ull;
    return h | kFastBit;
  }

  static constexpr uint64_t kFastBit = uint64_t{1} << 63;

 private:
  static constexpr size_t kHeader = 48;
  explicit WalIndexWatch(const volatile unsigned char* header) : header_(header) {}
  const volatile unsigned char* header_;  // SQLite's mapping; see above
};

constexpr int kSchemaVersion = 6;

const char* kSchema = R"SQL(
CREATE TABLE IF NOT EXISTS bodies (
  bin TEXT PRIMARY KEY,
  name TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
  iin TEXT PRIMARY KEY,
  user_type TEXT NOT NULL,
  body_bin TEXT NOT NULL,
  full_name TEXT NOT NULL,
  phone TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('active', 'blocked')),
  created_at INTEGER NOT NULL,
  last_entry_at INTEGER NOT NULL DEFAULT 0,
  reminded_at INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS sessions (
  token_hash TEXT PRIMARY KEY,
  iin TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  revoked INTEGER NOT NULL DEFAULT 0,
  stage TEXT NOT NULL DEFAULT 'full' CHECK (stage IN ('first_factor', 'full')),
  last_seen INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS sessions_by_iin ON sessions(iin);
CREATE TABLE IF NOT EXISTS agreements (
  iin TEXT NOT NULL,
  version TEXT NOT NULL,
  text_sha256 TEXT NOT NULL,
  cms TEXT NOT NULL,
  signed_at INTEGER NOT NULL,
  PRIMARY KEY (iin, version)
);
CREATE TABLE IF NOT EXISTS webauthn_credentials (
  id TEXT PRIMARY KEY,
  iin TEXT NOT NULL,
  public_key TEXT NOT NULL,
  alg INTEGER NOT NULL,
  sign_count INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  backup_eligible INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS credentials_by_iin ON webauthn_credentials(iin);
CREATE TABLE IF NOT EXISTS auth_failures (
  iin TEXT NOT NULL,
  at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS auth_failures_by_iin ON auth_failures(iin, at);
CREATE TABLE IF NOT EXISTS staff_roles (
  iin TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('operator', 'controller', 'prosecutor', 'admin')),
  body_bin TEXT NOT NULL,
  PRIMARY KEY (iin, role, body_bin)
);
CREATE TABLE IF NOT EXISTS applications (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('new', 'transfer', 'block')),
  iin TEXT NOT NULL,
  applicant TEXT NOT NULL,
  body_bin TEXT NOT NULL,
  data TEXT NOT NULL,
  cms TEXT NOT NULL,
  checks TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('submitted', 'registered', 'refused')),
  received_at INTEGER NOT NULL,
  due_at INTEGER NOT NULL,
  decided_at INTEGER NOT NULL DEFAULT 0,
  decided_by TEXT NOT NULL DEFAULT '',
  reason TEXT NOT NULL DEFAULT '',
  decision_cms TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS applications_by_status ON applications(status, received_at);
)SQL";

// Upgrades of older databases, by PRAGMA user_version (applied in order from the file's version).
const char* kMigrateV3 = R"SQL(
ALTER TABLE users ADD COLUMN last_entry_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN reminded_at INTEGER NOT NULL DEFAULT 0;
)SQL";
const char* kMigrateV1 = R"SQL(
ALTER TABLE sessions ADD COLUMN stage TEXT NOT NULL DEFAULT 'full';
ALTER TABLE sessions ADD COLUMN last_seen INTEGER NOT NULL DEFAULT 0;
)SQL";

// v6 (log access): prosecutors' resolutions. Tables only (IF NOT EXISTS), created at every open
// like kSchemaV5, so the tables of v5 (another change) and v6 stay independent of each other.
const char* kMigrateV6 = R"SQL(
CREATE TABLE IF NOT EXISTS resolutions (
  id TEXT PRIMARY KEY,
  prosecutor_iin TEXT NOT NULL,
  number TEXT NOT NULL,
  date TEXT NOT NULL,
  body_bin TEXT NOT NULL,
  iins TEXT NOT NULL DEFAULT '',
  period_from TEXT NOT NULL,
  period_to TEXT NOT NULL CHECK (period_from <= period_to),
  purpose TEXT NOT NULL,
  document TEXT NOT NULL,
  cms TEXT NOT NULL,
  registered_at INTEGER NOT NULL,
  log_seq INTEGER NOT NULL,
  UNIQUE (prosecutor_iin, number)
);
CREATE INDEX IF NOT EXISTS resolutions_by_prosecutor ON resolutions(prosecutor_iin, registered_at);
)SQL";

using sqlite::db_error;
using sqlite::Stmt;

// How a write's outcome maps to domain errors (unset: not an error).
struct Expect {
  // A UNIQUE or PRIMARY KEY violation: the row exists. Other violations (a CHECK, NOT NULL) are
  // not "exists": they stay store errors naming the constraint.
  std::optional<Error> duplicate = std::nullopt;
  std::optional<Error> none_changed = std::nullopt;  // the statement matched no row
};

class SqliteStore final : public Store {
 public:
  static Result<std::unique_ptr<Store>> open(const StoreConfig& cfg) {
    std::error_code ec;
    std::filesystem::create_directories(cfg.data_dir, ec);
    if (ec) return Error{"store_unavailable", "cannot create " + cfg.data_dir.string()};
    auto s = std::unique_ptr<SqliteStore>(new SqliteStore((cfg.data_dir / "aaj.db").string()));
    auto c = s->connect();
    if (!c) return c.error();
    sqlite3* db = *c;
    int version = 0;
    {
      Stmt v(db, "PRAGMA user_version");
      if (v.ok() && v.step() == SQLITE_ROW) version = static_cast<int>(v.col_int(0));
    }
    // Version 0 is a new file: kSchema below creates everything at the current version. Older
    // files are upgraded in one transaction, column by column where a column may be missing.
    auto exec = [&](const std::string& sql) { return sqlite::exec(db, sql, "migration"); };
    auto has_column = [&](const char* table, const char* column) {
      Stmt info(db, (std::string("PRAGMA table_info(") + table + ")").c_str());
      while (info.ok() && info.step() == SQLITE_ROW)
        if (info.col_text(1) == column) return true;
      return false;
    };
    Status migrated;
    if (version >= 1 && version < kSchemaVersion) {
      migrated = exec("BEGIN IMMEDIATE");
      if (migrated && version == 1) migrated = exec(kMigrateV1);
      if (migrated && version <= 3) {
        migrated = exec(kMigrateV3);
        // Accounts existing before the inactivity rule start its clock now, not at creation.
        if (migrated)
          migrated = exec("UPDATE users SET last_entry_at=" +
                          std::to_string(time::to_micros(time::now())));
      }
      // A v2/v3 credentials table from before the backup-eligible flag.
      bool table = false;
      {
        Stmt t(db, "SELECT 1 FROM sqlite_master WHERE name='webauthn_credentials'");
        table = t.ok() && t.step() == SQLITE_ROW;
      }
      if (migrated && table && !has_column("webauthn_credentials", "backup_eligible"))
        migrated = exec(
            "ALTER TABLE webauthn_credentials ADD COLUMN backup_eligible INTEGER NOT NULL "
            "DEFAULT 0");
      // The version moves with the upgrade, in its transaction: a crash right after COMMIT must
      // not leave the new columns under the old number (the next open would add them again).
      if (migrated) migrated = exec("PRAGMA user_version=" + std::to_string(kSchemaVersion));
      if (migrated)
        migrated = exec("COMMIT");
      else
        (void)exec("ROLLBACK");
    }
    if (!migrated) {
      sqlite3_close(db);
      return migrated.error();
    }
    // Every open, whatever the file's version (CREATE … IF NOT EXISTS): kSchema creates a new
    // file's tables; kSchemaV5 is also the step 4 → 5 (answers kept with their materials, and
    // their exports: R-USE-2, R-USE-3, in materials.db) and kMigrateV6 the step to 6 (tables
    // only, so safe to repeat and needing no version of its own).
    Status schema = sqlite::exec(db, kSchema, "schema");
    if (schema) schema = sqlite::exec(db, sqlite_materials::kSchemaV5, "schema");
    if (schema) schema = sqlite::exec(db, kMigrateV6, "schema");
    if (!schema) {
      sqlite3_close(db);
      return schema.error();
    }
    // New files, and the steps above that are safe to repeat (CREATE … IF NOT EXISTS).
    if (Status v = exec("PRAGMA user_version=" + std::to_string(kSchemaVersion)); !v) {
      sqlite3_close(db);
      return v.error();
    }
    s->release(db);
    return std::unique_ptr<Store>(std::move(s));
  }

  ~SqliteStore() override {
    for (sqlite3* db : pool_) sqlite3_close(db);
    sqlite3_finalize(version_stmt_);
    watch_.reset();  // before the connection whose mapping it reads
    if (version_db_) sqlite3_close(version_db_);
  }

  Status add_user(const User& u) override {
    return execute(
        "INSERT INTO users(iin,user_type,body_bin,full_name,phone,status,created_at,"
        "last_entry_at,reminded_at) VALUES(?,?,?,?,?,?,?,?,?)",
        {u.iin, u.user_type, u.body_bin, u.full_name, u.phone, u.status,
         time::to_micros(u.created_at), time::to_micros(u.last_entry_at),
         time::to_micros(u.reminded_at)},
        {.duplicate = Error{"user_exists", "user " + u.iin + " exists"}});
  }

  // aaj.db's WAL index header when it can be read (WalIndexWatch), else PRAGMA data_version on a
  // connection of its own that never writes. Either changes whenever any connection — the
  // pool's or another process's — commits; the two never give the same value (bit 63).
  Result<uint64_t> change_stamp() override {
    if (watch_ready_.load(std::memory_order_acquire))
      if (auto fast = watch_->stamp()) return *fast;
    std::lock_guard<std::mutex> l(version_mu_);
    if (!version_db_) {
      auto db = connect();
      if (!db) return db.error();
      version_db_ = *db;
      if (sqlite3_prepare_v2(version_db_, "PRAGMA data_version", -1, &version_stmt_, nullptr) !=
          SQLITE_OK)
        return db_error(version_db_, "prepare");
    }
    sqlite3_reset(version_stmt_);
    if (sqlite3_step(version_stmt_) != SQLITE_ROW) return db_error(version_db_, "data_version");
    auto stamp = static_cast<uint64_t>(sqlite3_column_int64(version_stmt_, 0));
    // Reset at once: a stepped statement holds its read transaction, and a reader pinned to an
    // old snapshot keeps WAL checkpoints from completing (destroyed answers' old pages).
    sqlite3_reset(version_stmt_);
    // Once the stamp connection has read (so it holds the WAL index open): the fast path.
    if (!watch_tried_) {
      watch_tried_ = true;
      watch_ = WalIndexWatch::of(version_db_);
      if (watch_) {
        watch_ready_.store(true, std::memory_order_release);
        // The stamps that follow come from the header: so does this one, if it can.
        if (auto fast = watch_->stamp()) return *fast;
      }
    }
    return stamp & ~WalIndexWatch::kFastBit;
  }

  Result<std::optional<User>> find_user(std::string_view iin) override {
    std::optional<User> out;
    Status s = with_db([&](sqlite3* db) -> Status {
      Stmt st(db,
              "SELECT iin,user_type,body_bin,full_name,phone,status,created_at,last_entry_at,"
              "reminded_at FROM users WHERE iin=?");
      if (!st.ok()) return db_error(db, "prepare");
      st.text(1, iin);
      int rc = st.step();
      if (rc == SQLITE_ROW)
        out = row_user(st);
      else if (rc != SQLITE_DONE)
        return db_error(db, "select user");
      return {};
    });
    if (!s) return s.error();
    return out;
  }

  Status set_user_status(std::string_view iin, std::string_view status) override {
    return execute("UPDATE users SET status=? WHERE iin=?", {status, iin},
                   {.none_changed = Error{"user_unknown", std::string(iin)}});
  }

  Result<std::vector<User>> list_users() override {
    std::vector<User> out;
    Status s = with_db([&](sqlite3* db) -> Status {
      Stmt st(db,
              "SELECT iin,user_type,body_bin,full_name,phone,status,created_at,last_entry_at,"
              "reminded_at FROM users ORDER BY iin");
      if (!st.ok()) return db_error(db, "prepare");
      int rc;
      while ((rc = st.step()) == SQLITE_ROW) out.push_back(row_user(st));
      if (rc != SQLITE_DONE) return db_error(db, "list users");
      return {};
    });
    if (!s) return s.error();
    return out;
  }

  Status put_body(const Body& b) override {
    return execute("INSERT OR REPLACE INTO bodies(bin,name) VALUES(?,?)", {b.bin, b.name});
  }

  Result<std::optional<Body>> find_body(std::string_view bin) override {
    std::optional<Body> out;
    Status s = with_db([&](sqlite3* db) -> Status {
      Stmt st(db, "SELECT bin,name FROM bodies WHERE bin=?");
      if (!st.ok()) return db_error(db, "prepare");
      st.text(1, bin);
      int rc = st.step();
      if (rc == SQLITE_ROW)
        out = Body{st.col_text(0), st.col_text(1)};
      else if (rc != SQLITE_DONE)
        return db_error(db, "select body");
      return {};
    });
    if (!s) return s.error();
    return out;
  }

  Status add_session(const Session& se) override {
    return execute(
        "INSERT INTO sessions(token_hash,iin,created_at,expires_at,revoked,stage,last_seen) "
        "VALUES(?,?,?,?,?,?,?)",
        {se.token_hash, se.iin, time::to_micros(se.created_at), time::to_micros(se.expires_at),
         int64_t{se.revoked ? 1 : 0}, se.stage, time::to_micros(se.last_seen)});
  }

  Result<std::optional<Session>> find_session(std::string_view token_hash) override {
    std::optional<Session> out;
    Status s = with_db([&](sqlite3* db) -> Status {
      Stmt st(db,
              "SELECT token_hash,iin,created_at,expires_at,revoked,stage,last_seen FROM sessions "
              "WHERE token_hash=?");
      if (!st.ok()) return db_error(db, "prepare");
      st.text(1, token_hash);
      int rc = st.step();
      if (rc == SQLITE_ROW) {
        out = row_session(st);
      } else if (rc != SQLITE_DONE) {
        return db_error(db, "select session");
      }
      return {};
    });
    if (!s) return s.error();
    return out;
  }

  Status revoke_session(std::string_view token_hash) override {
    return execute("UPDATE sessions SET revoked=1 WHERE token_hash=?", {token_hash});
  }
  Status revoke_sessions_of(std::string_view iin) override {
    return execute("UPDATE sessions SET revoked=1 WHERE iin=?", {iin});
  }

  Status set_session_stage(std::string_view token_hash, std::string_view stage) override {
    return execute("UPDATE sessions SET stage=? WHERE token_hash=? AND revoked=0",
                   {stage, token_hash},
                   {.none_changed = Error{"unauthenticated", "no such live session"}});
  }

  Status touch_session(std::string_view token_hash, time::Instant last_seen) override {
    return execute("UPDATE sessions SET last_seen=? WHERE token_hash=?",
                   {time::to_micros(last_seen), token_hash});
  }

  Result<std::vector<Session>> sessions_of(std::string_view iin) override {
    std::vector<Session> out;
    Status s = with_db([&](sqlite3* db) -> Status {
      Stmt st(db,
              "SELECT token_hash,iin,created_at,expires_at,revoked,stage,last_seen FROM sessions "
              "WHERE iin=? ORDER BY created_at");
      if (!st.ok()) return db_error(db, "prepare");
      st.text(1, iin);
      int rc;
      while ((rc = st.step()) == SQLITE_ROW) out.push_back(row_session(st));
      if (rc != SQLITE_DONE) return db_error(db, "list sessions");
      return {};
    });
    if (!s) return s.error();
    return out;
  }

  Status add_agreement(const Agreement& a) override {
    return execute(
        "INSERT INTO agreements(iin,version,text_sha256,cms,signed_at) VALUES(?,?,?,?,?)",
        {a.iin, a.version, a.text_sha256, a.cms_base64, time::to_micros(a.signed_at)},
        {.duplicate = Error{"agreement_exists", a.iin + " " + a.version}});
  }

  Result<std::optional<Agreement>> find_agreement(std::string_view iin,
                                                  std::string_view version) override {
    std::optional<Agreement> out;
    Status s = with_db([&](sqlite3* db) -> Status {
      Stmt st(db,
              "SELECT iin,version,text_sha256,cms,signed_at FROM agreements "
              "WHERE iin=? AND version=?");
      if (!st.ok()) return db_error(db, "prepare");
      st.text(1, iin);
      st.text(2, version);
      int rc = st.step();
      if (rc == SQLITE_ROW)
        out = Agreement{st.col_text(0), st.col_text(1), st.col_text(2), st.col_text(3),
                        time::from_micros(st.col_int(4))};
      else if (rc != SQLITE_DONE)
        return db_error(db, "select agreement");
      return {};
    });
    if (!s) return s.error();
    return out;
  }

  Status add_credential(const WebAuthnCredential& c) override {
    return execute(
        "INSERT INTO webauthn_credentials(id,iin,public_key,alg,sign_count,created_at,"
        "backup_eligible) VALUES(?,?,?,?,?,?,?)",
        {c.id, c.iin, c.public_key_der, int64_t{c.alg}, c.sign_count, time::to_micros(c.created_at),
         int64_t{c.backup_eligible ? 1 : 0}},
        {.duplicate = Error{"credential_exists", c.id}});
  }

  Result<std::vector<WebAuthnCredential>> credentials_of(std::string_view iin) override {
    std::vector<WebAuthnCredential> out;
    Status s = with_db([&](sqlite3* db) -> Status {
      Stmt st(db,
              "SELECT id,iin,public_key,alg,sign_count,created_at,backup_eligible FROM "
              "webauthn_credentials WHERE iin=? ORDER BY created_at");
      if (!st.ok()) return db_error(db, "prepare");
      st.text(1, iin);
      int rc;
      while ((rc = st.step()) == SQLITE_ROW)
        out.push_back({st.col_text(0), st.col_text(1), st.col_text(2),
                       static_cast<int>(st.col_int(3)), st.col_int(4),
                       time::from_micros(st.col_int(5)), st.col_int(6) != 0});
      if (rc != SQLITE_DONE) return db_error(db, "list credentials");
      return {};
    });
    if (!s) return s.error();
    return out;
  }

  Status set_sign_count(std::string_view credential_id, int64_t sign_count) override {
    // Conditional, so two logins racing with different counters can never move it backwards.
    return execute(
        "UPDATE webauthn_credentials SET sign_count=?1 WHERE id=?2 AND "
        "(sign_count < ?1 OR (sign_count = 0 AND ?1 = 0))",
        {sign_count, credential_id},
        {.none_changed = Error{"counter_regression", std::string(credential_id)}});
  }

  Status add_staff_role(const StaffRole& r) override {
    return execute("INSERT OR IGNORE INTO staff_roles(iin,role,body_bin) VALUES(?,?,?)",
                   {r.iin, r.role, r.body_bin});
  }

  Result<std::vector<StaffRole>> staff_roles_of(std::string_view iin) override {
    std::vector<StaffRole> out;
    Status s = with_db([&](sqlite3* db) -> Status {
      Stmt st(db, "SELECT iin,role,body_bin FROM staff_roles WHERE iin=? ORDER BY role");
      if (!st.ok()) return db_error(db, "prepare");
      st.text(1, iin);
      int rc;
      while ((rc = st.step()) == SQLITE_ROW)
        out.push_back({st.col_text(0), st.col_text(1), st.col_text(2)});
      if (rc != SQLITE_DONE) return db_error(db, "list staff roles");
      return {};
    });
    if (!s) return s.error();
    return out;
  }

  static constexpr const char* kApplicationColumns =
      "id,kind,iin,applicant,body_bin,data,cms,checks,status,received_at,due_at,decided_at,"
      "decided_by,reason,decision_cms";

  static Application row_application(Stmt& st) {
    Application a;
    a.id = st.col_text(0);
    a.kind = st.col_text(1);
    a.iin = st.col_text(2);
    a.applicant = st.col_text(3);
    a.body_bin = st.col_text(4);
    a.data = st.col_text(5);
    a.cms_base64 = st.col_text(6);
    a.checks = st.col_text(7);
    a.status = st.col_text(8);
    a.received_at = time::from_micros(st.col_int(9));
    a.due_at = time::from_micros(st.col_int(10));
    a.decided_at = time::from_micros(st.col_int(11));
    a.decided_by = st.col_text(12);
    a.reason = st.col_text(13);
    a.decision_cms_base64 = st.col_text(14);
    return a;
  }

  Status add_application(const Application& a) override {
    return execute(
        "INSERT INTO applications(id,kind,iin,applicant,body_bin,data,cms,checks,status,"
        "received_at,due_at) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
        {a.id, a.kind, a.iin, a.applicant, a.body_bin, a.data, a.cms_base64, a.checks, a.status,
         time::to_micros(a.received_at), time::to_micros(a.due_at)});
  }

  Result<std::optional<Application>> find_application(std::string_view id) override {
    std::optional<Application> out;
    Status s = with_db([&](sqlite3* db) -> Status {
      std::string sql =
          std::string("SELECT ") + kApplicationColumns + " FROM applications WHERE id=?";
      Stmt st(db, sql.c_str());
      if (!st.ok()) return db_error(db, "prepare");
      st.text(1, id);
      int rc = st.step();
      if (rc == SQLITE_ROW)
        out = row_application(st);
      else if (rc != SQLITE_DONE)
        return db_error(db, "select application");
      return {};
    });
    if (!s) return s.error();
    return out;
  }

  Result<std::vector<Application>> list_applications(std::string_view status) override {
    std::vector<Application> out;
    Status s = with_db([&](sqlite3* db) -> Status {
      std::string sql = std::string("SELECT ") + kApplicationColumns +
                        " FROM applications WHERE ?1 = '' OR status = ?1 ORDER BY received_at";
      Stmt st(db, sql.c_str());
      if (!st.ok()) return db_error(db, "prepare");
      st.text(1, status);
      int rc;
      while ((rc = st.step()) == SQLITE_ROW) out.push_back(row_application(st));
      if (rc != SQLITE_DONE) return db_error(db, "list applications");
      return {};
    });
    if (!s) return s.error();
    return out;
  }

  Status decide_application(const Application& a) override {
    return execute(
        "UPDATE applications SET status=?,decided_at=?,decided_by=?,reason=?,decision_cms=? "
        "WHERE id=? AND status='submitted'",
        {a.status, time::to_micros(a.decided_at), a.decided_by, a.reason, a.decision_cms_base64,
         a.id},
        {.none_changed = Error{"already_decided", a.id}});
  }

  Status record_entry(std::string_view iin, time::Instant at, bool reminded) override {
    return execute(reminded ? "UPDATE users SET last_entry_at=?1, reminded_at=?1 WHERE iin=?2"
                            : "UPDATE users SET last_entry_at=?1 WHERE iin=?2",
                   {time::to_micros(at), iin});
  }

  Status edit_user(std::string_view iin, std::string_view full_name,
                   std::string_view phone) override {
    return execute(
        "UPDATE users SET full_name = CASE WHEN ?1 = '' THEN full_name ELSE ?1 END, "
        "phone = CASE WHEN ?2 = '' THEN phone ELSE ?2 END WHERE iin = ?3",
        {full_name, phone, iin}, {.none_changed = Error{"user_unknown", std::string(iin)}});
  }

  Status update_user_post(std::string_view iin, std::string_view user_type,
                          std::string_view body_bin) override {
    return execute("UPDATE users SET user_type=?, body_bin=? WHERE iin=?",
                   {user_type, body_bin, iin},
                   {.none_changed = Error{"user_unknown", std::string(iin)}});
  }

  Status record_auth_failure(std::string_view iin, time::Instant at) override {
    return execute("INSERT INTO auth_failures(iin,at) VALUES(?,?)", {iin, time::to_micros(at)});
  }

  Result<int> count_auth_failures(std::string_view iin, time::Instant since) override {
    int n = 0;
    Status s = with_db([&](sqlite3* db) -> Status {
      Stmt st(db, "SELECT count(*) FROM auth_failures WHERE iin=? AND at>=?");
      if (!st.ok()) return db_error(db, "prepare");
      st.text(1, iin);
      st.integer(2, time::to_micros(since));
      if (st.step() != SQLITE_ROW) return db_error(db, "count failures");
      n = static_cast<int>(st.col_int(0));
      return {};
    });
    if (!s) return s.error();
    return n;
  }

  static constexpr const char* kResolutionColumns =
      "id,prosecutor_iin,number,date,body_bin,iins,period_from,period_to,purpose,document,cms,"
      "registered_at,log_seq";

  static Resolution row_resolution(Stmt& st) {
    Resolution r;
    r.id = st.col_text(0);
    r.prosecutor_iin = st.col_text(1);
    r.number = st.col_text(2);
    r.date = st.col_text(3);
    r.body_bin = st.col_text(4);
    // IINs are digits: stored comma-separated.
    std::string iins = st.col_text(5);
    for (size_t at = 0; at < iins.size();) {
      size_t comma = iins.find(',', at);
      if (comma == std::string::npos) comma = iins.size();
      r.iins.push_back(iins.substr(at, comma - at));
      at = comma + 1;
    }
    r.period_from = st.col_text(6);
    r.period_to = st.col_text(7);
    r.purpose = st.col_text(8);
    r.document = st.col_text(9);
    r.cms_base64 = st.col_text(10);
    r.registered_at = time::from_micros(st.col_int(11));
    r.log_seq = static_cast<uint64_t>(st.col_int(12));
    return r;
  }

  Status add_resolution(const Resolution& r) override {
    // Also a CHECK of the table; said here with the code parse_resolution() gives it.
    if (r.period_from > r.period_to)
      return Error{"invalid_document",
                   "period.from (" + r.period_from + ") is after period.to (" + r.period_to + ")"};
    std::string iins;
    for (const std::string& i : r.iins) iins += (iins.empty() ? "" : ",") + i;
    return execute(
        "INSERT INTO resolutions(id,prosecutor_iin,number,date,body_bin,iins,period_from,"
        "period_to,purpose,document,cms,registered_at,log_seq) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)",
        {r.id, r.prosecutor_iin, r.number, r.date, r.body_bin, iins, r.period_from, r.period_to,
         r.purpose, r.document, r.cms_base64, time::to_micros(r.registered_at),
         static_cast<int64_t>(r.log_seq)},
        {.duplicate = Error{"resolution_exists", "resolution " + r.number + " is registered"}});
  }

  Result<std::optional<Resolution>> find_resolution(std::string_view id) override {
    std::optional<Resolution> out;
    Status s = with_db([&](sqlite3* db) -> Status {
      std::string sql =
          std::string("SELECT ") + kResolutionColumns + " FROM resolutions WHERE id=?";
      Stmt st(db, sql.c_str());
      if (!st.ok()) return db_error(db, "prepare");
      st.text(1, id);
      int rc = st.step();
      if (rc == SQLITE_ROW)
        out = row_resolution(st);
      else if (rc != SQLITE_DONE)
        return db_error(db, "select resolution");
      return {};
    });
    if (!s) return s.error();
    return out;
  }

  Result<std::vector<Resolution>> resolutions_of(std::string_view prosecutor_iin) override {
    std::vector<Resolution> out;
    Status s = with_db([&](sqlite3* db) -> Status {
      std::string sql = std::string("SELECT ") + kResolutionColumns +
                        " FROM resolutions WHERE prosecutor_iin=? ORDER BY registered_at DESC";
      Stmt st(db, sql.c_str());
      if (!st.ok()) return db_error(db, "prepare");
      st.text(1, prosecutor_iin);
      int rc;
      while ((rc = st.step()) == SQLITE_ROW) out.push_back(row_resolution(st));
      if (rc != SQLITE_DONE) return db_error(db, "list resolutions");
      return {};
    });
    if (!s) return s.error();
    return out;
  }

  // ---- answers and exports (sqlite_materials.cpp) ----
  Status add_answers(const std::vector<StoredAnswer>& a) override {
    return with_db([&](sqlite3* db) { return sqlite_materials::add_answers(db, a); });
  }
  Result<std::vector<StoredAnswer>> answers_of_request(std::string_view id) override {
    return with_db([&](sqlite3* db) { return sqlite_materials::answers_of_request(db, id); });
  }
  Result<std::vector<StoredAnswer>> answers_of_material(std::string_view type,
                                                        std::string_view number,
                                                        std::string_view body_bin) override {
    return with_db([&](sqlite3* db) {
      return sqlite_materials::answers_of_material(db, type, number, body_bin);
    });
  }
  Result<std::vector<std::pair<std::string, std::string>>> destroy_answers(
      const std::vector<std::pair<std::string, std::string>>& keys, const Destruction& d,
      bool* checkpointed) override {
    return with_db(
        [&](sqlite3* db) { return sqlite_materials::destroy_answers(db, keys, d, checkpointed); });
  }
  Status add_export(const Export& e) override {
    return with_db([&](sqlite3* db) { return sqlite_materials::add_export(db, e); });
  }
  Result<std::optional<Export>> find_export(std::string_view id) override {
    return with_db([&](sqlite3* db) { return sqlite_materials::find_export(db, id); });
  }
  Status confirm_export(std::string_view id, time::Instant at) override {
    return with_db([&](sqlite3* db) { return sqlite_materials::confirm_export(db, id, at); });
  }
  Result<std::vector<Export>> list_exports(const ExportFilter& f) override {
    return with_db([&](sqlite3* db) { return sqlite_materials::list_exports(db, f); });
  }

 private:
  explicit SqliteStore(std::string path) : path_(std::move(path)) {}

  static Session row_session(Stmt& st) {
    return Session{st.col_text(0),
                   st.col_text(1),
                   time::from_micros(st.col_int(2)),
                   time::from_micros(st.col_int(3)),
                   st.col_int(4) != 0,
                   st.col_text(5),
                   time::from_micros(st.col_int(6))};
  }

  static User row_user(Stmt& st) {
    return User{st.col_text(0),
                st.col_text(1),
                st.col_text(2),
                st.col_text(3),
                st.col_text(4),
                st.col_text(5),
                time::from_micros(st.col_int(6)),
                time::from_micros(st.col_int(7)),
                time::from_micros(st.col_int(8))};
  }

  using Arg = std::variant<std::string_view, int64_t>;

  // Runs one write statement with `args` bound in order (?1… may repeat them). Errors: the
  // expected domain errors, else "store_unavailable".
  Status execute(const char* sql, std::initializer_list<Arg> args, const Expect& expect = {}) {
    return with_db([&](sqlite3* db) -> Status {
      Stmt st(db, sql);
      if (!st.ok()) return db_error(db, "prepare");
      int i = 1;
      for (const Arg& a : args) {
        if (const auto* text = std::get_if<std::string_view>(&a))
          st.text(i++, *text);
        else
          st.integer(i++, std::get<int64_t>(a));
      }
      int rc = st.step();
      if (rc == SQLITE_CONSTRAINT && expect.duplicate) {
        const int why = sqlite3_extended_errcode(db);
        if (why == SQLITE_CONSTRAINT_UNIQUE || why == SQLITE_CONSTRAINT_PRIMARYKEY)
          return *expect.duplicate;
      }
      if (rc != SQLITE_DONE) return db_error(db, "write");
      if (expect.none_changed && sqlite3_changes(db) == 0) return *expect.none_changed;
      return {};
    });
  }

  Result<sqlite3*> connect() {
    sqlite3* db = nullptr;
    int rc =
        sqlite3_open_v2(path_.c_str(), &db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      Error e = db_error(db, "open " + path_);
      sqlite3_close(db);
      return e;
    }
    sqlite3_busy_timeout(db, 5000);
    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;",
                 nullptr, nullptr, nullptr);
    // Answers and exports live in materials.db beside aaj.db (sqlite_materials.h says why).
    if (Status a = sqlite_materials::attach(db, path_); !a) {
      sqlite3_close(db);
      return a.error();
    }
    return db;
  }

  Result<sqlite3*> acquire() {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (!pool_.empty()) {
        sqlite3* db = pool_.back();
        pool_.pop_back();
        return db;
      }
    }
    return connect();
  }

  void release(sqlite3* db) {
    std::lock_guard<std::mutex> l(mu_);
    if (pool_.size() < 16) {
      pool_.push_back(db);
      return;
    }
    sqlite3_close(db);
  }

  // Runs f(db) on a connection of the pool; returns what f returns (a Status or a Result).
  template <class F>
  auto with_db(F&& f) -> decltype(f(nullptr)) {
    auto db = acquire();
    if (!db) return db.error();
    auto r = f(*db);
    release(*db);
    return r;
  }

  std::string path_;
  std::mutex mu_;
  std::vector<sqlite3*> pool_;
  std::mutex version_mu_;  // guards the four below
  sqlite3* version_db_ = nullptr;
  sqlite3_stmt* version_stmt_ = nullptr;
  bool watch_tried_ = false;
  std::unique_ptr<WalIndexWatch> watch_;  // set once, before watch_ready_
  std::atomic<bool> watch_ready_{false};
};

}  // namespace

void register_sqlite_backend() {
  register_backend("sqlite", &SqliteStore::open);
}

}  // namespace aaj::store
