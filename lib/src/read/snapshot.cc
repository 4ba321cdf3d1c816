#include "read/snapshot.h"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>
#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>
#include <unordered_map>

#include "base/process_identity.h"
#include "base/tuple_codec.h"
#include "declare/native_histogram.h"
#include "declare/validate.h"
#include "read/pending_overlay.h"
#include "read/row_checks.h"
#include "promsqlite/errors.h"
#include "store/database.h"
#include "store/raw_query.h"
#include "store/schema.h"
#include "store/sql.h"
#include "store/sql_rows.h"

namespace promsqlite::detail {

namespace {

struct WriterState {
  int64_t pid = 0;
  bool alive = false;
};

// Writers (processes with per-process gauges) and whether each still runs.
std::unordered_map<int64_t, WriterState> LoadWriters(SQLite::Database& db, int version) {
  std::unordered_map<int64_t, WriterState> writers;
  const char* select = sql::SelectWriters(version);
  if (select == nullptr) return writers;
  SQLite::Statement query(db, select);
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

}  // namespace

// Snapshots taken at most while regions flush under them; the last one is
// read on (docs/pending-regions.md).
constexpr int kSnapshotAttempts = 20;

struct SnapshotCursor::State {
  State(SQLite::Database& database, const std::string& file, double at, const std::vector<std::string>* names,
        SkippedRows* left_out)
      : db(database), path(file), now(at), only(names), skipped(left_out), snapshot(db) {}  // BEGIN (deferred)

  // A row that cannot be read: reported when the reader skips such rows,
  // else the read fails here.
  void Skip(const RowRef& ref, std::string_view problem) {
    LeaveOut(ref, family.spec.name, problem, path, skipped);
  }

  static constexpr int kLabelsColumn = sql::SeriesColumn("labels");

  // Hands the visitor the next family or series; false at the end.
  bool Step(SnapshotVisitor& visitor) {
    while (!done) {
      if (in_family) {
        while (!row_ready && !rows_done) {
          if (!series->Step()) {
            rows_done = true;
          } else if (pending == nullptr || sqlite3_value_type(series->Value(kLabelsColumn)) == SQLITE_BLOB) {
            row_ready = true;
          } else {
            // Left out before the merge below, which needs the label order
            // of BLOBs (SQLite sorts other types before them).
            Skip(RowRef{RowRef::kSeries, sqlite3_value_int64(series->Value(sql::SeriesColumn("id")))},
                 ColumnProblem(ReadStoredValue(series->Value(kLabelsColumn)), sql::kSeriesColumns[kLabelsColumn]));
          }
        }
        // Pending series of the regions (docs/pending-regions.md), merged
        // in label order: those without a row go before the next row.
        if (pending != nullptr && next_pending != pending->end()) {
          if (!row_ready || next_pending->first < RowLabels()) {
            const auto& [labels, entry] = *next_pending++;
            if (PendingOnly(visitor, labels, entry)) return true;
            continue;
          }
        }
        if (row_ready) {
          row_ready = false;
          const PendingOverlay::Entry* add = nullptr;
          if (pending != nullptr && next_pending != pending->end() && next_pending->first == RowLabels())
            add = &(next_pending++)->second;
          if (Row(visitor, add)) return true;
          continue;
        }
        in_family = false;
        const bool emitted = folded && EmitFold(visitor);
        group_labels.clear();
        series->Reset();
        if (emitted) return true;
        continue;
      }
      if (!families->Step()) {
        snapshot.commit();
        done = true;
        break;
      }
      const std::string problem = ReadFamilyRowChecked(*families, &family);
      if (only && std::find(only->begin(), only->end(), family.spec.name) == only->end()) continue;
      if (!problem.empty()) {
        Skip(RowRef{RowRef::kFamilies, family.id}, problem);  // with its series
        continue;
      }
      const FamilySpec& spec = family.spec;
      label_count = spec.label_names.size();
      histogram = spec.type == MetricType::kHistogram;
      native = spec.native_bucket_factor > 0;
      family_schema = native ? NativeSchemaForFactor(spec.native_bucket_factor) : 0;
      mode = spec.gauge_mode;
      per_pid = mode == GaugeMode::kAll || mode == GaugeMode::kLiveAll;
      folded = mode != GaugeMode::kShared && !per_pid;
      if (per_pid) family.spec.label_names.push_back("pid");
      expired_before = spec.ttl_seconds > 0 ? now - spec.ttl_seconds : -HUGE_VAL;
      fold.emplace(mode);
      // Regions hold shared series only, never native histograms.
      pending = overlay && mode == GaugeMode::kShared && !native ? overlay->Family(spec.name) : nullptr;
      if (pending != nullptr) next_pending = pending->begin();
      row_ready = rows_done = false;
      series->Bind(":family_id", family.id);
      in_family = true;
      visitor.Family(family);
      return true;
    }
    return false;
  }

