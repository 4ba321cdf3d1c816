// Reader::Snapshot(names): chosen families as data (the Python package reads
// one family per prometheus_client collector this way).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "promsqlite/promsqlite.h"
#include "test_util.h"

using namespace promsqlite;
using promsqlite::test::TempDir;

TEST_CASE("a snapshot of named families holds only those, with the values the whole snapshot has") {
  TempDir dir;
  const std::string db = dir.File("m.db");
  Registry registry(db);
  auto requests = BuildCounter().Name("requests_total").LabelNames({"code"}).Register(registry);
  requests.WithLabelValues({"500"}).Increment(2);
  requests.WithLabelValues({"200"}).Increment(3);
  BuildInfo().Name("build_info").LabelNames({"version"}).Register(registry).WithLabelValues({"1.2"});
  BuildEnum().Name("phase").States({"idle", "busy"}).Register(registry).WithLabelValues({}).Set("busy");
  BuildGauge().Name("other").Register(registry).WithLabelValues({}).Set(7);

  Reader reader(db);
  // Stored names: a counter without "_total", an info without "_info".
  std::vector<FamilySnapshot> some = reader.Snapshot(std::vector<std::string>{"requests", "build", "phase", "nope"});
  REQUIRE(some.size() == 3);
  CHECK(some[0].spec.name == "build");
  CHECK(some[0].series.at(0).label_values == std::vector<std::string>{"1.2"});
  CHECK(some[1].spec.name == "phase");
  CHECK(some[1].series.at(0).value == 1);  // the index of "busy"
  CHECK(some[2].spec.name == "requests");
  REQUIRE(some[2].series.size() == 2);
  CHECK(some[2].series[0].label_values == std::vector<std::string>{"200"});
  CHECK(some[2].series[0].value == 3);
  CHECK(some[2].series[1].value == 2);

  std::vector<FamilySnapshot> all = reader.Snapshot();
  REQUIRE(all.size() == 4);
  CHECK(all[3].spec.name == "requests");
  CHECK(all[3].series[0].created == some[2].series[0].created);

  CHECK(reader.Snapshot(std::vector<std::string>{}).empty());
  CHECK(Reader(dir.File("missing.db")).Snapshot(std::vector<std::string>{"requests"}).empty());
}
