#include "store/schema.h"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <algorithm>

#include "promsqlite/errors.h"
#include "render/float_format.h"
#include "store/tuple_codec.h"

namespace promsqlite::detail {
namespace {

// Version 1. Counts are INTEGER; values are REAL where NULL means NaN
// (SQLite stores a bound NaN as NULL).
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE families (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  name        TEXT NOT NULL UNIQUE,
  type        TEXT NOT NULL,
  help        TEXT NOT NULL,
  unit        TEXT NOT NULL,
  label_names TEXT NOT NULL,
  buckets     TEXT NOT NULL,
  states      BLOB NOT NULL,
  created     REAL NOT NULL
);
CREATE TABLE series (
  id        INTEGER PRIMARY KEY AUTOINCREMENT,
  family_id INTEGER NOT NULL,
  labels    BLOB NOT NULL,
  value     REAL,
  count     INTEGER NOT NULL DEFAULT 0,
  created   REAL NOT NULL,
  updated   REAL NOT NULL,
  UNIQUE (family_id, labels)
);
CREATE TABLE bucket_counts (
  series_id INTEGER NOT NULL,
  bucket    INTEGER NOT NULL,
  count     INTEGER NOT NULL,
  PRIMARY KEY (series_id, bucket)
) WITHOUT ROWID;
)sql";

int PragmaInt(SQLite::Database& db, const char* pragma) {
  SQLite::Statement query(db, std::string("PRAGMA ") + pragma);
  query.executeStep();
  return query.getColumn(0).getInt();
}

bool HasTables(SQLite::Database& db) {
  SQLite::Statement query(db, "SELECT count(*) FROM sqlite_schema");
  query.executeStep();
  return query.getColumn(0).getInt() > 0;
}

// Throws for a file that is not ours or is newer; true when it has our
// schema, false when it has no tables at all.
bool Classify(SQLite::Database& db, const std::string& path) {
  int application_id = PragmaInt(db, "application_id");
  int version = PragmaInt(db, "user_version");
  if (application_id == 0 && version == 0 && !HasTables(db)) return false;
  if (application_id != kApplicationId)
    throw DatabaseError(path + ": not a promsqlite database (an SQLite file of another application)");
  if (version > kSchemaVersion)
    throw DatabaseError(path + ": written by a newer promsqlite (schema version " + std::to_string(version) +
                        "; this build reads up to " + std::to_string(kSchemaVersion) + ")");
  if (version < 1)
    throw DatabaseError(path + ": promsqlite schema version " + std::to_string(version) + " is unknown");
  return true;
}

}  // namespace

void CreateOrCheckSchema(SQLite::Database& db, const std::string& path) {
  if (Classify(db, path)) return;  // version 1 is the first: nothing to migrate yet
  db.exec(kSchemaV1);
  db.exec("PRAGMA application_id = " + std::to_string(kApplicationId));
  db.exec("PRAGMA user_version = " + std::to_string(kSchemaVersion));
}

bool CheckSchemaReadable(SQLite::Database& db, const std::string& path) { return Classify(db, path); }

FamilyRow EncodeFamily(const FamilySpec& spec) {
  FamilyRow row;
  row.type = MetricTypeName(spec.type);
  std::vector<std::string> names = spec.label_names;
  std::sort(names.begin(), names.end());
  for (size_t i = 0; i < names.size(); ++i) row.label_names += (i ? "," : "") + names[i];
  for (size_t i = 0; i < spec.buckets.size(); ++i) {
    if (i) row.buckets += ',';
    AppendGoFloat(row.buckets, spec.buckets[i]);
  }
  row.states = EncodeTuple(spec.states);
  return row;
}

FamilySpec DecodeFamily(const std::string& name, const std::string& help, const std::string& unit,
                        const FamilyRow& row, const std::string& path) {
  auto corrupt = [&](const std::string& what) {
    return DatabaseError(path + ": family '" + name + "' has a malformed " + what);
  };
  FamilySpec spec;
  spec.name = name;
  spec.help = help;
  spec.unit = unit;
  static constexpr MetricType kTypes[] = {MetricType::kCounter, MetricType::kGauge,
                                          MetricType::kHistogram, MetricType::kSummary,
                                          MetricType::kInfo, MetricType::kStateSet};
  bool known = false;
  for (MetricType t : kTypes) {
    if (row.type == MetricTypeName(t)) { spec.type = t; known = true; }
  }
  if (!known) throw corrupt("type \"" + row.type + "\"");
  auto split = [](const std::string& s) {
    std::vector<std::string> parts;
    if (s.empty()) return parts;
    size_t start = 0;
    for (size_t comma; (comma = s.find(',', start)) != std::string::npos; start = comma + 1)
      parts.push_back(s.substr(start, comma - start));
    parts.push_back(s.substr(start));
    return parts;
  };
  spec.label_names = split(row.label_names);
  for (const std::string& bound : split(row.buckets)) {
    double value;
    if (!ParseFloat(bound, &value)) throw corrupt("bucket bound \"" + bound + "\"");
    spec.buckets.push_back(value);
  }
  if (!DecodeTuple(row.states, &spec.states)) throw corrupt("state list");
  return spec;
}

}  // namespace promsqlite::detail
