// A batched-mode Counter::Increment on a held handle (single thread)
// against prometheus-cpp's on a held child with the same labels.
#include "benchmarks.h"
#include "prometheus_cpp.h"
#include "promsqlite/promsqlite.h"

namespace bench {

int RunIncrementNs(const Flags& flags) {
  const std::string dir = flags.Get("dir", "/tmp");
  const double seconds = flags.Double("seconds", 0.5);
  const int repeats = flags.Int("repeats", 3);

  promsqlite::Options options;
  options.write_mode = promsqlite::WriteMode::kBatched;  // default 1 s flush interval, as users get it
  promsqlite::Registry registry(dir + "/batched.db", options);
  promsqlite::Counter counter = promsqlite::BuildCounter()
                                    .Name("bench_requests")
                                    .Help("Requests.")
                                    .LabelNames(HotLabelNames())
                                    .Register(registry)
                                    .WithLabelValues(HotLabelValues());
  PrometheusCppCounter reference;

  auto batched_ns = [&](double s) { return 1e9 / CallsPerSecond(s, 4096, [&] { counter.Increment(); }); };
  batched_ns(seconds / 4);  // warm-up, untimed
  reference.IncrementNs(seconds / 4);

  std::vector<double> batched, prometheus_cpp;
  for (int r = 0; r < repeats; ++r) {
    batched.push_back(batched_ns(seconds));
    prometheus_cpp.push_back(reference.IncrementNs(seconds));
  }
  ReportMedian("batched_inc_ns", batched);
  ReportMedian("prometheus_cpp_inc_ns", prometheus_cpp);
  Report("batched_vs_prometheus_cpp_ratio", MedianRatio(batched, prometheus_cpp));
  return 0;
}

}  // namespace bench
