// Declarations live in the file: identical re-declarations are fine,
// different ones are errors naming both versions.
#include <doctest/doctest.h>

#include "promsqlite/promsqlite.h"
#include "test_util.h"

using namespace promsqlite;

TEST_CASE("every process may declare the same family again") {
  test::TempDir dir;
  Registry a(dir.File("m.db"));
  Registry b(dir.File("m.db"));
  auto fa = BuildHistogram().Name("h_seconds").Help("x").LabelNames({"a", "b"}).Buckets({1, 2}).Register(a);
  // Same label names in another order are the same declaration.
  auto fb = BuildHistogram().Name("h_seconds").Help("x").LabelNames({"b", "a"}).Buckets({1, 2}).Register(b);
  fa.WithLabelValues({"A", "B"}).Observe(1);
  a.Flush();  // Value() has another registry's (process's) pending updates once flushed
  CHECK(fb.WithLabelValues({"B", "A"}).Value().count == 1);
}

TEST_CASE("a counter declared with or without _total is the same family") {
  test::TempDir dir;
  Registry registry(dir.File("m.db"));
  BuildCounter().Name("events_total").Register(registry).WithLabelValues({}).Increment();
  BuildCounter().Name("events").Register(registry).WithLabelValues({}).Increment();
  CHECK(registry.Render(Format::kText) == "# HELP events_total \n# TYPE events_total counter\nevents_total 2\n");
}

TEST_CASE("re-declaring with another type, labels, unit, buckets or states is an error naming both") {
  test::TempDir dir;
  Registry registry(dir.File("m.db"));
  const std::string path = dir.File("m.db");
  BuildCounter().Name("c").LabelNames({"a"}).Register(registry);
  CHECK_THROWS_WITH_AS(BuildGauge().Name("c").LabelNames({"a"}).Register(registry),
                       ("metric 'c' is declared as gauge c{a}, but " + path + " already declares it as counter c{a}").c_str(),
                       DeclarationConflict);
  CHECK_THROWS_WITH_AS(BuildCounter().Name("c").LabelNames({"a", "b"}).Register(registry),
                       ("metric 'c' is declared as counter c{a,b}, but " + path + " already declares it as counter c{a}").c_str(),
                       DeclarationConflict);
  BuildHistogram().Name("h").Buckets({1, 2}).Register(registry);
  CHECK_THROWS_WITH_AS(BuildHistogram().Name("h").Buckets({1, 5}).Register(registry),
                       ("metric 'h' is declared as histogram h{} buckets=[1,5], but " + path +
                        " already declares it as histogram h{} buckets=[1,2]").c_str(),
                       DeclarationConflict);
  BuildEnum().Name("e").States({"a", "b"}).Register(registry);
  CHECK_THROWS_AS(BuildEnum().Name("e").States({"b", "a"}).Register(registry), DeclarationConflict);
  BuildGauge().Name("size_bytes").Unit("bytes").Register(registry);
  CHECK_THROWS_AS(BuildGauge().Name("size_bytes").Register(registry), DeclarationConflict);
}

TEST_CASE("families whose exposed names would collide are rejected") {
  test::TempDir dir;
  Registry registry(dir.File("m.db"));
  BuildCounter().Name("x").Register(registry);
  CHECK_THROWS_WITH_AS(BuildGauge().Name("x_total").Register(registry),
                       "metric 'x_total': gauge x_total{} would expose 'x_total', which the file's counter x{} already exposes",
                       DeclarationConflict);
  BuildGauge().Name("y_count").Register(registry);
  CHECK_THROWS_AS(BuildHistogram().Name("y").Register(registry), DeclarationConflict);
  BuildSummary().Name("z").Register(registry);
  CHECK_THROWS_AS(BuildGauge().Name("z_sum").Register(registry), DeclarationConflict);
  // Unrelated suffix-looking names are fine.
  BuildGauge().Name("x_totals").Register(registry);
}

TEST_CASE("a new help text replaces the stored one, an empty one keeps it") {
  test::TempDir dir;
  Registry registry(dir.File("m.db"));
  BuildGauge().Name("g").Help("old").Register(registry).WithLabelValues({}).Set(1);
  BuildGauge().Name("g").Help("new").Register(registry);
  CHECK(registry.Render(Format::kText) == "# HELP g new\n# TYPE g gauge\ng 1\n");
  BuildGauge().Name("g").Register(registry);
  CHECK(registry.Render(Format::kText) == "# HELP g new\n# TYPE g gauge\ng 1\n");
}

TEST_CASE("a reader needs no declarations: metadata comes from the file") {
  test::TempDir dir;
  {
    Registry registry(dir.File("m.db"));
    BuildGauge().Name("queue_length").Help("Jobs waiting.").Unit("jobs").LabelNames({"q"}).Register(registry)
        .WithLabelValues({"a"}).Set(3);
  }
  Reader reader(dir.File("m.db"));
  CHECK(reader.Render(Format::kOpenMetrics) ==
        "# TYPE queue_length_jobs gauge\n# HELP queue_length_jobs Jobs waiting.\n# UNIT queue_length_jobs jobs\n"
        "queue_length_jobs{q=\"a\"} 3\n# EOF\n");
}
