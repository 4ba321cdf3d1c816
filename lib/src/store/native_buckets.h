// A series' native-histogram buckets in the file: adding a process's counts
// to the file's, at whatever schema the file holds the series now, and
// lowering the resolution when the buckets exceed the family's maximum.
// The arithmetic is declare/native_histogram's; this is its SQL. Every
// function runs inside the caller's write transaction on the store's
// connection (store/connection.h).
#ifndef PROMSQLITE_SRC_STORE_NATIVE_BUCKETS_H_
#define PROMSQLITE_SRC_STORE_NATIVE_BUCKETS_H_

#include <cstdint>

#include "store/store.h"

namespace promsqlite::detail {

// Adds `deltas` to the native buckets of series `id`, which the file holds
// at `schema` (the series row's, as the observe's upsert found it). Deltas
// counted at a higher schema than the file's (another process lowered it
// since) are merged down; a file at a higher schema than the deltas (the
// series was removed and made anew meanwhile) is lowered to theirs. A new
// bucket beyond the family's maximum lowers the series further. Stores the
// resulting schema in `series.cached_schema`.
void AddNativeBuckets(Store::Connection& c, int64_t id, const SeriesRef& series, int schema,
                      const NativeDeltas& deltas);

// One observation of `value` for series `id`, held at `schema`: its bucket
// at that schema, through AddNativeBuckets. NaN and infinities have none.
void ObserveNative(Store::Connection& c, int64_t id, const SeriesRef& series, int schema, double value);

// Rewrites the native buckets of series `id`, stored at schema `from`, at
// the highest schema <= `at_most` at which at most `max_buckets` are
// non-empty (or at -4), merging buckets; returns that schema.
int ReduceNative(Store::Connection& c, int64_t id, int from, int at_most, int64_t max_buckets);

}  // namespace promsqlite::detail

#endif  // PROMSQLITE_SRC_STORE_NATIVE_BUCKETS_H_
