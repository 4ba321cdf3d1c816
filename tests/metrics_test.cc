// What each metric type does to the shared file.
#include <doctest/doctest.h>

#include <cmath>
#include <thread>

#include "promsqlite/promsqlite.h"
#include "test_util.h"

using namespace promsqlite;

TEST_CASE("a counter adds increments and starts at 0 as soon as its labels are used") {
  test::TempDir dir;
  Registry registry(dir.File("m.db"));
  auto family = BuildCounter().Name("jobs_total").Help("Jobs.").LabelNames({"queue"}).Register(registry);
  Counter c = family.WithLabelValues({"fast"});
  CHECK(c.Value() == 0);
  CHECK(registry.Render(Format::kText) == "# HELP jobs_total Jobs.\n# TYPE jobs_total counter\njobs_total{queue=\"fast\"} 0\n");
  c.Increment();
  c.Increment(2.5);
  CHECK(c.Value() == 3.5);
  CHECK(family.Add({{"queue", "fast"}}).Value() == 3.5);  // same series by name
}

TEST_CASE("a counter rejects negative, NaN and infinite increments and stores nothing") {
  test::TempDir dir;
  Registry registry(dir.File("m.db"));
  Counter c = BuildCounter().Name("c").Register(registry).WithLabelValues({});
  CHECK_THROWS_WITH_AS(c.Increment(-1), "metric 'c': Counter.Increment needs an amount >= 0, got -1", InvalidArgument);
  CHECK_THROWS_AS(c.Increment(std::nan("")), InvalidArgument);
  CHECK_THROWS_AS(c.Increment(HUGE_VAL), InvalidArgument);
  CHECK(c.Value() == 0);
}

TEST_CASE("a gauge sets, adds, subtracts and takes the current time") {
  test::TempDir dir;
  Registry registry(dir.File("m.db"));
  Gauge g = BuildGauge().Name("temperature").Register(registry).WithLabelValues({});
  g.Set(20);
  g.Increment(1.5);
  g.Decrement(0.5);
  CHECK(g.Value() == 21);
  g.Set(-3);
  CHECK(g.Value() == -3);
  g.SetToCurrentTime();
  CHECK(g.Value() > 1.7e9);
  g.Set(std::nan(""));
  CHECK(std::isnan(g.Value()));
  CHECK(registry.Render(Format::kText).find("temperature NaN\n") != std::string::npos);
  g.Set(HUGE_VAL);
  CHECK(registry.Render(Format::kText).find("temperature +Inf\n") != std::string::npos);
  CHECK_THROWS_AS(g.Increment(std::nan("")), InvalidArgument);
}

TEST_CASE("a histogram counts each observation in its bucket, sum and count together") {
  test::TempDir dir;
  Registry registry(dir.File("m.db"));
  Histogram h = BuildHistogram().Name("latency_seconds").Buckets({0.1, 1, 10}).Register(registry).WithLabelValues({});
  for (double v : {0.05, 0.1, 0.5, 1.0, 5.0, 50.0, HUGE_VAL}) h.Observe(v);
  DistributionValue value = h.Value();
  CHECK(value.cumulative_counts == std::vector<double>{2, 4, 5, 7});
  CHECK(value.count == 7);
  CHECK(std::isinf(value.sum));
  CHECK_THROWS_AS(h.Observe(std::nan("")), InvalidArgument);
  CHECK(h.Value().count == 7);
}

TEST_CASE("a histogram without buckets uses Prometheus' default buckets") {
  test::TempDir dir;
  Registry registry(dir.File("m.db"));
  auto family = BuildHistogram().Name("h").Register(registry);
  CHECK(family.spec().buckets == DefaultBuckets());
  CHECK(DefaultBuckets() == std::vector<double>{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10});
}

