// Many processes, one file: totals are exact and histograms consistent.
#include <doctest/doctest.h>
#include <unistd.h>

#include "promsqlite/promsqlite.h"
#include "test_util.h"

using namespace promsqlite;

TEST_CASE("forked writers add up exactly in counters and histograms") {
  test::TempDir dir;
  const std::string db = dir.File("m.db");
  constexpr int kChildren = 8, kRounds = 150;
  int failed = test::RunInChildren(kChildren, [&](int index) {
    Registry registry(db);  // each process declares the same families
    auto counter = BuildCounter().Name("work_total").LabelNames({"kind"}).Register(registry);
    auto histogram = BuildHistogram().Name("work_seconds").Buckets({0.5, 1}).Register(registry);
    auto gauge = BuildGauge().Name("balance").Register(registry);
    Counter mine = counter.WithLabelValues({index % 2 ? "odd" : "even"});
    Counter shared = counter.WithLabelValues({"all"});
    Histogram h = histogram.WithLabelValues({});
    for (int i = 0; i < kRounds; ++i) {
      shared.Increment();
      mine.Increment(0.5);
      h.Observe(i % 3 == 0 ? 0.25 : (i % 3 == 1 ? 0.75 : 5));
      gauge.WithLabelValues({}).Increment(index % 2 ? 1 : -1);
    }
  });
  REQUIRE(failed == 0);
  Registry registry(db);
  auto counter = BuildCounter().Name("work_total").LabelNames({"kind"}).Register(registry);
  CHECK(counter.WithLabelValues({"all"}).Value() == kChildren * kRounds);
  CHECK(counter.WithLabelValues({"odd"}).Value() == kChildren / 2 * kRounds * 0.5);
  CHECK(counter.WithLabelValues({"even"}).Value() == kChildren / 2 * kRounds * 0.5);
  DistributionValue h = BuildHistogram().Name("work_seconds").Buckets({0.5, 1}).Register(registry).WithLabelValues({}).Value();
  CHECK(h.count == kChildren * kRounds);
  CHECK(h.cumulative_counts == std::vector<double>{kChildren * 50, kChildren * 100, kChildren * 150});
  CHECK(h.sum == kChildren * 50 * (0.25 + 0.75 + 5));
  CHECK(BuildGauge().Name("balance").Register(registry).WithLabelValues({}).Value() == 0);
}

TEST_CASE("a reader rendering while writers observe never sees _count differ from the +Inf bucket") {
  test::TempDir dir;
  const std::string db = dir.File("m.db");
  {
    Registry registry(db);
    BuildHistogram().Name("h").Buckets({1}).Register(registry).WithLabelValues({});
  }
  pid_t reader_pid = getpid();
  int failed = test::RunInChildren(3, [&](int) {
    Registry registry(db);
    Histogram h = BuildHistogram().Name("h").Buckets({1}).Register(registry).WithLabelValues({});
    for (int i = 0; i < 300; ++i) h.Observe(i % 2 ? 0.5 : 2);
  });
  (void)reader_pid;
  REQUIRE(failed == 0);
  // And concurrently: a child renders in a loop while others write.
  failed = test::RunInChildren(3, [&](int index) {
    if (index == 0) {
      Reader reader(db);
      for (int round = 0; round < 200; ++round) {
        std::string text = reader.Render(Format::kText);
        size_t inf = text.find("h_bucket{le=\"+Inf\"} ");
        size_t count = text.find("h_count ");
        if (inf == std::string::npos || count == std::string::npos) throw std::runtime_error("missing samples");
        std::string a = text.substr(inf + 20, text.find('\n', inf) - inf - 20);
        std::string b = text.substr(count + 8, text.find('\n', count) - count - 8);
        if (a != b) throw std::runtime_error("+Inf bucket " + a + " != count " + b);
      }
    } else {
      Registry registry(db);
      Histogram h = BuildHistogram().Name("h").Buckets({1}).Register(registry).WithLabelValues({});
      for (int i = 0; i < 300; ++i) h.Observe(0.5);
    }
  });
  CHECK(failed == 0);
}

TEST_CASE("a registry used before fork() keeps working in parent and child") {
  test::TempDir dir;
  Registry registry(dir.File("m.db"));
  Counter c = BuildCounter().Name("c").Register(registry).WithLabelValues({});
  c.Increment();  // the parent's connection is open and used
  int failed = test::RunInChildren(4, [&](int) {
    for (int i = 0; i < 50; ++i) c.Increment();  // inherited handle: reopens in the child
  });
  CHECK(failed == 0);
  c.Increment();
  // The children ended with _exit: their updates wait in their regions,
  // which every reader adds at once...
  CHECK(Reader(dir.File("m.db")).Render(Format::kText).find("c_total 202\n") != std::string::npos);
  // ...and Value(), this process's view of the file, has once they are
  // recovered (by housekeeping, or the next writer that starts).
  registry.Housekeep();
  CHECK(c.Value() == 1 + 4 * 50 + 1);
}
