// Batched mode: updates wait in the process and reach the file in one
// transaction per flush, never lost, never doubled, never half-applied.
#include <doctest/doctest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <thread>

#include "promsqlite/promsqlite.h"
#include "test_util.h"

using namespace promsqlite;

namespace {

Options Batched(int interval_ms = 60000) {
  Options options;
  options.write_mode = WriteMode::kBatched;
  options.flush_interval_ms = interval_ms;
  return options;
}

std::string FileText(const std::string& path) { return Reader(path).Render(Format::kText); }

// Holds the write lock of `path` until destroyed, as a stuck writer would.
class WriteLockHolder {
 public:
  explicit WriteLockHolder(const std::string& path) {
    sqlite3_open(path.c_str(), &db_);
    sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
  }
  ~WriteLockHolder() {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    sqlite3_close(db_);
  }

 private:
  sqlite3* db_ = nullptr;
};

}  // namespace

TEST_CASE("batched updates reach the file on Flush, and Value() already includes them") {
  test::TempDir dir;
  const std::string path = dir.File("m.db");
  // In shared regions (the default) readers see the pending updates at
  // once; in process memory only once flushed.
  Options options = Batched();
  bool shared = true;
  SUBCASE("pending in process memory") {
    options.pending_store = PendingStore::kProcessMemory;
    shared = false;
  }
  SUBCASE("pending in a shared region") {}
  Registry registry(path, options);
  Counter c = BuildCounter().Name("c").Register(registry).WithLabelValues({});
  Gauge g = BuildGauge().Name("g").Register(registry).WithLabelValues({});
  Histogram h = BuildHistogram().Name("h").Buckets({1}).Register(registry).WithLabelValues({});
  for (int i = 0; i < 10; ++i) c.Increment();
  g.Set(5);
  g.Increment(2);
  h.Observe(0.5);
  h.Observe(3);
  // The series exist at 0 (created on first use), the updates are pending.
  const std::string flushed =
      "# HELP c_total \n# TYPE c_total counter\nc_total 10\n# HELP g \n# TYPE g gauge\ng 7\n# HELP h \n# TYPE h histogram\nh_bucket{le=\"1\"} 1\n"
      "h_bucket{le=\"+Inf\"} 2\nh_sum 3.5\nh_count 2\n";
  if (shared) {
    CHECK(FileText(path) == flushed);
  } else {
    CHECK(FileText(path) ==
          "# HELP c_total \n# TYPE c_total counter\nc_total 0\n# HELP g \n# TYPE g gauge\ng 0\n# HELP h \n# TYPE h histogram\nh_bucket{le=\"1\"} 0\n"
          "h_bucket{le=\"+Inf\"} 0\nh_sum 0\nh_count 0\n");
  }
  CHECK(c.Value() == 10);
  CHECK(g.Value() == 7);
  CHECK(h.Value().cumulative_counts == std::vector<double>{1, 2});
  registry.Flush();
  CHECK(FileText(path) == flushed);
  g.Increment(-1);  // an add without a set is an add, not a set
  registry.Flush();
  CHECK(g.Value() == 6);
  CHECK(c.Value() == 10);  // nothing counted twice
}

TEST_CASE("the background flusher writes pending updates every interval") {
  test::TempDir dir;
  const std::string path = dir.File("m.db");
  Registry registry(path, Batched(50));
  Counter c = BuildCounter().Name("c").Register(registry).WithLabelValues({});
  c.Increment(3);
  bool flushed = false;
  for (int i = 0; i < 200 && !flushed; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    flushed = FileText(path) == "# HELP c_total \n# TYPE c_total counter\nc_total 3\n";
  }
  CHECK(flushed);
}

TEST_CASE("destroying the registry and its handles flushes; handles may outlive the registry") {
  test::TempDir dir;
  const std::string path = dir.File("m.db");
  {
    Counter c = [&] {
      Registry registry(path, Batched());
      return BuildCounter().Name("c").Register(registry).WithLabelValues({});
    }();
    c.Increment(2);  // the registry is gone, the handle still works
  }
  CHECK(FileText(path) == "# HELP c_total \n# TYPE c_total counter\nc_total 2\n");
}

