// Declaring families (builders) and getting their children.
//
//   auto requests = promsqlite::BuildCounter()
//                       .Name("http_requests")
//                       .Help("Requests served.")
//                       .LabelNames({"method", "code"})
//                       .Register(registry);
//   promsqlite::Counter ok = requests.WithLabelValues({"GET", "200"});
//   ok.Increment();
//
// Register() stores the declaration in the file (or checks it against the
// one already there) and returns a Family handle.
//
// Thread safety: Family handles are cheap values, safe for concurrent use.
// Builders are plain values; do not share one between threads while setting.
#ifndef PROMSQLITE_FAMILY_H_
#define PROMSQLITE_FAMILY_H_

#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "promsqlite/metric_type.h"
#include "promsqlite/metrics.h"

namespace promsqlite {

class Registry;

namespace detail {
struct FamilyState;
}  // namespace detail

// client_golang's DefNativeHistogramZeroThreshold: 2^-128.
constexpr double kDefaultNativeZeroThreshold = 0x1p-128;

// Everything that declares a family. Stored in the file; a second
// declaration must match in type, label names (as a set), unit, buckets,
// native histogram (schema, zero threshold, max buckets), states, gauge mode
// and TTL, or Register throws DeclarationConflict. A different non-empty help
// text replaces the stored one; an empty one keeps it.
struct FamilySpec {
  MetricType type = MetricType::kGauge;
  // [a-zA-Z_:][a-zA-Z0-9_:]*. A counter may be named with or without
  // "_total", an info with or without "_info": the suffix is stripped.
  std::string name;
  std::string help;  // UTF-8, any characters; escaped when rendered.
  // OpenMetrics unit, e.g. "seconds". When set, the name must end in
  // "_<unit>"; it is appended when missing, as the Python client does.
  std::string unit;
  std::vector<std::string> label_names;  // [a-zA-Z_][a-zA-Z0-9_]*, no "__" prefix
  // Histograms: strictly increasing upper bounds, +Inf implied.
  // Default (when empty): DefaultBuckets().
  // Histograms with a native histogram and no `buckets` have no classic ones
  // (native only); with `buckets`, both are kept and exposed.
  std::vector<double> buckets;
  // Histograms: > 1 adds a native histogram (exponential buckets, nothing to
  // choose but the resolution): each bucket's upper bound is at most this
  // factor times its lower bound, as client_golang's
  // NativeHistogramBucketFactor (1.1 gives schema 3: 8 buckets per power of
  // two; see docs/schema.md). 0: none. Default: 0.
  double native_bucket_factor = 0;
  // Native histograms: observations v with |v| <= this count in the zero
  // bucket. Finite, >= 0. Default: kDefaultNativeZeroThreshold (2^-128).
  double native_zero_threshold = kDefaultNativeZeroThreshold;
  // Native histograms: when a series has more non-empty buckets than this,
  // its resolution is halved (schema - 1, pairs of buckets merged) until it
  // fits, or schema -4 is reached. >= 1. Default: 160.
  int native_max_buckets = 160;
  std::vector<std::string> states;  // enums: distinct state names
  // Gauges: how the values of several processes combine. Default: kShared.
  GaugeMode gauge_mode = GaugeMode::kShared;
  // A series not updated for this many seconds is no longer exposed and is
  // deleted by housekeeping. 0: never. Default: 0.
  double ttl_seconds = 0;
};

// Prometheus' default histogram buckets (client_golang's DefBuckets):
// .005 .01 .025 .05 .1 .25 .5 1 2.5 5 10.
const std::vector<double>& DefaultBuckets();

// A declared family. Children are created in the file (at 0) on their first
// lookup and cached: a later lookup of the same label tuple neither
// validates nor allocates nor touches the file.
//
// The cache is bounded, for label values that churn (sessions, jobs,
// users): when it grows past its mark, the children that no handle outside
// it holds, that were not looked up since the previous sweep and that have
// no update waiting for a flush are evicted (a clock), and the next mark is
// twice what is left, at least 4096. So a family caches the children whose
// handles are held elsewhere plus at most max(4096, 2 x those looked up in
// the last sweep period) others: a writer that uses each of a million
// session labels once keeps a few thousand, about 0.5 KiB each. Evicted
// children with updates still waiting for the flush are kept until it
// writes them; once 2048 of them wait, a batched writer's flush runs at
// once instead of at the end of its interval, so what churn keeps does not
// grow with its rate. RemoveSeries,
// ClearFamily, RemoveFamily and Wipe (and the Python client's remove() and
// clear()) evict the children they remove at once; children of series that
// expired or another process removed go as unused ones do. Eviction is
// invisible but for cost: a later lookup of an evicted tuple validates it
// and looks its row up in the file again (an INSERT when the row is gone:
// the series starts at 0, as a new child does), about as costly as a first
// lookup (bench/run: churn_lookup_ns against churn_lookup_cached_ns). A
// handle held across an eviction, an expiry or a removal (by this process,
// another one, or the CLI's rm) stays valid: its next update recreates the
// series holding only that update; nothing pending is lost or counted twice.
// The writer's other per-series state (a batched writer's region slots,
// pending updates) is freed with the child; see Options::pending_region_bytes.
template <typename T>
class Family {
 public:
  // Child by label name; every declared label must be given, no others.
  T Add(const Labels& labels) const;
  // Child by label values in the order the label names were declared.
  T WithLabelValues(std::initializer_list<std::string_view> values) const;
  T WithLabelValues(const std::vector<std::string>& values) const;

