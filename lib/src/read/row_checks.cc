#include "read/row_checks.h"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <sqlite3.h>

#include <climits>
#include <cmath>
#include <optional>

#include "base/float_format.h"
#include "base/tuple_codec.h"
#include "declare/native_histogram.h"
#include "declare/validate.h"
#include "promsqlite/errors.h"
#include "store/database.h"
#include "store/schema.h"
#include "store/sql_rows.h"

namespace promsqlite::detail {
namespace {

const char* Expected(sql::Holds holds) {
  switch (holds) {
    case sql::Holds::kInteger: return "an integer";
    case sql::Holds::kIntegerOrNull: return "an integer or NULL";
    case sql::Holds::kReal: return "a number";
    case sql::Holds::kRealOrNull: return "a number or NULL";
    case sql::Holds::kText: return "TEXT";
    case sql::Holds::kBlob: return "a BLOB";
  }
  return "";
}

const char* TypeName(int type) {
  switch (type) {
    case SQLITE_INTEGER: return "INTEGER";
    case SQLITE_FLOAT: return "REAL";
    case SQLITE_TEXT: return "TEXT";
    case SQLITE_BLOB: return "BLOB";
    default: return "NULL";
  }
}

int TypeOf(const SQLite::Statement& row, int index) { return row.getColumn(index).getType(); }

std::string_view BlobOf(const SQLite::Statement& row, int index) {
  SQLite::Column column = row.getColumn(index);
  const void* data = column.getBlob();
  return data == nullptr ? std::string_view()
                         : std::string_view(static_cast<const char*>(data), static_cast<size_t>(column.getBytes()));
}

// The rule `e` (from declare/validate) states, without its "metric 'x': "
// (whose name may be the normalized one: a counter's without "_total").
std::string Rule(const InvalidArgument& e) {
  std::string message = e.what();
  const std::string_view start = "metric '";
  if (message.compare(0, start.size(), start) == 0)
    if (size_t end = message.find("': ", start.size()); end != std::string::npos) message.erase(0, end + 3);
  return message;
}

// What a declaration our writers would refuse breaks: the one validator's
// rules, and what it would quietly change rather than refuse (a stored +Inf
// bound would be rendered twice; a unit the name does not end in makes
// OpenMetrics parsers refuse the exposition).
std::string SpecProblem(const FamilySpec& spec) {
  try {
    NormalizeSpec(spec);
  } catch (const InvalidArgument& e) {
    return Rule(e);
  }
  for (double bound : spec.buckets)
    if (std::isinf(bound)) return "bucket bound " + FormatGoFloat(bound) + " is stored (+Inf is implied, never stored)";
  const std::string suffix = "_" + spec.unit;
  if (!spec.unit.empty() &&
      (spec.name.size() < suffix.size() || spec.name.compare(spec.name.size() - suffix.size(), suffix.size(), suffix) != 0))
    return "unit \"" + spec.unit + "\" is not the end of the name";
  return {};
}

std::string ExemplarLabelsProblem(std::string_view blob, ExemplarRecord* e) {
  std::vector<std::string> elements;
  if (!DecodeTuple(blob, &elements) || elements.size() % 2 != 0)
    return "labels are not a tuple encoding of names and values";
  Labels labels;
  for (size_t i = 0; i < elements.size(); i += 2) {
    if (!labels.emplace(elements[i], elements[i + 1]).second)
      return "label name \"" + elements[i] + "\" appears twice";
    e->names.push_back(std::move(elements[i]));
    e->values.push_back(std::move(elements[i + 1]));
  }
  try {
    ValidateExemplar("", "", labels);
  } catch (const InvalidArgument& error) {
    return Rule(error);
  }
  return {};
}

}  // namespace

std::string ColumnProblem(const StoredValue& value, const sql::Column& column) {
  if (Fits(value.type, column.holds)) return {};
  std::string problem = std::string(column.name) + " holds " + TypeName(value.type);
  if (value.type != SQLITE_NULL) problem += " " + ShowStoredValue(value);
  return problem + ", not " + Expected(column.holds);
}

std::string ColumnsProblem(const SQLite::Statement& row, const sql::Column* columns, size_t count) {
  for (size_t i = 0; i < count; ++i)
    if (!Fits(TypeOf(row, static_cast<int>(i)), columns[i].holds))
      return ColumnProblem(ReadStoredValue(row.getColumn(static_cast<int>(i))), columns[i]);
  return {};
}

std::string ReadFamilyRowChecked(const RawQuery& row, FamilyRecord* family) {
  constexpr int kId = sql::FamilyColumn("id"), kName = sql::FamilyColumn("name");
  family->id = sqlite3_value_int64(row.Value(kId));  // INTEGER PRIMARY KEY: always an integer
  family->spec = FamilySpec();
  if (sqlite3_value_type(row.Value(kName)) == SQLITE_TEXT) family->spec.name = BytesOf(row.Value(kName));
  std::string problem = ColumnsProblem(row, sql::kFamilyColumns);
  if (!problem.empty()) return problem;
  FamilySpec spec = DecodeFamily(ReadFamilyRow(row), &problem);
  if (!problem.empty()) return "malformed " + problem;
  problem = SpecProblem(spec);
  if (!problem.empty()) return problem;
  family->spec = std::move(spec);
  return {};
}

std::string DecodeSeriesLabels(std::string_view blob, const std::vector<std::string>& label_names,
                               size_t label_count, std::vector<std::string>* values) {
  if (!DecodeTuple(blob, values)) return "labels are not a tuple encoding";
  if (values->size() != label_count)
    return "labels hold " + std::to_string(values->size()) + (values->size() == 1 ? " value" : " values") +
           " for " + std::to_string(label_count) + (label_count == 1 ? " label name" : " label names");
  for (size_t i = 0; i < values->size(); ++i)
    if (!IsValidUtf8((*values)[i])) return "value of label \"" + label_names[i] + "\" is not valid UTF-8";
  return {};
}

std::string SeriesColumnsProblem(sqlite3_value* const* values) {
  constexpr int kNativeSchema = sql::SeriesColumn("native_schema");
  for (size_t i = 0; i < std::size(sql::kSeriesColumns); ++i)
    if (values[i] != nullptr && !Fits(sqlite3_value_type(values[i]), sql::kSeriesColumns[i].holds))
      return ColumnProblem(ReadStoredValue(values[i]), sql::kSeriesColumns[i]);
  if (values[kNativeSchema] != nullptr && sqlite3_value_type(values[kNativeSchema]) == SQLITE_INTEGER) {
    const int64_t schema = sqlite3_value_int64(values[kNativeSchema]);
    if (schema < kMinNativeSchema || schema > kMaxNativeSchema)
      return "native_schema " + std::to_string(schema) + " is outside " + std::to_string(kMinNativeSchema) + ".." +
             std::to_string(kMaxNativeSchema);
  }
  return {};
}

std::string ReadBucketRow(const RawQuery& row, int64_t* bucket, int64_t* count) {
  std::string problem = ColumnsProblem(row, sql::kBucketColumns);
  if (!problem.empty()) return problem;
  *bucket = sqlite3_value_int64(row.Value(0));
  *count = sqlite3_value_int64(row.Value(1));
  if (*count < 0) return "count " + std::to_string(*count) + " is negative";
  return {};
}

std::string ReadNativeBucketRow(const RawQuery& row, int* sign, int32_t* index, int64_t* count) {
  std::string problem = ColumnsProblem(row, sql::kNativeBucketColumns);
  if (!problem.empty()) return problem;
  const int64_t stored_sign = sqlite3_value_int64(row.Value(0)), stored_index = sqlite3_value_int64(row.Value(1));
  *count = sqlite3_value_int64(row.Value(2));
  if (stored_sign < -1 || stored_sign > 1) return "sign " + std::to_string(stored_sign) + " is not -1, 0 or 1";
  if (stored_index < INT32_MIN || stored_index > INT32_MAX)
    return "bucket " + std::to_string(stored_index) + " is beyond any schema's indices";
  if (*count < 0) return "count " + std::to_string(*count) + " is negative";
  *sign = static_cast<int>(stored_sign);
  *index = static_cast<int32_t>(stored_index);
  return {};
}

ExemplarIndex LoadExemplars(SQLite::Database& db, int version) {
  ExemplarIndex index;
  const char* select = sql::SelectExemplars(version);
  if (select == nullptr) return index;
  SQLite::Statement query(db, select);
  while (query.executeStep()) {
    if (TypeOf(query, 0) != SQLITE_INTEGER) continue;  // of no series
    const int64_t series_id = query.getColumn(0).getInt64();
    if (TypeOf(query, 1) == SQLITE_INTEGER && query.getColumn(1).getInt64() < 0) continue;  // no bucket of ours
    ExemplarRecord e;
    std::string problem = ColumnsProblem(query, sql::kExemplarColumns);
    if (problem.empty()) problem = ExemplarLabelsProblem(BlobOf(query, 2), &e);
    if (!problem.empty()) {
      index.bad[series_id].push_back(BadExemplar{ReadStoredValue(query.getColumn(1)), std::move(problem)});
      continue;
    }
    e.bucket = query.getColumn(1).getInt64();
    e.value = query.getColumn(3).getDouble();
    e.timestamp = query.getColumn(4).getDouble();
    index.good[series_id].push_back(std::move(e));
  }
  return index;
}

bool ExemplarShown(const StoredValue& bucket, const FamilySpec& spec) {
  const int64_t last = spec.type == MetricType::kHistogram ? static_cast<int64_t>(spec.buckets.size()) : 0;
  return bucket.type != SQLITE_INTEGER || bucket.integer <= last;
}

const char* TableName(RowRef::Table table) {
  switch (table) {
    case RowRef::kFamilies: return "families";
    case RowRef::kSeries: return "series";
    case RowRef::kBucketCounts: return "bucket_counts";
    case RowRef::kNativeBuckets: return "native_buckets";
    case RowRef::kExemplars: return "exemplars";
  }
  return "";
}

std::string RowKey(const RowRef& row) {
  switch (row.table) {
    case RowRef::kFamilies:
    case RowRef::kSeries: return "id=" + std::to_string(row.id);
    case RowRef::kNativeBuckets:
      return "series_id=" + std::to_string(row.id) + " sign=" + ShowStoredValue(row.sign) +
             " bucket=" + ShowStoredValue(row.bucket);
    default: return "series_id=" + std::to_string(row.id) + " bucket=" + ShowStoredValue(row.bucket);
  }
}

UnreadableRow Unreadable(const RowRef& row, std::string_view family, std::string_view problem) {
  return UnreadableRow{TableName(row.table), RowKey(row), Printable(family), Printable(problem)};
}

void LeaveOut(const RowRef& ref, std::string_view family, std::string_view problem, const std::string& path,
              SkippedRows* skipped) {
  if (skipped == nullptr)
    throw DatabaseError(path + ": cannot read " + Unreadable(ref, family, problem).ToString() +
                        " (promsqlite check lists such rows)");
  if (skipped->listed.size() < SkippedRows::kMaxListed) skipped->listed.push_back(Unreadable(ref, family, problem));
  ++skipped->per_family[Printable(family)];
}

std::string Printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      out += c < 0x20 || c == 0x7f ? '?' : static_cast<char>(c);
      ++i;
      continue;
    }
    // The longest valid sequence starting here, else one replacement byte.
    size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    if (i + len <= text.size() && IsValidUtf8(text.substr(i, len))) {
      out.append(text.substr(i, len));
      i += len;
    } else {
      out += "\xEF\xBF\xBD";  // U+FFFD
      ++i;
    }
  }
  return out;
}

