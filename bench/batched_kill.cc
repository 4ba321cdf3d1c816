// Batched writers SIGKILLed at random moments (pending regions, the
// default; docs/pending-regions.md): 16 writer processes increment 4
// counter series and observe into a classic histogram (default buckets),
// flushing every 20 ms (their flusher, and a Flush() of their own after a
// burst of updates) so that kills land inside flushes too; the parent
// kills one at random every few milliseconds and starts another in its
// place; a reader process renders in a loop and counts the scrapes in which
// a counter, bucket, _count or _sum went back. Each writer publishes the
// updates whose call returned (acknowledged) in memory shared with the
// parent before fork, so a kill cannot lose the tally. After the last kill
// one Registry::Housekeep() recovers the remaining regions and the file
// must hold exactly the acknowledged updates; the update a writer had in
// flight when killed may count or not (one per writer at most).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <random>
#include <stdexcept>

#include "benchmarks.h"
#include "promsqlite/promsqlite.h"

namespace bench {
namespace {

constexpr int kCounterSeries = 4;
// Exactly representable, so that _sum is exact; each in its own bucket of
// DefaultBuckets() (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10).
constexpr double kValues[] = {0.00390625, 0.046875, 0.375, 4};
constexpr double kUpperBounds[] = {0.005, 0.05, 0.5, 5};
constexpr int kObservedValues = 4;
constexpr int kCodes = kCounterSeries + kObservedValues;  // the kinds of update
constexpr int kMaxTallies = 1 << 14;  // writer processes started in one run, at most

const char* const kPaths[kCounterSeries] = {"/a", "/b", "/c", "/d"};

// One writer process's acknowledged updates, in memory shared with the
// parent.
struct alignas(64) Tally {
  std::atomic<uint64_t> acked[kCodes];
  // The update in progress (its code + 1; 0: none) and its code's count
  // before it: it may have reached the file when acked[code] still equals
  // in_flight_base.
  std::atomic<uint64_t> in_flight_base;
  std::atomic<int32_t> in_flight;
  std::atomic<int32_t> running;   // the writer's loop started
  std::atomic<int32_t> flushing;  // inside a Registry::Flush() of its own
};

struct Shared {
  std::atomic<int> stop_reader;
  std::atomic<int64_t> scrapes, backwards, torn, failed_scrapes;
  Tally tallies[kMaxTallies];
};

struct Handles {
  std::vector<promsqlite::Counter> counters;  // kCounterSeries
  promsqlite::Histogram histogram;
};

Handles Declare(promsqlite::Registry& registry) {
  auto requests =
      promsqlite::BuildCounter().Name("bench_kill_requests").Help("Requests.").LabelNames({"path"}).Register(registry);
  auto seconds = promsqlite::BuildHistogram().Name("bench_kill_seconds").Help("Latency.").Register(registry);
  Handles h{{}, seconds.WithLabelValues({})};
  for (const char* path : kPaths) h.counters.push_back(requests.WithLabelValues({path}));
  return h;
}

// Updates until killed: bursts of `burst` updates, `pause_us` apart. Its
// flusher flushes every `flush_interval_ms`, and so does the writer itself
// after a burst (marked in its tally, so that the kills that land inside a
// flush can be counted).
int Writer(const std::string& db, Tally* tally, int flush_interval_ms, int burst, int pause_us, uint64_t seed) {
  promsqlite::Options options;
  options.write_mode = promsqlite::WriteMode::kBatched;
  options.flush_interval_ms = flush_interval_ms;
  promsqlite::Registry registry(db, options);
  Handles h = Declare(registry);
  tally->running.store(1);
  uint64_t x = seed | 1;
  double flushed = NowSeconds();
  for (;;) {
    for (int i = 0; i < burst; ++i) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      const int code = static_cast<int>(x % kCodes);
      const uint64_t base = tally->acked[code].load(std::memory_order_relaxed);
      tally->in_flight_base.store(base);
      tally->in_flight.store(code + 1);
      if (code < kCounterSeries) h.counters[code].Increment();
      else h.histogram.Observe(kValues[code - kCounterSeries]);
      tally->acked[code].store(base + 1);
      tally->in_flight.store(0);
    }
    if (NowSeconds() - flushed >= flush_interval_ms / 1e3) {
      tally->flushing.store(1);
      registry.Flush();
      tally->flushing.store(0);
      flushed = NowSeconds();
    }
    if (pause_us > 0) usleep(static_cast<useconds_t>(pause_us));
  }
}

bool Tracked(const std::string& name) {
  return name.rfind("bench_kill_", 0) == 0 && name.find("_created") == std::string::npos;
}

// The histogram's buckets, by upper bound (+Inf included).
std::map<double, double> Buckets(const std::map<std::string, double>& samples) {
  static const std::string prefix = "bench_kill_seconds_bucket{le=\"";
  std::map<double, double> buckets;
  for (const auto& [name, value] : samples)
    if (name.rfind(prefix, 0) == 0) buckets[std::strtod(name.c_str() + prefix.size(), nullptr)] = value;
  return buckets;
}

double Get(const std::map<std::string, double>& samples, const std::string& name) {
  auto found = samples.find(name);
  return found == samples.end() ? -1 : found->second;
}

// Whether the histogram's buckets, _count and _sum tell the same story.
bool Consistent(const std::map<std::string, double>& samples) {
  std::map<double, double> buckets = Buckets(samples);
  if (buckets.empty()) return true;  // not written yet
  const double count = Get(samples, "bench_kill_seconds_count");
  return buckets.count(INFINITY) != 0 && buckets[INFINITY] == count;
}

// Renders in a loop until told to stop: a value of a tracked sample below
// the previous scrape's, or a tracked sample gone, counts the scrape as
// going back; a histogram whose _count differs from its +Inf bucket as torn.
int ScrapeLoop(const std::string& db, Shared* shared) {
  promsqlite::Reader reader(db);
  std::map<std::string, double> previous;
  while (shared->stop_reader.load() == 0) {
    std::string text;
    try {
      text = reader.Render(promsqlite::Format::kText);
    } catch (const std::exception& e) {
      if (shared->failed_scrapes.fetch_add(1) == 0) std::fprintf(stderr, "batched-kill: a scrape failed: %s\n", e.what());
      continue;
    }
    std::map<std::string, double> samples = ParseSamples(text);
    bool back = false;
    for (const auto& [name, value] : previous) {
      auto now = samples.find(name);
      if (now == samples.end() || now->second < value) back = true;
    }
    if (back) shared->backwards.fetch_add(1);
    if (!Consistent(samples)) shared->torn.fetch_add(1);
    previous.clear();
    for (const auto& [name, value] : samples)
      if (Tracked(name)) previous[name] = value;
    shared->scrapes.fetch_add(1);
  }
  return 0;
}

}  // namespace

