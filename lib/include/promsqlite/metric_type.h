// The six metric types a promsqlite family can have.
#ifndef PROMSQLITE_METRIC_TYPE_H_
#define PROMSQLITE_METRIC_TYPE_H_

namespace promsqlite {

enum class MetricType {
  kCounter,    // shared, only goes up; exposed as NAME_total
  kGauge,      // shared, last writer wins for Set, atomic add for Increment
  kHistogram,  // buckets + _sum + _count, updated in one transaction
  kSummary,    // _sum + _count (no quantiles)
  kInfo,       // NAME_info{labels} 1
  kStateSet,   // enum: exactly one of the declared states is 1
};

// The name used in the file and in OpenMetrics' "# TYPE" line:
// counter, gauge, histogram, summary, info, stateset.
const char* MetricTypeName(MetricType type);

}  // namespace promsqlite

#endif  // PROMSQLITE_METRIC_TYPE_H_
