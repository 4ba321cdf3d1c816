// Batched mode on held handles (single thread): Counter::Increment and
// Histogram::Observe with pending updates in the shared region (the
// default, docs/pending-regions.md) against the same in process memory
// (PendingStore::kProcessMemory, the path before regions), and the
// increment against prometheus-cpp's on a held child with the same labels.
// Interleaved, so that noise from the shared machine hits every side.
#include "benchmarks.h"
#include "common.h"
#include "prometheus_cpp.h"
#include "promsqlite/promsqlite.h"

namespace bench {
namespace {

struct Handles {
  promsqlite::Counter counter;
  promsqlite::Histogram histogram;  // the 11 default buckets
};

Handles Declare(promsqlite::Registry& registry) {
  return Handles{promsqlite::BuildCounter()
                     .Name("bench_requests")
                     .Help("Requests.")
                     .LabelNames(HotLabelNames())
                     .Register(registry)
                     .WithLabelValues(HotLabelValues()),
                 promsqlite::BuildHistogram()
                     .Name("bench_latency_seconds")
                     .Help("Latency.")
                     .LabelNames(HotLabelNames())
                     .Register(registry)
                     .WithLabelValues(HotLabelValues())};
}

// 64 values from 0.001 to 10, cycled: several buckets are met.
double Value(unsigned i) { return 0.001 * static_cast<double>(1 + (i * 2654435761u) % 10000); }

}  // namespace

int RunIncrementNs(const Flags& flags) {
  const std::string dir = flags.Get("dir", "/tmp");
  const double seconds = flags.Double("seconds", 0.5);
  const int repeats = flags.Int("repeats", 3);

  promsqlite::Options shared_options;
  shared_options.write_mode = promsqlite::WriteMode::kBatched;  // default 1 s flush interval, as users get it
  promsqlite::Options private_options = shared_options;
  private_options.pending_store = promsqlite::PendingStore::kProcessMemory;
  promsqlite::Registry shared_registry(dir + "/batched.db", shared_options);
  promsqlite::Registry private_registry(dir + "/batched_private.db", private_options);
  Handles shared = Declare(shared_registry), in_memory = Declare(private_registry);
  PrometheusCppCounter reference;

  unsigned n = 0;
  auto inc_ns = [&](Handles& h, double s) { return 1e9 / CallsPerSecond(s, 4096, [&] { h.counter.Increment(); }); };
  auto observe_ns = [&](Handles& h, double s) {
    return 1e9 / CallsPerSecond(s, 4096, [&] { h.histogram.Observe(Value(++n & 63)); });
  };
  for (Handles* h : {&shared, &in_memory}) {  // warm-up, untimed
    inc_ns(*h, seconds / 4);
    observe_ns(*h, seconds / 4);
  }
  reference.IncrementNs(seconds / 4);

  std::vector<double> shared_inc, private_inc, prometheus_cpp, shared_observe, private_observe;
  for (int r = 0; r < repeats; ++r) {
    shared_inc.push_back(inc_ns(shared, seconds));
    private_inc.push_back(inc_ns(in_memory, seconds));
    prometheus_cpp.push_back(reference.IncrementNs(seconds));
    shared_observe.push_back(observe_ns(shared, seconds / 2));
    private_observe.push_back(observe_ns(in_memory, seconds / 2));
  }
  ReportMedian("batched_inc_ns", shared_inc);
  ReportMedian("batched_private_inc_ns", private_inc);
  ReportMedian("prometheus_cpp_inc_ns", prometheus_cpp);
  Report("batched_shared_vs_private_inc_ratio", MedianRatio(shared_inc, private_inc));
  Report("batched_vs_prometheus_cpp_ratio", MedianRatio(shared_inc, prometheus_cpp));
  ReportMedian("batched_shared_observe_ns", shared_observe);
  ReportMedian("batched_private_observe_ns", private_observe);
  Report("batched_shared_vs_private_observe_ratio", MedianRatio(shared_observe, private_observe));
  return 0;
}

}  // namespace bench