int RunBatchedKill(const Flags& flags) {
  const std::string dir = flags.Get("dir", "/tmp");
  const int writers = flags.Int("writers", 16);
  const double seconds = flags.Double("seconds", 10);
  const int flush_interval_ms = flags.Int("flush-interval-ms", 20);
  const double kill_every_ms = flags.Double("kill-every-ms", 20);  // mean; uniform in [0, 2 x mean]
  const int burst = flags.Int("burst", 1000);
  const int pause_us = flags.Int("pause-us", 500);

  const std::string db = dir + "/batched_kill.db";
  {
    promsqlite::Options options;
    options.housekeeping_interval_ms = 0;
    promsqlite::Registry registry(db, options);
    Declare(registry);
  }
  auto* shared = static_cast<Shared*>(MapShared(sizeof(Shared)));
  std::mt19937_64 random(12345);
  int tallies = 0, failed_writers = 0, kills = 0, killed_before_running = 0, killed_in_flush = 0;
  auto start_writer = [&] {
    Tally* tally = &shared->tallies[tallies++];
    uint64_t seed = random();
    return ForkChild([&] { return Writer(db, tally, flush_interval_ms, burst, pause_us, seed); });
  };
  // Kills `pid` unless it ended by itself (a writer that failed).
  auto kill_writer = [&](pid_t pid) {
    kill(pid, SIGKILL);
    int status = 0;
    if (waitpid(pid, &status, 0) != pid) throw std::runtime_error("batched-kill: waitpid failed");
    if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) ++failed_writers;
  };

  pid_t reader = ForkChild([&] { return ScrapeLoop(db, shared); });
  std::vector<pid_t> pids;
  std::vector<int> tally_of;
  for (int w = 0; w < writers; ++w) {
    tally_of.push_back(tallies);
    pids.push_back(start_writer());
  }
  std::uniform_real_distribution<double> pause(0, 2 * kill_every_ms * 1e3);
  std::uniform_int_distribution<int> victim(0, writers - 1);
  const double deadline = NowSeconds() + seconds;
  while (NowSeconds() < deadline && tallies < kMaxTallies) {
    usleep(static_cast<useconds_t>(pause(random)));
    const int w = victim(random);
    kill_writer(pids[w]);
    ++kills;
    if (shared->tallies[tally_of[w]].running.load() == 0) ++killed_before_running;
    if (shared->tallies[tally_of[w]].flushing.load() != 0) ++killed_in_flush;
    tally_of[w] = tallies;
    pids[w] = start_writer();
  }
  for (pid_t pid : pids) kill_writer(pid);
  kills += writers;
  const int64_t scrapes_before_housekeeping = shared->scrapes.load();

  // What the writers acknowledged, and what they had in flight.
  uint64_t acked[kCodes] = {}, in_flight[kCodes] = {}, acknowledged = 0;
  for (int t = 0; t < tallies; ++t) {
    const Tally& tally = shared->tallies[t];
    for (int c = 0; c < kCodes; ++c) acked[c] += tally.acked[c].load();
    const int code = tally.in_flight.load() - 1;
    if (code >= 0 && tally.acked[code].load() == tally.in_flight_base.load()) ++in_flight[code];
  }
  for (uint64_t a : acked) acknowledged += a;

  promsqlite::HousekeepingReport report;
  {
    promsqlite::Options options;
    options.housekeeping_interval_ms = 0;
    promsqlite::Registry registry(db, options);
    for (int pass = 0; pass < 10; ++pass) {
      promsqlite::HousekeepingReport r = registry.Housekeep();
      report.recovered_regions += r.recovered_regions;
      report.recovered_updates += r.recovered_updates;
      if (r.complete) break;
    }
  }
  // A few scrapes of the recovered file, then the reader stops.
  for (double until = NowSeconds() + 5; shared->scrapes.load() < scrapes_before_housekeeping + 3 && NowSeconds() < until;)
    usleep(1000);
  shared->stop_reader.store(1);
  WaitChild(reader);

  promsqlite::Reader final_reader(db);
  std::map<std::string, double> samples = ParseSamples(final_reader.Render(promsqlite::Format::kText));
  double in_file[kCodes];
  for (int i = 0; i < kCounterSeries; ++i)
    in_file[i] = Get(samples, std::string("bench_kill_requests_total{path=\"") + kPaths[i] + "\"}");
  std::map<double, double> buckets = Buckets(samples);
  double below = 0, sum = 0;
  bool torn_at_end = !Consistent(samples);
  for (int v = 0; v < kObservedValues; ++v) {
    // Each value is alone in its bucket: the cumulative count at its bound
    // minus the one at the bound below it.
    auto at = buckets.find(kUpperBounds[v]);
    const double cumulative = at == buckets.end() ? 0 : at->second;
    in_file[kCounterSeries + v] = cumulative - below;
    sum += in_file[kCounterSeries + v] * kValues[v];
    below = cumulative;
  }
  const double count = Get(samples, "bench_kill_seconds_count");
  if (count != below || Get(samples, "bench_kill_seconds_sum") != sum) torn_at_end = true;

  double lost = 0, doubled = 0;
  std::string detail;
  for (int c = 0; c < kCodes; ++c) {
    const double difference = in_file[c] - static_cast<double>(acked[c]);
    lost += std::max(0.0, -difference);
    doubled += std::max(0.0, difference - static_cast<double>(in_flight[c]));
    char buf[96];
    std::snprintf(buf, sizeof buf, " %.0f/%llu(+%llu)", in_file[c], static_cast<unsigned long long>(acked[c]),
                  static_cast<unsigned long long>(in_flight[c]));
    detail += buf;
  }
  Note("batched-kill: " + std::to_string(tallies) + " writer processes in " + std::to_string(static_cast<int>(seconds)) +
       " s, " + std::to_string(kills) + " SIGKILLed (" + std::to_string(killed_before_running) +
       " before their loop started, " + std::to_string(killed_in_flush) + " inside an explicit Flush()), " + std::to_string(failed_writers) + " ended by themselves; " +
       std::to_string(acknowledged) + " acknowledged updates; final Housekeep() recovered " +
       std::to_string(report.recovered_regions) + " regions");
  Note("batched-kill: in the file / acknowledged (+ in flight), per counter series and histogram value:" + detail);
  Note("batched-kill: " + std::to_string(shared->scrapes.load()) + " scrapes, " +
       std::to_string(shared->torn.load()) + " with a histogram's _count unlike its +Inf bucket, " +
       std::to_string(shared->failed_scrapes.load()) + " failed; final file consistent: " +
       (torn_at_end ? "NO" : "yes"));
  Report("batched_kill_lost_updates", lost);
  Report("batched_kill_double_counted", doubled);
  Report("batched_kill_backwards", static_cast<double>(shared->backwards.load()));
  if (lost != 0 || doubled != 0 || shared->backwards.load() != 0 || shared->torn.load() != 0 || torn_at_end ||
      failed_writers != 0 || shared->failed_scrapes.load() != 0) {
    std::fprintf(stderr, "promsqlite-bench batched-kill: the file or a scrape differs from the acknowledged updates\n");
    return 1;
  }
  return 0;
}

}  // namespace bench
