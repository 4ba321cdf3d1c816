// The one schema of a promsqlite file (documented in docs/schema.md).
#ifndef PROMSQLITE_SRC_STORE_SCHEMA_H_
#define PROMSQLITE_SRC_STORE_SCHEMA_H_

#include <cstdint>
#include <string>

#include "promsqlite/family.h"

namespace SQLite {
class Database;
}

namespace promsqlite::detail {

// PRAGMA user_version of the files this build writes.
constexpr int kSchemaVersion = 1;
// PRAGMA application_id marking a promsqlite file: "PrmS".
constexpr int32_t kApplicationId = 0x50726d53;

// Inside a write transaction: creates the schema in an empty file, migrates
// an older one, or throws DatabaseError for a foreign or newer file.
void CreateOrCheckSchema(SQLite::Database& db, const std::string& path);

// Inside a read transaction: true when the file holds our schema, false when
// it is still empty (nothing written yet); throws DatabaseError otherwise.
bool CheckSchemaReadable(SQLite::Database& db, const std::string& path);

// How a FamilySpec is stored in the families table.
struct FamilyRow {
  std::string type;         // MetricTypeName()
  std::string label_names;  // sorted, comma-separated
  std::string buckets;      // Go-formatted bounds, comma-separated
  std::string states;       // tuple encoding (tuple_codec.h)
};
FamilyRow EncodeFamily(const FamilySpec& spec);
// `spec` gets name/help/unit from the caller; throws DatabaseError naming
// `path` when a stored field is malformed.
FamilySpec DecodeFamily(const std::string& name, const std::string& help, const std::string& unit,
                        const FamilyRow& row, const std::string& path);

}  // namespace promsqlite::detail

#endif  // PROMSQLITE_SRC_STORE_SCHEMA_H_
