// Internal to the SQLite backend: the tables of schema version 5 — answers kept with their
// materials and the exports made of them (R-USE-2, R-USE-3) — and the statements on them. Each
// function runs on a connection the caller holds (sqlite_store.cpp's pool) and returns
// "store_unavailable" on SQLite errors, or the domain errors named in store.h.
#pragma once
#include <sqlite3.h>

#include "store/store.h"

namespace aaj::store::sqlite_materials {

// The tables live in their own database file, materials.db beside aaj.db, attached to every
// connection of the store as schema "materials" (WAL, synchronous=FULL, secure_delete), because
//  - the store's change stamp follows aaj.db's commits only (its WAL index header, or PRAGMA
//    data_version), and it validates the session cache:
//    answers committed at the rate of data requests would invalidate it on every batch, while
//    commits to an attached file leave it unchanged;
//  - SQLite has one writer per file: the archive's batches and a destruction's checkpoint do not
//    hold up entries, sessions and operators' actions, nor they the archive.
// Statements name the tables unqualified (SQLite finds them in the attached schema); a
// transaction begins DEFERRED so that it locks materials.db only.
inline constexpr const char* kSchemaName = "materials";
inline constexpr const char* kFileName = "materials.db";

// Attaches <folder of main_db_path>/materials.db (created if missing) as schema "materials" and
// sets its pragmas. Error "store_unavailable".
Status attach(sqlite3* db, const std::string& main_db_path);

// CREATE TABLE/INDEX IF NOT EXISTS for answers and exports in the attached file: run at every
// open of the store, which makes it the step from version 4 to 5 as well as a new file's schema.
extern const char* const kSchemaV5;

Status add_answers(sqlite3* db, const std::vector<StoredAnswer>& answers);
Result<std::vector<StoredAnswer>> answers_of_request(sqlite3* db, std::string_view request_id);
Result<std::vector<StoredAnswer>> answers_of_material(sqlite3* db, std::string_view type,
                                                      std::string_view number,
                                                      std::string_view body_bin);
Result<std::vector<std::pair<std::string, std::string>>> destroy_answers(
    sqlite3* db, const std::vector<std::pair<std::string, std::string>>& keys, const Destruction& d,
    bool* checkpointed);

Status add_export(sqlite3* db, const Export& e);
Result<std::optional<Export>> find_export(sqlite3* db, std::string_view id);
Status confirm_export(sqlite3* db, std::string_view id, time::Instant at);
Result<std::vector<Export>> list_exports(sqlite3* db, const ExportFilter& f);

}  // namespace aaj::store::sqlite_materials
