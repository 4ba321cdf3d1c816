// The bucket arithmetic of Prometheus' native histograms (docs/schema.md):
// at schema s, bucket i of the positive side holds the values in
// (2^((i-1)/2^s), 2^(i/2^s)]; the negative side mirrors it; values with
// |v| <= the zero threshold go to the zero bucket. The one place that maps
// values and schemas to bucket indices, for writers, readers and the store.
#ifndef PROMSQLITE_SRC_DECLARE_NATIVE_HISTOGRAM_H_
#define PROMSQLITE_SRC_DECLARE_NATIVE_HISTOGRAM_H_

#include <cstdint>
#include <map>
#include <utility>
#include <vector>

namespace promsqlite::detail {

constexpr int kMinNativeSchema = -4;
constexpr int kMaxNativeSchema = 8;

// The coarsest schema whose bucket factor 2^(2^-s) does not exceed `factor`
// (> 1), clamped to [-4, 8], as client_golang picks it.
int NativeSchemaForFactor(double factor);
// The bucket factor of `schema`: 2^(2^-schema).
double NativeFactorForSchema(int schema);

// Where one observation goes. sign: +1/-1 for a bucket of that side, 0 for
// the zero bucket (index 0). False for NaN and infinities, which only count
// in _count and _sum (as client_golang does for NaN).
bool NativeBucketOf(double value, int schema, double zero_threshold, int* sign, int32_t* index);

// The index at schema s - k of the bucket that holds bucket `index` of
// schema s: ceil(index / 2^k). Halving the resolution merges buckets
// 2j-1 and 2j into bucket j.
inline int32_t ReduceNativeIndex(int32_t index, int k) {
  return static_cast<int32_t>((static_cast<int64_t>(index) + ((int64_t{1} << k) - 1)) >> k);
}

// Native bucket counts by (sign, index), sign +1 or -1 (the zero bucket
// does not change with the schema and is not among them).
using NativeBucketCounts = std::map<std::pair<int, int32_t>, int64_t>;

// How a series' native buckets, at schema `from`, are stored at a lower
// resolution: at the highest schema <= min(from, at_most) at which at most
// `max_buckets` of them are non-empty, or at kMinNativeSchema when none is
// coarse enough. Returns that schema; `merged` receives the buckets at it
// (pairs of neighbours summed per halving, ReduceNativeIndex).
int ReduceNativeBuckets(const std::vector<std::pair<std::pair<int, int32_t>, int64_t>>& buckets, int from,
                        int at_most, int64_t max_buckets, NativeBucketCounts* merged);

// The upper bound of positive bucket `index` at `schema`: 2^(index / 2^schema).
double NativeUpperBound(int32_t index, int schema);

}  // namespace promsqlite::detail

#endif  // PROMSQLITE_SRC_DECLARE_NATIVE_HISTOGRAM_H_