  const std::string& name() const;
  const FamilySpec& spec() const;
  // How many children the cache holds now (see above). One lock.
  size_t CachedChildren() const;

 private:
  friend class Registry;
  explicit Family(std::shared_ptr<detail::FamilyState> state) : state_(std::move(state)) {}
  T WithLabelValues(const std::string_view* values, size_t count) const;
  std::shared_ptr<detail::FamilyState> state_;
};

// Collects a FamilySpec; Register(registry) declares it.
template <typename T>
class Builder {
 public:
  explicit Builder(MetricType type) { spec_.type = type; }
  Builder& Name(std::string name) { spec_.name = std::move(name); return *this; }
  Builder& Help(std::string help) { spec_.help = std::move(help); return *this; }
  Builder& Unit(std::string unit) { spec_.unit = std::move(unit); return *this; }
  Builder& LabelNames(std::vector<std::string> names) {
    spec_.label_names = std::move(names);
    return *this;
  }
  // Expire series not updated for `seconds` (see FamilySpec::ttl_seconds).
  Builder& Ttl(double seconds) {
    spec_.ttl_seconds = seconds;
    return *this;
  }
  // Gauges only: per-process values and how they combine (GaugeMode).
  template <typename U = T, typename = std::enable_if_t<std::is_same_v<U, Gauge>>>
  Builder& Mode(GaugeMode mode) {
    spec_.gauge_mode = mode;
    return *this;
  }
  // Histograms only. Default: DefaultBuckets(). A trailing +Inf is implied.
  template <typename U = T, typename = std::enable_if_t<std::is_same_v<U, Histogram>>>
  Builder& Buckets(std::vector<double> bounds) {
    spec_.buckets = std::move(bounds);
    return *this;
  }
  // Histograms only: adds a native histogram with this bucket factor (> 1,
  // e.g. 1.1); see FamilySpec::native_bucket_factor.
  template <typename U = T, typename = std::enable_if_t<std::is_same_v<U, Histogram>>>
  Builder& NativeHistogram(double bucket_factor) {
    spec_.native_bucket_factor = bucket_factor;
    return *this;
  }
  // Native histograms: see FamilySpec::native_zero_threshold.
  template <typename U = T, typename = std::enable_if_t<std::is_same_v<U, Histogram>>>
  Builder& NativeZeroThreshold(double threshold) {
    spec_.native_zero_threshold = threshold;
    return *this;
  }
  // Native histograms: see FamilySpec::native_max_buckets.
  template <typename U = T, typename = std::enable_if_t<std::is_same_v<U, Histogram>>>
  Builder& NativeMaxBuckets(int buckets) {
    spec_.native_max_buckets = buckets;
    return *this;
  }
  // Enums only: the possible states, at least one.
  template <typename U = T, typename = std::enable_if_t<std::is_same_v<U, Enum>>>
  Builder& States(std::vector<std::string> states) {
    spec_.states = std::move(states);
    return *this;
  }
  // Validates, stores or checks the declaration, returns the family.
  // Throws InvalidArgument, DeclarationConflict or DatabaseError.
  Family<T> Register(Registry& registry) const;

 private:
  FamilySpec spec_;
};

inline Builder<Counter> BuildCounter() { return Builder<Counter>(MetricType::kCounter); }
inline Builder<Gauge> BuildGauge() { return Builder<Gauge>(MetricType::kGauge); }
inline Builder<Histogram> BuildHistogram() { return Builder<Histogram>(MetricType::kHistogram); }
inline Builder<Summary> BuildSummary() { return Builder<Summary>(MetricType::kSummary); }
inline Builder<Info> BuildInfo() { return Builder<Info>(MetricType::kInfo); }
inline Builder<Enum> BuildEnum() { return Builder<Enum>(MetricType::kStateSet); }

}  // namespace promsqlite

#endif  // PROMSQLITE_FAMILY_H_
