// Recovery of dead batched writers' pending regions (docs/pending-regions.md):
// N processes (1000) each open the file in batched mode (pending regions,
// the default), update 3 counter series and a histogram, and `_exit`
// without flushing, leaving N regions; then one Registry::Housekeep()
// recovers them all, timed, while another process increments a counter in
// immediate mode in a loop, each increment timed. The pass must recover
// every region with exact totals, or the benchmark fails.
#include <dirent.h>
#include <unistd.h>

#include <atomic>
#include <new>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "benchmarks.h"
#include "promsqlite/promsqlite.h"

namespace bench {
namespace {

constexpr int kCounterSeries = 3;  // series q<i> gets i + 1 per writer
constexpr double kObserved = 0.375;  // one observation per writer, in bucket le="0.5"
constexpr int kSlotsPerWriter = kCounterSeries + 1;

struct Families {
  promsqlite::Family<promsqlite::Counter> jobs;
  promsqlite::Family<promsqlite::Histogram> seconds;
};

Families Declare(promsqlite::Registry& registry) {
  return Families{
      promsqlite::BuildCounter().Name("bench_jobs").Help("Jobs.").LabelNames({"queue"}).Register(registry),
      promsqlite::BuildHistogram().Name("bench_job_seconds").Help("Job time.").Register(registry)};
}

// A batched writer killed before its first flush, as far as the file
// knows: `_exit` skips the flush at exit and leaves its region.
int DeadWriter(const std::string& db) {
  promsqlite::Options options;
  options.write_mode = promsqlite::WriteMode::kBatched;
  options.flush_interval_ms = 3600 * 1000;
  options.housekeeping_interval_ms = 0;
  promsqlite::Registry registry(db, options);
  Families f = Declare(registry);
  for (int i = 0; i < kCounterSeries; ++i) f.jobs.WithLabelValues({"q" + std::to_string(i)}).Increment(i + 1);
  f.seconds.WithLabelValues({}).Observe(kObserved);
  std::fflush(nullptr);
  _exit(0);
}

int CountRegions(const std::string& db) {
  int regions = 0;
  if (DIR* d = opendir((db + "-pending").c_str())) {
    while (dirent* e = readdir(d)) {
      std::string name = e->d_name;
      if (name.size() > 7 && name.compare(name.size() - 7, 7, ".region") == 0) ++regions;
    }
    closedir(d);
  }
  return regions;
}

// Between the parent and the incrementing process.
struct Probe {
  std::atomic<int> ready{0};
  std::atomic<int> phase{0};  // 0: before the recovery, 1: during, 2: after (stop)
};

// Increments in a loop until phase 2; the increments that overlap phase 1
// go to `during`; those of `idle_seconds` before it, after a warm-up, to
// `before` (then it says it is ready).
int Incrementer(const std::string& db, Probe* probe, double idle_seconds, const std::string& during,
                const std::string& before) {
  promsqlite::Options options;
  options.housekeeping_interval_ms = 0;
  // A transaction per increment, which a recovery's writes can hold up (a
  // batched one never waits; its first flush would also recover the
  // regions itself, before the Housekeep() measured).
  options.write_mode = promsqlite::WriteMode::kImmediate;
  promsqlite::Registry registry(db, options);
  promsqlite::Counter probe_counter =
      promsqlite::BuildCounter().Name("bench_probe").Help("Probe.").Register(registry).WithLabelValues({});
  std::vector<float> in_recovery, idle;
  double start = NowSeconds(), first = 0, last = 0;
  for (;;) {
    int phase_before = probe->phase.load();
    if (phase_before == 2) break;
    int64_t t0 = NowNanos();
    probe_counter.Increment();
    float us = static_cast<float>(NowNanos() - t0) / 1e3f;
    int phase_after = probe->phase.load();
    if (phase_before == 1 || phase_after == 1) {
      if (first == 0) first = NowSeconds();
      last = NowSeconds();
      in_recovery.push_back(us);
    } else if (phase_before == 0 && probe->ready.load() == 0 && NowSeconds() - start > 0.2) {
      idle.push_back(us);
      if (NowSeconds() - start > 0.2 + idle_seconds) probe->ready.store(1);
    }
  }
  return WriteLatencies(during, last - first, in_recovery) && WriteLatencies(before, 0, idle) ? 0 : 1;
}

std::string Fixed(double value, int digits) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", digits, value);
  return buf;
}

// Throws unless the file holds exactly what `writers` dead writers did.
void CheckTotals(const std::string& db, int writers) {
  promsqlite::Reader reader(db);
  std::map<std::string, double> samples = ParseSamples(reader.Render(promsqlite::Format::kText));
  std::map<std::string, double> expected = {
      {"bench_job_seconds_count", writers},
      {"bench_job_seconds_sum", writers * kObserved},
      {"bench_job_seconds_bucket{le=\"0.5\"}", writers},
      {"bench_job_seconds_bucket{le=\"0.25\"}", 0},
  };
  for (int i = 0; i < kCounterSeries; ++i)
    expected["bench_jobs_total{queue=\"q" + std::to_string(i) + "\"}"] = static_cast<double>(writers) * (i + 1);
  for (const auto& [name, value] : expected) {
    auto found = samples.find(name);
    if (found == samples.end() || found->second != value)
      throw std::runtime_error("recovery: " + name + " is " +
                               (found == samples.end() ? std::string("missing") : Fixed(found->second, 3)) +
                               " after the recovery, not " + Fixed(value, 3));
  }
}

}  // namespace

