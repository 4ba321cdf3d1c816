#include "declare/native_histogram.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

namespace promsqlite::detail {
namespace {

// For schema s > 0, the 2^s bucket boundaries within [0.5, 1):
// 2^(j/2^s - 1), j = 0 .. 2^s - 1 (the mantissas frexp() returns).
const std::vector<double>& Boundaries(int schema) {
  static const auto table = [] {
    std::array<std::vector<double>, kMaxNativeSchema + 1> t;
    for (int s = 1; s <= kMaxNativeSchema; ++s) {
      int n = 1 << s;
      for (int j = 0; j < n; ++j) t[s].push_back(std::exp2(static_cast<double>(j) / n - 1));
    }
    return t;
  }();
  return table[schema];
}

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
  if (std::isnan(value) || std::isinf(value)) return false;
  double magnitude = std::fabs(value);
  if (magnitude <= zero_threshold) {
    *sign = 0;
    *index = 0;
    return true;
  }
  *sign = value > 0 ? 1 : -1;
  int exp = 0;
  double frac = std::frexp(magnitude, &exp);  // magnitude = frac * 2^exp, frac in [0.5, 1)
  if (schema > 0) {
    const std::vector<double>& bounds = Boundaries(schema);
    auto pos = std::lower_bound(bounds.begin(), bounds.end(), frac) - bounds.begin();
    *index = static_cast<int32_t>(pos + static_cast<int64_t>(exp - 1) * static_cast<int64_t>(bounds.size()));
  } else {
    int key = frac == 0.5 ? exp - 1 : exp;  // powers of two are upper bounds
    *index = ReduceNativeIndex(key, -schema);
  }
  return true;
}

double NativeUpperBound(int32_t index, int schema) { return std::exp2(std::ldexp(static_cast<double>(index), -schema)); }

}  // namespace promsqlite::detail
