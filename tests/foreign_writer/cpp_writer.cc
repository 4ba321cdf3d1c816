// The C++ library's side of tests/foreign_writer/test_foreign_writer.py: the
// workload of workload.py through promsqlite's public API, in immediate mode.
//   cpp_writer DB ITERATIONS
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "promsqlite/promsqlite.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: cpp_writer DB ITERATIONS\n");
    return 2;
  }
  using namespace promsqlite;
  const char* help = "Written by every kind of writer.";
  const std::vector<double> values = {0.003, 0.005, 0.3, 1.0, 2.0, 7.5, 42.0};
  const std::vector<double> native = {0.0, 1e-40, 1.0, 2.0,  0.5,   1.5,  std::pow(2.0, 0.375),
                                      3.0, -0.25, -1.0, 100.0, 0.001, 7.0};
  try {
    Registry registry(argv[1]);
    auto jobs = BuildCounter().Name("fw_jobs_total").Help(help).LabelNames({"queue"}).Register(registry);
    Gauge level = BuildGauge().Name("fw_level").Help(help).Register(registry).Add({});
    Gauge inflight = BuildGauge().Name("fw_inflight").Help(help).Register(registry).Add({});
    Histogram seconds = BuildHistogram().Name("fw_seconds").Help(help).Register(registry).Add({});
    Histogram native_seconds =
        BuildHistogram().Name("fw_native_seconds").Help(help).NativeHistogram(1.1).Register(registry).Add({});
    Histogram spread = BuildHistogram().Name("fw_spread").Help(help).NativeHistogram(1.1).NativeMaxBuckets(4)
                           .Register(registry).Add({});
    Summary latency = BuildSummary().Name("fw_latency").Help(help).Register(registry).Add({});
    BuildGauge().Name("fw_workers").Help(help).Mode(GaugeMode::kSum).Register(registry).Add({}).Set(1);
    BuildInfo().Name("fw_build").Help(help).LabelNames({"version"}).Register(registry).Add({{"version", "1.0"}});
    Enum state = BuildEnum().Name("fw_state").Help(help).States({"idle", "busy"}).Register(registry).Add({});
    Counter queues[2] = {jobs.Add({{"queue", "q0"}}), jobs.Add({{"queue", "q1"}})};
    for (int i = 0, n = std::atoi(argv[2]); i < n; ++i) {
      queues[i % 2].Increment();
      level.Increment(2);
      inflight.Increment();
      seconds.Observe(values[i % values.size()]);
      native_seconds.Observe(native[i % native.size()]);
      spread.Observe(native[i % native.size()]);
      latency.Observe(0.25);
      state.Set(i % 2 ? "busy" : "idle");
      inflight.Decrement();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
