#include "store/schema.h"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <algorithm>

#include "base/float_format.h"
#include "base/tuple_codec.h"
#include "declare/native_histogram.h"
#include "promsqlite/errors.h"

namespace promsqlite::detail {
namespace {

// Version 1, the first layout. Every new file is created as version 1 and
// migrated, so the migrations run on every test that makes a file. Counts
// are INTEGER; values are REAL where NULL means NaN (SQLite stores a bound
// NaN as NULL).
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

// Version 2: per-process gauges (writers, series.writer_id) and TTLs.
constexpr const char* kMigrateV1ToV2 = R"sql(
ALTER TABLE families ADD COLUMN gauge_mode TEXT NOT NULL DEFAULT '';
ALTER TABLE families ADD COLUMN ttl_seconds REAL NOT NULL DEFAULT 0;
CREATE TABLE writers (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  pid        INTEGER NOT NULL,
  start_time INTEGER NOT NULL,
  boot_id    TEXT NOT NULL,
  created    REAL NOT NULL,
  UNIQUE (pid, start_time, boot_id)
);
CREATE TABLE series_v2 (
  id        INTEGER PRIMARY KEY AUTOINCREMENT,
  family_id INTEGER NOT NULL,
  labels    BLOB NOT NULL,
  writer_id INTEGER NOT NULL DEFAULT 0,
  value     REAL,
  count     INTEGER NOT NULL DEFAULT 0,
  created   REAL NOT NULL,
  updated   REAL NOT NULL,
  UNIQUE (family_id, labels, writer_id)
);
INSERT INTO series_v2 (id, family_id, labels, writer_id, value, count, created, updated)
  SELECT id, family_id, labels, 0, value, count, created, updated FROM series;
DROP TABLE series;
ALTER TABLE series_v2 RENAME TO series;
)sql";

// Version 3: native histograms (docs/schema.md). A series' native_schema is
// NULL until its resolution is first lowered: then it is the family's. The
// trigger deletes a series' native buckets with it, whichever statement or
// program deletes the series.
constexpr const char* kMigrateV2ToV3 = R"sql(
ALTER TABLE families ADD COLUMN native_schema INTEGER;
ALTER TABLE families ADD COLUMN native_zero_threshold REAL NOT NULL DEFAULT 0;
ALTER TABLE families ADD COLUMN native_max_buckets INTEGER NOT NULL DEFAULT 0;
ALTER TABLE series ADD COLUMN native_schema INTEGER;
CREATE TABLE native_buckets (
  series_id INTEGER NOT NULL,
  sign      INTEGER NOT NULL,
  bucket    INTEGER NOT NULL,
  count     INTEGER NOT NULL,
  PRIMARY KEY (series_id, sign, bucket)
) WITHOUT ROWID;
CREATE TRIGGER series_deletes_native_buckets AFTER DELETE ON series BEGIN
  DELETE FROM native_buckets WHERE series_id = old.id;
END;
)sql";

// Version 4: exemplars (docs/schema.md). One per counter series (bucket 0)
// and per classic histogram bucket (its index; the +Inf bucket's is the
// number of bounds): the one with the latest timestamp of all writers. The
// trigger deletes a series' exemplars with it.
constexpr const char* kMigrateV3ToV4 = R"sql(
CREATE TABLE exemplars (
  series_id INTEGER NOT NULL,
  bucket    INTEGER NOT NULL,
  labels    BLOB NOT NULL,
  value     REAL NOT NULL,
  timestamp REAL NOT NULL,
  PRIMARY KEY (series_id, bucket)
) WITHOUT ROWID;
CREATE TRIGGER series_deletes_exemplars AFTER DELETE ON series BEGIN
  DELETE FROM exemplars WHERE series_id = old.id;
END;
)sql";

// kMigrations[v - 1] turns version v into v + 1.
constexpr const char* kMigrations[] = {kMigrateV1ToV2, kMigrateV2ToV3, kMigrateV3ToV4};
static_assert(sizeof kMigrations / sizeof kMigrations[0] == kSchemaVersion - 1, "one migration per version");

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

