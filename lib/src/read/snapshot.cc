#include "read/snapshot.h"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <tuple>
#include <unordered_map>

#include "base/process_identity.h"
#include "base/tuple_codec.h"
#include "declare/native_histogram.h"
#include "declare/validate.h"
#include "promsqlite/errors.h"
#include "store/database.h"
#include "store/schema.h"

namespace promsqlite::detail {

namespace {

struct WriterState {
  int64_t pid = 0;
  bool alive = false;
};

// Writers (processes with per-process gauges) and whether each still runs.
std::unordered_map<int64_t, WriterState> LoadWriters(SQLite::Database& db, int version) {
  std::unordered_map<int64_t, WriterState> writers;
  if (version < 2) return writers;
  SQLite::Statement query(db, "SELECT id, pid, start_time, boot_id FROM writers");
  while (query.executeStep()) {
    ProcessIdentity process{query.getColumn(1).getInt64(), query.getColumn(2).getInt64(),
                            query.getColumn(3).getString()};
    writers[query.getColumn(0).getInt64()] = WriterState{process.pid, IsAlive(process)};
  }
  return writers;
}

// Folds the rows of one label tuple written by several processes into the
// one value a GaugeMode exposes.
class GaugeFold {
 public:
  explicit GaugeFold(GaugeMode mode) : mode_(mode) {}
  void Add(double value, double updated, double created) {
    if (rows_++ == 0) {
      value_ = value;
      updated_ = updated;
      created_ = created;
      return;
    }
    switch (mode_) {
      case GaugeMode::kSum: case GaugeMode::kLiveSum: value_ += value; break;
      case GaugeMode::kMax: case GaugeMode::kLiveMax: value_ = std::max(value_, value); break;
      case GaugeMode::kMin: case GaugeMode::kLiveMin: value_ = std::min(value_, value); break;
      default:  // most recent
        if (updated >= updated_) value_ = value;
    }
    updated_ = std::max(updated_, updated);
    created_ = std::min(created_, created);
  }
  bool empty() const { return rows_ == 0; }
  void Emit(SeriesRecord* record) {
    record->value = value_;
    record->created = created_;
    rows_ = 0;
  }

