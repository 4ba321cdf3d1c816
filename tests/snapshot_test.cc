// Reader::Snapshot: the structured view bridges (the Python binding) read.
#include <doctest/doctest.h>
#include <unistd.h>

#include "promsqlite/promsqlite.h"
#include "test_util.h"

using namespace promsqlite;

namespace {

const FamilySnapshot* FindFamily(const std::vector<FamilySnapshot>& families, const std::string& name) {
  for (const FamilySnapshot& f : families) {
    if (f.spec.name == name) return &f;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("a snapshot holds every family with its series and values, as the renderers see them") {
  test::TempDir dir;
  Registry registry(dir.File("m.db"));
  auto requests = BuildCounter().Name("requests_total").LabelNames({"path", "code"}).Register(registry);
  requests.WithLabelValues({"/b", "500"}).Increment(2);
  requests.WithLabelValues({"/a", "200"}).Increment(3);
  auto latency = BuildHistogram().Name("latency_seconds").Buckets({0.1, 1}).Register(registry).WithLabelValues({});
  latency.Observe(0.05);
  latency.Observe(0.5);
  latency.Observe(7);
  BuildSummary().Name("size_bytes").Register(registry).WithLabelValues({}).Observe(10);
  BuildInfo().Name("build").LabelNames({"version"}).Register(registry).WithLabelValues({"1.2"});
  BuildEnum().Name("phase").States({"idle", "busy"}).Register(registry).WithLabelValues({}).Set("busy");
  BuildGauge().Name("workers").Mode(GaugeMode::kAll).Register(registry).WithLabelValues({}).Set(4);
  BuildGauge().Name("empty").Register(registry);

  Reader reader(dir.File("m.db"));
  std::vector<FamilySnapshot> all = reader.Snapshot();
  REQUIRE(all.size() == 7);
  CHECK(all.front().spec.name == "build");  // sorted by name

  const FamilySnapshot* counter = FindFamily(all, "requests");
  REQUIRE(counter != nullptr);
  CHECK(counter->spec.type == MetricType::kCounter);
  CHECK(counter->spec.label_names == std::vector<std::string>{"code", "path"});  // stored sorted
  REQUIRE(counter->series.size() == 2);
  CHECK(counter->series[0].label_values == std::vector<std::string>{"200", "/a"});
  CHECK(counter->series[0].value == 3);
  CHECK(counter->series[0].created > 0);
  CHECK(counter->series[1].value == 2);

  const FamilySnapshot* histogram = FindFamily(all, "latency_seconds");
  REQUIRE(histogram != nullptr);
  REQUIRE(histogram->series.size() == 1);
  CHECK(histogram->series[0].cumulative_counts == std::vector<double>{1, 2, 3});
  CHECK(histogram->series[0].count == 3);
  CHECK(histogram->series[0].value == doctest::Approx(7.55));

  const FamilySnapshot* summary = FindFamily(all, "size_bytes");
  REQUIRE(summary != nullptr);
  CHECK(summary->series[0].count == 1);
  CHECK(summary->series[0].value == 10);
  CHECK(summary->series[0].cumulative_counts.empty());

  CHECK(FindFamily(all, "build")->series[0].value == 1);
  CHECK(FindFamily(all, "phase")->series[0].value == 1);  // index of "busy"

  const FamilySnapshot* workers = FindFamily(all, "workers");
  REQUIRE(workers != nullptr);
  CHECK(workers->spec.label_names == std::vector<std::string>{"pid"});
  REQUIRE(workers->series.size() == 1);
  CHECK(workers->series[0].label_values == std::vector<std::string>{std::to_string(getpid())});
  CHECK(workers->series[0].value == 4);

  CHECK(FindFamily(all, "empty")->series.empty());
}

TEST_CASE("a snapshot of named families reads only those; unknown names and a missing file give nothing") {
  test::TempDir dir;
  Registry registry(dir.File("m.db"));
  BuildCounter().Name("a").Register(registry).WithLabelValues({}).Increment();
  BuildGauge().Name("b").Register(registry).WithLabelValues({}).Set(2);
  Reader reader(dir.File("m.db"));
  std::vector<FamilySnapshot> some = reader.Snapshot({"b", "nonexistent"});
  REQUIRE(some.size() == 1);
  CHECK(some[0].spec.name == "b");
  CHECK(some[0].series.at(0).value == 2);

  Reader missing(dir.File("missing.db"));
  CHECK(missing.Snapshot().empty());
}
