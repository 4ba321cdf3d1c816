// Registry::Flush of many dirty series against its physical limit: the
// same upserts, prepared, in one raw transaction.
#include "benchmarks.h"
#include "promsqlite/promsqlite.h"
#include "raw_sqlite.h"

namespace bench {

int RunFlush(const Flags& flags) {
  const std::string dir = flags.Get("dir", "/tmp");
  const int series = flags.Int("series", 10000);
  const int repeats = flags.Int("repeats", 3);

  promsqlite::Options options;
  options.write_mode = promsqlite::WriteMode::kBatched;
  // No background flush may take a share of the dirty series before the
  // timed Flush(): every repeat flushes exactly `series` rows.
  options.flush_interval_ms = 3600 * 1000;
  promsqlite::Registry registry(dir + "/flush.db", options);
  auto family = promsqlite::BuildCounter()
                    .Name("bench_http_requests")
                    .Help("Requests by path.")
                    .LabelNames(ManyLabelNames())
                    .Register(registry);
  std::vector<promsqlite::Counter> counters;
  counters.reserve(static_cast<size_t>(series));
  for (int i = 0; i < series; ++i) counters.push_back(family.WithLabelValues(ManyLabelValues(i)));

  const std::string raw_path = dir + "/flush_raw.db";
  CreatePromsqliteFile(raw_path, "raw_http_requests", "raw_unused_seconds");
  RawStore raw(raw_path);
  const int64_t family_id = raw.FamilyId("raw_http_requests");
  std::vector<std::string> raw_labels;
  std::vector<int64_t> raw_ids;
  raw.Begin();  // the rows exist before timing, as the library's do
  for (int i = 0; i < series; ++i) {
    std::vector<std::string> values = ManyLabelValues(i);
    raw_labels.push_back(RawLabels(values[0], values[1]));
    raw_ids.push_back(raw.Add(0, family_id, raw_labels.back(), 0));
  }
  raw.Commit();

  auto flush = [&] {
    for (const promsqlite::Counter& c : counters) c.Increment();
    double start = NowSeconds();
    registry.Flush();
    return series / (NowSeconds() - start);
  };
  auto raw_batch = [&] {
    double start = NowSeconds();
    raw.Begin();
    for (int i = 0; i < series; ++i) raw.Add(raw_ids[i], family_id, raw_labels[i], 1);
    raw.Commit();
    return series / (NowSeconds() - start);
  };
  flush();  // warm-up, untimed
  raw_batch();

  std::vector<double> flushes, raws;
  for (int r = 0; r < repeats; ++r) {
    raws.push_back(raw_batch());
    flushes.push_back(flush());
  }
  for (const promsqlite::Counter& c : {counters.front(), counters.back()}) {
    if (c.Value() != repeats + 1) throw std::runtime_error("flush lost updates");
  }
  Note("flush: " + std::to_string(series) + " dirty counter series per Flush()");
  ReportMedian("flush_rows_per_s", flushes);
  ReportMedian("raw_batch_upsert_rows_per_s", raws);
  Report("flush_vs_raw_ratio", MedianRatio(flushes, raws));
  return 0;
}

}  // namespace bench
