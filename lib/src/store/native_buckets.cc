#include "store/native_buckets.h"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "declare/native_histogram.h"
#include "store/connection.h"
#include "store/sql_rows.h"

namespace promsqlite::detail {

int ReduceNative(Store::Connection& c, int64_t id, int from, int at_most, int64_t max_buckets) {
  std::vector<std::pair<std::pair<int, int32_t>, int64_t>> rows;  // ((sign, index), count) at `from`
  NativeBucketRow of_series;
  of_series.series_id = id;
  {
    c.select_native_buckets.Bind(of_series);
    ResetOnExit reset{c.select_native_buckets};
    while (c.select_native_buckets.executeStep())
      rows.push_back({{c.select_native_buckets.getColumn(0).getInt(), c.select_native_buckets.getColumn(1).getInt()},
                      c.select_native_buckets.getColumn(2).getInt64()});
  }
  NativeBucketCounts merged;
  const int schema = ReduceNativeBuckets(rows, from, at_most, max_buckets, &merged);
  if (schema == from) return from;
  Exec(c.delete_native_buckets.Bind(of_series));
  for (const auto& [key, count] : merged) Exec(c.native_bucket.Bind(NativeBucketRow{id, key.first, key.second, count}));
  SeriesRow series;
  series.id = id;
  series.native_schema = schema;
  Exec(c.set_native_schema.Bind(series));
  return schema;
}

void AddNativeBuckets(Store::Connection& c, int64_t id, const SeriesRef& series, int schema,
                      const NativeDeltas& deltas) {
  if (schema > deltas.schema) schema = ReduceNative(c, id, schema, deltas.schema, INT64_MAX);
  const int shift = deltas.schema - schema;
  bool new_bucket = false;
  auto add = [&](int sign, int32_t index, int64_t count) {
    const NativeBucketRow row{id, sign, sign == 0 ? 0 : ReduceNativeIndex(index, shift), count};
    for (RowStatement<NativeBucketRow>* statement : {&c.native_bucket_add.get(), &c.native_bucket.get()}) {
      Exec(statement->Bind(row));
      if (statement == &c.native_bucket_add.get() && c.db->getChanges() > 0) return;  // an existing bucket
    }
    if (sign != 0) new_bucket = true;
  };
  if (deltas.zero != 0) add(0, 0, deltas.zero);
  for (const auto& [index, count] : deltas.positive) add(1, index, count);
  for (const auto& [index, count] : deltas.negative) add(-1, index, count);
  if (new_bucket) {
    // Only a new bucket can exceed the maximum: counting rows is rare.
    int64_t buckets;
    {
      NativeBucketRow of_series;
      of_series.series_id = id;
      c.count_native_buckets.Bind(of_series);
      ResetOnExit reset{c.count_native_buckets};
      c.count_native_buckets.executeStep();
      buckets = c.count_native_buckets.getColumn(0).getInt64();
    }
    if (buckets > series.native.max_buckets) schema = ReduceNative(c, id, schema, schema, series.native.max_buckets);
  }
  if (series.cached_schema) series.cached_schema->store(schema, std::memory_order_relaxed);
}

void ObserveNative(Store::Connection& c, int64_t id, const SeriesRef& series, int schema, double value) {
  NativeDeltas one;
  one.schema = schema;
  int sign;
  int32_t index;
  if (!NativeBucketOf(value, schema, series.native.zero_threshold, &sign, &index)) return;
  if (sign == 0) one.zero = 1;
  else (sign > 0 ? one.positive : one.negative).emplace_back(index, 1);
  AddNativeBuckets(c, id, series, schema, one);
}

}  // namespace promsqlite::detail