TEST_CASE("a normal exit flushes, a fork()ed child starts with nothing pending") {
  test::TempDir dir;
  const std::string path = dir.File("m.db");
  Options options = Batched();
  bool shared = true;
  SUBCASE("pending in process memory") {
    options.pending_store = PendingStore::kProcessMemory;
    shared = false;
  }
  SUBCASE("pending in a shared region") {}
  Registry registry(path, options);
  Counter c = BuildCounter().Name("c").Register(registry).WithLabelValues({});
  c.Increment(100);  // pending in the parent only
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    c.Increment(1);
    std::exit(0);  // not _exit: the exit hook flushes the child's 1
  }
  int status = 0;
  waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
  // The child's 1 is in the file; the parent's 100 still pending (seen by
  // readers in a shared region).
  CHECK(FileText(path) == (shared ? "# HELP c_total \n# TYPE c_total counter\nc_total 101\n"
                                  : "# HELP c_total \n# TYPE c_total counter\nc_total 1\n"));
  registry.Flush();
  CHECK(FileText(path) == "# HELP c_total \n# TYPE c_total counter\nc_total 101\n");
}

TEST_CASE("a failed flush keeps every update pending and the next flush writes it once") {
  test::TempDir dir;
  const std::string path = dir.File("m.db");
  Options options = Batched();
  options.busy_timeout_ms = 50;
  Registry registry(path, options);
  Counter c = BuildCounter().Name("c").Register(registry).WithLabelValues({});
  Gauge set_then_add = BuildGauge().Name("g1").Register(registry).WithLabelValues({});
  Gauge set_then_set = BuildGauge().Name("g2").Register(registry).WithLabelValues({});
  Histogram h = BuildHistogram().Name("h").Buckets({1}).Register(registry).WithLabelValues({});
  c.Increment(5);
  set_then_add.Set(10);
  set_then_set.Set(1);
  h.Observe(0.5);
  {
    WriteLockHolder stuck(path);
    CHECK_THROWS_AS(registry.Flush(), DatabaseError);
    // More updates arrive while the failed ones wait.
    c.Increment(1);
    set_then_add.Increment(1);
    set_then_set.Set(2);
    h.Observe(5);
  }
  registry.Flush();
  CHECK(FileText(path) ==
        "# HELP c_total \n# TYPE c_total counter\nc_total 6\n# HELP g1 \n# TYPE g1 gauge\ng1 11\n# HELP g2 \n# TYPE g2 gauge\ng2 2\n"
        "# HELP h \n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 5.5\nh_count 2\n");
}

TEST_CASE("background flush failures go to the error hook and are retried") {
  test::TempDir dir;
  const std::string path = dir.File("m.db");
  Options options = Batched(20);
  options.busy_timeout_ms = 20;
  std::atomic<int> errors{0};
  options.on_background_error = [&](const std::string& message) {
    if (message.find("will retry") != std::string::npos) ++errors;
  };
  Registry registry(path, options);
  Counter c = BuildCounter().Name("c").Register(registry).WithLabelValues({});
  {
    WriteLockHolder stuck(path);
    c.Increment(7);
    for (int i = 0; i < 300 && errors == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(errors > 0);
  bool flushed = false;
  for (int i = 0; i < 300 && !flushed; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    flushed = FileText(path) == "# HELP c_total \n# TYPE c_total counter\nc_total 7\n";
  }
  CHECK(flushed);
}

TEST_CASE("batched writers in many processes and threads add up exactly, histograms stay consistent") {
  test::TempDir dir;
  const std::string path = dir.File("m.db");
  int failed = test::RunInChildren(4, [&](int) {
    Registry registry(path, Batched(5));
    Counter c = BuildCounter().Name("c").Register(registry).WithLabelValues({});
    auto hf = BuildHistogram().Name("h").Buckets({1, 2}).Register(registry);
    std::vector<std::thread> threads;  // i % 3 over 20000: 6667 zeros, 6667 ones, 6666 twos
    for (int t = 0; t < 3; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < 20000; ++i) {
          c.Increment();
          hf.WithLabelValues({}).Observe(i % 3);
        }
      });
    }
    for (auto& t : threads) t.join();
  });
  REQUIRE(failed == 0);
  Reader reader(path);
  CHECK(reader.Render(Format::kText) ==
        "# HELP c_total \n# TYPE c_total counter\nc_total 240000\n# HELP h \n# TYPE h histogram\nh_bucket{le=\"1\"} 160008\n"
        "h_bucket{le=\"2\"} 240000\nh_bucket{le=\"+Inf\"} 240000\nh_sum 239988\nh_count 240000\n");
}

