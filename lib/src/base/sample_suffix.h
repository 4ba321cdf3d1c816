// The one table of sample-name suffixes: what the exposition formats (text
// 0.0.4, OpenMetrics, protobuf, remote-write's series) append to a family's
// name, and what declaration strips from a name or keeps other families off.
#ifndef PROMSQLITE_SRC_BASE_SAMPLE_SUFFIX_H_
#define PROMSQLITE_SRC_BASE_SAMPLE_SUFFIX_H_

#include <string_view>

#include "promsqlite/metric_type.h"

namespace promsqlite::detail {

inline constexpr char kTotalSuffix[] = "_total";      // a counter's value
inline constexpr char kCreatedSuffix[] = "_created";  // a counter's, histogram's or summary's start (OpenMetrics)
inline constexpr char kBucketSuffix[] = "_bucket";    // a histogram's cumulative bucket, with le
inline constexpr char kCountSuffix[] = "_count";      // a histogram's or summary's number of observations
inline constexpr char kSumSuffix[] = "_sum";          // their sum
inline constexpr char kInfoSuffix[] = "_info";        // an info's series

// Every suffix above, in that order.
inline constexpr const char* kSampleSuffixes[] = {kTotalSuffix, kCreatedSuffix, kBucketSuffix,
                                                  kCountSuffix, kSumSuffix, kInfoSuffix};

// What the text format, protobuf and remote-write add to the name of a
// whole family of `type` ("_total" for a counter, "_info" for an info, ""
// for the others), and what declaring a name strips. OpenMetrics names
// those families without it and puts it on their samples only.
constexpr std::string_view FamilyNameSuffix(MetricType type) {
  switch (type) {
    case MetricType::kCounter: return kTotalSuffix;
    case MetricType::kInfo: return kInfoSuffix;
    case MetricType::kGauge:
    case MetricType::kHistogram:
    case MetricType::kSummary:
    case MetricType::kStateSet: break;
  }
  return {};
}

}  // namespace promsqlite::detail

#endif  // PROMSQLITE_SRC_BASE_SAMPLE_SUFFIX_H_
