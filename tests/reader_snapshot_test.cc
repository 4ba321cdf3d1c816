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

TEST_CASE("a snapshot carries a native histogram's buckets, zero bucket and schema; other series none") {
  TempDir dir;
  const std::string db = dir.File("m.db");
  Registry registry(db);
  // Factor 2: schema 0, bucket i holds (2^(i-1), 2^i], negative ones mirrored.
  auto h = BuildHistogram().Name("sizes").NativeHistogram(2).NativeZeroThreshold(0.001).Register(registry)
               .WithLabelValues({});
  for (double v : {1.0, 1.5, 2.0, 4.0, 100.0, -3.0, 0.0005, 0.0}) h.Observe(v);
  BuildHistogram().Name("classic").Buckets({1}).Register(registry).WithLabelValues({}).Observe(0.5);

  std::vector<FamilySnapshot> all = Reader(db).Snapshot();
  REQUIRE(all.size() == 2);
  CHECK(all[0].spec.name == "classic");
  CHECK_FALSE(all[0].series.at(0).native.has_value());
  const SeriesSnapshot& sizes = all[1].series.at(0);
  REQUIRE(sizes.native.has_value());
  CHECK(sizes.native->schema == 0);
  CHECK(sizes.native->zero_threshold == 0.001);
  CHECK(sizes.native->zero_count == 2);  // 0.0005 and 0
  using Buckets = std::vector<std::pair<int32_t, int64_t>>;
  CHECK(sizes.native->positive == Buckets{{0, 1}, {1, 2}, {2, 1}, {7, 1}});  // 1; 1.5, 2; 4; 100 in (64, 128]
  CHECK(sizes.native->negative == Buckets{{2, 1}});                          // -3 in [-4, -2)
  CHECK(sizes.count == 8);
}

TEST_CASE("a Rendering pulled chunk by chunk gives exactly what Render writes, in every format") {
  TempDir dir;
  const std::string db = dir.File("m.db");
  {
    Registry registry(db);
    auto requests = BuildCounter().Name("requests").LabelNames({"path"}).Register(registry);
    for (int i = 0; i < 3000; ++i) requests.WithLabelValues({"/page/" + std::to_string(i)}).Increment(i);
    auto h = BuildHistogram().Name("latency").Buckets({0.1, 1}).NativeHistogram(1.1).Register(registry);
    h.WithLabelValues({}).Observe(0.5);
    BuildGauge().Name("inflight").Mode(GaugeMode::kSum).Register(registry).WithLabelValues({}).Set(3);
  }
  MemoryFamily own;
  own.spec.type = MetricType::kGauge;
  own.spec.name = "server_up";
  own.samples.push_back({{}, 1, 0});
  for (Format format : {Format::kText, Format::kOpenMetrics, Format::kProtobuf}) {
    CAPTURE(static_cast<int>(format));
    Reader reader(db);
    std::string whole;
    reader.Render(format, [&](std::string_view chunk) { whole.append(chunk); }, {own});
    std::unique_ptr<Reader::Rendering> rendering = reader.StartRender(format, {own});
    std::string pulled, chunk;
    int chunks = 0;
    while (rendering->Next(&chunk)) {
      CHECK_FALSE(chunk.empty());
      CHECK(chunk.size() <= 64 * 1024);
      pulled += chunk;
      ++chunks;
    }
    CHECK(chunks > 2);  // several chunks: pulled in steps, not rendered at once
    CHECK(pulled == whole);
    CHECK_FALSE(rendering->Next(&chunk));  // stays at its end
    rendering.reset();
    CHECK(reader.Render(format).size() > 0);  // the Reader is free again
  }
}

TEST_CASE("a Rendering of a missing file holds only the extra families; a broken file fails at the start") {
  TempDir dir;
  MemoryFamily own;
  own.spec.type = MetricType::kGauge;
  own.spec.name = "server_up";
  own.samples.push_back({{}, 1, 0});
  Reader missing(dir.File("later.db"));
  auto rendering = missing.StartRender(Format::kText, {own});
  std::string chunk, all;
  while (rendering->Next(&chunk)) all += chunk;
  CHECK(all == "# HELP server_up \n# TYPE server_up gauge\nserver_up 1\n");

  test::WriteFile(dir.File("text.db"), "not a database" + std::string(5000, 'x'));
  Reader broken(dir.File("text.db"));
  CHECK_THROWS_AS(broken.StartRender(Format::kText), DatabaseError);
}
