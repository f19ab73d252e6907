// Answers kept with their materials and their exports, in SQLite (schema version 5), in the
// attached file materials.db.
//
// Destruction: the answer's bytes are first overwritten with zeros of the same length (SQLite
// rewrites a cell of unchanged size in place, overflow pages included), then set to NULL; the
// connection runs with secure_delete on, so the space the row gives up is zeroed as well. In WAL
// mode the zeroed pages are first written to the WAL while older frames and the database file
// still hold the old bytes, so the destruction ends with a TRUNCATE checkpoint: the zeroed pages
// are copied into materials.db and its WAL file is cut to nothing.
#include "store/sqlite_materials.h"

#include <filesystem>

#include "store/sqlite_util.h"

namespace aaj::store::sqlite_materials {
namespace {

using sqlite::db_error;
using sqlite::exec;
using sqlite::Stmt;

// Runs body inside BEGIN … COMMIT; rolls back when it fails. DEFERRED: BEGIN IMMEDIATE would
// take the write lock of every attached file, aaj.db's too; the first statement of each body
// writes, so the lock it takes (materials.db's) is taken with the busy handler.
template <class F>
Status transaction(sqlite3* db, F&& body) {
  if (Status s = exec(db, "BEGIN"); !s) return s;
  Status s = body();
  if (s) s = exec(db, "COMMIT");
  if (!s) (void)exec(db, "ROLLBACK");
  return s;
}

constexpr const char* kAnswerColumns =
    "request_id,resource,material_type,material_number,iin,body_bin,found,truncated,data,"
    "data_size,sha256,log_seq,logged_at,stored_at,destroyed_at,destroyed_by,destruction_act,"
    "destruction_act_date,destruction_log_seq";

StoredAnswer row_answer(Stmt& st) {
  StoredAnswer a;
  a.request_id = st.col_text(0);
  a.resource = st.col_text(1);
  a.material_type = st.col_text(2);
  a.material_number = st.col_text(3);
  a.iin = st.col_text(4);
  a.body_bin = st.col_text(5);
  a.found = st.col_int(6) != 0;
  a.truncated = st.col_int(7) != 0;
  a.data = st.col_text(8);
  a.data_size = st.col_int(9);
  a.sha256 = st.col_text(10);
  a.log_seq = static_cast<uint64_t>(st.col_int(11));
  a.logged_at = time::from_micros(st.col_int(12));
  a.stored_at = time::from_micros(st.col_int(13));
  a.destroyed_at = time::from_micros(st.col_int(14));
  a.destroyed_by = st.col_text(15);
  a.destruction_act = st.col_text(16);
  a.destruction_act_date = st.col_text(17);
  a.destruction_log_seq = static_cast<uint64_t>(st.col_int(18));
  return a;
}

constexpr const char* kExportColumns =
    "id,request_id,iin,body_bin,format,sha256,size,exported_at,log_seq,confirmed_at";

Export row_export(Stmt& st) {
  Export e;
  e.id = st.col_text(0);
  e.request_id = st.col_text(1);
  e.iin = st.col_text(2);
  e.body_bin = st.col_text(3);
  e.format = st.col_text(4);
  e.sha256 = st.col_text(5);
  e.size = st.col_int(6);
  e.exported_at = time::from_micros(st.col_int(7));
  e.log_seq = static_cast<uint64_t>(st.col_int(8));
  e.confirmed_at = time::from_micros(st.col_int(9));
  return e;
}

}  // namespace

Status attach(sqlite3* db, const std::string& main_db_path) {
  std::string file = (std::filesystem::path(main_db_path).parent_path() / kFileName).string();
  Stmt st(db, "ATTACH DATABASE ? AS materials");
  if (!st.ok()) return db_error(db, "prepare attach");
  st.text(1, file);
  if (st.step() != SQLITE_DONE) return db_error(db, "attach " + file);
  // 16 KB pages (before the file's first write; an existing file keeps its size): an answer of
  // ~2 KB costs the kernel per page it writes, twice (WAL, checkpoint), and 4 KB pages made the
  // archive's writer the largest cost outside a request's parts (decision 69).
  return exec(db,
              "PRAGMA materials.page_size=16384; PRAGMA materials.journal_mode=WAL; "
              "PRAGMA materials.synchronous=FULL; PRAGMA materials.secure_delete=ON;");
}

const char* const kSchemaV5 = R"SQL(
CREATE TABLE IF NOT EXISTS materials.answers (
  request_id TEXT NOT NULL,
  resource TEXT NOT NULL,
  material_type TEXT NOT NULL,
  material_number TEXT NOT NULL,
  iin TEXT NOT NULL,
  body_bin TEXT NOT NULL,
  found INTEGER NOT NULL,
  truncated INTEGER NOT NULL,
  data BLOB,
  data_size INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  log_seq INTEGER NOT NULL,
  logged_at INTEGER NOT NULL,
  stored_at INTEGER NOT NULL,
  destroyed_at INTEGER NOT NULL DEFAULT 0,
  destroyed_by TEXT NOT NULL DEFAULT '',
  destruction_act TEXT NOT NULL DEFAULT '',
  destruction_act_date TEXT NOT NULL DEFAULT '',
  destruction_log_seq INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (request_id, resource),
  CHECK ((destroyed_at = 0) = (data IS NOT NULL))
);
CREATE INDEX IF NOT EXISTS materials.answers_by_material
  ON answers(material_type, material_number, body_bin);
CREATE TABLE IF NOT EXISTS materials.exports (
  id TEXT PRIMARY KEY,
  request_id TEXT NOT NULL,
  iin TEXT NOT NULL,
  body_bin TEXT NOT NULL,
  format TEXT NOT NULL CHECK (format IN ('json', 'pdf')),
  sha256 TEXT NOT NULL,
  size INTEGER NOT NULL,
  exported_at INTEGER NOT NULL,
  log_seq INTEGER NOT NULL,
  confirmed_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS materials.exports_by_iin ON exports(iin, confirmed_at, exported_at);
CREATE INDEX IF NOT EXISTS materials.exports_by_body
  ON exports(body_bin, confirmed_at, exported_at);
)SQL";

Status add_answers(sqlite3* db, const std::vector<StoredAnswer>& answers) {
  if (answers.empty()) return {};
  return transaction(db, [&]() -> Status {
    Stmt st(db,
            "INSERT OR IGNORE INTO answers(request_id,resource,material_type,material_number,iin,"
            "body_bin,found,truncated,data,data_size,sha256,log_seq,logged_at,stored_at) "
            "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    if (!st.ok()) return db_error(db, "prepare");
    for (const StoredAnswer& a : answers) {
      st.text(1, a.request_id);
      st.text(2, a.resource);
      st.text(3, a.material_type);
      st.text(4, a.material_number);
      st.text(5, a.iin);
      st.text(6, a.body_bin);
      st.integer(7, a.found ? 1 : 0);
      st.integer(8, a.truncated ? 1 : 0);
      st.blob(9, a.data);
      st.integer(10, static_cast<int64_t>(a.data.size()));
      st.text(11, a.sha256);
      st.integer(12, static_cast<int64_t>(a.log_seq));
      st.integer(13, time::to_micros(a.logged_at));
      st.integer(14, time::to_micros(a.stored_at));
      if (st.step() != SQLITE_DONE) return db_error(db, "insert answer");
      st.reset();
    }
    return {};
  });
}

Result<std::vector<StoredAnswer>> answers_of_request(sqlite3* db, std::string_view request_id) {
  std::string sql = std::string("SELECT ") + kAnswerColumns +
                    " FROM answers WHERE request_id=? ORDER BY resource";
  Stmt st(db, sql.c_str());
  if (!st.ok()) return db_error(db, "prepare");
  st.text(1, request_id);
  std::vector<StoredAnswer> out;
  int rc;
  while ((rc = st.step()) == SQLITE_ROW) out.push_back(row_answer(st));
  if (rc != SQLITE_DONE) return db_error(db, "select answers");
  return out;
}

Result<std::vector<StoredAnswer>> answers_of_material(sqlite3* db, std::string_view type,
                                                      std::string_view number,
                                                      std::string_view body_bin) {
  // Everything but the data: a destruction lists what it destroys, it never reads it.
  std::string cols = kAnswerColumns;
  cols.replace(cols.find(",data,"), 6, ",NULL,");
  std::string sql = "SELECT " + cols +
                    " FROM answers WHERE material_type=? AND material_number=? AND body_bin=? "
                    "ORDER BY logged_at, request_id, resource";
  Stmt st(db, sql.c_str());
  if (!st.ok()) return db_error(db, "prepare");
  st.text(1, type);
  st.text(2, number);
  st.text(3, body_bin);
  std::vector<StoredAnswer> out;
  int rc;
  while ((rc = st.step()) == SQLITE_ROW) out.push_back(row_answer(st));
  if (rc != SQLITE_DONE) return db_error(db, "select material");
  return out;
}

Result<std::vector<std::pair<std::string, std::string>>> destroy_answers(
    sqlite3* db, const std::vector<std::pair<std::string, std::string>>& keys, const Destruction& d,
    bool* checkpointed) {
  std::vector<std::pair<std::string, std::string>> destroyed;
  if (checkpointed) *checkpointed = false;
  Status s = transaction(db, [&]() -> Status {
    Stmt zero(db,
              "UPDATE answers SET data=zeroblob(data_size) "
              "WHERE request_id=? AND resource=? AND destroyed_at=0");
    Stmt drop(db,
              "UPDATE answers SET data=NULL, destroyed_at=?, destroyed_by=?, destruction_act=?, "
              "destruction_act_date=?, destruction_log_seq=? "
              "WHERE request_id=? AND resource=? AND destroyed_at=0");
    if (!zero.ok() || !drop.ok()) return db_error(db, "prepare");
    for (const auto& [request_id, resource] : keys) {
      zero.text(1, request_id);
      zero.text(2, resource);
      if (zero.step() != SQLITE_DONE) return db_error(db, "overwrite answer");
      zero.reset();
      if (sqlite3_changes(db) == 0) continue;  // unknown, or destroyed already
      drop.integer(1, time::to_micros(d.at));
      drop.text(2, d.by);
      drop.text(3, d.act_number);
      drop.text(4, d.act_date);
      drop.integer(5, static_cast<int64_t>(d.log_seq));
      drop.text(6, request_id);
      drop.text(7, resource);
      if (drop.step() != SQLITE_DONE) return db_error(db, "destroy answer");
      drop.reset();
      destroyed.emplace_back(request_id, resource);
    }
    return {};
  });
  if (!s) return s.error();
  // The old bytes live on in WAL frames and in the main file until the zeroed pages are
  // checkpointed; TRUNCATE also cuts the WAL file to zero length. Readers can keep it from
  // completing (the busy timeout waits for them); the caller reports it.
  Stmt cp(db, "PRAGMA materials.wal_checkpoint(TRUNCATE)");
  if (cp.ok() && cp.step() == SQLITE_ROW && checkpointed) *checkpointed = cp.col_int(0) == 0;
  return destroyed;
}

Status add_export(sqlite3* db, const Export& e) {
  Stmt st(db,
          "INSERT INTO exports(id,request_id,iin,body_bin,format,sha256,size,exported_at,log_seq,"
          "confirmed_at) VALUES(?,?,?,?,?,?,?,?,?,?)");
  if (!st.ok()) return db_error(db, "prepare");
  st.text(1, e.id);
  st.text(2, e.request_id);
  st.text(3, e.iin);
  st.text(4, e.body_bin);
  st.text(5, e.format);
  st.text(6, e.sha256);
  st.integer(7, e.size);
  st.integer(8, time::to_micros(e.exported_at));
  st.integer(9, static_cast<int64_t>(e.log_seq));
  st.integer(10, time::to_micros(e.confirmed_at));
  if (st.step() != SQLITE_DONE) return db_error(db, "insert export");
  return {};
}

Result<std::optional<Export>> find_export(sqlite3* db, std::string_view id) {
  std::string sql = std::string("SELECT ") + kExportColumns + " FROM exports WHERE id=?";
  Stmt st(db, sql.c_str());
  if (!st.ok()) return db_error(db, "prepare");
  st.text(1, id);
  int rc = st.step();
  if (rc == SQLITE_ROW) return std::optional<Export>(row_export(st));
  if (rc != SQLITE_DONE) return db_error(db, "select export");
  return std::optional<Export>();
}

Status confirm_export(sqlite3* db, std::string_view id, time::Instant at) {
  Stmt st(db, "UPDATE exports SET confirmed_at=? WHERE id=? AND confirmed_at=0");
  if (!st.ok()) return db_error(db, "prepare");
  st.integer(1, time::to_micros(at));
  st.text(2, id);
  if (st.step() != SQLITE_DONE) return db_error(db, "confirm export");
  if (sqlite3_changes(db) == 1) return {};
  auto e = find_export(db, id);
  if (!e) return e.error();
  if (!*e) return Error{"export_unknown", std::string(id)};
  return Error{"already_confirmed", std::string(id)};
}

Result<std::vector<Export>> list_exports(sqlite3* db, const ExportFilter& f) {
  std::string sql = std::string("SELECT ") + kExportColumns +
                    " FROM exports WHERE (?1 = '' OR iin = ?1) AND (?2 = '' OR body_bin = ?2) "
                    "AND (?3 = 0 OR confirmed_at = 0) AND (?4 = 0 OR exported_at < ?4) "
                    "ORDER BY exported_at, id";
  Stmt st(db, sql.c_str());
  if (!st.ok()) return db_error(db, "prepare");
  st.text(1, f.iin);
  st.text(2, f.body_bin);
  st.integer(3, f.unconfirmed_only ? 1 : 0);
  st.integer(4, time::to_micros(f.exported_before));
  std::vector<Export> out;
  int rc;
  while ((rc = st.step()) == SQLITE_ROW) out.push_back(row_export(st));
  if (rc != SQLITE_DONE) return db_error(db, "list exports");
  return out;
}

}  // namespace aaj::store::sqlite_materials
