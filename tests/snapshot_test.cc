// Reader::Snapshot: the file as data, for bridges such as
// promsqlite/prometheus_cpp.h.
#include <doctest/doctest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "promsqlite/promsqlite.h"
#include "test_util.h"

using namespace promsqlite;
using promsqlite::test::TempDir;

TEST_CASE("Reader::Snapshot: one consistent read of every family, cumulative buckets, empty for a missing file") {
  TempDir dir;
  CHECK(Reader(dir.File("missing.db")).Snapshot().empty());
  const std::string db = dir.File("m.db");
  Registry registry(db);
  auto h = BuildHistogram().Name("h").Buckets({1, 2, 3}).Register(registry).WithLabelValues({});
  for (double v : {0.5, 2.5, 2.5, 9.0}) h.Observe(v);
  BuildGauge().Name("per_process").Mode(GaugeMode::kAll).Register(registry).WithLabelValues({}).Set(4);
  BuildGauge().Name("unused").Register(registry);
  std::vector<FamilySnapshot> snapshot = Reader(db).Snapshot();
  REQUIRE(snapshot.size() == 3);
  CHECK(snapshot[0].spec.name == "h");
  REQUIRE(snapshot[0].series.size() == 1);
  CHECK(snapshot[0].series[0].bucket_counts == std::vector<int64_t>{1, 1, 3});
  CHECK(snapshot[0].series[0].count == 4);
  CHECK(snapshot[0].series[0].value == 14.5);
  CHECK(snapshot[0].series[0].created > 0);
  CHECK(snapshot[1].spec.name == "per_process");
  CHECK(snapshot[1].spec.label_names == std::vector<std::string>{"pid"});
  REQUIRE(snapshot[1].series.size() == 1);
  CHECK(snapshot[1].series[0].label_values == std::vector<std::string>{std::to_string(getpid())});
  CHECK(snapshot[1].series[0].value == 4);
  CHECK(snapshot[2].spec.name == "unused");
  CHECK(snapshot[2].series.empty());
}
