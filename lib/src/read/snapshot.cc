#include "read/snapshot.h"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "declare/validate.h"
#include "promsqlite/errors.h"
#include "store/database.h"
#include "store/schema.h"
#include "store/tuple_codec.h"

namespace promsqlite::detail {

void ReadSnapshot(SQLite::Database& db, const std::string& path, SnapshotVisitor& visitor) {
  GuardSqlite(path, "cannot read", [&] {
    SQLite::Transaction snapshot(db);  // BEGIN (deferred): one read snapshot
    if (!CheckSchemaReadable(db, path)) return;
    SQLite::Statement families(db,
                               "SELECT id, name, help, unit, type, label_names, buckets, states "
                               "FROM families ORDER BY name");
    SQLite::Statement series(db,
                             "SELECT id, labels, value, count, created FROM series "
                             "WHERE family_id = ?1 ORDER BY labels");
    SQLite::Statement buckets(db, "SELECT bucket, count FROM bucket_counts WHERE series_id = ?1");
    FamilyRecord family;
    SeriesRecord record;
    while (families.executeStep()) {
      family.id = families.getColumn(0).getInt64();
      FamilyRow row{families.getColumn(4).getString(), families.getColumn(5).getString(),
                    families.getColumn(6).getString(), families.getColumn(7).getString()};
      family.spec = DecodeFamily(families.getColumn(1).getString(), families.getColumn(2).getString(),
                                 families.getColumn(3).getString(), row, path);
      visitor.Family(family);
      const size_t label_count = family.spec.label_names.size();
      const bool histogram = family.spec.type == MetricType::kHistogram;
      series.bind(1, static_cast<int64_t>(family.id));
      while (series.executeStep()) {
        SQLite::Column labels = series.getColumn(1);
        std::string_view blob(static_cast<const char*>(labels.getBlob()), static_cast<size_t>(labels.getBytes()));
        if (!DecodeTuple(blob, &record.label_values) || record.label_values.size() != label_count)
          throw DatabaseError(path + ": a series of '" + family.spec.name + "' has malformed labels");
        SQLite::Column value = series.getColumn(2);
        record.value = value.isNull() ? std::nan("") : value.getDouble();
        record.count = series.getColumn(3).getInt64();
        record.created = series.getColumn(4).getDouble();
        record.bucket_counts.assign(histogram ? family.spec.buckets.size() : 0, 0);
        if (histogram) {
          buckets.bind(1, series.getColumn(0).getInt64());
          while (buckets.executeStep()) {
            int64_t b = buckets.getColumn(0).getInt64();
            if (b >= 0 && static_cast<size_t>(b) < record.bucket_counts.size())
              record.bucket_counts[b] = buckets.getColumn(1).getInt64();
          }
          buckets.reset();
        }
        visitor.Series(family, record);
      }
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
    if (!CheckSchemaReadable(db, path)) return;
    SQLite::Statement families(db,
                               "SELECT f.name, f.help, f.unit, f.type, f.label_names, f.buckets, f.states, "
                               "(SELECT count(*) FROM series s WHERE s.family_id = f.id) "
                               "FROM families f ORDER BY f.name");
    while (families.executeStep()) {
      FamilyRow row{families.getColumn(3).getString(), families.getColumn(4).getString(),
                    families.getColumn(5).getString(), families.getColumn(6).getString()};
      FamilySummary summary;
      summary.spec = DecodeFamily(families.getColumn(0).getString(), families.getColumn(1).getString(),
                                  families.getColumn(2).getString(), row, path);
      summary.series = families.getColumn(7).getInt64();
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
