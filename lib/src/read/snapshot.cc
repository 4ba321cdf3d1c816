#include "read/snapshot.h"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>
#include <tuple>
#include <unordered_map>

#include "base/process_identity.h"
#include "base/tuple_codec.h"
#include "declare/native_histogram.h"
#include "declare/validate.h"
#include "read/pending_overlay.h"
#include "promsqlite/errors.h"
#include "store/database.h"
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

// Whether an exemplar's labels (name, value, ...) may be shown: what the
// writers' check (ValidateExemplar) lets into the file. Another program may
// have written one over OpenMetrics' 128 characters, which the official
// parser rejects with the whole exposition: such an exemplar is left out.
bool ExemplarShowable(const std::vector<std::string>& elements) {
  size_t characters = 0;
  for (size_t i = 0; i < elements.size(); ++i) {
    const std::string& text = elements[i];
    if (i % 2 == 0 && (!IsValidLabelName(text) || text.compare(0, 2, "__") == 0)) return false;
    if (!IsValidUtf8(text)) return false;
    for (char c : text) characters += (static_cast<unsigned char>(c) & 0xC0) != 0x80;  // lead bytes
  }
  return characters <= kMaxExemplarCharacters;
}

// Every exemplar of the file by series id, each list sorted by bucket.
// Read at once: most files hold none or few, and one query per series
// would cost every scrape more than the exemplars are worth.
std::unordered_map<int64_t, std::vector<ExemplarRecord>> LoadExemplars(SQLite::Database& db, const std::string& path,
                                                                       int version) {
  std::unordered_map<int64_t, std::vector<ExemplarRecord>> exemplars;
  const char* select = sql::SelectExemplars(version);
  if (select == nullptr) return exemplars;
  SQLite::Statement query(db, select);
  std::vector<std::string> elements;
  while (query.executeStep()) {
    ExemplarRecord e;
    e.bucket = query.getColumn(1).getInt64();
    if (e.bucket < 0) continue;  // no bucket of ours (another program's row)
    SQLite::Column labels = query.getColumn(2);
    std::string_view blob(static_cast<const char*>(labels.getBlob()), static_cast<size_t>(labels.getBytes()));
    if (!DecodeTuple(blob, &elements) || elements.size() % 2 != 0)
      throw DatabaseError(path + ": an exemplar has malformed labels");
    if (!ExemplarShowable(elements)) continue;
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

// Snapshots taken at most while regions flush under them; the last one is
// read on (docs/pending-regions.md).
constexpr int kSnapshotAttempts = 20;

struct SnapshotCursor::State {
  State(SQLite::Database& database, const std::string& file, double at, const std::vector<std::string>* names)
      : db(database), path(file), now(at), only(names), snapshot(db) {}  // BEGIN (deferred): one read snapshot

  // Hands the visitor the next family or series; false at the end.
  bool Step(SnapshotVisitor& visitor) {
    while (!done) {
      if (in_family) {
        if (!row_ready && !rows_done) {
          if (series->executeStep()) row_ready = true;
          else rows_done = true;
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
        series->reset();
        if (emitted) return true;
        continue;
      }
      if (!families->executeStep()) {
        snapshot.commit();
        done = true;
        break;
      }
      std::tie(family.id, family.spec) = ReadFamily(*families, path);
      if (only && std::find(only->begin(), only->end(), family.spec.name) == only->end()) continue;
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
      SeriesRow of_family;
      of_family.family_id = family.id;
      series->Bind(of_family);
      in_family = true;
      visitor.Family(family);
      return true;
    }
    return false;
  }

  // Emits the tuple the fold holds, if any; true when it did.
  bool EmitFold(SnapshotVisitor& visitor) {
    if (fold->empty()) return false;
    if (!DecodeTuple(group_labels, &record.label_values) || record.label_values.size() != label_count)
      throw DatabaseError(path + ": a series of '" + family.spec.name + "' has malformed labels");
    fold->Emit(&record);
    record.exemplars.clear();
    visitor.Series(family, record);
    return true;
  }

  // The labels blob of the current row of `series`.
  std::string_view RowLabels() {
    SQLite::Column labels = series->getColumn(sql::SeriesColumn("labels"));
    return std::string_view(static_cast<const char*>(labels.getBlob()), static_cast<size_t>(labels.getBytes()));
  }

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
  // and folded tuples do not, or later).
  bool Row(SnapshotVisitor& visitor, const PendingOverlay::Entry* add) {
    using sql::SeriesColumn;
    constexpr int kId = SeriesColumn("id"), kLabels = SeriesColumn("labels"), kValue = SeriesColumn("value"),
                  kCount = SeriesColumn("count"), kCreated = SeriesColumn("created"),
                  kUpdated = SeriesColumn("updated"), kWriterId = SeriesColumn("writer_id"),
                  kNativeSchema = SeriesColumn("native_schema");
    const FamilySpec& spec = family.spec;
    SQLite::Statement& row = *series;
    if (add != nullptr && !Fits(*add)) add = nullptr;
    // TTL. A series with updates pending in a region is not expired: its
    // flush will stamp it (housekeeping spares it too).
    if (row.getColumn(kUpdated).getDouble() < expired_before && add == nullptr) return false;
    SQLite::Column value_column = row.getColumn(kValue);
    const double value = value_column.isNull() ? std::nan("") : value_column.getDouble();
    SQLite::Column labels = row.getColumn(kLabels);
    std::string_view blob(static_cast<const char*>(labels.getBlob()), static_cast<size_t>(labels.getBytes()));
    const int64_t writer_id = row.getColumn(kWriterId).getInt64();
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
    if (folded) {
      bool emitted = false;
      if (blob != group_labels) {
        emitted = EmitFold(visitor);
        group_labels.assign(blob);
      }
      fold->Add(value, row.getColumn(kUpdated).getDouble(), row.getColumn(kCreated).getDouble());
      return emitted;
    }
    if (!DecodeTuple(blob, &record.label_values) || record.label_values.size() != label_count)
      throw DatabaseError(path + ": a series of '" + spec.name + "' has malformed labels");
    if (per_pid) record.label_values.push_back(std::to_string(writer ? writer->pid : 0));
    record.value = value;
    record.count = row.getColumn(kCount).getInt64();
    record.created = row.getColumn(kCreated).getDouble();
    record.bucket_counts.assign(histogram ? spec.buckets.size() : 0, 0);
    record.exemplars.clear();
    if (!exemplars.empty() && (histogram || spec.type == MetricType::kCounter)) {
      auto found = exemplars.find(row.getColumn(kId).getInt64());
      // Only buckets the series has (another program may have written others).
      const int64_t last_bucket = histogram ? static_cast<int64_t>(spec.buckets.size()) : 0;
      if (found != exemplars.end())
        for (const ExemplarRecord& e : found->second)
          if (e.bucket <= last_bucket) record.exemplars.push_back(e);
    }
    if (histogram) {
      buckets->Bind(BucketRow{row.getColumn(kId).getInt64(), 0, 0});
      while (buckets->executeStep()) {
        int64_t b = buckets->getColumn(0).getInt64();
        if (b >= 0 && static_cast<size_t>(b) < record.bucket_counts.size())
          record.bucket_counts[b] = buckets->getColumn(1).getInt64();
      }
      buckets->reset();
    }
    if (native && native_buckets) {
      NativeBuckets& nb = record.native;
      SQLite::Column schema = row.getColumn(kNativeSchema);
      nb.schema = schema.isNull() ? family_schema : schema.getInt();
      nb.zero_count = 0;
      nb.positive.clear();
      nb.negative.clear();
      NativeBucketRow of_series;
      of_series.series_id = row.getColumn(kId).getInt64();
      native_buckets->Bind(of_series);
      while (native_buckets->executeStep()) {
        int sign = native_buckets->getColumn(0).getInt();
        int32_t index = native_buckets->getColumn(1).getInt();
        int64_t count = native_buckets->getColumn(2).getInt64();
        if (count == 0) continue;
        if (sign == 0) nb.zero_count += count;
        else if (sign > 0) nb.positive.emplace_back(index, count);
        else nb.negative.emplace_back(index, count);
      }
      native_buckets->reset();
    }
    if (add != nullptr) AddPending(add->cell, &record);
    visitor.Series(family, record);
    return true;
  }

  SQLite::Database& db;
  const std::string path;
  const double now;
  const std::vector<std::string>* only;
  SQLite::Transaction snapshot;  // before the statements: they are finalized first
  int version = 0;
  std::optional<std::unordered_map<int64_t, WriterState>> writers;  // when a row needs them
  std::unordered_map<int64_t, std::vector<ExemplarRecord>> exemplars;
  std::optional<SQLite::Statement> families;
  std::optional<RowStatement<SeriesRow>> series;
  std::optional<RowStatement<BucketRow>> buckets;
  std::optional<RowStatement<NativeBucketRow>> native_buckets;  // files of version 3 and later
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
                               const std::vector<std::string>* only, RegionCache* regions) {
  GuardSqlite(path, "cannot read", [&] {
    std::unique_ptr<State> state;
    for (int attempt = 1;; ++attempt) {
      // The regions are listed and opened before the snapshot is taken
      // (read/pending_overlay.h says why).
      PendingOverlay overlay(path, regions);
      state = std::make_unique<State>(db, path, now, only);
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
      state->exemplars = LoadExemplars(db, path, state->version);
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
                  const std::vector<std::string>* only, RegionCache* regions) {
  SnapshotCursor cursor(db, path, now, only, regions);
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

std::vector<FamilySummary> ListFamilies(SQLite::Database& db, const std::string& path) {
  std::vector<FamilySummary> out;
  GuardSqlite(path, "cannot read", [&] {
    SQLite::Transaction snapshot(db);
    const int version = CheckSchemaReadable(db, path);
    if (version == 0) return;
    SQLite::Statement families(db, sql::SelectFamiliesWithSeriesCounts(version));
    while (families.executeStep()) {
      FamilySummary summary;
      summary.spec = ReadFamily(families, path).second;
      summary.series = families.getColumn(sql::kFamilyColumnCount).getInt64();
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