// The file's schema version, 0 for a file without any table; throws for a
// file that is not ours or is newer.
int Classify(SQLite::Database& db, const std::string& path) {
  int application_id = PragmaInt(db, "application_id");
  int version = PragmaInt(db, "user_version");
  if (application_id == 0 && version == 0 && !HasTables(db)) return 0;
  if (application_id != kApplicationId)
    throw DatabaseError(path + ": not a promsqlite database (an SQLite file of another application)");
  if (version > kSchemaVersion)
    throw DatabaseError(path + ": written by a newer promsqlite (schema version " + std::to_string(version) +
                        "; this build reads up to " + std::to_string(kSchemaVersion) + ")");
  if (version < 1)
    throw DatabaseError(path + ": promsqlite schema version " + std::to_string(version) + " is unknown");
  return version;
}

}  // namespace

void CreateOrCheckSchema(SQLite::Database& db, const std::string& path) {
  int version = Classify(db, path);
  if (version == 0) {
    db.exec(kSchemaV1);
    db.exec("PRAGMA application_id = " + std::to_string(kApplicationId));
    version = 1;
  }
  for (; version < kSchemaVersion; ++version) db.exec(kMigrations[version - 1]);
  db.exec("PRAGMA user_version = " + std::to_string(kSchemaVersion));
}

int CheckSchemaReadable(SQLite::Database& db, const std::string& path) { return Classify(db, path); }

std::string FamilyColumns(int version) {
  std::string columns = version >= 2
                            ? "id, name, help, unit, type, label_names, buckets, states, gauge_mode, ttl_seconds"
                            : "id, name, help, unit, type, label_names, buckets, states, '', 0";
  return columns + (version >= 3 ? ", native_schema, native_zero_threshold, native_max_buckets" : ", NULL, 0, 0");
}

std::string SeriesColumns(int version) {
  return version >= 3   ? "id, labels, value, count, created, updated, writer_id, native_schema"
         : version >= 2 ? "id, labels, value, count, created, updated, writer_id, NULL"
                        : "id, labels, value, count, created, updated, 0, NULL";
}

std::pair<int64_t, FamilySpec> ReadFamilyRow(SQLite::Statement& row, const std::string& path) {
  FamilyRow stored{row.getColumn(4).getString(), row.getColumn(5).getString(), row.getColumn(6).getString(),
                   row.getColumn(7).getString(), row.getColumn(8).getString(), row.getColumn(9).getDouble()};
  if (!row.getColumn(10).isNull()) {
    stored.native = true;
    stored.native_schema = row.getColumn(10).getInt();
    stored.native_zero_threshold = row.getColumn(11).getDouble();
    stored.native_max_buckets = row.getColumn(12).getInt64();
  }
  return {row.getColumn(0).getInt64(), DecodeFamily(row.getColumn(1).getString(), row.getColumn(2).getString(),
                                                    row.getColumn(3).getString(), stored, path)};
}

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
  row.gauge_mode = GaugeModeName(spec.gauge_mode);
  row.ttl_seconds = spec.ttl_seconds;
  if (spec.native_bucket_factor > 1) {
    row.native = true;
    row.native_schema = NativeSchemaForFactor(spec.native_bucket_factor);
    row.native_zero_threshold = spec.native_zero_threshold;
    row.native_max_buckets = spec.native_max_buckets;
  }
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
  static constexpr GaugeMode kModes[] = {
      GaugeMode::kShared, GaugeMode::kAll,        GaugeMode::kLiveAll,       GaugeMode::kSum,
      GaugeMode::kLiveSum, GaugeMode::kMax,       GaugeMode::kLiveMax,       GaugeMode::kMin,
      GaugeMode::kLiveMin, GaugeMode::kMostRecent, GaugeMode::kLiveMostRecent};
  known = false;
  for (GaugeMode m : kModes) {
    if (row.gauge_mode == GaugeModeName(m)) { spec.gauge_mode = m; known = true; }
  }
  if (!known) throw corrupt("gauge mode \"" + row.gauge_mode + "\"");
  spec.ttl_seconds = row.ttl_seconds;
  if (row.native) {
    if (row.native_schema < kMinNativeSchema || row.native_schema > kMaxNativeSchema || row.native_max_buckets < 1 ||
        row.native_max_buckets > INT32_MAX || !(row.native_zero_threshold >= 0))
      throw corrupt("native histogram");
    spec.native_bucket_factor = NativeFactorForSchema(row.native_schema);
    spec.native_zero_threshold = row.native_zero_threshold;
    spec.native_max_buckets = static_cast<int>(row.native_max_buckets);
  }
  return spec;
}

}  // namespace promsqlite::detail