 private:
  GaugeMode mode_;
  size_t rows_ = 0;
  double value_ = 0, updated_ = 0, created_ = 0;
};

// Every exemplar of the file by series id, each list sorted by bucket.
// Read at once: most files hold none or few, and one query per series
// would cost every scrape more than the exemplars are worth.
std::unordered_map<int64_t, std::vector<ExemplarRecord>> LoadExemplars(SQLite::Database& db, const std::string& path,
                                                                       int version) {
  std::unordered_map<int64_t, std::vector<ExemplarRecord>> exemplars;
  if (version < 4) return exemplars;
  SQLite::Statement query(db, "SELECT series_id, bucket, labels, value, timestamp FROM exemplars "
                              "ORDER BY series_id, bucket");
  std::vector<std::string> elements;
  while (query.executeStep()) {
    ExemplarRecord e;
    e.bucket = query.getColumn(1).getInt64();
    if (e.bucket < 0) continue;  // no bucket of ours (another program's row)
    SQLite::Column labels = query.getColumn(2);
    std::string_view blob(static_cast<const char*>(labels.getBlob()), static_cast<size_t>(labels.getBytes()));
    if (!DecodeTuple(blob, &elements) || elements.size() % 2 != 0)
      throw DatabaseError(path + ": an exemplar has malformed labels");
    for (size_t i = 0; i < elements.size(); i += 2) {
      e.names.push_back(std::move(elements[i]));
      e.values.push_back(std::move(elements[i + 1]));
    }
    e.value = query.getColumn(3).getDouble();
    e.timestamp = query.getColumn(4).getDouble();
    exemplars[query.getColumn(0).getInt64()].push_back(std::move(e));
  }
  return exemplars;
}

}  // namespace

void ReadSnapshot(SQLite::Database& db, const std::string& path, double now, SnapshotVisitor& visitor,
                  const std::vector<std::string>* only) {
  GuardSqlite(path, "cannot read", [&] {
    SQLite::Transaction snapshot(db);  // BEGIN (deferred): one read snapshot
    const int version = CheckSchemaReadable(db, path);
    if (version == 0) return;
    const auto writers = LoadWriters(db, version);
    const auto exemplars = LoadExemplars(db, path, version);
    SQLite::Statement families(db, "SELECT " + FamilyColumns(version) + " FROM families ORDER BY name");
    SQLite::Statement series(db, "SELECT " + SeriesColumns(version) +
                                     " FROM series WHERE family_id = ?1 ORDER BY labels, writer_id");
    SQLite::Statement buckets(db, "SELECT bucket, count FROM bucket_counts WHERE series_id = ?1");
    // Files before version 3 have no native histograms: the query is never run.
    SQLite::Statement native_buckets(db, version >= 3 ? "SELECT sign, bucket, count FROM native_buckets "
                                                        "WHERE series_id = ?1 ORDER BY sign, bucket"
                                                      : "SELECT 0, 0, 0 WHERE 0");
    FamilyRecord family;
    SeriesRecord record;
    std::string group_labels;  // the tuple GaugeFold is folding
    while (families.executeStep()) {
      std::tie(family.id, family.spec) = ReadFamilyRow(families, path);
      if (only && std::find(only->begin(), only->end(), family.spec.name) == only->end()) continue;
      const FamilySpec& spec = family.spec;
      const size_t label_count = spec.label_names.size();
      const bool histogram = spec.type == MetricType::kHistogram;
      const bool native = spec.native_bucket_factor > 0;
      const int family_schema = native ? NativeSchemaForFactor(spec.native_bucket_factor) : 0;
      const GaugeMode mode = spec.gauge_mode;
      const bool per_pid = mode == GaugeMode::kAll || mode == GaugeMode::kLiveAll;
      const bool folded = mode != GaugeMode::kShared && !per_pid;
      if (per_pid) family.spec.label_names.push_back("pid");
      const double expired_before = spec.ttl_seconds > 0 ? now - spec.ttl_seconds : -HUGE_VAL;
      visitor.Family(family);
      GaugeFold fold(mode);
      auto emit_fold = [&] {
        if (fold.empty()) return;
        if (!DecodeTuple(group_labels, &record.label_values) || record.label_values.size() != label_count)
          throw DatabaseError(path + ": a series of '" + spec.name + "' has malformed labels");
        fold.Emit(&record);
        record.exemplars.clear();
        visitor.Series(family, record);
      };
      series.bind(1, static_cast<int64_t>(family.id));
      while (series.executeStep()) {
        if (series.getColumn(5).getDouble() < expired_before) continue;  // TTL
        SQLite::Column value_column = series.getColumn(2);
        const double value = value_column.isNull() ? std::nan("") : value_column.getDouble();
        SQLite::Column labels = series.getColumn(1);
        std::string_view blob(static_cast<const char*>(labels.getBlob()), static_cast<size_t>(labels.getBytes()));
        const int64_t writer_id = series.getColumn(6).getInt64();
        const WriterState* writer = nullptr;
        if (mode != GaugeMode::kShared && writer_id != 0) {
          auto it = writers.find(writer_id);
          if (it != writers.end()) writer = &it->second;
          if (IsLive(mode) && (writer == nullptr || !writer->alive)) continue;
        }
        if (folded) {
          if (blob != group_labels) {
            emit_fold();
            group_labels.assign(blob);
          }
          fold.Add(value, series.getColumn(5).getDouble(), series.getColumn(4).getDouble());
          continue;
        }
        if (!DecodeTuple(blob, &record.label_values) || record.label_values.size() != label_count)
          throw DatabaseError(path + ": a series of '" + spec.name + "' has malformed labels");
        if (per_pid) record.label_values.push_back(std::to_string(writer ? writer->pid : 0));
        record.value = value;
        record.count = series.getColumn(3).getInt64();
        record.created = series.getColumn(4).getDouble();
        record.bucket_counts.assign(histogram ? spec.buckets.size() : 0, 0);
        record.exemplars.clear();
        if (!exemplars.empty() && (histogram || spec.type == MetricType::kCounter)) {
          auto found = exemplars.find(series.getColumn(0).getInt64());
          // Only buckets the series has (another program may have written others).
          const int64_t last_bucket = histogram ? static_cast<int64_t>(spec.buckets.size()) : 0;
          if (found != exemplars.end())
            for (const ExemplarRecord& e : found->second)
              if (e.bucket <= last_bucket) record.exemplars.push_back(e);
        }
        if (histogram) {
          buckets.bind(1, series.getColumn(0).getInt64());
          while (buckets.executeStep()) {
            int64_t b = buckets.getColumn(0).getInt64();
            if (b >= 0 && static_cast<size_t>(b) < record.bucket_counts.size())
              record.bucket_counts[b] = buckets.getColumn(1).getInt64();
          }
          buckets.reset();
        }
        if (native) {
          NativeBuckets& nb = record.native;
          SQLite::Column schema = series.getColumn(7);
          nb.schema = schema.isNull() ? family_schema : schema.getInt();
          nb.zero_count = 0;
          nb.positive.clear();
          nb.negative.clear();
          native_buckets.bind(1, series.getColumn(0).getInt64());
          while (native_buckets.executeStep()) {
            int sign = native_buckets.getColumn(0).getInt();
            int32_t index = native_buckets.getColumn(1).getInt();
            int64_t count = native_buckets.getColumn(2).getInt64();
            if (count == 0) continue;
            if (sign == 0) nb.zero_count += count;
            else if (sign > 0) nb.positive.emplace_back(index, count);
            else nb.negative.emplace_back(index, count);
          }
          native_buckets.reset();
        }
        visitor.Series(family, record);
      }
      if (folded) emit_fold();
      group_labels.clear();
      series.reset();
    }
    snapshot.commit();
  });
}

void VisitMemoryFamilies(const std::vector<MemoryFamily>& families, SnapshotVisitor& visitor) {
  FamilyRecord family;
  SeriesRecord record;
  for (const MemoryFamily& memory : families) {
    if (memory.spec.type != MetricType::kCounter && memory.spec.type != MetricType::kGauge)
      throw InvalidArgument("metric '" + memory.spec.name + "': in-memory families are counters or gauges");
    family.spec = NormalizeSpec(memory.spec);  // strips a counter's _total, checks names
    // Labels are written sorted by name, as for stored families.
    std::vector<size_t> order(family.spec.label_names.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return memory.spec.label_names[a] < memory.spec.label_names[b]; });
    for (size_t i = 0; i < order.size(); ++i) family.spec.label_names[i] = memory.spec.label_names[order[i]];
    visitor.Family(family);
    for (const MemoryFamily::Sample& sample : memory.samples) {
      if (sample.label_values.size() != memory.spec.label_names.size())
        throw InvalidArgument("metric '" + memory.spec.name + "': a sample has the wrong number of label values");
      record.label_values.resize(order.size());
      for (size_t i = 0; i < order.size(); ++i) record.label_values[i] = sample.label_values[order[i]];
      record.value = sample.value;
      record.created = sample.created;
      visitor.Series(family, record);
    }
  }
}

