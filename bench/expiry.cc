// The worst increment while housekeeping has expired series to delete: a
// file holds --series counter series of a family with a 60 s TTL, none
// updated for an hour (the writer's clock, Options::clock, runs an hour
// ahead of the one they were written with), and one process increments
// its own series in a loop, immediate mode, with
// Options::housekeeping_interval_ms = --interval-ms, so a housekeeping pass
// falls due within the loop. Every Increment() is timed; the figure is the
// slowest of all repeats. A pass deletes in batches of 500 series (at most
// 200 per pass): whatever of it an update has to wait for shows here.
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include "benchmarks.h"
#include "promsqlite/promsqlite.h"

namespace bench {
namespace {

constexpr double kTtlSeconds = 60;
constexpr double kClockAhead = 3600;  // the writer's clock: every populated series expired

// `series` children of a counter family with a TTL, written now (batched
// mode, one Flush).
void PopulateExpiring(const std::string& db, int series) {
  promsqlite::Options options;
  options.write_mode = promsqlite::WriteMode::kBatched;
  options.flush_interval_ms = 3600 * 1000;  // one flush, at the end
  options.housekeeping_interval_ms = 0;
  promsqlite::Registry registry(db, options);
  auto family = promsqlite::BuildCounter()
                    .Name("bench_expiring_requests")
                    .Help("Requests by path, expiring.")
                    .LabelNames(ManyLabelNames())
                    .Ttl(kTtlSeconds)
                    .Register(registry);
  for (int i = 0; i < series; ++i) family.WithLabelValues(ManyLabelValues(i)).Increment();
  registry.Flush();
}

int64_t CountRows(const std::string& db) {
  sqlite3* h = nullptr;
  int64_t rows = -1;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(h, "SELECT count(*) FROM series", -1, &s, nullptr) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
      rows = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
  }
  sqlite3_close(h);
  return rows;
}

double SystemSeconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

}  // namespace

int RunExpiry(const Flags& flags) {
  const std::string dir = flags.Get("dir", "/tmp");
  const int series = flags.Int("series", 50000);
  const double seconds = flags.Double("seconds", 2);
  const int repeats = flags.Int("repeats", 3);
  const int interval_ms = flags.Int("interval-ms", 20);
  const std::string db = dir + "/expiry.db";

  std::vector<double> worst_us, p999_us, left;
  for (int r = 0; r < repeats; ++r) {
    RemoveDatabase(db);
    PopulateExpiring(db, series);
    const int64_t before = CountRows(db);
    if (before < series) throw std::runtime_error("expiry: populated " + std::to_string(before) + " series");

    promsqlite::Options options;
    options.write_mode = promsqlite::WriteMode::kImmediate;  // as the header says: each commit may start the due pass
    options.housekeeping_interval_ms = interval_ms;
    options.clock = [] { return SystemSeconds() + kClockAhead; };
    std::vector<double> latencies_us;
    {
      promsqlite::Registry registry(db, options);
      promsqlite::Counter counter = promsqlite::BuildCounter()
                                        .Name("bench_jobs")
                                        .Help("Jobs done.")
                                        .LabelNames(HotLabelNames())
                                        .Register(registry)
                                        .WithLabelValues(HotLabelValues());
      latencies_us.reserve(1 << 20);
      for (double begin = NowSeconds(); NowSeconds() - begin < seconds && latencies_us.size() < (1u << 22);) {
        int64_t t0 = NowNanos();
        counter.Increment();
        latencies_us.push_back(static_cast<double>(NowNanos() - t0) / 1e3);
      }
    }
    worst_us.push_back(*std::max_element(latencies_us.begin(), latencies_us.end()));
    p999_us.push_back(Percentile(latencies_us, 0.999));
    // The hot series stays; every expired one should be gone, else the loop
    // ended before housekeeping did and measured less than it claims.
    left.push_back(static_cast<double>(CountRows(db) - 1));
  }
  Note("expiry: " + std::to_string(series) + " expired series, housekeeping every " + std::to_string(interval_ms) +
       " ms, " + std::to_string(repeats) + " repeats");
  ReportMedian("expiry_increment_p999_us", p999_us);
  ReportMedian("expiry_series_left", left);
  Note("worst_increment_with_expiry_us repeats: " + [&] {
    std::string s;
    for (double w : worst_us) s += (s.empty() ? "" : " ") + std::to_string(static_cast<int64_t>(w));
    return s;
  }());
  Report("worst_increment_with_expiry_us", *std::max_element(worst_us.begin(), worst_us.end()));
  return 0;
}

}  // namespace bench
