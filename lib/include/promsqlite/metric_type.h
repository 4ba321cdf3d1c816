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

// How a gauge combines the values that several processes write, as the
// Python client's multiprocess modes do. kShared (the default) is one value
// for all processes: Set is last-writer-wins, Increment adds. All other
// modes keep one value per writer process (identified by pid and process
// start time) and combine them when read:
//   kAll         one series per process, with a "pid" label
//   kSum/kMax/kMin  the sum/maximum/minimum over processes
//   kMostRecent  the value written last by any process
// The kLive... variants count only processes still running: a dead
// process's values vanish from the exposition at once and are deleted by
// housekeeping. The plain variants keep a dead process's last value (until
// the family's TTL, if any, expires it).
enum class GaugeMode {
  kShared,
  kAll, kLiveAll,
  kSum, kLiveSum,
  kMax, kLiveMax,
  kMin, kLiveMin,
  kMostRecent, kLiveMostRecent,
};

// "" for kShared, else "all", "liveall", "sum", "livesum", ...
const char* GaugeModeName(GaugeMode mode);
bool IsLive(GaugeMode mode);

// The name used in the file and in OpenMetrics' "# TYPE" line:
// counter, gauge, histogram, summary, info, stateset.
const char* MetricTypeName(MetricType type);

}  // namespace promsqlite

#endif  // PROMSQLITE_METRIC_TYPE_H_
