// Updates while another connection holds the write lock (a process
// stopped in a debugger, a sqlite3 shell in BEGIN IMMEDIATE), in the
// default mode and in immediate mode: a counter (batched: its region), a
// native histogram and a live gauge (written at once:
// Options::update_lock_wait_ms, then kept for the flush), a family
// declared during the hold and a new series of it each round.
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

namespace {

struct HeldFigures {
  int64_t rounds = 0, errors = 0;
  double worst_region_us = 0;   // batched: the counter's region update
  double worst_at_once_ms = 0;  // each update written at once (kept after the bound)
  double worst_declare_ms = 0;  // the family declared during the hold
  double worst_new_series_ms = 0;  // a new series of it each round
};

// One hold of `seconds` in `mode`: rounds of a counter increment, a native
// observation, a live gauge's Set and a new series of a family declared
// during the hold; then the release, one Flush(), and the file checked.
HeldFigures Hold(const std::string& db, double seconds, promsqlite::WriteMode mode) {
  RemoveDatabase(db);
  promsqlite::Options options;  // the defaults but for the flush interval
  options.write_mode = mode;
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
  HeldFigures f;
  double t = NowSeconds();
  auto requests = promsqlite::BuildCounter().Name("bench_requests").LabelNames({"id"}).Register(registry);
  f.worst_declare_ms = (NowSeconds() - t) * 1e3;
  for (double begin = NowSeconds(); NowSeconds() - begin < seconds; ++f.rounds) {
    try {
      double t0 = NowSeconds();
      jobs.Increment();
      double t1 = NowSeconds();
      latency.Observe(0.5);
      double t2 = NowSeconds();
      inflight.Set(static_cast<double>(f.rounds));
      double t3 = NowSeconds();
      if (f.rounds < 1000) requests.WithLabelValues({std::to_string(f.rounds)}).Increment();
      double t4 = NowSeconds();
      const double counter = (t1 - t0);
      if (mode == promsqlite::WriteMode::kBatched) f.worst_region_us = std::max(f.worst_region_us, counter * 1e6);
      else f.worst_at_once_ms = std::max(f.worst_at_once_ms, counter * 1e3);
      f.worst_at_once_ms = std::max({f.worst_at_once_ms, (t2 - t1) * 1e3, (t3 - t2) * 1e3});
      if (f.rounds < 1000) f.worst_new_series_ms = std::max(f.worst_new_series_ms, (t4 - t3) * 1e3);
    } catch (const promsqlite::DatabaseError&) {
      ++f.errors;
    }
  }
  sqlite3_exec(holder, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(holder);
  registry.Flush();

  std::map<std::string, double> samples = ParseSamples(promsqlite::Reader(db).Render(promsqlite::Format::kText));
  const double expected = static_cast<double>(1 + f.rounds - f.errors);
  if (samples["bench_jobs_total"] != expected || samples["bench_latency_count"] != expected ||
      samples["bench_requests_total{id=\"999\"}"] != (f.rounds >= 1000 ? 1 : 0))
    throw std::runtime_error("lock-held: the file has " + std::to_string(samples["bench_jobs_total"]) + " and " +
                             std::to_string(samples["bench_latency_count"]) + " updates, not " +
                             std::to_string(expected));
  return f;
}

}  // namespace

int RunLockHeld(const Flags& flags) {
  const std::string dir = flags.Get("dir", "/tmp");
  const double seconds = flags.Double("seconds", 2);
  const std::string db = dir + "/lock_held.db";
  const HeldFigures batched = Hold(db, seconds, promsqlite::WriteMode::kBatched);
  Note("lock-held, batched (the default): " + std::to_string(batched.rounds) +
       " rounds of 4 updates while the write lock was held for " + std::to_string(seconds) +
       " s; all in the file once after the release");
  Report("lock_held_update_errors", static_cast<double>(batched.errors));
  Report("lock_held_at_once_update_max_ms", batched.worst_at_once_ms);
  Report("lock_held_region_update_max_us", batched.worst_region_us);
  Report("lock_held_declare_ms", batched.worst_declare_ms);
  Report("lock_held_new_series_max_ms", batched.worst_new_series_ms);
  const HeldFigures immediate = Hold(db, seconds, promsqlite::WriteMode::kImmediate);
  Note("lock-held, immediate: " + std::to_string(immediate.rounds) + " rounds; all in the file once after the release");
  Report("lock_held_immediate_update_errors", static_cast<double>(immediate.errors));
  Report("lock_held_immediate_update_max_ms", immediate.worst_at_once_ms);
  Report("lock_held_immediate_declare_ms", immediate.worst_declare_ms);
  Report("lock_held_immediate_new_series_max_ms", immediate.worst_new_series_ms);
  RemoveDatabase(db);
  return 0;
}

}  // namespace bench
