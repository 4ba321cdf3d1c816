// Every SQL text of the library, in one place: the tables (version 1 and the
// migrations to the current version), the statements of writes, snapshots
// and housekeeping, and the pragmas of connections and checkpoints. The file
// format they define is docs/schema.md; its "How to change the schema" says
// which files a new column touches.
//
// Parameters are named after the column they carry (":family_id",
// ":labels", ...): a statement of a table binds one row of it through that
// table's binder (store/sql_rows.h, the module's other half: the rows and
// their binders), whichever of the row's fields it names. The few
// parameters that are no column (housekeeping's cut-offs and batch sizes)
// are named for what they are and bound by name.
//
// Result columns are read by position: the fixed SELECTs list theirs in
// their comment; the version-dependent column lists (families and series,
// as a file of each version has them) are tables below whose positions
// FamilyColumn("name") and SeriesColumn("name") give at compile time.
//
// Plain texts and constants, with no SQLite in the header: bench/raw_sqlite.cc
// runs the same upserts as the library from here.
#ifndef PROMSQLITE_SRC_STORE_SQL_H_
#define PROMSQLITE_SRC_STORE_SQL_H_

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>

namespace promsqlite::detail::sql {

// ---------------------------------------------------------------------------
// The tables. Every new file is created as version 1 and migrated, so the
// migrations run on every test that makes a file. Counts are INTEGER; values
// are REAL where NULL means NaN (SQLite stores a bound NaN as NULL).

inline constexpr const char kSchemaV1[] = R"sql(
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
inline constexpr const char kMigrateV1ToV2[] = R"sql(
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
inline constexpr const char kMigrateV2ToV3[] = R"sql(
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
inline constexpr const char kMigrateV3ToV4[] = R"sql(
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

// Version 5: a series' classic buckets go by a trigger too, as its native
// buckets and exemplars do, whichever statement or program deletes the
// series; bucket rows a program left without their series go once.
inline constexpr const char kMigrateV4ToV5[] = R"sql(
CREATE TRIGGER series_deletes_bucket_counts AFTER DELETE ON series BEGIN
  DELETE FROM bucket_counts WHERE series_id = old.id;
END;
DELETE FROM bucket_counts WHERE series_id NOT IN (SELECT id FROM series);
)sql";

// Version 6: batched writers' pending regions (docs/pending-regions.md).
// A region's last committed flush generation, written in the flush's own
// transaction; `recovered` once a recoverer wrote what the region held.
inline constexpr const char kMigrateV5ToV6[] = R"sql(
CREATE TABLE pending_flushes (
  region     TEXT PRIMARY KEY,
  generation INTEGER NOT NULL,
  recovered  INTEGER NOT NULL DEFAULT 0,
  updated    REAL NOT NULL
);
)sql";

// kMigrations[v - 1] turns version v into v + 1; one more, one version more.
inline constexpr const char* kMigrations[] = {kMigrateV1ToV2, kMigrateV2ToV3, kMigrateV3ToV4, kMigrateV4ToV5,
                                              kMigrateV5ToV6};

}  // namespace promsqlite::detail::sql

namespace promsqlite::detail {

// PRAGMA user_version of the files this build writes: version 1 and its
// migrations.
constexpr int kSchemaVersion = static_cast<int>(std::size(sql::kMigrations)) + 1;
// PRAGMA application_id marking a promsqlite file: "PrmS".
constexpr int32_t kApplicationId = 0x50726d53;

}  // namespace promsqlite::detail

