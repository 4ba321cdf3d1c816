// What read-through costs a scrape: Reader::Render (text) of 50 counter
// series while 64 live batched writer processes (pending regions, the
// default; no flush during the run) hold pending updates on every one of
// them, so each snapshot adds 64 regions of 50 slots, against the same 50
// series in a file without regions. The two renders alternate.
#include <poll.h>
#include <unistd.h>

#include <stdexcept>

#include "benchmarks.h"
#include "promsqlite/promsqlite.h"

namespace bench {
namespace {

constexpr int kSeries = 50;

promsqlite::Family<promsqlite::Counter> Tasks(promsqlite::Registry& registry) {
  return promsqlite::BuildCounter()
      .Name("bench_tasks")
      .Help("Tasks by path.")
      .LabelNames(ManyLabelNames())
      .Register(registry);
}

// A writer that increments every series `times` times, says so on `ready`
// and keeps its updates pending until `release` reaches end of file (-1:
// at once); then it ends normally (its flush writes them and removes its
// region).
int PendingWriter(const std::string& db, promsqlite::WriteMode mode, int times, int ready, int release) {
  promsqlite::Options options;
  options.write_mode = mode;
  options.flush_interval_ms = 3600 * 1000;  // nothing flushed while the renders run
  options.housekeeping_interval_ms = 0;
  promsqlite::Registry registry(db, options);
  auto family = Tasks(registry);
  for (int i = 0; i < kSeries; ++i) {
    promsqlite::Counter counter = family.WithLabelValues(ManyLabelValues(i));
    for (int t = 0; t < times; ++t) counter.Increment();
  }
  char byte = 1;
  if (write(ready, &byte, 1) != 1) return 1;
  while (release >= 0 && read(release, &byte, 1) > 0) {
  }
  return 0;
}

// Reads one byte per writer from `fd`, for at most `seconds`.
void AwaitReady(int fd, int writers, double seconds) {
  double deadline = NowSeconds() + seconds;
  for (int got = 0; got < writers;) {
    pollfd p{fd, POLLIN, 0};
    int left_ms = static_cast<int>((deadline - NowSeconds()) * 1e3);
    if (left_ms <= 0 || poll(&p, 1, left_ms) <= 0)
      throw std::runtime_error("scrape-pending: only " + std::to_string(got) + " of " + std::to_string(writers) +
                               " writers got ready");
    char bytes[64];
    ssize_t n = read(fd, bytes, sizeof bytes);
    if (n <= 0) throw std::runtime_error("scrape-pending: a writer failed");
    got += static_cast<int>(n);
  }
}

// Whether every one of the 50 series shows `value`.
bool AllSeriesShow(promsqlite::Reader& reader, double value) {
  std::map<std::string, double> samples = ParseSamples(reader.Render(promsqlite::Format::kText));
  int found = 0;
  for (const auto& [name, v] : samples)
    if (name.rfind("bench_tasks_total{", 0) == 0 && v == value) ++found;
  return found == kSeries;
}

}  // namespace

int RunScrapePending(const Flags& flags) {
  const std::string dir = flags.Get("dir", "/tmp");
  const int writers = flags.Int("writers", 64);
  const int repeats = flags.Int("repeats", 3);
  const int renders = flags.Int("renders", 200);  // pairs per repeat; one render takes microseconds

  const std::string pending_db = dir + "/scrape_pending.db", none_db = dir + "/scrape_none.db";
  int ready[2], release[2];
  if (pipe(ready) != 0 || pipe(release) != 0) throw std::runtime_error("pipe failed");
  // The same 50 series with the same values, written and flushed by one
  // process: a file without regions.
  WaitChild(ForkChild([&] { return PendingWriter(none_db, promsqlite::WriteMode::kImmediate, writers, ready[1], -1); }));
  double start = NowSeconds();
  std::vector<pid_t> pids;
  for (int w = 0; w < writers; ++w)
    pids.push_back(ForkChild([&] {
      close(release[1]);
      return PendingWriter(pending_db, promsqlite::WriteMode::kBatched, 1, ready[1], release[0]);
    }));
  AwaitReady(ready[0], writers + 1, 300);
  char took[32];
  std::snprintf(took, sizeof took, "%.1f", NowSeconds() - start);
  Note("scrape-pending: " + std::to_string(writers) + " batched writers, each holding 1 pending increment on each of " +
       std::to_string(kSeries) + " series, ready in " + took + " s");

  promsqlite::Reader with_regions(pending_db), without(none_db);
  if (!AllSeriesShow(with_regions, writers) || !AllSeriesShow(without, writers))
    throw std::runtime_error("scrape-pending: a render lacks the writers' increments");
  std::vector<double> pending_us, none_us;
  size_t bytes = 0;
  auto render_us = [&](promsqlite::Reader& reader) {
    double t0 = NowSeconds();
    reader.Render(promsqlite::Format::kText, [&](std::string_view chunk) { bytes += chunk.size(); });
    return (NowSeconds() - t0) * 1e6;
  };
  for (int r = -1; r < repeats; ++r) {  // the first round is a warm-up
    std::vector<double> pending, none;
    for (int i = 0; i < renders; ++i) {
      none.push_back(render_us(without));
      pending.push_back(render_us(with_regions));
    }
    if (r < 0) continue;
    pending_us.push_back(Median(pending));
    none_us.push_back(Median(none));
  }

  close(release[1]);  // the writers flush and end
  for (pid_t pid : pids) WaitChild(pid);
  if (!AllSeriesShow(with_regions, writers))
    throw std::runtime_error("scrape-pending: the writers' flushes lack increments");
  ReportMedian("scrape_pending_none_us", none_us);
  ReportMedian("scrape_pending_64_writers_us", pending_us);
  // Named for the full run's 64 writers whatever --writers was.
  Report("scrape_pending_64_vs_none_ratio", MedianRatio(pending_us, none_us));
  return 0;
}

}  // namespace bench
