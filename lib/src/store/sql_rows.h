// The rows of the file's tables, and the one binder that binds a row's
// fields to a statement's named parameters: the other half of the SQL
// module (store/sql.h has the texts). A row type lists its fields once, in
// Fields(), each with the parameter that carries it (":" and its column's
// name) and its SQL type (a Blob or not); RowStatement<Row> resolves those
// names to parameter indexes once, when it prepares its statement, and binds
// by index from then on, so a bind by name costs what a positional one does.
// A statement binds whichever of the row's fields it names, and preparing a
// statement with a parameter that is no field of its row fails (a misspelled
// name would otherwise bind NULL without a word).
//
// Reading goes the other way, by position: the fixed SELECTs' columns are
// listed in store/sql.h, and ReadFamilyRow reads sql::kFamilyColumns by
// name.
#ifndef PROMSQLITE_SRC_STORE_SQL_ROWS_H_
#define PROMSQLITE_SRC_STORE_SQL_ROWS_H_

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <array>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "store/raw_query.h"
#include "store/sql.h"

namespace promsqlite::detail {

// A BLOB field, bound without a copy: its bytes must stay valid until the
// statement has run.
struct Blob {
  std::string_view bytes;
};

// families: one declaration.
struct FamilyRow {
  int64_t id = 0;
  std::string name;
  std::string type;         // MetricTypeName()
  std::string help;
  std::string unit;
  std::string label_names;  // sorted, comma-separated
  std::string buckets;      // Go-formatted bounds, comma-separated
  std::string states;       // tuple encoding (base/tuple_codec.h)
  double created = 0;
  std::string gauge_mode;   // GaugeModeName()
  double ttl_seconds = 0;
  // Native histograms: the schema the family's series start at; none (NULL)
  // for families without one.
  std::optional<int64_t> native_schema;
  double native_zero_threshold = 0;
  int64_t native_max_buckets = 0;

  template <typename F>
  void Fields(F&& f) const {
    f(":id", id);
    f(":name", name);
    f(":type", type);
    f(":help", help);
    f(":unit", unit);
    f(":label_names", label_names);
    f(":buckets", buckets);
    f(":states", Blob{states});
    f(":created", created);
    f(":gauge_mode", gauge_mode);
    f(":ttl_seconds", ttl_seconds);
    f(":native_schema", native_schema);
    f(":native_zero_threshold", native_zero_threshold);
    f(":native_max_buckets", native_max_buckets);
  }
};

// series: one label tuple of a family (and of one writer, for per-process
// gauges).
struct SeriesRow {
  std::optional<int64_t> id;  // none (NULL): AUTOINCREMENT chooses on insert
  int64_t family_id = 0;
  std::string_view labels;    // tuple encoding, bound without a copy
  int64_t writer_id = 0;      // 0: shared; else writers.id
  double value = 0;           // NaN is stored as NULL
  int64_t count = 0;
  double created = 0;
  double updated = 0;
  std::optional<int64_t> native_schema;  // none (NULL): the family's

  template <typename F>
  void Fields(F&& f) const {
    f(":id", id);
    f(":family_id", family_id);
    f(":labels", Blob{labels});
    f(":writer_id", writer_id);
    f(":value", value);
    f(":count", count);
    f(":created", created);
    f(":updated", updated);
    f(":native_schema", native_schema);
  }
};

// bucket_counts: a classic histogram bucket's own count (not cumulative).
struct BucketRow {
  int64_t series_id = 0;
  int64_t bucket = 0;
  int64_t count = 0;

  template <typename F>
  void Fields(F&& f) const {
    f(":series_id", series_id);
    f(":bucket", bucket);
    f(":count", count);
  }
};

// native_buckets: a native histogram bucket at its series' schema.
struct NativeBucketRow {
  int64_t series_id = 0;
  int sign = 0;  // 1, -1, or 0 for the zero bucket
  int32_t bucket = 0;
  int64_t count = 0;

  template <typename F>
  void Fields(F&& f) const {
    f(":series_id", series_id);
    f(":sign", sign);
    f(":bucket", bucket);
    f(":count", count);
  }
};

// exemplars: the latest exemplar of a counter series or histogram bucket.
struct ExemplarRow {
  int64_t series_id = 0;
  int64_t bucket = 0;
  std::string_view labels;  // tuple encoding of (name, value, ...), bound without a copy
  double value = 0;
  double timestamp = 0;

  template <typename F>
  void Fields(F&& f) const {
    f(":series_id", series_id);
    f(":bucket", bucket);
    f(":labels", Blob{labels});
    f(":value", value);
    f(":timestamp", timestamp);
  }
};

// writers: a process that wrote per-process gauges.
struct WriterRow {
  int64_t id = 0;
  int64_t pid = 0;
  int64_t start_time = 0;
  std::string boot_id;
  double created = 0;

  template <typename F>
  void Fields(F&& f) const {
    f(":id", id);
    f(":pid", pid);
    f(":start_time", start_time);
    f(":boot_id", boot_id);
    f(":created", created);
  }
};

// pending_flushes: a pending region's last committed flush
// (docs/pending-regions.md).
struct PendingFlushRow {
  std::string region;  // the region file's name
  int64_t generation = 0;
  int64_t recovered = 0;  // 1 once a recoverer wrote the region
  double updated = 0;