TEST_CASE("a summary keeps sum and count") {
  test::TempDir dir;
  Registry registry(dir.File("m.db"));
  Summary s = BuildSummary().Name("payload_bytes").LabelNames({"route"}).Register(registry).WithLabelValues({"/"});
  s.Observe(100);
  s.Observe(28);
  CHECK(s.Value().sum == 128);
  CHECK(s.Value().count == 2);
  CHECK(s.Value().cumulative_counts.empty());
}

TEST_CASE("an info series exists with value 1 once added") {
  test::TempDir dir;
  Registry registry(dir.File("m.db"));
  auto family = BuildInfo().Name("build_info").LabelNames({"version"}).Register(registry);
  CHECK(family.name() == "build");  // _info is the sample suffix, not part of the family name
  Info info = family.WithLabelValues({"1.2.3"});
  CHECK(info.Exists());
  CHECK(registry.Render(Format::kText) == "# HELP build_info \n# TYPE build_info gauge\nbuild_info{version=\"1.2.3\"} 1\n");
}

TEST_CASE("an enum starts in its first state and switches to declared states only") {
  test::TempDir dir;
  Registry registry(dir.File("m.db"));
  Enum e = BuildEnum().Name("phase").States({"init", "run", "done"}).Register(registry).WithLabelValues({});
  CHECK(e.State() == "init");
  e.Set("run");
  CHECK(e.State() == "run");
  CHECK_THROWS_WITH_AS(e.Set("nope"), "metric 'phase': state \"nope\" is not declared (states: init, run, done)",
                       InvalidArgument);
  CHECK(e.State() == "run");
}

TEST_CASE("handles are cheap copies usable from many threads at once") {
  test::TempDir dir;
  Registry registry(dir.File("m.db"));
  Counter c = BuildCounter().Name("hits").Register(registry).WithLabelValues({});
  auto family = BuildHistogram().Name("h").LabelNames({"t"}).Buckets({1}).Register(registry);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([c, family, t] {
      Counter mine = c;  // copy
      for (int i = 0; i < 200; ++i) {
        mine.Increment();
        family.WithLabelValues({std::to_string(t % 2)}).Observe(0.5);
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(c.Value() == 800);
  CHECK(family.WithLabelValues({"0"}).Value().count == 400);
  CHECK(family.WithLabelValues({"1"}).Value().cumulative_counts == std::vector<double>{400, 400});
}

TEST_CASE("labels can be given by name in any order or by position in declared order") {
  test::TempDir dir;
  Registry registry(dir.File("m.db"));
  auto family = BuildCounter().Name("req").LabelNames({"path", "method"}).Register(registry);
  family.WithLabelValues({"/x", "GET"}).Increment();
  family.Add({{"method", "GET"}, {"path", "/x"}}).Increment();
  std::vector<std::string> values = {"/x", "GET"};
  family.WithLabelValues(values).Increment();
  CHECK(family.WithLabelValues({"/x", "GET"}).Value() == 3);
  // Labels are written sorted by name, as client_golang does.
  CHECK(registry.Render(Format::kText) == "# HELP req_total \n# TYPE req_total counter\nreq_total{method=\"GET\",path=\"/x\"} 3\n");
}

TEST_CASE("a fresh registry on the same file sees the other registry's values") {
  test::TempDir dir;
  {
    Registry a(dir.File("m.db"));
    BuildGauge().Name("g").LabelNames({"k"}).Register(a).WithLabelValues({"v"}).Set(42);
  }
  Registry b(dir.File("m.db"));
  CHECK(BuildGauge().Name("g").LabelNames({"k"}).Register(b).WithLabelValues({"v"}).Value() == 42);
  Reader reader(dir.File("m.db"));
  CHECK(reader.Render(Format::kText) == "# HELP g \n# TYPE g gauge\ng{k=\"v\"} 42\n");
  FileStats stats = reader.Stats();
  CHECK(stats.exists);
  CHECK(stats.families == 1);
  CHECK(stats.series == 1);
  CHECK(stats.db_bytes > 0);
}