  // Emits the tuple the fold holds, if any; true when it did.
  bool EmitFold(SnapshotVisitor& visitor) {
    if (fold->empty()) return false;
    // Each row folded had these labels, and they decoded (Row).
    DecodeTuple(group_labels, &record.label_values);
    fold->Emit(&record);
    record.exemplars.clear();
    visitor.Series(family, record);
    return true;
  }

  // The labels blob of the current row of `series`.
  std::string_view RowLabels() { return BytesOf(series->Value(kLabelsColumn)); }

  // Whether a region's entry fits the family as it is now.
  bool Fits(const PendingOverlay::Entry& entry) const {
    return SlotFits(entry.kind, entry.cell.buckets.size(), family.spec);
  }

  // Adds a region's pending updates to the record of a row.
  static void AddPending(const PendingCell& cell, SeriesRecord* record) {
    record->value = cell.has_set ? cell.value : record->value + cell.value;
    record->count += cell.count;
    for (size_t b = 0; b < cell.buckets.size() && b < record->bucket_counts.size(); ++b)
      record->bucket_counts[b] += cell.buckets[b];
  }

  // A series only the regions have so far (or whose row expired): what its
  // flush will write. True when it reached the visitor.
  bool PendingOnly(SnapshotVisitor& visitor, std::string_view labels, const PendingOverlay::Entry& entry) {
    if (!Fits(entry)) return false;
    // A malformed key is the region's problem, not the scrape's: left out.
    if (!DecodeTuple(labels, &record.label_values) || record.label_values.size() != label_count) return false;
    record.value = 0;
    record.count = 0;
    record.created = now;  // the flush's time will be close to it
    record.bucket_counts.assign(histogram ? family.spec.buckets.size() : 0, 0);
    record.exemplars.clear();
    AddPending(entry.cell, &record);
    visitor.Series(family, record);
    return true;
  }

