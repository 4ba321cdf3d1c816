// A worker pool as applications run one, in immediate mode: --processes
// workers, each handling "requests" for --seconds: sleep --sleep-ms (the
// request's work), then --updates updates alternating a counter increment
// and a histogram observation (11 buckets) on shared series. What one
// update costs when the lock is mostly free but sometimes taken: per-update
// latency percentiles over every update of every worker. Also: how many
// checkpoints ran (counted in the write gate's sidecar) and,
// measured separately, how long one checkpoint of a WAL at the default
// threshold holds the write lock, since every update that arrives meanwhile
// waits for it.
#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "benchmarks.h"
#include "promsqlite/promsqlite.h"

namespace bench {
namespace {

constexpr size_t kMaxSamples = 1 << 20;

struct Handles {
  promsqlite::Counter counter;
  promsqlite::Histogram histogram;
};

Handles Declare(promsqlite::Registry& registry) {
  auto requests = promsqlite::BuildCounter()
                      .Name("pool_requests")
                      .Help("Requests handled.")
                      .LabelNames(HotLabelNames())
                      .Register(registry);
  auto latency = promsqlite::BuildHistogram()
                     .Name("pool_request_seconds")
                     .Help("Request latency.")
                     .Buckets(promsqlite::DefaultBuckets())
                     .Register(registry);
  return {requests.WithLabelValues(HotLabelValues()), latency.WithLabelValues({})};
}

int Worker(const std::string& db, const std::string& out, int start, double seconds, int sleep_ms, int updates,
           const promsqlite::Options& options) {
  promsqlite::Registry registry(db, options);
  Handles h = Declare(registry);
  std::vector<float> latencies_us;
  latencies_us.reserve(kMaxSamples);
  char byte;
  if (read(start, &byte, 1) != 0) return 1;
  const double begin = NowSeconds();
  while (NowSeconds() - begin < seconds && latencies_us.size() < kMaxSamples) {
    usleep(static_cast<useconds_t>(sleep_ms * 1000));
    for (int u = 0; u < updates; ++u) {
      int64_t t0 = NowNanos();
      if (u % 2 == 0) h.counter.Increment();
      else h.histogram.Observe(0.005 * (u + 1));
      latencies_us.push_back(static_cast<float>(NowNanos() - t0) / 1e3f);
    }
  }
  return WriteLatencies(out, NowSeconds() - begin, latencies_us) ? 0 : 1;
}

// Checkpoints completed by the file's writers: a counter in the write
// gate's sidecar (docs/schema.md, "Taking turns": offset 4224).
uint32_t CheckpointsDone(const std::string& db) { return ReadU32At(db + "-lock", 4224); }

// The WAL's length in frames: mxFrame of the wal-index header at the start
// of the -shm file (native byte order, offset 16).
uint32_t WalFrames(const std::string& db) { return ReadU32At(db + "-shm", 16); }

// Fills a WAL to `pages` frames with the pool's own updates (our
// checkpoints off), then times SQLite's RESTART checkpoint of it: what a
// writer's checkpoint holds the lock for. Microseconds, one per repeat.
std::vector<double> CheckpointHolds(const std::string& dir, int pages, int repeats) {
  const std::string db = dir + "/pool_checkpoint.db";
  promsqlite::Options options;
  options.write_mode = promsqlite::WriteMode::kImmediate;
  options.checkpoint_wal_pages = 0;
  promsqlite::Registry registry(db, options);
  Handles h = Declare(registry);
  sqlite3* raw = nullptr;
  if (sqlite3_open_v2(db.c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK)
    throw std::runtime_error("cannot open " + db);
  sqlite3_busy_timeout(raw, 10000);
  // A connection that has not read the file has not opened its WAL yet, and
  // its checkpoints would do nothing.
  if (sqlite3_exec(raw, "SELECT count(*) FROM sqlite_schema", nullptr, nullptr, nullptr) != SQLITE_OK)
    throw std::runtime_error(std::string("cannot read ") + db + ": " + sqlite3_errmsg(raw));
  std::vector<double> holds;
  for (int r = 0; r < repeats; ++r) {
    int log_frames = 0, copied = 0;
    while (log_frames < pages) {
      for (int i = 0; i < 100; ++i) {
        h.counter.Increment();
        h.histogram.Observe(0.01);
      }
      log_frames = static_cast<int>(WalFrames(db));
    }
    // As the library does: the WAL synced first, without the lock (untimed).
    int wal = open((db + "-wal").c_str(), O_RDONLY);
    if (wal >= 0) fdatasync(wal), close(wal);
    int64_t t0 = NowNanos();
    int rc = sqlite3_wal_checkpoint_v2(raw, nullptr, SQLITE_CHECKPOINT_RESTART, &log_frames, &copied);
    holds.push_back(static_cast<double>(NowNanos() - t0) / 1e3);
    if (rc != SQLITE_OK) throw std::runtime_error(std::string("checkpoint failed: ") + sqlite3_errmsg(raw));
  }
  sqlite3_close(raw);
  return holds;
}

}  // namespace

int RunPool(const Flags& flags) {
  const std::string dir = flags.Get("dir", "/tmp");
  const double seconds = flags.Double("seconds", 5);
  const int processes = flags.Int("processes", 16);
  const int sleep_ms = flags.Int("sleep-ms", 5);
  const int updates = flags.Int("updates", 4);
  promsqlite::Options options = WithLockWait(LockWaitFlag(flags.Get("lock-wait", "fair")));
  options.checkpoint_wal_pages = flags.Int("checkpoint-pages", options.checkpoint_wal_pages);
  const std::string prefix = flags.Get("prefix", "pool");
  const std::string db = dir + "/" + prefix + ".db";
  RemoveDatabase(db);
  promsqlite::Registry registry(db, options);
  Declare(registry);
  int start[2];
  if (pipe(start) != 0) throw std::runtime_error("pipe failed");
  std::vector<pid_t> pids;
  for (int p = 0; p < processes; ++p) {
    std::string out = db + ".w" + std::to_string(p);
    pids.push_back(ForkChild([&] {
      close(start[1]);
      return Worker(db, out, start[0], seconds, sleep_ms, updates, options);
    }));
  }
  close(start[0]);
  usleep(300 * 1000);
  const uint32_t checkpoints_before = CheckpointsDone(db);
  const double began = NowSeconds();
  close(start[1]);
  for (pid_t pid : pids) WaitChild(pid);
  const double elapsed = NowSeconds() - began;
  const uint32_t checkpoints = CheckpointsDone(db) - checkpoints_before;

  std::vector<double> all;
  for (int p = 0; p < processes; ++p) {
    double worker_elapsed = 0;
    std::vector<float> latencies = ReadLatencies(db + ".w" + std::to_string(p), &worker_elapsed);
    all.insert(all.end(), latencies.begin(), latencies.end());
  }
  double busy_us = 0;
  for (double us : all) busy_us += us;
  const double p50 = Percentile(all, 0.5), p99 = Percentile(all, 0.99), p999 = Percentile(all, 0.999);
  Note(prefix + ": " + std::to_string(processes) + " processes x (sleep " + std::to_string(sleep_ms) + " ms, " +
       std::to_string(updates) + " updates) for " + flags.Get("seconds", "5") + " s, lock-wait " +
       flags.Get("lock-wait", "fair") + ": " + std::to_string(all.size()) + " updates");
  Report(prefix + "_updates_per_s", static_cast<double>(all.size()) / elapsed);
  Report(prefix + "_p50_us", p50);
  Report(prefix + "_p99_us", p99);
  Report(prefix + "_p999_us", p999);
  Report(prefix + "_max_us", Percentile(all, 1.0));
  Report(prefix + "_p99_vs_p50_ratio", p99 / p50);
  Report(prefix + "_p999_vs_p50_ratio", p999 / p50);
  // Time spent inside update calls (waiting included) per second of the run.
  Report(prefix + "_update_time_fraction", busy_us / 1e6 / elapsed);
  Report(prefix + "_checkpoints_per_s", checkpoints / elapsed);
  if (flags.Int("checkpoint-repeats", 0) > 0) {
    promsqlite::Options defaults;
    std::vector<double> holds =
        CheckpointHolds(dir, defaults.checkpoint_wal_pages, flags.Int("checkpoint-repeats", 0));
    ReportMedian("checkpoint_hold_us", holds);
  }
  return 0;
}

}  // namespace bench
