// Updates of the default mode while another connection holds the write
// lock (a process stopped in a debugger, a sqlite3 shell in BEGIN
// IMMEDIATE): a counter (its region), a native histogram and a live gauge
// (written at once: Options::update_lock_wait_ms, then kept for the flush).
// Every update is timed; the figures are the slowest of each kind over the
// hold, and the updates that threw. After the release, one Flush() must
// leave every update in the file exactly once.
#include <sqlite3.h>

#include <algorithm>
#include <map>
#include <stdexcept>
#include <string>

#include "benchmarks.h"
#include "promsqlite/promsqlite.h"

namespace bench {

int RunLockHeld(const Flags& flags) {
  const std::string dir = flags.Get("dir", "/tmp");
  const double seconds = flags.Double("seconds", 2);
  const std::string db = dir + "/lock_held.db";
  RemoveDatabase(db);

  promsqlite::Options options;  // the defaults but for the flush interval
  options.flush_interval_ms = 3600 * 1000;
  options.on_background_error = [](const std::string&) {};  // the hold is reported once; not the figure
  promsqlite::Registry registry(db, options);
  promsqlite::Counter jobs = promsqlite::BuildCounter().Name("bench_jobs").Register(registry).WithLabelValues({});
  promsqlite::Histogram latency =
      promsqlite::BuildHistogram().Name("bench_latency").NativeHistogram(1.1).Register(registry).WithLabelValues({});
  promsqlite::Gauge inflight = promsqlite::BuildGauge()
                                   .Name("bench_inflight")
                                   .Mode(promsqlite::GaugeMode::kLiveSum)
                                   .Register(registry)
                                   .WithLabelValues({});
  jobs.Increment();
  latency.Observe(1);
  inflight.Set(0);

  sqlite3* holder = nullptr;
  if (sqlite3_open(db.c_str(), &holder) != SQLITE_OK ||
      sqlite3_exec(holder, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK)
    throw std::runtime_error("lock-held: cannot take the write lock");
  double worst_counter_us = 0, worst_at_once_ms = 0;
  int64_t rounds = 0, errors = 0;
  for (double begin = NowSeconds(); NowSeconds() - begin < seconds; ++rounds) {
    try {
      double t0 = NowSeconds();
      jobs.Increment();
      double t1 = NowSeconds();
      latency.Observe(0.5);
      double t2 = NowSeconds();
      inflight.Set(static_cast<double>(rounds));
      double t3 = NowSeconds();
      worst_counter_us = std::max(worst_counter_us, (t1 - t0) * 1e6);
      worst_at_once_ms = std::max({worst_at_once_ms, (t2 - t1) * 1e3, (t3 - t2) * 1e3});
    } catch (const promsqlite::DatabaseError&) {
      ++errors;
    }
  }
  sqlite3_exec(holder, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(holder);
  registry.Flush();

  std::map<std::string, double> samples = ParseSamples(promsqlite::Reader(db).Render(promsqlite::Format::kText));
  const double expected = static_cast<double>(1 + rounds - errors);
  if (samples["bench_jobs_total"] != expected || samples["bench_latency_count"] != expected)
    throw std::runtime_error("lock-held: the file has " + std::to_string(samples["bench_jobs_total"]) + " and " +
                             std::to_string(samples["bench_latency_count"]) + " updates, not " +
                             std::to_string(expected));
  Note("lock-held: " + std::to_string(rounds) + " rounds of 3 updates while the write lock was held for " +
       std::to_string(seconds) + " s; all in the file once after the release");
  Report("lock_held_update_errors", static_cast<double>(errors));
  Report("lock_held_at_once_update_max_ms", worst_at_once_ms);
  Report("lock_held_region_update_max_us", worst_counter_us);
  return 0;
}

}  // namespace bench
