#include "declare/native_histogram.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <vector>

namespace promsqlite::detail {
namespace {

// For schema s > 0, the 2^s bucket boundaries within [0.5, 1):
// 2^(j/2^s - 1), j = 0 .. 2^s - 1 (the mantissas frexp() returns), then
// 1.0 as a sentinel. And a table by the top s+1 mantissa bits: how many
// boundaries lie below the start of that slice of [0.5, 1). A slice is
// narrower than any bucket, so it holds at most one boundary and one
// comparison finishes the search. Built once at load time, so the hot path
// reads them without a guard.
struct Schema {
  std::vector<double> bounds;
  std::vector<uint16_t> below;  // by slice
};

std::array<Schema, kMaxNativeSchema + 1> MakeSchemas() {
  std::array<Schema, kMaxNativeSchema + 1> t;
  for (int s = 1; s <= kMaxNativeSchema; ++s) {
    const int n = 1 << s;
    for (int j = 0; j < n; ++j) t[s].bounds.push_back(std::exp2(static_cast<double>(j) / n - 1));
    const int slices = 1 << (s + 1);
    for (int k = 0; k < slices; ++k) {
      double start = 0.5 + 0.5 * k / slices;
      t[s].below.push_back(static_cast<uint16_t>(
          std::lower_bound(t[s].bounds.begin(), t[s].bounds.end(), start) - t[s].bounds.begin()));
    }
    t[s].bounds.push_back(1.0);  // never below a frac
  }
  return t;
}
const std::array<Schema, kMaxNativeSchema + 1> kSchemas = MakeSchemas();

}  // namespace

int NativeSchemaForFactor(double factor) {
  // The coarsest schema whose factor 2^(2^-s) does not exceed `factor`: the
  // smallest s with 2^-s <= log2(factor). A factor given as 2^(2^-s)
  // (rounded) must give s itself.
  double log = std::log2(factor) * (1 + 1e-12);
  for (int s = kMinNativeSchema; s < kMaxNativeSchema; ++s) {
    if (std::ldexp(1.0, -s) <= log) return s;
  }
  return kMaxNativeSchema;
}

double NativeFactorForSchema(int schema) { return std::exp2(std::ldexp(1.0, -schema)); }

bool NativeBucketOf(double value, int schema, double zero_threshold, int* sign, int32_t* index) {
  uint64_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  const int biased = static_cast<int>((bits >> 52) & 0x7ff);
  if (biased == 0x7ff) return false;  // NaN or an infinity
  double magnitude = std::fabs(value);
  if (magnitude <= zero_threshold) {
    *sign = 0;
    *index = 0;
    return true;
  }
  *sign = value > 0 ? 1 : -1;
  // magnitude = frac * 2^exp with frac in [0.5, 1), as frexp() gives it;
  // for normal numbers straight from the bits.
  int exp = 0;
  double frac;
  if (biased == 0) {
    frac = std::frexp(magnitude, &exp);  // subnormal
  } else {
    exp = biased - 1022;
    uint64_t frac_bits = (bits & 0x000fffffffffffffULL) | (uint64_t{1022} << 52);
    std::memcpy(&frac, &frac_bits, sizeof frac);
  }
  if (schema > 0) {
    // The number of boundaries below frac, at (exp - 1) * 2^schema.
    const Schema& table = kSchemas[static_cast<size_t>(schema)];
    uint64_t frac_bits;
    std::memcpy(&frac_bits, &frac, sizeof frac_bits);
    const size_t slice = static_cast<size_t>((frac_bits >> (52 - (schema + 1))) & ((uint64_t{1} << (schema + 1)) - 1));
    size_t pos = table.below[slice];
    pos += table.bounds[pos] < frac ? 1 : 0;
    *index = static_cast<int32_t>(static_cast<int64_t>(pos) + static_cast<int64_t>(exp - 1) * (int64_t{1} << schema));
  } else {
    int key = frac == 0.5 ? exp - 1 : exp;  // powers of two are upper bounds
    *index = ReduceNativeIndex(key, -schema);
  }
  return true;
}

int ReduceNativeBuckets(const std::vector<std::pair<std::pair<int, int32_t>, int64_t>>& buckets, int from,
                        int at_most, int64_t max_buckets, NativeBucketCounts* merged) {
  int schema = std::min(from, at_most);
  for (;; --schema) {
    merged->clear();
    for (const auto& [key, count] : buckets) (*merged)[{key.first, ReduceNativeIndex(key.second, from - schema)}] += count;
    if (static_cast<int64_t>(merged->size()) <= max_buckets || schema <= kMinNativeSchema) return schema;
  }
}

double NativeUpperBound(int32_t index, int schema) { return std::exp2(std::ldexp(static_cast<double>(index), -schema)); }

}  // namespace promsqlite::detail