  template <typename F>
  void Fields(F&& f) const {
    f(":region", region);
    f(":generation", generation);
    f(":recovered", recovered);
    f(":updated", updated);
  }
};

// The row at the current row of a statement selecting region, generation,
// recovered, updated.
inline PendingFlushRow ReadPendingFlushRow(const SQLite::Statement& s) {
  PendingFlushRow row;
  row.region = s.getColumn(0).getString();
  row.generation = s.getColumn(1).getInt64();
  row.recovered = s.getColumn(2).getInt64();
  row.updated = s.getColumn(3).getDouble();
  return row;
}

// A prepared statement of one table, bound from that table's rows.
template <typename Row>
class RowStatement : public SQLite::Statement {
 public:
  RowStatement(SQLite::Database& db, const std::string& sql) : SQLite::Statement(db, sql) {
    size_t fields = 0;
    int named = 0;
    Row().Fields([&](const char* parameter, const auto&) {
      if (fields == index_.size()) throw std::logic_error("RowStatement: a row of more fields than it holds");
      const int at = getIndex(parameter);  // 0: the statement does not name it
      index_[fields++] = at;
      if (at != 0) ++named;
    });
    if (named != getBindParameterCount())
      throw std::logic_error("a parameter of \"" + sql + "\" is no field of its row");
  }

  // Binds `row`'s fields to the parameters that name them; returns the
  // statement, to be run.
  SQLite::Statement& Bind(const Row& row) {
    const int* at = index_.data();
    row.Fields([&](const char*, const auto& value) {
      if (*at != 0) BindField(*at, value);
      ++at;
    });
    return *this;
  }

 private:
  void BindField(int at, int64_t value) { bind(at, value); }
  void BindField(int at, int value) { bind(at, value); }
  void BindField(int at, double value) { bind(at, value); }
  void BindField(int at, const std::optional<int64_t>& value) {
    if (value) bind(at, *value);
    else bind(at);  // NULL
  }
  void BindField(int at, const std::string& text) { bind(at, text); }
  void BindField(int at, Blob blob) {
    // Never a null pointer: SQLite would bind NULL, not an empty BLOB.
    bindNoCopy(at, blob.bytes.empty() ? "" : blob.bytes.data(), static_cast<int>(blob.bytes.size()));
  }

  std::array<int, 16> index_{};  // per field, in Fields() order
};

// A column of the current row of a query, read alike whether the query is
// a SQLite::Statement or a RawQuery (store/raw_query.h).
inline std::string ColumnString(const SQLite::Statement& s, int i) { return s.getColumn(i).getString(); }
inline double ColumnDouble(const SQLite::Statement& s, int i) { return s.getColumn(i).getDouble(); }
inline int64_t ColumnInt64(const SQLite::Statement& s, int i) { return s.getColumn(i).getInt64(); }
inline bool ColumnIsNull(const SQLite::Statement& s, int i) { return s.getColumn(i).isNull(); }
inline std::string ColumnString(const RawQuery& q, int i) { return std::string(BytesOf(q.Value(i))); }
inline double ColumnDouble(const RawQuery& q, int i) { return sqlite3_value_double(q.Value(i)); }
inline int64_t ColumnInt64(const RawQuery& q, int i) { return sqlite3_value_int64(q.Value(i)); }
inline bool ColumnIsNull(const RawQuery& q, int i) { return sqlite3_value_type(q.Value(i)) == SQLITE_NULL; }

// The family at the current row of a query (a SQLite::Statement or a
// RawQuery) selecting sql::kFamilyColumns.
template <typename Query>
FamilyRow ReadFamilyRow(const Query& s) {
  using sql::FamilyColumn;
  constexpr int kId = FamilyColumn("id"), kName = FamilyColumn("name"), kHelp = FamilyColumn("help"),
                kUnit = FamilyColumn("unit"), kType = FamilyColumn("type"),
                kLabelNames = FamilyColumn("label_names"), kBuckets = FamilyColumn("buckets"),
                kStates = FamilyColumn("states"), kGaugeMode = FamilyColumn("gauge_mode"),
                kTtlSeconds = FamilyColumn("ttl_seconds"), kNativeSchema = FamilyColumn("native_schema"),
                kNativeZeroThreshold = FamilyColumn("native_zero_threshold"),
                kNativeMaxBuckets = FamilyColumn("native_max_buckets");
  FamilyRow row;
  row.id = ColumnInt64(s, kId);
  row.name = ColumnString(s, kName);
  row.help = ColumnString(s, kHelp);
  row.unit = ColumnString(s, kUnit);
  row.type = ColumnString(s, kType);
  row.label_names = ColumnString(s, kLabelNames);
  row.buckets = ColumnString(s, kBuckets);
  row.states = ColumnString(s, kStates);
  row.gauge_mode = ColumnString(s, kGaugeMode);
  row.ttl_seconds = ColumnDouble(s, kTtlSeconds);
  if (!ColumnIsNull(s, kNativeSchema)) {
    row.native_schema = ColumnInt64(s, kNativeSchema);
    row.native_zero_threshold = ColumnDouble(s, kNativeZeroThreshold);
    row.native_max_buckets = ColumnInt64(s, kNativeMaxBuckets);
  }
  return row;
}

}  // namespace promsqlite::detail

#endif  // PROMSQLITE_SRC_STORE_SQL_ROWS_H_
