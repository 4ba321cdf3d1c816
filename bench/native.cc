// Native histograms against classic ones, in both write modes: one
// Histogram::Observe on a held handle, the same values on both sides
// (spread over four decades, so the native side meets several buckets).
#include "benchmarks.h"
#include "common.h"
#include "promsqlite/promsqlite.h"

namespace bench {
namespace {

struct Pair {
  promsqlite::Histogram classic;
  promsqlite::Histogram native;
};

Pair Histograms(promsqlite::Registry& registry) {
  auto declare = [&](const char* name, bool native) {
    auto builder = promsqlite::BuildHistogram().Name(name).Help("Latency.").LabelNames(HotLabelNames());
    if (native) builder.NativeHistogram(1.1);  // schema 3, no classic buckets
    return builder.Register(registry).WithLabelValues(HotLabelValues());
  };
  return Pair{declare("bench_classic_seconds", false), declare("bench_native_seconds", true)};
}

// 64 values from 0.001 to 10, cycled.
double Value(unsigned i) { return 0.001 * static_cast<double>(1 + (i * 2654435761u) % 10000); }

}  // namespace

int RunNative(const Flags& flags) {
  const std::string dir = flags.Get("dir", "/tmp");
  const double seconds = flags.Double("seconds", 1);
  const double batched_seconds = flags.Double("batched-seconds", 0.5);
  const int repeats = flags.Int("repeats", 3);

  promsqlite::Options immediate_options;
  immediate_options.write_mode = promsqlite::WriteMode::kImmediate;
  promsqlite::Registry immediate(dir + "/native_immediate.db", immediate_options);
  Pair hi = Histograms(immediate);
  unsigned n = 0;
  auto classic = [&] { hi.classic.Observe(Value(++n & 63)); };
  auto native = [&] { hi.native.Observe(Value(++n & 63)); };
  CallsPerSecond(seconds / 4, 64, classic);  // warm-up, untimed
  CallsPerSecond(seconds / 4, 64, native);

  promsqlite::Options options;
  options.write_mode = promsqlite::WriteMode::kBatched;
  // Native observations batched in process memory (the default writes
  // them at once: immediate_native_observe_per_s).
  options.immediate_outside_regions = false;
  promsqlite::Registry batched(dir + "/native_batched.db", options);
  Pair hb = Histograms(batched);
  auto batched_ns = [&](promsqlite::Histogram& h, double s) {
    return 1e9 / CallsPerSecond(s, 4096, [&] { h.Observe(Value(++n & 63)); });
  };
  batched_ns(hb.classic, batched_seconds / 4);
  batched_ns(hb.native, batched_seconds / 4);

  // Interleaved, so that noise from the shared machine hits both sides.
  std::vector<double> classic_per_s, native_per_s, classic_ns, native_ns;
  for (int r = 0; r < repeats; ++r) {
    classic_per_s.push_back(CallsPerSecond(seconds, 64, classic));
    native_per_s.push_back(CallsPerSecond(seconds, 64, native));
    classic_ns.push_back(batched_ns(hb.classic, batched_seconds));
    native_ns.push_back(batched_ns(hb.native, batched_seconds));
  }
  ReportMedian("immediate_classic_observe_per_s", classic_per_s);
  ReportMedian("immediate_native_observe_per_s", native_per_s);
  // Cost ratios: how much longer a native observe takes than a classic one.
  Report("immediate_native_vs_classic_ratio", MedianRatio(classic_per_s, native_per_s));
  ReportMedian("batched_observe_ns", classic_ns);
  ReportMedian("batched_native_observe_ns", native_ns);
  Report("batched_native_vs_classic_ratio", MedianRatio(native_ns, classic_ns));
  return 0;
}

}  // namespace bench