int RunRecovery(const Flags& flags) {
  const std::string dir = flags.Get("dir", "/tmp");
  const int regions = flags.Int("regions", 1000);
  const int repeats = flags.Int("repeats", 3);
  const int concurrent = flags.Int("concurrent", 8);  // dead writers being made at once
  const double idle_seconds = flags.Double("idle-seconds", 1);  // increments timed before the recovery

  auto* probe = static_cast<Probe*>(MapShared(sizeof(Probe)));
  std::vector<double> seconds;
  std::vector<double> during_all, idle_all;
  double worst = 0;
  for (int r = 0; r < repeats; ++r) {
    const std::string db = dir + "/recovery_" + std::to_string(r) + ".db";
    {
      promsqlite::Options options;
      options.housekeeping_interval_ms = 0;
      promsqlite::Registry registry(db, options);
      Declare(registry);
    }
    double start = NowSeconds();
    std::vector<pid_t> running;
    for (int w = 0; w < regions; ++w) {
      if (static_cast<int>(running.size()) == concurrent) {
        WaitChild(running.front());
        running.erase(running.begin());
      }
      running.push_back(ForkChild([&] { return DeadWriter(db); }));
    }
    for (pid_t pid : running) WaitChild(pid);
    const double made = NowSeconds() - start;
    if (CountRegions(db) != regions)
      throw std::runtime_error("recovery: " + std::to_string(CountRegions(db)) + " regions left by " +
                               std::to_string(regions) + " dead writers");

    new (probe) Probe();
    const std::string during = dir + "/recovery_during.lat", before = dir + "/recovery_before.lat";
    pid_t incrementer = ForkChild([&] { return Incrementer(db, probe, idle_seconds, during, before); });
    promsqlite::Options options;
    options.housekeeping_interval_ms = 0;
    promsqlite::Registry registry(db, options);
    for (double deadline = NowSeconds() + 60; probe->ready.load() == 0;) {
      if (NowSeconds() > deadline) throw std::runtime_error("recovery: the incrementing process did not start");
      usleep(1000);
    }
    probe->phase.store(1);
    double t0 = NowSeconds();
    promsqlite::HousekeepingReport report = registry.Housekeep();
    double took = NowSeconds() - t0;
    probe->phase.store(2);
    WaitChild(incrementer);

    if (report.recovered_regions != regions || report.recovered_updates != int64_t{regions} * kSlotsPerWriter ||
        CountRegions(db) != 0)
      throw std::runtime_error("recovery: one Housekeep() recovered " + std::to_string(report.recovered_regions) +
                               " regions and " + std::to_string(report.recovered_updates) + " updates, not " +
                               std::to_string(regions) + " and " + std::to_string(regions * kSlotsPerWriter) +
                               "; " + std::to_string(CountRegions(db)) + " regions left");
    CheckTotals(db, regions);

    double elapsed = 0, unused = 0;
    std::vector<float> in_recovery = ReadLatencies(during, &elapsed), idle = ReadLatencies(before, &unused);
    std::vector<double> d(in_recovery.begin(), in_recovery.end()), b(idle.begin(), idle.end());
    double repeat_max = 0;
    for (double us : d) repeat_max = std::max(repeat_max, us);
    worst = std::max(worst, repeat_max);
    during_all.insert(during_all.end(), d.begin(), d.end());
    idle_all.insert(idle_all.end(), b.begin(), b.end());
    Note("recovery repeat " + std::to_string(r + 1) + ": " + std::to_string(regions) + " dead writers made in " +
         Fixed(made, 1) + " s; Housekeep() " + Fixed(took * 1e3, 1) + " ms (recovered " +
         std::to_string(report.recovered_regions) + " regions, " + std::to_string(report.recovered_updates) +
         " series updates; also " + std::to_string(report.dead_writers) + " writer records, complete: " +
         (report.complete ? "yes" : "no") + "); " + std::to_string(d.size()) +
         " increments meanwhile (" + Fixed(elapsed, 2) + " s): p50 " + Fixed(Percentile(d, 0.5), 1) + " us, p99.9 " +
         Fixed(Percentile(d, 0.999), 1) + " us, max " + Fixed(repeat_max, 1) + " us (" + std::to_string(b.size()) + " in " + Fixed(idle_seconds, 1) + " s before it: p50 " +
         Fixed(Percentile(b, 0.5), 1) + " us, p99.9 " + Fixed(Percentile(b, 0.999), 1) + " us)");
    seconds.push_back(took);
  }
  ReportMedian("recovery_1000_regions_s", seconds);  // named for 1000 regions whatever --regions was
  Report("recovery_worst_inc_us", Percentile(during_all, 0.999));
  Report("recovery_max_inc_us", worst);
  Report("recovery_idle_inc_p999_us", Percentile(idle_all, 0.999));
  return 0;
}

}  // namespace bench
