// Immediate mode against its physical limit: one promsqlite update versus
// the same upsert(s) in their own raw BEGIN IMMEDIATE transaction.
#include "benchmarks.h"

#include "common.h"
#include "promsqlite/promsqlite.h"
#include "raw_sqlite.h"

namespace bench {
namespace {

// Index of 0.3 among DefaultBuckets() (.005 ... .25 .5 ...): the .5 bucket.
constexpr int kObservedBucket = 6;
constexpr double kObserved = 0.3;

}  // namespace

int RunImmediate(const Flags& flags) {
  const std::string dir = flags.Get("dir", "/tmp");
  const double seconds = flags.Double("seconds", 1);
  const int repeats = flags.Int("repeats", 3);
  const std::vector<std::string>& labels = HotLabelValues();

  promsqlite::Options options;
  options.write_mode = promsqlite::WriteMode::kImmediate;
  promsqlite::Registry registry(dir + "/immediate.db", options);
  promsqlite::Counter counter = promsqlite::BuildCounter()
                                    .Name("bench_requests")
                                    .Help("Requests.")
                                    .LabelNames(HotLabelNames())
                                    .Register(registry)
                                    .WithLabelValues(labels);
  promsqlite::Histogram histogram = promsqlite::BuildHistogram()
                                        .Name("bench_latency_seconds")
                                        .Help("Latency.")
                                        .LabelNames(HotLabelNames())
                                        .Register(registry)
                                        .WithLabelValues(labels);

  const std::string raw_path = dir + "/immediate_raw.db";
  CreatePromsqliteFile(raw_path, "raw_requests", "raw_latency_seconds");
  RawStore raw(raw_path);
  const std::string raw_labels = RawLabels(labels[0], labels[1]);
  const int64_t counter_family = raw.FamilyId("raw_requests");
  const int64_t histogram_family = raw.FamilyId("raw_latency_seconds");
  // The rows exist before timing starts, as the library's do after lookup.
  raw.Begin();
  const int64_t counter_id = raw.Add(0, counter_family, raw_labels, 0);
  const int64_t histogram_id = raw.Observe(0, histogram_family, raw_labels, 0);
  raw.Commit();

  auto raw_inc = [&] {
    raw.Begin();
    raw.Add(counter_id, counter_family, raw_labels, 1);
    raw.Commit();
  };
  // store.cc's Observe: the series upsert, its id read by key, then one bucket.
  auto raw_observe = [&] {
    raw.Begin();
    int64_t id = raw.Observe(histogram_id, histogram_family, raw_labels, kObserved);
    raw.Bucket(id, kObservedBucket);
    raw.Commit();
  };
  auto inc = [&] { counter.Increment(); };
  auto observe = [&] { histogram.Observe(kObserved); };
  // The same with an exemplar: a trace id, as an instrumented service adds.
  const promsqlite::Labels exemplar = {{"trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"}};
  auto inc_exemplar = [&] { counter.Increment(1, exemplar); };
  auto observe_exemplar = [&] { histogram.Observe(kObserved, exemplar); };

  // Warm caches and the WAL once, untimed.
  CallsPerSecond(seconds / 4, 64, raw_inc);
  CallsPerSecond(seconds / 4, 64, inc);

  // Interleaved, so that noise from the shared machine hits both sides.
  std::vector<double> raw_incs, incs, raw_observes, observes, incs_exemplar, observes_exemplar;
  for (int r = 0; r < repeats; ++r) {
    raw_incs.push_back(CallsPerSecond(seconds, 64, raw_inc));
    incs.push_back(CallsPerSecond(seconds, 64, inc));
    raw_observes.push_back(CallsPerSecond(seconds, 64, raw_observe));
    observes.push_back(CallsPerSecond(seconds, 64, observe));
    incs_exemplar.push_back(CallsPerSecond(seconds / 2, 64, inc_exemplar));
    observes_exemplar.push_back(CallsPerSecond(seconds / 2, 64, observe_exemplar));
  }
  ReportMedian("raw_sqlite_upsert_txn_per_s", raw_incs);
  ReportMedian("immediate_inc_per_s", incs);
  ReportMedian("raw_sqlite_observe_txn_per_s", raw_observes);
  ReportMedian("immediate_observe_per_s", observes);
  Report("immediate_vs_raw_ratio", MedianRatio(incs, raw_incs));
  Report("immediate_observe_vs_raw_ratio", MedianRatio(observes, raw_observes));
  ReportMedian("immediate_inc_exemplar_per_s", incs_exemplar);
  ReportMedian("immediate_observe_exemplar_per_s", observes_exemplar);
  // Time per update with an exemplar / without (> 1: the exemplar's cost).
  Report("immediate_inc_exemplar_cost_ratio", MedianRatio(incs, incs_exemplar));
  Report("immediate_observe_exemplar_cost_ratio", MedianRatio(observes, observes_exemplar));
  return 0;
}

}  // namespace bench