std::vector<FoundRow> FindUnreadableRows(SQLite::Database& db, const std::string& path) {
  std::vector<FoundRow> found;
  GuardSqlite(path, "cannot check", [&] {
    const int version = CheckSchemaReadable(db, path);
    if (version == 0) return;
    const ExemplarIndex exemplars = LoadExemplars(db, version);
    RawQuery families(db, sql::SelectFamilies(version)), series(db, sql::SelectSeriesOfFamily(version)),
        buckets(db, sql::kSelectBuckets);
    std::optional<RawQuery> natives;
    if (const char* select = sql::SelectNativeBucketsInOrder(version)) natives.emplace(db, select);
    auto add = [&](const RowRef& ref, std::string_view family, std::string_view problem) {
      found.push_back(FoundRow{Unreadable(ref, family, problem), ref});
    };
    constexpr int kId = sql::SeriesColumn("id"), kLabels = sql::SeriesColumn("labels");
    FamilyRecord family;
    std::vector<std::string> labels;
    while (families.Step()) {
      std::string problem = ReadFamilyRowChecked(families, &family);
      if (!problem.empty()) {
        add(RowRef{RowRef::kFamilies, family.id}, family.spec.name, problem);
        continue;  // its series go with it
      }
      const FamilySpec& spec = family.spec;
      const bool histogram = spec.type == MetricType::kHistogram;
      const bool with_exemplars = histogram || spec.type == MetricType::kCounter;
      series.Bind(":family_id", family.id);
      while (series.Step()) {
        const int64_t id = sqlite3_value_int64(series.Value(kId));
        sqlite3_value* values[std::size(sql::kSeriesColumns)];
        int types[std::size(sql::kSeriesColumns)];
        ReadSeriesValues(series, spec, values, types);
        problem = SeriesColumnsProblem(values);
        if (problem.empty()) problem = DecodeSeriesLabels(BytesOf(values[kLabels]), spec.label_names, spec.label_names.size(), &labels);
        if (!problem.empty()) {
          add(RowRef{RowRef::kSeries, id}, spec.name, problem);
          continue;  // its bucket rows and exemplars go with it
        }
        if (histogram) {
          buckets.Bind(":series_id", id);
          int64_t bucket, count;
          while (buckets.Step()) {
            problem = ReadBucketRow(buckets, &bucket, &count);
            if (!problem.empty())
              add(RowRef{RowRef::kBucketCounts, id, {}, ReadStoredValue(buckets.Value(0))}, spec.name, problem);
          }
        }
        if (spec.native_bucket_factor > 0 && natives) {
          natives->Bind(":series_id", id);
          int sign;
          int32_t index;
          int64_t count;
          while (natives->Step()) {
            problem = ReadNativeBucketRow(*natives, &sign, &index, &count);
            if (!problem.empty())
              add(RowRef{RowRef::kNativeBuckets, id, ReadStoredValue(natives->Value(0)),
                         ReadStoredValue(natives->Value(1))},
                  spec.name, problem);
          }
        }
        if (with_exemplars) {
          auto bad = exemplars.bad.find(id);
          if (bad != exemplars.bad.end())
            for (const BadExemplar& e : bad->second)
              if (ExemplarShown(e.bucket, spec)) add(RowRef{RowRef::kExemplars, id, {}, e.bucket}, spec.name, e.problem);
        }
      }
    }
  });
  return found;
}

}  // namespace promsqlite::detail