std::vector<FamilySummary> ListFamilies(SQLite::Database& db, const std::string& path) {
  std::vector<FamilySummary> out;
  GuardSqlite(path, "cannot read", [&] {
    SQLite::Transaction snapshot(db);
    const int version = CheckSchemaReadable(db, path);
    if (version == 0) return;
    SQLite::Statement families(db, "SELECT " + FamilyColumns(version) +
                                       ", (SELECT count(*) FROM series s WHERE s.family_id = families.id) "
                                       "FROM families ORDER BY name");
    while (families.executeStep()) {
      FamilySummary summary;
      summary.spec = ReadFamilyRow(families, path).second;
      summary.series = families.getColumn(kFamilyColumns).getInt64();
      out.push_back(std::move(summary));
    }
    snapshot.commit();
  });
  return out;
}

void CountRows(SQLite::Database& db, const std::string& path, int64_t* families, int64_t* series) {
  *families = *series = 0;
  GuardSqlite(path, "cannot read", [&] {
    SQLite::Transaction snapshot(db);
    if (!CheckSchemaReadable(db, path)) return;
    *families = db.execAndGet("SELECT count(*) FROM families").getInt64();
    *series = db.execAndGet("SELECT count(*) FROM series").getInt64();
    snapshot.commit();
  });
}

}  // namespace promsqlite::detail
