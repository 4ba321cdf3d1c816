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

int QueryInt(SQLite::Database& db, const char* sql) {
  SQLite::Statement query(db, sql);
  query.executeStep();
  return query.getColumn(0).getInt();
}

// The file's schema version, 0 for a file without any table; throws for a
// file that is not ours or is newer.
int Classify(SQLite::Database& db, const std::string& path) {
  int application_id = QueryInt(db, sql::kApplicationIdPragma);
  int version = QueryInt(db, sql::kUserVersionPragma);
  if (application_id == 0 && version == 0 && QueryInt(db, sql::kCountSchemaObjects) == 0) return 0;
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
    db.exec(sql::kSchemaV1);
    db.exec(sql::SetApplicationId());
    version = 1;
  }
  for (; version < kSchemaVersion; ++version) db.exec(sql::kMigrations[version - 1]);
  db.exec(sql::SetUserVersion());
}

int CheckSchemaReadable(SQLite::Database& db, const std::string& path) { return Classify(db, path); }

std::pair<int64_t, FamilySpec> ReadFamily(const SQLite::Statement& row, const std::string& path) {
  FamilyRow stored = ReadFamilyRow(row);
  return {stored.id, DecodeFamily(stored, path)};
}

FamilyRow EncodeFamily(const FamilySpec& spec) {
  FamilyRow row;
  row.name = spec.name;
  row.help = spec.help;
  row.unit = spec.unit;
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
    row.native_schema = NativeSchemaForFactor(spec.native_bucket_factor);
    row.native_zero_threshold = spec.native_zero_threshold;
    row.native_max_buckets = spec.native_max_buckets;
  }
  return row;
}

FamilySpec DecodeFamily(const FamilyRow& row, const std::string& path) {
  std::string problem;
  FamilySpec spec = DecodeFamily(row, &problem);
  if (!problem.empty()) throw DatabaseError(path + ": family '" + row.name + "' has a malformed " + problem);
  return spec;
}

FamilySpec DecodeFamily(const FamilyRow& row, std::string* problem) {
  FamilySpec spec;
  auto corrupt = [&](const std::string& what) {
    *problem = what;
    return spec;
  };
  problem->clear();
  spec.name = row.name;
  spec.help = row.help;
  spec.unit = row.unit;
  static constexpr MetricType kTypes[] = {MetricType::kCounter, MetricType::kGauge,
                                          MetricType::kHistogram, MetricType::kSummary,
                                          MetricType::kInfo, MetricType::kStateSet};
  bool known = false;
  for (MetricType t : kTypes) {
    if (row.type == MetricTypeName(t)) { spec.type = t; known = true; }
  }
  if (!known) return corrupt("type \"" + row.type + "\"");
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
    if (!ParseFloat(bound, &value)) return corrupt("bucket bound \"" + bound + "\"");
    spec.buckets.push_back(value);
  }
  if (!DecodeTuple(row.states, &spec.states)) return corrupt("state list");
  static constexpr GaugeMode kModes[] = {
      GaugeMode::kShared, GaugeMode::kAll,        GaugeMode::kLiveAll,       GaugeMode::kSum,
      GaugeMode::kLiveSum, GaugeMode::kMax,       GaugeMode::kLiveMax,       GaugeMode::kMin,
      GaugeMode::kLiveMin, GaugeMode::kMostRecent, GaugeMode::kLiveMostRecent};
  known = false;
  for (GaugeMode m : kModes) {
    if (row.gauge_mode == GaugeModeName(m)) { spec.gauge_mode = m; known = true; }
  }
  if (!known) return corrupt("gauge mode \"" + row.gauge_mode + "\"");
  spec.ttl_seconds = row.ttl_seconds;
  if (row.native_schema) {
    const int64_t schema = *row.native_schema;
    if (schema < kMinNativeSchema || schema > kMaxNativeSchema || row.native_max_buckets < 1 ||
        row.native_max_buckets > INT32_MAX || !(row.native_zero_threshold >= 0))
      return corrupt("native histogram");
    spec.native_bucket_factor = NativeFactorForSchema(static_cast<int>(schema));
    spec.native_zero_threshold = row.native_zero_threshold;
    spec.native_max_buckets = static_cast<int>(row.native_max_buckets);
  }
  return spec;
}

}  // namespace promsqlite::detail
