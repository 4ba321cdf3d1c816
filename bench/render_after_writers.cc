// Does a file get slower to render after many short-lived writers? Renders
// of the same 50 series after 1 process wrote them and after N processes
// (fork, open a Registry, increment all 50, exit) did.
#include <sys/stat.h>

#include <cstdio>

#include "benchmarks.h"
#include "promsqlite/promsqlite.h"

namespace bench {
namespace {

constexpr int kSeries = 50;
// Writers alive at once: a worker pool's churn, not a fork bomb.
constexpr int kConcurrent = 4;

int ShortLivedWriter(const std::string& db) {
  promsqlite::Registry registry(db);
  auto family = promsqlite::BuildCounter()
                    .Name("bench_tasks")
                    .Help("Tasks by path.")
                    .LabelNames(ManyLabelNames())
                    .Register(registry);
  for (int i = 0; i < kSeries; ++i) family.WithLabelValues(ManyLabelValues(i)).Increment();
  return 0;
}

void WriteWith(const std::string& db, int processes) {
  std::vector<pid_t> running;
  for (int p = 0; p < processes; ++p) {
    if (running.size() == kConcurrent) {
      WaitChild(running.front());
      running.erase(running.begin());
    }
    running.push_back(ForkChild([&] { return ShortLivedWriter(db); }));
  }
  for (pid_t pid : running) WaitChild(pid);
}

int64_t Size(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : 0;
}

}  // namespace

int RunRenderAfterWriters(const Flags& flags) {
  const std::string dir = flags.Get("dir", "/tmp");
  const int processes = flags.Int("processes", 2000);
  const int repeats = flags.Int("repeats", 3);
  const int renders = flags.Int("renders", 200);  // per repeat; one render takes microseconds

  const std::string one = dir + "/after_1.db", many = dir + "/after_" + std::to_string(processes) + ".db";
  double start = NowSeconds();
  WriteWith(one, 1);
  WriteWith(many, processes);
  char took[32];
  std::snprintf(took, sizeof took, "%.1f", NowSeconds() - start);
  Note("render-after-writers: " + std::to_string(processes) + " short-lived writers took " + took + " s; sizes (db/wal bytes): after 1: " + std::to_string(Size(one)) +
       "/" + std::to_string(Size(one + "-wal")) + ", after " + std::to_string(processes) + ": " +
       std::to_string(Size(many)) + "/" + std::to_string(Size(many + "-wal")));

  promsqlite::Reader reader_one(one), reader_many(many);
  auto render_us = [&](promsqlite::Reader& reader) {
    std::vector<double> times;
    size_t bytes = 0;
    for (int i = 0; i < renders; ++i) {
      double t0 = NowSeconds();
      reader.Render(promsqlite::Format::kText, [&](std::string_view chunk) { bytes += chunk.size(); });
      times.push_back((NowSeconds() - t0) * 1e6);
    }
    return Median(times);
  };
  render_us(reader_one);  // warm-up
  render_us(reader_many);
  std::vector<double> after_one, after_many;
  for (int r = 0; r < repeats; ++r) {
    after_one.push_back(render_us(reader_one));
    after_many.push_back(render_us(reader_many));
  }
  if (reader_one.Render(promsqlite::Format::kText).find("} 1\n") == std::string::npos ||
      reader_many.Render(promsqlite::Format::kText).find("} " + std::to_string(processes) + "\n") ==
          std::string::npos)
    throw std::runtime_error("render-after-writers: the counters do not hold the expected totals");
  ReportMedian("render_after_1_writer_us", after_one);
  ReportMedian("render_after_many_writers_us", after_many);
  // Named for the full run's 2000 processes whatever --processes was.
  Report("render_after_2000_writers_vs_1_ratio", MedianRatio(after_many, after_one));
  return 0;
}

}  // namespace bench
