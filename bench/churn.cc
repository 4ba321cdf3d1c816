// Memory under label churn (issue 30): one batched writer process (the
// default options: regions of pending updates) makes --series distinct
// short-lived series, a third each in a counter, a gauge and a histogram
// family with a TTL of 1 s, each updated once through a handle it drops at
// once (as per-request or per-session labels are), with a flush after each
// --round of them and housekeeping running in the background
// (housekeeping_interval_ms = 200), so series expire and are deleted while
// the loop runs. The figure is the growth of the process's resident memory
// (/proc/self/statm) from after a warm-up of 20 000 series (the caches
// filled to their bounds, SQLite's page cache, the region's first pages)
// to its highest after any later round: what the writer keeps per series
// it no longer uses. Context: the RSS before any series and the peak. Context: the cost of a lookup of a new label value (the
// series made in the file) against one already cached.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <set>
#include <stdexcept>
#include <thread>

#include "benchmarks.h"
#include "promsqlite/promsqlite.h"

namespace bench {
namespace {

double ResidentMiB() {
  long pages_total = 0, pages_resident = 0;
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) throw std::runtime_error("churn: cannot read /proc/self/statm");
  int got = std::fscanf(f, "%ld %ld", &pages_total, &pages_resident);
  std::fclose(f);
  if (got != 2) throw std::runtime_error("churn: cannot parse /proc/self/statm");
  return static_cast<double>(pages_resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

}  // namespace

int RunChurn(const Flags& flags) {
  const std::string dir = flags.Get("dir", "/tmp");
  const int series = flags.Int("series", 1000000);
  const int round = flags.Int("round", 50000);
  const int warmup = std::min(round, 20000);
  const std::string db = dir + "/churn.db";
  RemoveDatabase(db);

  promsqlite::Options options;  // batched, regions
  options.housekeeping_interval_ms = 200;
  promsqlite::Registry registry(db, options);
  auto counters = promsqlite::BuildCounter().Name("churn_requests").Help("Requests by session.")
                      .LabelNames({"session"}).Ttl(1).Register(registry);
  auto gauges = promsqlite::BuildGauge().Name("churn_open").Help("Open items by session.")
                    .LabelNames({"session"}).Ttl(1).Register(registry);
  auto histograms = promsqlite::BuildHistogram().Name("churn_latency_seconds").Help("Latency by session.")
                        .LabelNames({"session"}).Ttl(1).Register(registry);

  const double start = ResidentMiB();
  int next = 0;
  auto update = [&](int i) {
    const std::string value = "s" + std::to_string(i);
    switch (i % 3) {
      case 0: counters.WithLabelValues({value}).Increment(); break;
      case 1: gauges.WithLabelValues({value}).Set(i); break;
      default: histograms.WithLabelValues({value}).Observe(0.01 * (i % 100)); break;
    }
  };
  for (; next < warmup; ++next) update(next);
  registry.Flush();
  const double baseline = ResidentMiB();
  double highest = baseline;
  std::string rounds;
  const double begin = NowSeconds();
  int64_t new_ns = 0;
  while (next < series) {
    const int end = std::min(series, next + round);
    const int64_t t0 = NowNanos();
    for (; next < end; ++next) update(next);
    new_ns += NowNanos() - t0;
    registry.Flush();
    const double rss = ResidentMiB();
    highest = std::max(highest, rss);
    char line[64];
    std::snprintf(line, sizeof line, "%s%.0f", rounds.empty() ? "" : " ", rss);
    rounds += line;
  }
  const double elapsed = NowSeconds() - begin;
  // Lookups of one cached label value, timed the same way (one Increment
  // each, so both sides include an update).
  auto hot = counters.WithLabelValues({"hot"});
  hot.Increment();
  const int hot_calls = 1000000;
  const int64_t t0 = NowNanos();
  for (int i = 0; i < hot_calls; ++i) counters.WithLabelValues({"hot"}).Increment();
  const double cached_ns = static_cast<double>(NowNanos() - t0) / hot_calls;
  const double lookup_new_ns = static_cast<double>(new_ns) / static_cast<double>(series - warmup);

  // Every churned series expires: what is left in the file after 1.5 s and
  // one more pass (the hot one is still live).
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  registry.Flush();
  registry.Housekeep();
  promsqlite::Reader reader(db);
  const std::string text = reader.Render(promsqlite::Format::kText);
  std::set<std::string> left;
  for (size_t at = text.find("session=\"s"); at != std::string::npos; at = text.find("session=\"s", at + 1))
    left.insert(text.substr(at, text.find('"', at + 9) - at));

  Note("churn: " + std::to_string(series) + " series in rounds of " + std::to_string(round) + " in " +
       std::to_string(elapsed) + " s; RSS MiB before any series " + std::to_string(start) + ", after a warm-up of " +
       std::to_string(warmup) + " series " + std::to_string(baseline) + ", after each round: " + rounds);
  Report("churn_rss_growth_mib", highest - baseline);
  Report("churn_rss_start_mib", start);
  Report("churn_rss_peak_mib", highest);
  Report("churn_lookup_ns", lookup_new_ns);
  Report("churn_lookup_cached_ns", cached_ns);
  Report("churn_lookup_ratio", lookup_new_ns / cached_ns);
  Report("churn_series_left", static_cast<double>(left.size()));
  return 0;
}

}  // namespace bench