  // The current row of `series` with `add`'s pending updates (may be null);
  // true when it reached the visitor (rows of expired series, dead writers
  // and folded tuples do not, or later; rows that cannot be read never).
  bool Row(SnapshotVisitor& visitor, const PendingOverlay::Entry* add) {
    using sql::SeriesColumn;
    constexpr int kId = SeriesColumn("id"), kLabels = SeriesColumn("labels"), kValue = SeriesColumn("value"),
                  kCount = SeriesColumn("count"), kCreated = SeriesColumn("created"),
                  kUpdated = SeriesColumn("updated"), kWriterId = SeriesColumn("writer_id"),
                  kNativeSchema = SeriesColumn("native_schema");
    const FamilySpec& spec = family.spec;
    const RawQuery& row = *series;
    // Each value once, its type checked before it is read.
    sqlite3_value* values[std::size(sql::kSeriesColumns)];
    int types[std::size(sql::kSeriesColumns)];
    ReadSeriesValues(row, spec, values, types);
    const int64_t id = sqlite3_value_int64(values[kId]);
    if (add != nullptr && !Fits(*add)) add = nullptr;
    // Rows not shown anyway are not judged (nor reported): those of expired
    // series and, in live modes, of dead writers. TTL: a series with updates
    // pending in a region is not expired: its flush will stamp it
    // (housekeeping spares it too).
    const bool updated_is_number = types[kUpdated] == SQLITE_FLOAT || types[kUpdated] == SQLITE_INTEGER;
    const double updated = updated_is_number ? sqlite3_value_double(values[kUpdated]) : 0;
    if (updated_is_number && updated < expired_before && add == nullptr) return false;
    const int64_t writer_id = types[kWriterId] == SQLITE_INTEGER ? sqlite3_value_int64(values[kWriterId]) : 0;
    const WriterState* writer = nullptr;
    if (mode != GaugeMode::kShared && writer_id != 0) {
      // Loaded at the first row that needs them: telling whether a writer
      // lives reads /proc per writer, which a file of shared series never
      // needs.
      if (!writers) writers = LoadWriters(db, version);
      auto it = writers->find(writer_id);
      if (it != writers->end()) writer = &it->second;
      if (IsLive(mode) && (writer == nullptr || !writer->alive)) return false;
    }
    const std::string_view blob = types[kLabels] == SQLITE_BLOB ? BytesOf(values[kLabels]) : std::string_view();
    {
      // Labels decoded into the record (folded rows: into a scratch list,
      // their tuple is decoded again when the fold is emitted).
      std::string problem;
      if (!SeriesColumnsFit(types) || native) problem = SeriesColumnsProblem(values);
      if (problem.empty()) problem = DecodeSeriesLabels(blob, spec.label_names, label_count, folded ? &scratch : &record.label_values);
      if (!problem.empty()) {
        Skip(RowRef{RowRef::kSeries, id}, problem);
        return false;
      }
    }
    const double value = types[kValue] == SQLITE_NULL ? std::nan("") : sqlite3_value_double(values[kValue]);
    if (folded) {
      bool emitted = false;
      if (blob != group_labels) {
        emitted = EmitFold(visitor);
        group_labels.assign(blob);
      }
      fold->Add(value, updated, sqlite3_value_double(values[kCreated]));
      return emitted;
    }
    if (per_pid) record.label_values.push_back(std::to_string(writer ? writer->pid : 0));
    record.value = value;
    record.count = sqlite3_value_int64(values[kCount]);
    record.created = sqlite3_value_double(values[kCreated]);
    record.bucket_counts.assign(histogram ? spec.buckets.size() : 0, 0);
    record.exemplars.clear();
    if (histogram || spec.type == MetricType::kCounter) {
      if (!exemplars.good.empty()) {
        auto found = exemplars.good.find(id);
        // Only buckets the series has (another program may have written others).
        const int64_t last_bucket = histogram ? static_cast<int64_t>(spec.buckets.size()) : 0;
        if (found != exemplars.good.end())
          for (const ExemplarRecord& e : found->second)
            if (e.bucket <= last_bucket) record.exemplars.push_back(e);
      }
      if (!exemplars.bad.empty()) {  // left out; the series is shown without them
        auto found = exemplars.bad.find(id);
        if (found != exemplars.bad.end())
          for (const BadExemplar& e : found->second)
            if (ExemplarShown(e.bucket, spec)) Skip(RowRef{RowRef::kExemplars, id, {}, e.bucket}, e.problem);
      }
    }
    // A bucket row that cannot be read leaves its series out (each such row
    // reported): a histogram without one of its buckets would be wrong.
    bool readable = true;
    if (histogram) {
      buckets->Bind(":series_id", id);
      int64_t b, count;
      while (buckets->Step()) {
        if (std::string problem = ReadBucketRow(*buckets, &b, &count); !problem.empty()) {
          Skip(RowRef{RowRef::kBucketCounts, id, {}, ReadStoredValue(buckets->Value(0))}, problem);
          readable = false;
        } else if (b >= 0 && static_cast<size_t>(b) < record.bucket_counts.size()) {
          record.bucket_counts[b] = count;
        }
      }
    }
    if (native && native_buckets) {
      NativeBuckets& nb = record.native;
      nb.schema = types[kNativeSchema] == SQLITE_NULL ? family_schema
                                                      : static_cast<int32_t>(sqlite3_value_int64(values[kNativeSchema]));
      nb.zero_count = 0;
      nb.positive.clear();
      nb.negative.clear();
      native_buckets->Bind(":series_id", id);
      int sign;
      int32_t index;
      int64_t count;
      while (native_buckets->Step()) {
        if (std::string problem = ReadNativeBucketRow(*native_buckets, &sign, &index, &count); !problem.empty()) {
          Skip(RowRef{RowRef::kNativeBuckets, id, ReadStoredValue(native_buckets->Value(0)),
                      ReadStoredValue(native_buckets->Value(1))},
               problem);
          readable = false;
          continue;
        }
        if (count == 0) continue;
        if (sign == 0) nb.zero_count += count;
        else if (sign > 0) nb.positive.emplace_back(index, count);
        else nb.negative.emplace_back(index, count);
      }
    }
    if (!readable) return false;
    if (add != nullptr) AddPending(add->cell, &record);
    visitor.Series(family, record);
    return true;
  }

