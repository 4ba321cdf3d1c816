// Children of a family: one handle per label-value tuple.
//
// Handles are cheap values (one shared pointer): copy them, keep them, use
// them from any thread. All processes that write the same series add to one
// value. In the default batched mode (Options::write_mode) an update is a
// few atomic operations on the process's shared region (about 10 ns),
// durable against a SIGKILL of the process and seen by readers once the
// call returns, written to the file at the next flush; what a region cannot
// hold (native histograms, per-process gauges, exemplars) is one SQLite
// transaction, as every update is in immediate mode (Synchronous::kNormal:
// durable once the call returns, against a crash of the process; a few
// microseconds). See bench/ for figures.
//
// Thread safety: safe for concurrent use without external synchronization.
// Process safety: any number of processes may update the same series.
// After fork() the child reopens the file on its first update.
#ifndef PROMSQLITE_METRICS_H_
#define PROMSQLITE_METRICS_H_

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace promsqlite {

namespace detail {
struct SeriesState;
}  // namespace detail

// Label values by label name, as prometheus-cpp takes them. Also an
// exemplar's labels.
using Labels = std::map<std::string, std::string>;

// Exemplars (OpenMetrics): an update of a counter or a histogram may carry
// labels that point at one request behind it, typically a trace id, e.g.
// {{"trace_id", "4bf92f3577b34da6"}}. The exemplar's value is the amount
// added or the value observed, its timestamp the time of the update
// (Options::clock). The file keeps one exemplar per counter series and one
// per histogram bucket: the one with the latest timestamp, whichever
// process wrote it. Exposed in OpenMetrics and protobuf (the text format
// 0.0.4 has none). Label names must match [a-zA-Z_][a-zA-Z0-9_]* (not
// starting with "__", which is reserved), values be
// UTF-8, and names and values together hold at most 128 characters (code
// points), else InvalidArgument; an empty set is an exemplar without labels.
// Cost: one more row written in the update's transaction (a counter's also
// looks its row up by key); in batched mode, where the update itself waits
// in a region, a transaction of its own (Options::immediate_outside_regions)
// or, without that option, the latest per bucket held until the flush.
// A counter: a shared total that only goes up.
class Counter {
 public:
  // Adds `amount` to the shared total. Throws InvalidArgument when `amount`
  // is negative, NaN or infinite; DatabaseError when the file cannot be written.
  void Increment(double amount = 1.0) const;
  // The same, keeping `exemplar` (see Exemplars above) with it.
  void Increment(double amount, const Labels& exemplar) const;
  // The current shared total: the file's plus this registry's updates not
  // yet flushed (another process's show here once flushed or recovered).
  double Value() const;

 private:
  template <typename> friend class Family;
  explicit Counter(std::shared_ptr<detail::SeriesState> s) : series_(std::move(s)) {}
  std::shared_ptr<detail::SeriesState> series_;
};

// A gauge shared by all processes: Set is last-writer-wins,
// Increment/Decrement are atomic additions.
class Gauge {
 public:
  // Adds `amount` (which may be negative). NaN is rejected: it would poison
  // the shared value for every process.
  void Increment(double amount = 1.0) const;
  void Decrement(double amount = 1.0) const;
  // Sets the value; NaN and infinities are allowed.
  void Set(double value) const;
  // Sets the value to the current Unix time in seconds.
  void SetToCurrentTime() const;
  double Value() const;

 private:
  template <typename> friend class Family;
  explicit Gauge(std::shared_ptr<detail::SeriesState> s) : series_(std::move(s)) {}
  std::shared_ptr<detail::SeriesState> series_;
};

// What a histogram or summary holds at one moment.
struct DistributionValue {
  // Cumulative count per bucket, in the order of the bucket bounds, the last
  // being +Inf (== count). Empty for summaries.
  std::vector<double> cumulative_counts;
  double sum = 0;
  double count = 0;
};

// A histogram: the bucket, _sum and _count change in one transaction, so no
// reader ever sees _count differ from the +Inf bucket. With a native
// histogram (FamilySpec::native_bucket_factor), the observation's native
// bucket, at the schema the file holds for the series at that moment, is
// part of the same transaction; its buckets show only in the protobuf
// exposition and remote-write.
class Histogram {
 public:
  // Records one observation. NaN is rejected; infinities are counted.
  void Observe(double value) const;
  // The same, keeping `exemplar` (see Exemplars above) for the classic
  // bucket the value falls in (+Inf for a native-only histogram).
  void Observe(double value, const Labels& exemplar) const;
  DistributionValue Value() const;

 private:
  template <typename> friend class Family;
  explicit Histogram(std::shared_ptr<detail::SeriesState> s) : series_(std::move(s)) {}
  std::shared_ptr<detail::SeriesState> series_;
};

// A summary without quantiles: _sum and _count, changed in one transaction.
class Summary {
 public:
  void Observe(double value) const;
  DistributionValue Value() const;

 private:
  template <typename> friend class Family;
  explicit Summary(std::shared_ptr<detail::SeriesState> s) : series_(std::move(s)) {}
  std::shared_ptr<detail::SeriesState> series_;
};

// An info metric: its labels are the information, its value is always 1.
// The series exists as soon as Family<Info>::Add returns.
class Info {
 public:
  // True while the series is in the file.
  bool Exists() const;

 private:
  template <typename> friend class Family;
  explicit Info(std::shared_ptr<detail::SeriesState> s) : series_(std::move(s)) {}
  std::shared_ptr<detail::SeriesState> series_;
};

// An enum (OpenMetrics StateSet): exactly one of the declared states is
// current. A new series starts in the first declared state.
class Enum {
 public:
  // Makes `state` the current one (last writer wins). Throws InvalidArgument
  // when `state` was not declared.
  void Set(std::string_view state) const;
  std::string State() const;

 private:
  template <typename> friend class Family;
  explicit Enum(std::shared_ptr<detail::SeriesState> s) : series_(std::move(s)) {}
  std::shared_ptr<detail::SeriesState> series_;
};

}  // namespace promsqlite

#endif  // PROMSQLITE_METRICS_H_
