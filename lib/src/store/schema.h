// The one schema of a promsqlite file (documented in docs/schema.md).
#ifndef PROMSQLITE_SRC_STORE_SCHEMA_H_
#define PROMSQLITE_SRC_STORE_SCHEMA_H_

#include <cstdint>
#include <string>
#include <utility>

#include "promsqlite/family.h"

namespace SQLite {
class Database;
class Statement;
}

namespace promsqlite::detail {

// PRAGMA user_version of the files this build writes.
constexpr int kSchemaVersion = 4;
// PRAGMA application_id marking a promsqlite file: "PrmS".
constexpr int32_t kApplicationId = 0x50726d53;

// Inside a write transaction: creates the schema in an empty file, migrates
// an older one, or throws DatabaseError for a foreign or newer file.
void CreateOrCheckSchema(SQLite::Database& db, const std::string& path);

// Inside a read transaction: the file's schema version (readers handle every
// version up to kSchemaVersion), 0 while it is still empty; throws
// DatabaseError for a foreign or newer file.
int CheckSchemaReadable(SQLite::Database& db, const std::string& path);

// SELECT lists for families and series that work on every readable version.
std::string FamilyColumns(int version);  // kFamilyColumns columns, for ReadFamilyRow
// id, labels, value, count, created, updated, writer_id, native_schema
std::string SeriesColumns(int version);
constexpr int kFamilyColumns = 13;

// The family at the current row of a statement selecting FamilyColumns().
std::pair<int64_t, FamilySpec> ReadFamilyRow(SQLite::Statement& row, const std::string& path);

// How a FamilySpec is stored in the families table.
struct FamilyRow {
  std::string type;         // MetricTypeName()
  std::string label_names;  // sorted, comma-separated
  std::string buckets;      // Go-formatted bounds, comma-separated
  std::string states;       // tuple encoding (tuple_codec.h)
  std::string gauge_mode;   // GaugeModeName()
  double ttl_seconds = 0;
  // Native histograms: the schema the family's series start at; no value
  // (NULL) for families without one.
  bool native = false;
  int native_schema = 0;
  double native_zero_threshold = 0;
  int64_t native_max_buckets = 0;
};
FamilyRow EncodeFamily(const FamilySpec& spec);
// `spec` gets name/help/unit from the caller; throws DatabaseError naming
// `path` when a stored field is malformed.
FamilySpec DecodeFamily(const std::string& name, const std::string& help, const std::string& unit,
                        const FamilyRow& row, const std::string& path);

}  // namespace promsqlite::detail

#endif  // PROMSQLITE_SRC_STORE_SCHEMA_H_