  SQLite::Database& db;
  const std::string path;
  const double now;
  const std::vector<std::string>* only;
  SkippedRows* const skipped;  // null: fail on a row that cannot be read
  SQLite::Transaction snapshot;  // before the statements: they are finalized first
  int version = 0;
  std::optional<std::unordered_map<int64_t, WriterState>> writers;  // when a row needs them
  ExemplarIndex exemplars;
  std::vector<std::string> scratch;  // the labels of a folded row
  std::optional<RawQuery> families;
  // Read through SQLite's C API (store/raw_query.h): every series and bucket
  // row of the file passes here.
  std::optional<RawQuery> series;
  std::optional<RawQuery> buckets;
  std::optional<RawQuery> native_buckets;  // files of version 3 and later
  bool done = false, in_family = false;
  // The current family.
  FamilyRecord family;
  SeriesRecord record;
  size_t label_count = 0;
  bool histogram = false, native = false, per_pid = false, folded = false;
  int family_schema = 0;
  GaugeMode mode = GaugeMode::kShared;
  double expired_before = 0;
  std::optional<GaugeFold> fold;
  std::string group_labels;  // the tuple the fold is folding
  // Pending updates of the regions, when any; the current family's, and
  // the next of them to merge.
  std::optional<PendingOverlay> overlay;
  const PendingOverlay::Series* pending = nullptr;
  PendingOverlay::Series::const_iterator next_pending;
  bool row_ready = false, rows_done = false;  // the current family's rows
};

SnapshotCursor::SnapshotCursor(SQLite::Database& db, const std::string& path, double now,
                               const std::vector<std::string>* only, RegionCache* regions,
                               SkippedRows* skipped) {
  GuardSqlite(path, "cannot read", [&] {
    std::unique_ptr<State> state;
    for (int attempt = 1;; ++attempt) {
      // The regions are listed and opened before the snapshot is taken
      // (read/pending_overlay.h says why).
      PendingOverlay overlay(path, regions);
      state = std::make_unique<State>(db, path, now, only, skipped);
      state->version = CheckSchemaReadable(db, path);
      if (state->version == 0 || overlay.Load(db, state->version) || attempt == kSnapshotAttempts) {
        if (!overlay.empty()) state->overlay.emplace(std::move(overlay));
        break;
      }
      state.reset();  // a region flushed after the snapshot began: a new snapshot
    }
    if (state->version == 0) {  // no schema yet: an empty file
      state->snapshot.commit();
      state->done = true;
    } else {
      state->exemplars = LoadExemplars(db, state->version);
      state->families.emplace(db, sql::SelectFamilies(state->version));
      state->series.emplace(db, sql::SelectSeriesOfFamily(state->version));
      state->buckets.emplace(db, sql::kSelectBuckets);
      // Files before version 3 have no native histograms (nor families with one).
      if (const char* select = sql::SelectNativeBucketsInOrder(state->version))
        state->native_buckets.emplace(db, select);
    }
    state_ = std::move(state);
  });
}

SnapshotCursor::~SnapshotCursor() = default;

bool SnapshotCursor::Step(SnapshotVisitor& visitor) {
  return GuardSqlite(state_->path, "cannot read", [&] { return state_->Step(visitor); });
}

void ReadSnapshot(SQLite::Database& db, const std::string& path, double now, SnapshotVisitor& visitor,
                  const std::vector<std::string>* only, RegionCache* regions, SkippedRows* skipped) {
  SnapshotCursor cursor(db, path, now, only, regions, skipped);
  while (cursor.Step(visitor)) {
  }
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

std::vector<FamilySummary> ListFamilies(SQLite::Database& db, const std::string& path,
                                        SkippedRows* skipped) {
  std::vector<FamilySummary> out;
  GuardSqlite(path, "cannot read", [&] {
    SQLite::Transaction snapshot(db);
    const int version = CheckSchemaReadable(db, path);
    if (version == 0) return;
    RawQuery families(db, sql::SelectFamiliesWithSeriesCounts(version));
    FamilyRecord family;
    while (families.Step()) {
      if (std::string problem = ReadFamilyRowChecked(families, &family); !problem.empty()) {
        LeaveOut(RowRef{RowRef::kFamilies, family.id}, family.spec.name, problem, path, skipped);
        continue;
      }
      FamilySummary summary;
      summary.spec = std::move(family.spec);
      summary.series = sqlite3_value_int64(families.Value(sql::kFamilyColumnCount));
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
    *families = db.execAndGet(sql::kCountFamilies).getInt64();
    *series = db.execAndGet(sql::kCountSeries).getInt64();
    snapshot.commit();
  });
}

}  // namespace promsqlite::detail
