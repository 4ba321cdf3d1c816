// Whether a row of the file can be read, and what it holds when it can: the
// one judgement behind what a strict snapshot fails on, what a lenient one
// leaves out and reports, and what Reader::Check lists (docs/schema.md,
// "Rows readers cannot read"). Each check returns "" for a readable row,
// else the problem in a few words ("labels hold 1 value for 2 label names").
#ifndef PROMSQLITE_SRC_READ_ROW_CHECKS_H_
#define PROMSQLITE_SRC_READ_ROW_CHECKS_H_

#include <sqlite3.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "model/records.h"
#include "promsqlite/unreadable_row.h"
#include "store/raw_query.h"
#include "store/repair.h"
#include "store/sql.h"

namespace SQLite {
class Database;
class Statement;
}  // namespace SQLite

namespace promsqlite::detail {

// Whether a value of SQLite type `type` (SQLITE_INTEGER, ...) is one a
// column that `holds` may hold.
inline bool Fits(int type, sql::Holds holds) {
  switch (holds) {
    case sql::Holds::kInteger: return type == SQLITE_INTEGER;
    case sql::Holds::kIntegerOrNull: return type == SQLITE_INTEGER || type == SQLITE_NULL;
    case sql::Holds::kReal: return type == SQLITE_FLOAT || type == SQLITE_INTEGER;
    case sql::Holds::kRealOrNull: return type == SQLITE_FLOAT || type == SQLITE_INTEGER || type == SQLITE_NULL;
    case sql::Holds::kText: return type == SQLITE_TEXT;
    case sql::Holds::kBlob: return type == SQLITE_BLOB;
  }
  return false;
}

// `value`, of a column `column`, against what the column holds: "" or e.g.
// "value holds TEXT 'abc', not a number".
std::string ColumnProblem(const StoredValue& value, const sql::Column& column);

// The first problem of the columns of the current row of `row`, selected
// as `columns` lists them.
template <size_t N>
std::string ColumnsProblem(const RawQuery& row, const sql::Column (&columns)[N]) {
  for (size_t i = 0; i < N; ++i)
    if (!Fits(sqlite3_value_type(row.Value(static_cast<int>(i))), columns[i].holds))
      return ColumnProblem(ReadStoredValue(row.Value(static_cast<int>(i))), columns[i]);
  return {};
}
std::string ColumnsProblem(const SQLite::Statement& row, const sql::Column* columns, size_t count);
template <size_t N>
std::string ColumnsProblem(const SQLite::Statement& row, const sql::Column (&columns)[N]) {
  return ColumnsProblem(row, columns, N);
}

// The families row at the current row of `row` (sql::kFamilyColumns): its
// id and declaration, as stored, into *family. Its stored name is in
// family->spec.name even when the rest cannot be read ("" when the name
// itself is not TEXT).
std::string ReadFamilyRowChecked(const RawQuery& row, FamilyRecord* family);

// A series' labels: the tuple of `label_count` label values, each UTF-8,
// decoded into *values. `label_names` holds at least `label_count` names
// (a per-process gauge's spec has "pid" after them).
std::string DecodeSeriesLabels(std::string_view blob, const std::vector<std::string>& label_names,
                               size_t label_count, std::vector<std::string>* values);

// The values of the series row at the current row of `row` (selecting
// sql::kSeriesColumns) that a reader reads for a family of `spec`, one per
// column in that order, with their types: writer_id is read for
// per-process gauges only, native_schema for native histograms only (null,
// type -1, otherwise: a value there is never read, so never wrong).
inline void ReadSeriesValues(const RawQuery& row, const FamilySpec& spec, sqlite3_value** values, int* types) {
  constexpr int kWriterId = sql::SeriesColumn("writer_id"), kNativeSchema = sql::SeriesColumn("native_schema");
  for (int i = 0; i < static_cast<int>(std::size(sql::kSeriesColumns)); ++i) {
    const bool read = (i != kWriterId || spec.gauge_mode != GaugeMode::kShared) &&
                      (i != kNativeSchema || spec.native_bucket_factor > 0);
    values[i] = read ? row.Value(i) : nullptr;
    types[i] = read ? sqlite3_value_type(values[i]) : -1;
  }
}

// Whether those values hold what their columns hold (the common case: a
// few comparisons); when not, SeriesColumnsProblem says why.
inline bool SeriesColumnsFit(const int* types) {
  for (size_t i = 0; i < std::size(sql::kSeriesColumns); ++i)
    if (types[i] >= 0 && !Fits(types[i], sql::kSeriesColumns[i].holds)) return false;
  return true;
}

// What is wrong with those values (ReadSeriesValues) of a series,
// but the encoding of its labels: a type, or a native schema out of range.
std::string SeriesColumnsProblem(sqlite3_value* const* values);

// A bucket_counts row (sql::kBucketColumns): bucket and count.
std::string ReadBucketRow(const RawQuery& row, int64_t* bucket, int64_t* count);

// A native_buckets row (sql::kNativeBucketColumns): sign, bucket, count.
std::string ReadNativeBucketRow(const RawQuery& row, int* sign, int32_t* index, int64_t* count);

// Every exemplar of the file (sql::SelectExemplars), by series id: those
// that can be read, each list sorted by bucket, and those that cannot.
// Rows of no bucket of ours (a negative bucket) and of no series (a
// series_id that is not an integer) are in neither.
struct BadExemplar {
  StoredValue bucket;
  std::string problem;
};
struct ExemplarIndex {
  std::unordered_map<int64_t, std::vector<ExemplarRecord>> good;
  std::unordered_map<int64_t, std::vector<BadExemplar>> bad;
};
ExemplarIndex LoadExemplars(SQLite::Database& db, int version);

// Whether an exemplar of `bucket` is one a series of `spec` shows (its
// bucket's, or a counter's 0): those of other buckets are never read, so
// never wrong. A bucket of the wrong type is read, to be reported.
bool ExemplarShown(const StoredValue& bucket, const FamilySpec& spec);

const char* TableName(RowRef::Table table);
// "id=12", "series_id=12 bucket=3", "series_id=12 sign=1 bucket=-4".
std::string RowKey(const RowRef& row);
// The report of the row at `row`: the family's name and the problem made
// one line of valid UTF-8.
UnreadableRow Unreadable(const RowRef& row, std::string_view family, std::string_view problem);

// Counts the row at `ref` in *skipped (and lists it, up to
// SkippedRows::kMaxListed); with no `skipped` (a strict read), throws
// DatabaseError naming `path` and the row instead.
void LeaveOut(const RowRef& ref, std::string_view family, std::string_view problem, const std::string& path,
              SkippedRows* skipped);

// `text` as one line of valid UTF-8: bytes that are no UTF-8 become U+FFFD,
// control characters '?'.
std::string Printable(std::string_view text);

// Every row of the file that a snapshot would read and cannot, with where it
// is, inside the caller's transaction (a read one for a check, the write one
// that deletes them for a repair): the families rows, then each readable
// family's series rows, and each readable series' bucket, native bucket and
// exemplar rows (a row that goes with an unreadable one is not listed on
// its own). Unlike a snapshot it reads expired series and dead writers'
// rows too. Empty for a file without our schema yet.
struct FoundRow {
  UnreadableRow row;
  RowRef ref;
};
std::vector<FoundRow> FindUnreadableRows(SQLite::Database& db, const std::string& path);

}  // namespace promsqlite::detail

#endif  // PROMSQLITE_SRC_READ_ROW_CHECKS_H_
