// Many writer processes in immediate mode, all incrementing ONE shared
// series (the hardest case for lost updates; the write lock is per file, so
// separate series would contend the same way): aggregate throughput of 8
// against 1, latency of single increments, how evenly the writers got the
// lock, and a lost-update check. Under the 8 writers a batched-mode process
// also flushes every 10 ms and times each Flush(). Each repeat also runs one
// writer with SQLite's own busy handler (LockWait::kSqliteDefault), so that
// the cost of queueing without contention is measured beside it; with
// --baseline 1, 8 such writers too.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "benchmarks.h"
#include "promsqlite/promsqlite.h"

namespace bench {
namespace {

// Bounds each child's memory and loop whatever the machine's speed.
constexpr size_t kMaxSamples = 4 << 20;

struct Round {
  double increments_per_s = 0;
  int64_t increments = 0;
  std::vector<double> latencies_us;
  double min_share = 1;  // the fewest increments one writer made, over the mean
  int64_t lost = 0;
  double flush_wait_max_us = -1;  // the batched flusher's slowest Flush(), when it ran
};

promsqlite::Counter SharedCounter(promsqlite::Registry& registry) {
  return promsqlite::BuildCounter()
      .Name("bench_jobs")
      .Help("Jobs done.")
      .LabelNames(HotLabelNames())
      .Register(registry)
      .WithLabelValues(HotLabelValues());
}

// One child: opens its own Registry, waits for the start signal (EOF on
// `start`), increments for `seconds`, writes count, elapsed, latencies.
int Writer(const std::string& db, const std::string& out, int start, double seconds, promsqlite::LockWait wait) {
  promsqlite::Registry registry(db, WithLockWait(wait));
  promsqlite::Counter counter = SharedCounter(registry);
  std::vector<float> latencies_us;
  latencies_us.reserve(kMaxSamples);
  char byte;
  if (read(start, &byte, 1) != 0) return 1;
  double begin = NowSeconds(), now = begin;
  while (now - begin < seconds && latencies_us.size() < kMaxSamples) {
    int64_t t0 = NowNanos();
    counter.Increment();
    int64_t t1 = NowNanos();
    latencies_us.push_back(static_cast<float>(t1 - t0) / 1e3f);
    now = static_cast<double>(t1) / 1e9;
  }
  return WriteLatencies(out, now - begin, latencies_us) ? 0 : 1;
}

// A batched-mode process beside the writers: increments its own series and
// flushes every 10 ms, timing each Flush() (which waits for the lock like
// an immediate update does). Writes the slowest, in microseconds.
int Flusher(const std::string& db, const std::string& out, int start, double seconds) {
  promsqlite::Options options;
  options.write_mode = promsqlite::WriteMode::kBatched;
  options.flush_interval_ms = 3600 * 1000;  // only the explicit flushes below
  promsqlite::Registry registry(db, options);
  promsqlite::Counter counter =
      promsqlite::BuildCounter().Name("bench_flushes").Help("Flushes.").Register(registry).WithLabelValues({});
  char byte;
  if (read(start, &byte, 1) != 0) return 1;
  double worst_us = 0;
  for (double begin = NowSeconds(); NowSeconds() - begin < seconds;) {
    counter.Increment();
    int64_t t0 = NowNanos();
    registry.Flush();
    worst_us = std::max(worst_us, static_cast<double>(NowNanos() - t0) / 1e3);
    usleep(10 * 1000);
  }
  FILE* f = std::fopen(out.c_str(), "w");
  if (!f) return 1;
  std::fprintf(f, "%.3f\n", worst_us);
  return std::fclose(f) == 0 ? 0 : 1;
}

Round RunRound(const std::string& dir, int writers, double seconds, int round, promsqlite::LockWait wait,
               bool with_flusher) {
  const std::string db = dir + "/writers_" + std::to_string(writers) + "_" + std::to_string(round) + "_" +
                         std::to_string(static_cast<int>(wait)) + ".db";
  RemoveDatabase(db);
  {
    promsqlite::Registry registry(db);  // file, family and series exist before the children start
    SharedCounter(registry);
  }
  int start[2];
  if (pipe(start) != 0) throw std::runtime_error("pipe failed");
  std::vector<pid_t> pids;
  for (int w = 0; w < writers; ++w) {
    std::string out = db + ".w" + std::to_string(w);
    pids.push_back(ForkChild([&] {
      close(start[1]);
      return Writer(db, out, start[0], seconds, wait);
    }));
  }
  if (with_flusher) {
    pids.push_back(ForkChild([&] {
      close(start[1]);
      return Flusher(db, db + ".flusher", start[0], seconds);
    }));
  }
  close(start[0]);
  usleep(200 * 1000);  // let every child open its connection
  close(start[1]);     // go
  for (pid_t pid : pids) WaitChild(pid);

  Round result;
  std::vector<double> counts;
  for (int w = 0; w < writers; ++w) {
    double elapsed = 0;
    std::vector<float> latencies = ReadLatencies(db + ".w" + std::to_string(w), &elapsed);
    uint64_t count = latencies.size();
    counts.push_back(static_cast<double>(count));
    result.increments += static_cast<int64_t>(count);
    result.increments_per_s += static_cast<double>(count) / elapsed;
    result.latencies_us.insert(result.latencies_us.end(), latencies.begin(), latencies.end());
  }
  if (with_flusher) {
    FILE* f = std::fopen((db + ".flusher").c_str(), "r");
    if (!f || std::fscanf(f, "%lf", &result.flush_wait_max_us) != 1) throw std::runtime_error("cannot read flusher");
    std::fclose(f);
  }
  result.min_share = *std::min_element(counts.begin(), counts.end()) * writers / result.increments;
  promsqlite::Registry registry(db, WithLockWait(wait));
  double total = SharedCounter(registry).Value();
  result.lost = result.increments - static_cast<int64_t>(total);
  return result;
}

}  // namespace

int RunWriters(const Flags& flags) {
  const std::string dir = flags.Get("dir", "/tmp");
  const double seconds = flags.Double("seconds", 2);
  const int repeats = flags.Int("repeats", 3);
  const int writers = flags.Int("writers", 8);
  const bool baseline = flags.Int("baseline", 0) != 0;
  using promsqlite::LockWait;
  const LockWait wait = LockWaitFlag(flags.Get("lock-wait", "fair"));

  std::vector<double> one, many, p99s, p999s, shares, one_base, many_base, p99s_base, shares_base;
  double max_us = 0, max_us_base = 0, flush_wait_max_us = 0;
  int64_t lost = 0, increments = 0;
  for (int r = 0; r < repeats; ++r) {
    Round single = RunRound(dir, 1, seconds, r, wait, false);
    Round multi = RunRound(dir, writers, seconds, r, wait, true);
    Round single_base = RunRound(dir, 1, seconds, r, LockWait::kSqliteDefault, false);
    one.push_back(single.increments_per_s);
    many.push_back(multi.increments_per_s);
    one_base.push_back(single_base.increments_per_s);
    p99s.push_back(Percentile(multi.latencies_us, 0.99));
    p999s.push_back(Percentile(multi.latencies_us, 0.999));
    shares.push_back(multi.min_share);
    max_us = std::max(max_us, Percentile(multi.latencies_us, 1.0));
    flush_wait_max_us = std::max(flush_wait_max_us, multi.flush_wait_max_us);
    lost += single.lost + multi.lost + single_base.lost;
    increments += single.increments + multi.increments + single_base.increments;
    if (baseline) {
      Round multi_base = RunRound(dir, writers, seconds, r, LockWait::kSqliteDefault, false);
      many_base.push_back(multi_base.increments_per_s);
      p99s_base.push_back(Percentile(multi_base.latencies_us, 0.99));
      shares_base.push_back(multi_base.min_share);
      max_us_base = std::max(max_us_base, Percentile(multi_base.latencies_us, 1.0));
      lost += multi_base.lost;
      increments += multi_base.increments;
    }
  }
  const std::string n = std::to_string(writers);
  Note("writers: all processes increment one shared series; " + std::to_string(increments) +
       " increments in all, each counted in the file: " + (lost == 0 ? "yes" : "NO"));
  ReportMedian("writers_1_inc_per_s", one);
  ReportMedian("writers_" + n + "_inc_per_s", many);
  Report("writers_" + n + "_vs_1_ratio", MedianRatio(many, one));
  ReportMedian("writers_" + n + "_p99_us", p99s);
  ReportMedian("writers_" + n + "_p999_us", p999s);
  Report("writers_" + n + "_max_us", max_us);
  ReportMedian("writers_" + n + "_min_writer_share", shares);
  Report("flush_wait_max_us", flush_wait_max_us);
  ReportMedian("baseline_writers_1_inc_per_s", one_base);
  Report("writers_1_vs_baseline_ratio", MedianRatio(one, one_base));
  if (baseline) {
    ReportMedian("baseline_writers_" + n + "_inc_per_s", many_base);
    Report("baseline_writers_" + n + "_p99_us", Median(p99s_base));
    Report("baseline_writers_" + n + "_max_us", max_us_base);
    ReportMedian("baseline_writers_" + n + "_min_writer_share", shares_base);
  }
  Report("writers_lost_updates", static_cast<double>(lost));
  if (lost != 0) {
    std::fprintf(stderr, "promsqlite-bench writers: LOST UPDATES: %lld increments are missing from the file\n",
                 static_cast<long long>(lost));
    return 1;
  }
  return 0;
}

}  // namespace bench
