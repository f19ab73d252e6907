// Internal to the SQLite backend: the tables of schema version 5 — answers kept with their
// materials and the exports made of them (R-USE-2, R-USE-3) — and the statements on them. Each
// function runs on a connection the caller holds (sqlite_store.cpp's pool) and returns
// "store_unavailable" on SQLite errors, or the domain errors named in store.h.
#pragma once
#include <sqlite3.h>

#include "store/store.h"

namespace aaj::store::sqlite_materials {

// CREATE TABLE/INDEX IF NOT EXISTS for answers and exports: run for new files and, inside the
// upgrade transaction, as the step from version 4 to 5.
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