TEST_CASE("a reader never sees a half-flushed histogram") {
  test::TempDir dir;
  const std::string path = dir.File("m.db");
  { Registry init(path); BuildHistogram().Name("h").Buckets({1}).Register(init).WithLabelValues({}); }
  int failed = test::RunInChildren(3, [&](int index) {
    if (index == 0) {
      Reader reader(path);
      for (int round = 0; round < 300; ++round) {
        std::string text = reader.Render(Format::kText);
        size_t le1 = text.find("h_bucket{le=\"1\"} ") + 17;
        size_t inf = text.find("h_bucket{le=\"+Inf\"} ") + 20;
        size_t count = text.find("h_count ") + 8;
        size_t sum = text.find("h_sum ") + 6;
        double a = std::stod(text.substr(le1)), b = std::stod(text.substr(inf)), n = std::stod(text.substr(count));
        // Every observation is 0.5 (le=1) or 2 (above): the sum must match the buckets exactly.
        if (b != n || a > b || std::stod(text.substr(sum)) != 0.5 * a + 2 * (b - a))
          throw std::runtime_error("inconsistent: " + text);
      }
      return;
    }
    Registry registry(path, Batched(1));
    Histogram h = BuildHistogram().Name("h").Buckets({1}).Register(registry).WithLabelValues({});
    for (int i = 0; i < 200000; ++i) {
      h.Observe(0.5);  // pairs: one in le=1, one above
      h.Observe(2);
    }
  });
  CHECK(failed == 0);
}

TEST_CASE("destroying the last registry and handles flushes before returning, even while the flusher runs") {
  // A process that _exit()s right after: nothing may be left to a thread.
  test::TempDir dir;
  const std::string path = dir.File("m.db");
  constexpr int kRounds = 20, kIncrements = 20000;
  int failed = test::RunInChildren(kRounds, [&](int) {
    {
      Registry registry(path, Batched(1));  // the flusher is busy all the time
      auto family = BuildCounter().Name("c").LabelNames({"k"}).Register(registry);
      std::vector<Counter> counters;  // many series: each flush takes a while
      for (int k = 0; k < 500; ++k) counters.push_back(family.WithLabelValues({std::to_string(k)}));
      for (int i = 0; i < kIncrements; ++i) counters[i % 500].Increment();
    }
    std::fflush(nullptr);
    _exit(0);
  });
  REQUIRE(failed == 0);
  std::string text = FileText(path);
  double total = 0;
  for (size_t at = text.find("\nc_total{"); at != std::string::npos; at = text.find("\nc_total{", at + 1))
    total += std::stod(text.substr(text.find("} ", at) + 2));
  CHECK(total == kRounds * kIncrements);
}

TEST_CASE("a series removed through the registry does not come back from its pending updates") {
  test::TempDir dir;
  const std::string path = dir.File("m.db");
  Options options = Batched();
  SUBCASE("pending in process memory") { options.pending_store = PendingStore::kProcessMemory; }
  SUBCASE("pending in a shared region") {}
  Registry registry(path, options);
  Family<Counter> jobs = BuildCounter().Name("jobs").LabelNames({"id"}).Register(registry);
  Histogram h = BuildHistogram().Name("h").Buckets({1}).Register(registry).WithLabelValues({});
  Counter a = jobs.WithLabelValues({"a"});
  a.Increment(5);
  jobs.WithLabelValues({"b"}).Increment(7);
  h.Observe(0.5);
  registry.Flush();
  a.Increment(3);  // pending when the series is removed
  h.Observe(2);
  CHECK(registry.RemoveSeries("jobs", {{"id", "a"}}));
  registry.Flush();
  CHECK(FileText(path).find("id=\"a\"") == std::string::npos);
  a.Increment(1);  // after the removal: the series comes back with only this
  CHECK(registry.ClearFamily("h"));  // h's pending observation goes with its series
  registry.Flush();
  CHECK(FileText(path) ==
        "# HELP jobs_total \n# TYPE jobs_total counter\njobs_total{id=\"a\"} 1\n"
        "jobs_total{id=\"b\"} 7\n");
  h.Observe(0.5);
  registry.Wipe();
  registry.Flush();
  CHECK(FileText(path).empty());
}

TEST_CASE("a full region is flushed and removed when its writer ends, like any other") {
  // Left behind, every snapshot read it until a recoverer came (the
  // server's memory for a file whose writer had filled its region).
  test::TempDir dir;
  const std::string path = dir.File("m.db");
  std::vector<std::string> problems;
  {
    Options options = Batched();
    options.pending_region_bytes = 16384;  // room for a few dozen series
    options.on_background_error = [&](const std::string& line) { problems.push_back(line); };
    Registry registry(path, options);
    auto family = BuildCounter().Name("c").LabelNames({"k"}).Register(registry);
    for (int k = 0; k < 500; ++k) family.WithLabelValues({std::to_string(k)}).Increment();
  }
  REQUIRE(problems.size() == 1);
  CHECK(test::Contains(problems[0], "is full"));
  size_t regions = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(path + "-pending")) ++regions;
  CHECK(regions == 0);
  const std::string text = FileText(path);
  CHECK(std::count(text.begin(), text.end(), '\n') == 502);  // HELP, TYPE and 500 series
  CHECK(text.find(" 0\n") == std::string::npos);
}
