// A file's schema (docs/schema.md): recognizing it, creating or migrating it
// with store/sql.h's tables and migrations, and how a declaration is stored
// as a families row.
#ifndef PROMSQLITE_SRC_STORE_SCHEMA_H_
#define PROMSQLITE_SRC_STORE_SCHEMA_H_

#include <cstdint>
#include <string>
#include <utility>

#include "promsqlite/family.h"
#include "store/sql.h"
#include "store/sql_rows.h"

namespace promsqlite::detail {

// Inside a write transaction: creates the schema in an empty file, migrates
// an older one (store/sql.h has the tables and sql::kMigrations), or throws
// DatabaseError for a foreign or newer file.
void CreateOrCheckSchema(SQLite::Database& db, const std::string& path);

// Inside a read transaction: the file's schema version (readers handle every
// version up to kSchemaVersion), 0 while it is still empty; throws
// DatabaseError for a foreign or newer file.
int CheckSchemaReadable(SQLite::Database& db, const std::string& path);

// The family at the current row of a statement selecting
// sql::kFamilyColumns, with its id.
std::pair<int64_t, FamilySpec> ReadFamily(const SQLite::Statement& row, const std::string& path);

// How a FamilySpec is stored in the families table (all but id and created).
FamilyRow EncodeFamily(const FamilySpec& spec);
// Throws DatabaseError naming `path` when a stored field is malformed.
FamilySpec DecodeFamily(const FamilyRow& row, const std::string& path);
// The same without throwing: *problem names the malformed field ("type
// \"x\"", "bucket bound \"y\"", "state list", "gauge mode \"z\"", "native
// histogram"), empty when there is none.
FamilySpec DecodeFamily(const FamilyRow& row, std::string* problem);

}  // namespace promsqlite::detail

#endif  // PROMSQLITE_SRC_STORE_SCHEMA_H_