namespace promsqlite::detail::sql {

// ---------------------------------------------------------------------------
// Result columns: what readers select, and what each holds.

// What a column holds (docs/schema.md, "Tables"). Readers check every value
// they read against it: SQLite would hand out another type converted (the
// TEXT 'abc' as the number 0), so a value of another type makes its row one
// they cannot read (read/row_checks.h).
enum class Holds {
  kInteger,
  kIntegerOrNull,
  kReal,        // or INTEGER (a literal such as the 0 of older files' columns)
  kRealOrNull,  // NULL: NaN
  kText,
  kBlob,
};

struct Column {
  const char* name;
  int since;              // the schema version that added it
  const char* otherwise;  // its value in files of older versions
  Holds holds;
};

// ---------------------------------------------------------------------------
// Identification and connection settings (docs/schema.md, docs/checkpoints.md).

inline constexpr const char kApplicationIdPragma[] = "PRAGMA application_id";  // one row: the id
inline constexpr const char kUserVersionPragma[] = "PRAGMA user_version";      // one row: the version
inline constexpr const char kPageSizePragma[] = "PRAGMA page_size";            // one row: bytes
// One row: how many tables, indexes and triggers the file has. Also how a
// connection is made to read the file's header (OpenDatabase).
inline constexpr const char kCountSchemaObjects[] = "SELECT count(*) FROM sqlite_schema";
inline std::string SetApplicationId() { return "PRAGMA application_id = " + std::to_string(kApplicationId); }
inline std::string SetUserVersion() { return "PRAGMA user_version = " + std::to_string(kSchemaVersion); }
// Only a file without pages yet takes it; SQLite ignores it for an existing file.
inline std::string SetPageSize(int bytes) { return "PRAGMA page_size = " + std::to_string(bytes); }
inline constexpr const char kSetJournalModeWal[] = "PRAGMA journal_mode = WAL";  // one row: the mode now
inline constexpr const char kSynchronousFull[] = "PRAGMA synchronous = FULL";
inline constexpr const char kSynchronousNormal[] = "PRAGMA synchronous = NORMAL";
// Checkpoints: no automatic (PASSIVE) ones, only the checkpointer's
// (store/checkpointer.h runs them with sqlite3_wal_checkpoint_v2, RESTART);
// and the length a restarted WAL is cut back to.
inline constexpr const char kNoAutomaticCheckpoints[] = "PRAGMA wal_autocheckpoint = 0";
inline std::string SetJournalSizeLimit(int64_t bytes) { return "PRAGMA journal_size_limit = " + std::to_string(bytes); }

// ---------------------------------------------------------------------------
// Transactions.

inline constexpr const char kBeginWrite[] = "BEGIN IMMEDIATE";
inline constexpr const char kBeginRead[] = "BEGIN";
inline constexpr const char kCommit[] = "COMMIT";
inline constexpr const char kRollback[] = "ROLLBACK";

// ---------------------------------------------------------------------------
// Writes to series (a SeriesRow each).

// Counter/gauge additions and histogram observations all take this shape:
// the cached id is tried first, then the (family, labels, writer) key, so a
// series deleted and recreated by another process is still found. Ids come
// from AUTOINCREMENT and are never reused, so a cached id can only name our
// row. writer_id is 0 for shared series, this process's writers.id for
// per-process gauges (which never pass a cached id: after fork() it would
// name the parent's row).
#define PROMSQLITE_SQL_UPSERT_SERIES(SET)                                                  \
  "INSERT INTO series (id, family_id, labels, writer_id, value, count, created, updated) " \
  "VALUES (:id, :family_id, :labels, :writer_id, :value, :count, :created, :updated) "     \
  "ON CONFLICT (id) DO UPDATE SET " SET " "                                                \
  "ON CONFLICT (family_id, labels, writer_id) DO UPDATE SET " SET
inline constexpr const char kAddToSeries[] =
    PROMSQLITE_SQL_UPSERT_SERIES("value = value + excluded.value, updated = excluded.updated");
inline constexpr const char kSetSeries[] =
    PROMSQLITE_SQL_UPSERT_SERIES("value = excluded.value, updated = excluded.updated");
inline constexpr const char kObserveSeries[] = PROMSQLITE_SQL_UPSERT_SERIES(
    "value = value + excluded.value, count = count + excluded.count, updated = excluded.updated");
#undef PROMSQLITE_SQL_UPSERT_SERIES

// A series made at its initial value unless it exists.
inline constexpr const char kInsertSeries[] =
    "INSERT INTO series (family_id, labels, writer_id, value, count, created, updated) "
    "VALUES (:family_id, :labels, :writer_id, :value, :count, :created, :updated) "
    "ON CONFLICT (family_id, labels, writer_id) DO NOTHING";

// A series by its key; columns: id, value, count, native_schema. Also how
// an observe finds the row its upsert wrote, in the same transaction,
// rather than with RETURNING: SQLite runs a statement with RETURNING with a
// statement journal, whose 64 KiB buffer it allocates and frees every time;
// where that freeing shrinks the heap (glibc trims it), each observe paid
// two brk() calls and the page faults of the regrown heap: 19 400 against
// 36 700 transactions/s in a micro-benchmark on a 2-vCPU VM, 33 000-35 000
// against 36 000-37 000 with trimming turned off.
inline constexpr const char kSelectSeriesByKey[] =
    "SELECT id, value, count, native_schema FROM series "
    "WHERE family_id = :family_id AND labels = :labels AND writer_id = :writer_id";

// A native histogram's series lowered to a lower resolution.
inline constexpr const char kSetNativeSchema[] = "UPDATE series SET native_schema = :native_schema WHERE id = :id";

// Removal: a series (all writers' rows) by (family_id, labels); a family's
// series; one series by id (housekeeping). A series' child rows (classic
// and native buckets, exemplars) go by the triggers.
inline constexpr const char kDeleteSeriesByKey[] =
    "DELETE FROM series WHERE family_id = :family_id AND labels = :labels";
inline constexpr const char kDeleteFamilySeries[] = "DELETE FROM series WHERE family_id = :family_id";
inline constexpr const char kDeleteSeriesById[] = "DELETE FROM series WHERE id = :id";

// Every row but the writers' (and sqlite_sequence: ids are never reused).
inline constexpr const char kWipe[] = "DELETE FROM series; DELETE FROM families;";

// ---------------------------------------------------------------------------
// Classic buckets (a BucketRow each).

inline constexpr const char kAddToBucket[] =
    "INSERT INTO bucket_counts (series_id, bucket, count) VALUES (:series_id, :bucket, :count) "
    "ON CONFLICT (series_id, bucket) DO UPDATE SET count = count + excluded.count";
// Columns: bucket, count.
inline constexpr const char kSelectBuckets[] = "SELECT bucket, count FROM bucket_counts WHERE series_id = :series_id";
inline constexpr Column kBucketColumns[] = {{"bucket", 1, "", Holds::kInteger}, {"count", 1, "", Holds::kInteger}};

// ---------------------------------------------------------------------------
// Native buckets (a NativeBucketRow each): an UPDATE, and an INSERT only
// when it changed nothing (a new bucket, which may exceed the maximum).

inline constexpr const char kAddToNativeBucket[] =
    "UPDATE native_buckets SET count = count + :count "
    "WHERE series_id = :series_id AND sign = :sign AND bucket = :bucket";
inline constexpr const char kInsertNativeBucket[] =
    "INSERT INTO native_buckets (series_id, sign, bucket, count) VALUES (:series_id, :sign, :bucket, :count) "
    "ON CONFLICT (series_id, sign, bucket) DO UPDATE SET count = count + excluded.count";
// One row: how many non-zero buckets the series has.
inline constexpr const char kCountNativeBuckets[] =
    "SELECT count(*) FROM native_buckets WHERE series_id = :series_id AND sign != 0";
// Columns: sign, bucket, count; the zero bucket left out.
inline constexpr const char kSelectNativeBuckets[] =
    "SELECT sign, bucket, count FROM native_buckets WHERE series_id = :series_id AND sign != 0";
inline constexpr const char kDeleteNativeBuckets[] =
    "DELETE FROM native_buckets WHERE series_id = :series_id AND sign != 0";

// ---------------------------------------------------------------------------
// Exemplars (an ExemplarRow): the latest per series and bucket wins,
// whichever process commits last.

inline constexpr const char kKeepExemplar[] =
    "INSERT INTO exemplars (series_id, bucket, labels, value, timestamp) "
    "VALUES (:series_id, :bucket, :labels, :value, :timestamp) "
    "ON CONFLICT (series_id, bucket) DO UPDATE SET labels = excluded.labels, value = excluded.value, "
    "timestamp = excluded.timestamp WHERE excluded.timestamp >= exemplars.timestamp";

// ---------------------------------------------------------------------------
// Families (a FamilyRow each).

inline constexpr const char kInsertFamily[] =
    "INSERT INTO families (name, type, help, unit, label_names, buckets, states, gauge_mode, ttl_seconds, "
    "created, native_schema, native_zero_threshold, native_max_buckets) "
    "VALUES (:name, :type, :help, :unit, :label_names, :buckets, :states, :gauge_mode, :ttl_seconds, "
    ":created, :native_schema, :native_zero_threshold, :native_max_buckets)";
inline constexpr const char kUpdateHelp[] = "UPDATE families SET help = :help WHERE id = :id";
inline constexpr const char kDeleteFamily[] = "DELETE FROM families WHERE id = :id";

// ---------------------------------------------------------------------------
// Writers (a WriterRow each): processes with per-process gauges.

inline constexpr const char kInsertWriter[] =
    "INSERT INTO writers (pid, start_time, boot_id, created) VALUES (:pid, :start_time, :boot_id, :created) "
    "ON CONFLICT (pid, start_time, boot_id) DO NOTHING";
// Columns: id.
inline constexpr const char kSelectWriter[] =
    "SELECT id FROM writers WHERE pid = :pid AND start_time = :start_time AND boot_id = :boot_id";
// Columns: id, pid, start_time, boot_id. Files before version 2 have no
// writers (SelectWriters).
inline constexpr const char kSelectAllWriters[] = "SELECT id, pid, start_time, boot_id FROM writers";
inline const char* SelectWriters(int version) { return version >= 2 ? kSelectAllWriters : nullptr; }
inline constexpr const char kDeleteWriter[] = "DELETE FROM writers WHERE id = :id";

// ---------------------------------------------------------------------------
// Flush records of pending regions (a PendingFlushRow each).

inline constexpr const char kRecordPendingFlush[] =
    "INSERT INTO pending_flushes (region, generation, updated) VALUES (:region, :generation, :updated) "
    "ON CONFLICT (region) DO UPDATE SET generation = excluded.generation, updated = excluded.updated";
inline constexpr const char kMarkRegionRecovered[] =
    "INSERT INTO pending_flushes (region, generation, recovered, updated) "
    "VALUES (:region, :generation, :recovered, :updated) "
    "ON CONFLICT (region) DO UPDATE SET recovered = excluded.recovered, updated = excluded.updated";
// Columns (these three): region, generation, recovered, updated.
inline constexpr const char kSelectPendingFlush[] =
    "SELECT region, generation, recovered, updated FROM pending_flushes WHERE region = :region";
inline constexpr const char kSelectAllPendingFlushes[] =
    "SELECT region, generation, recovered, updated FROM pending_flushes";
inline constexpr const char kSelectOldPendingFlushes[] =
    "SELECT region, generation, recovered, updated FROM pending_flushes WHERE updated < :updated";
inline constexpr const char kDeletePendingFlush[] = "DELETE FROM pending_flushes WHERE region = :region";
// Files before version 6 have no pending regions.
inline const char* SelectPendingFlushes(int version) { return version >= 6 ? kSelectAllPendingFlushes : nullptr; }

// ---------------------------------------------------------------------------
// The columns readers select from families and series, in this order, on a
// file of any readable version: a column a file's version lacks reads as
// `otherwise`.

inline constexpr Column kFamilyColumns[] = {
    {"id", 1, "", Holds::kInteger},
    {"name", 1, "", Holds::kText},
    {"help", 1, "", Holds::kText},
    {"unit", 1, "", Holds::kText},
    {"type", 1, "", Holds::kText},
    {"label_names", 1, "", Holds::kText},
    {"buckets", 1, "", Holds::kText},
    {"states", 1, "", Holds::kBlob},
    {"gauge_mode", 2, "''", Holds::kText},
    {"ttl_seconds", 2, "0", Holds::kReal},
    {"native_schema", 3, "NULL", Holds::kIntegerOrNull},
    {"native_zero_threshold", 3, "0", Holds::kReal},
    {"native_max_buckets", 3, "0", Holds::kInteger},
};

inline constexpr Column kSeriesColumns[] = {
    {"id", 1, "", Holds::kInteger},
    {"labels", 1, "", Holds::kBlob},
    {"value", 1, "", Holds::kRealOrNull},
    {"count", 1, "", Holds::kInteger},
    {"created", 1, "", Holds::kReal},
    {"updated", 1, "", Holds::kReal},
    {"writer_id", 2, "0", Holds::kInteger},
    {"native_schema", 3, "NULL", Holds::kIntegerOrNull},
};

// "a, b, x AS c" for a file of `version`.
template <size_t N>
std::string SelectList(const Column (&columns)[N], int version) {
  std::string list;
  for (const Column& c : columns) {
    if (!list.empty()) list += ", ";
    if (version < c.since) list += std::string(c.otherwise) + " AS ";
    list += c.name;
  }
  return list;
}

// The position of column `name` in `columns`; not a constant expression
// (so a compile error where one is needed) when there is none.
template <size_t N>
constexpr int ColumnIndex(const Column (&columns)[N], std::string_view name) {
  for (size_t i = 0; i < N; ++i)
    if (name == columns[i].name) return static_cast<int>(i);
  throw "no such column";
}
constexpr int FamilyColumn(std::string_view name) { return ColumnIndex(kFamilyColumns, name); }
constexpr int SeriesColumn(std::string_view name) { return ColumnIndex(kSeriesColumns, name); }
constexpr int kFamilyColumnCount = static_cast<int>(std::size(kFamilyColumns));

// A family by name (the writer's declarations and lookups); kFamilyColumns.
inline std::string SelectFamilyByName() {
  return "SELECT " + SelectList(kFamilyColumns, kSchemaVersion) + " FROM families WHERE name = :name";
}

// ---------------------------------------------------------------------------
// Snapshots (read/snapshot.cc): one read transaction over these.

// kFamilyColumns, by name.
inline std::string SelectFamilies(int version) {
  return "SELECT " + SelectList(kFamilyColumns, version) + " FROM families ORDER BY name";
}
// kFamilyColumns, then the family's series count.
inline std::string SelectFamiliesWithSeriesCounts(int version) {
  return "SELECT " + SelectList(kFamilyColumns, version) +
         ", (SELECT count(*) FROM series s WHERE s.family_id = families.id) AS series_count "
         "FROM families ORDER BY name";
}
// kSeriesColumns of one family (:family_id), by labels.
inline std::string SelectSeriesOfFamily(int version) {
  return "SELECT " + SelectList(kSeriesColumns, version) +
         " FROM series WHERE family_id = :family_id ORDER BY labels, writer_id";
}
// Columns: kNativeBucketColumns, of one series (:series_id). Files before
// version 3 have no native histograms (nullptr).
inline const char* SelectNativeBucketsInOrder(int version) {
  return version >= 3 ? "SELECT sign, bucket, count FROM native_buckets WHERE series_id = :series_id "
                        "ORDER BY sign, bucket"
                      : nullptr;
}
inline constexpr Column kNativeBucketColumns[] = {
    {"sign", 3, "", Holds::kInteger}, {"bucket", 3, "", Holds::kInteger}, {"count", 3, "", Holds::kInteger}};
// Columns: kExemplarColumns; every exemplar of the file. Files before
// version 4 have none (nullptr).
inline const char* SelectExemplars(int version) {
  return version >= 4 ? "SELECT series_id, bucket, labels, value, timestamp FROM exemplars "
                        "ORDER BY series_id, bucket"
                      : nullptr;
}
inline constexpr Column kExemplarColumns[] = {
    {"series_id", 4, "", Holds::kInteger}, {"bucket", 4, "", Holds::kInteger}, {"labels", 4, "", Holds::kBlob},
    {"value", 4, "", Holds::kReal},        {"timestamp", 4, "", Holds::kReal}};
// One row each: the number of families, of series.
inline constexpr const char kCountFamilies[] = "SELECT count(*) FROM families";
inline constexpr const char kCountSeries[] = "SELECT count(*) FROM series";

// ---------------------------------------------------------------------------
// Repairs (store/repair.cc): rows no reader can read, deleted by their key
// as read. The key columns are bound by name with the values as found, of
// whatever type (a bucket stored as TEXT is found again as that TEXT).
// Families and series go by kDeleteFamily, kDeleteFamilySeries and
// kDeleteSeriesById.

inline constexpr const char kDeleteBucketRow[] =
    "DELETE FROM bucket_counts WHERE series_id = :series_id AND bucket = :bucket";
inline constexpr const char kDeleteNativeBucketRow[] =
    "DELETE FROM native_buckets WHERE series_id = :series_id AND sign = :sign AND bucket = :bucket";
inline constexpr const char kDeleteExemplarRow[] =
    "DELETE FROM exemplars WHERE series_id = :series_id AND bucket = :bucket";

// ---------------------------------------------------------------------------
// Housekeeping (store/housekeeping.cc): selections of series ids to delete,
// at most :limit per batch; then kDeleteSeriesById each.

// Columns: id. Rows of a dead writer (:writer_id) in live-mode families.
inline constexpr const char kSelectDeadWriterSeries[] =
    "SELECT s.id FROM series s JOIN families f ON f.id = s.family_id WHERE s.writer_id = :writer_id "
    "AND f.gauge_mode IN ('liveall', 'livesum', 'livemax', 'livemin', 'livemostrecent') LIMIT :limit";
// One row when the writer (:writer_id) still has rows.
inline constexpr const char kWriterHasSeries[] = "SELECT 1 FROM series WHERE writer_id = :writer_id LIMIT 1";
// Columns: id, ttl_seconds.
inline constexpr const char kSelectFamiliesWithTtl[] = "SELECT id, ttl_seconds FROM families WHERE ttl_seconds > 0";
// Columns: id. A family's (:family_id) series not updated since :expired_before.
inline constexpr const char kSelectExpiredSeries[] =
    "SELECT id FROM series WHERE family_id = :family_id AND updated < :expired_before LIMIT :limit";
// A shared series with updates pending in a region counts as updated now
// (its flush will stamp it): housekeeping does not expire it meanwhile.
inline constexpr const char kTouchPendingSeries[] =
    "UPDATE series SET updated = max(updated, :updated) WHERE family_id = (SELECT id FROM families WHERE name = "
    ":name AND ttl_seconds > 0) AND labels = :labels AND writer_id = 0";
// Columns: id. Series whose family is gone.
inline constexpr const char kSelectOrphanedSeries[] =
    "SELECT id FROM series WHERE family_id NOT IN (SELECT id FROM families) LIMIT :limit";

}  // namespace promsqlite::detail::sql

#endif  // PROMSQLITE_SRC_STORE_SQL_H_
