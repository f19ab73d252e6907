// Internal to the SQLite backend (sqlite_store.cpp, sqlite_materials.cpp): the error of a failed
// SQLite call, a prepared statement that finalizes itself, and running plain SQL.
#pragma once
#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace aaj::store::sqlite {

// "store_unavailable" with `what` and SQLite's message for the connection's last error.
inline Error db_error(sqlite3* db, const std::string& what) {
  return Error{"store_unavailable", what + ": " + (db ? sqlite3_errmsg(db) : "no connection")};
}

// One prepared statement, finalized on scope exit. ok() is false when preparing failed (the
// connection's error says why: db_error(db, …)).
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) {
    if (sqlite3_prepare_v2(db, sql, -1, &s_, nullptr) != SQLITE_OK) s_ = nullptr;
  }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  bool ok() const { return s_ != nullptr; }
  void text(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void blob(int i, std::string_view v) {
    sqlite3_bind_blob(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void integer(int i, int64_t v) { sqlite3_bind_int64(s_, i, v); }
  int step() { return sqlite3_step(s_); }
  // Ready to be bound and stepped again.
  void reset() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  // A text or blob column byte for byte ("" for NULL).
  std::string col_text(int i) {
    const void* p = sqlite3_column_blob(s_, i);
    return p ? std::string(static_cast<const char*>(p), sqlite3_column_bytes(s_, i)) : "";
  }
  int64_t col_int(int i) { return sqlite3_column_int64(s_, i); }

 private:
  sqlite3_stmt* s_ = nullptr;
};

// Runs `sql` (one or more statements). Error "store_unavailable" with SQLite's message, prefixed
// with `what` when given.
inline Status exec(sqlite3* db, const std::string& sql, const std::string& what = "") {
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) == SQLITE_OK) return {};
  std::string m = err ? err : sql;
  sqlite3_free(err);
  return Error{"store_unavailable", what.empty() ? m : what + ": " + m};
}

}  // namespace aaj::store::sqlite
