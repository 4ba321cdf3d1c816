// Bounded memory under label churn (issue 30): a long-running writer lets go
// of series it no longer uses (children caches, region slots, whole regions
// rotated) while every live series keeps exactly its updates, and a handle
// held across an eviction, a rotation, an expiry or another process's
// removal stays valid. Memory itself is measured by bench/run (churn step);
// here the caches' sizes are only bounded loosely.
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "promsqlite/promsqlite.h"
#include "test_util.h"

using namespace promsqlite;

namespace {

Options Batched() {
  Options options;  // regions of pending updates, the default
  options.flush_interval_ms = 3600 * 1000;  // flushes only where the test says
  options.housekeeping_interval_ms = 0;
  return options;
}

// Every sample of a text exposition: "name{labels}" -> value.
std::map<std::string, double> Samples(const std::string& db) {
  std::map<std::string, double> out;
  std::istringstream in(Reader(db).Render(Format::kText));
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

std::vector<std::string> Regions(const std::string& db) {
  std::vector<std::string> names;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(db + "-pending", error))
    if (entry.path().extension() == ".region") names.push_back(entry.path().filename().string());
  return names;
}

std::string Session(int i) { return "s" + std::to_string(i); }

}  // namespace

TEST_CASE("a churning writer keeps its caches bounded, rotates its region, and every series holds exactly its updates") {
  test::TempDir dir;
  const std::string db = dir.path() + "/churn.db";
  Registry registry(db, Batched());
  auto counters = BuildCounter().Name("c").Help("h").LabelNames({"session"}).Register(registry);
  auto gauges = BuildGauge().Name("g").Help("h").LabelNames({"session"}).Register(registry);
  auto histograms = BuildHistogram().Name("d").Help("h").LabelNames({"session"}).Buckets({1, 2}).Register(registry);
  // Handles held for the whole churn, updated between the churned ones.
  Counter held_counter = counters.WithLabelValues({"held"});
  Gauge held_gauge = gauges.WithLabelValues({"held"});
  Histogram held_histogram = histograms.WithLabelValues({"held"});
  held_counter.Increment();
  registry.Flush();
  const std::vector<std::string> first_region = Regions(db);
  REQUIRE(first_region.size() == 1);

  // Histogram slots are about 300 bytes, counters and gauges 140: 60 000
  // series fill several times the 4 MiB after which a mostly dead region
  // rotates.
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    counters.WithLabelValues({Session(i)}).Increment(i % 7 + 1);
    gauges.WithLabelValues({Session(i)}).Set(i);
    histograms.WithLabelValues({Session(i)}).Observe(i % 3);
    held_counter.Increment();
    held_gauge.Increment(2);
    held_histogram.Observe(1.5);
    if (i % 1000 == 999) registry.Flush();
  }
  for (auto size : {counters.CachedChildren(), gauges.CachedChildren(), histograms.CachedChildren()}) {
    CHECK(size <= 4096);  // the policy's bound in this loop: 2 x 1024 plus those parked until a flush
  }
  registry.Flush();
  const std::vector<std::string> regions = Regions(db);
  CHECK(regions.size() == 1);
  CHECK(regions != first_region);  // rotated (and the old one removed)

  const std::map<std::string, double> samples = Samples(db);
  for (int i = 0; i < n; ++i) {
    const std::string labels = "{session=\"" + Session(i) + "\"}";
    REQUIRE(samples.at("c_total" + labels) == i % 7 + 1);
    REQUIRE(samples.at("g" + labels) == i);
    REQUIRE(samples.at("d_count" + labels) == 1);
    REQUIRE(samples.at("d_sum" + labels) == i % 3);
    REQUIRE(samples.at("d_bucket{session=\"" + Session(i) + "\",le=\"1\"}") == (i % 3 <= 1 ? 1 : 0));
  }
  CHECK(samples.at("c_total{session=\"held\"}") == n + 1);
  CHECK(samples.at("g{session=\"held\"}") == 2.0 * n);
  CHECK(samples.at("d_count{session=\"held\"}") == n);
  CHECK(samples.at("d_bucket{session=\"held\",le=\"2\"}") == n);
  CHECK(held_counter.Value() == n + 1);
}

TEST_CASE("pending updates of churned series are read and flushed exactly once across a rotation") {
  test::TempDir dir;
  const std::string db = dir.path() + "/churn.db";
  Registry registry(db, Batched());
  auto counters = BuildCounter().Name("c").Help("h").LabelNames({"session"}).Register(registry);
  Counter held = counters.WithLabelValues({"held"});
  held.Increment(0);
  registry.Flush();
  const std::vector<std::string> first_region = Regions(db);
  const int n = 40000;
  double expected_held = 0;
  for (int i = 0; i < n; ++i) {
    counters.WithLabelValues({Session(i)}).Increment();
    if (i % 2000 == 1999) {
      held.Increment(3);  // pending (in the region) when the flush rotates it
      expected_held += 3;
      registry.Flush();
      // Readers see it once, whether it still waits in a retired region,
      // in its successor or in the file.
      CHECK(Samples(db).at("c_total{session=\"held\"}") == expected_held);
      held.Increment(1);  // and one that waits into the next round
      expected_held += 1;
      CHECK(Samples(db).at("c_total{session=\"held\"}") == expected_held);
      CHECK(held.Value() == expected_held);
    }
  }
  registry.Flush();
  const std::map<std::string, double> samples = Samples(db);
  for (int i = 0; i < n; ++i) REQUIRE(samples.at("c_total{session=\"" + Session(i) + "\"}") == 1);
  CHECK(samples.at("c_total{session=\"held\"}") == expected_held);
  CHECK(Regions(db) != first_region);  // it did rotate
}

TEST_CASE("a handle held across its series' expiry recreates the series with only its next update") {
  test::TempDir dir;
  const std::string db = dir.path() + "/churn.db";
  // Readers expire by the system clock: the writer's runs ahead of it.
  double now = static_cast<double>(time(nullptr));
  Options options = Batched();
  options.clock = [&] { return now; };
  Registry registry(db, options);
  auto counters = BuildCounter().Name("c").Help("h").LabelNames({"session"}).Ttl(1).Register(registry);
  auto gauges = BuildGauge().Name("g").Help("h").LabelNames({"session"}).Ttl(1).Register(registry);
  auto histograms = BuildHistogram().Name("d").Help("h").LabelNames({"session"}).Buckets({1}).Ttl(1).Register(registry);
  Counter c = counters.WithLabelValues({"a"});
  Gauge g = gauges.WithLabelValues({"a"});
  Histogram d = histograms.WithLabelValues({"a"});
  c.Increment(5);
  g.Increment(5);
  d.Observe(0.5);
  registry.Flush();
  now += 10;
  registry.Housekeep();
  std::map<std::string, double> samples = Samples(db);
  CHECK(samples.count("c_total{session=\"a\"}") == 0);
  CHECK(samples.count("g{session=\"a\"}") == 0);
  CHECK(samples.count("d_count{session=\"a\"}") == 0);

  c.Increment(2);
  g.Increment(2);
  d.Observe(3);
  registry.Flush();
  samples = Samples(db);
  CHECK(samples.at("c_total{session=\"a\"}") == 2);
  CHECK(samples.at("g{session=\"a\"}") == 2);
  CHECK(samples.at("d_count{session=\"a\"}") == 1);
  CHECK(samples.at("d_sum{session=\"a\"}") == 3);
  CHECK(samples.at("d_bucket{session=\"a\",le=\"1\"}") == 0);
  CHECK(c.Value() == 2);
}

TEST_CASE("a handle held across another process's removal of its series recreates it with only its next update") {
  test::TempDir dir;
  const std::string db = dir.path() + "/churn.db";
  Registry registry(db, Batched());
  auto counters = BuildCounter().Name("c").Help("h").LabelNames({"session"}).Register(registry);
  Counter c = counters.WithLabelValues({"a"});
  c.Increment(5);
  registry.Flush();
  REQUIRE(test::RunInChildren(1, [&](int) {
            Options immediate;
            immediate.write_mode = WriteMode::kImmediate;
            Registry other(db, immediate);
            if (!other.RemoveSeries("c", {{"session", "a"}})) _exit(3);
          }) == 0);
  CHECK(Samples(db).count("c_total{session=\"a\"}") == 0);
  c.Increment(2);
  registry.Flush();
  CHECK(Samples(db).at("c_total{session=\"a\"}") == 2);
  CHECK(c.Value() == 2);
  // A lookup after the removal finds the same series again.
  counters.WithLabelValues({"a"}).Increment();
  registry.Flush();
  CHECK(Samples(db).at("c_total{session=\"a\"}") == 3);
}

TEST_CASE("this process's removals evict the cached children no handle holds; held ones stay valid") {
  test::TempDir dir;
  const std::string db = dir.path() + "/churn.db";
  Registry registry(db, Batched());
  auto counters = BuildCounter().Name("c").Help("h").LabelNames({"session"}).Register(registry);
  for (const char* v : {"a", "b", "c"}) counters.WithLabelValues({v}).Increment();
  Counter held = counters.WithLabelValues({"b"});
  REQUIRE(counters.CachedChildren() == 3);
  CHECK(registry.RemoveSeries("c", {{"session", "a"}}));
  CHECK(counters.CachedChildren() == 2);
  CHECK(registry.ClearFamily("c"));
  CHECK(counters.CachedChildren() == 1);  // "b": held
  held.Increment(4);
  counters.WithLabelValues({"a"}).Increment(7);
  registry.Flush();
  std::map<std::string, double> samples = Samples(db);
  CHECK(samples.at("c_total{session=\"a\"}") == 7);
  CHECK(samples.at("c_total{session=\"b\"}") == 4);
  CHECK(samples.count("c_total{session=\"c\"}") == 0);
  registry.Wipe();
  CHECK(counters.CachedChildren() == 1);
}

TEST_CASE("a registry dropped while its flusher still holds evicted children ends on the flusher, every update written") {
  test::TempDir dir;
  const std::string db = dir.File("m.db");
  Options options;  // batched, regions
  options.flush_interval_ms = 200;
  {
    Registry registry(db, options);
    auto sessions = BuildCounter().Name("sessions").LabelNames({"id"}).Register(registry);
    for (int i = 0; i < 2500; ++i) sessions.WithLabelValues({std::to_string(i)}).Increment();
    registry.Flush();  // their updates written: the cache may evict them now
    // More new label values than the cache keeps: the written children are
    // evicted and handed to the flusher (at most 200 ms later), each
    // holding the writer through its family's info.
    for (int i = 2500; i < 5000; ++i) sessions.WithLabelValues({std::to_string(i)}).Increment();
  }
  // The registry is gone; the writer ends when the flusher releases the
  // last evicted child, on the flusher's own thread, with its last flush.
  // Waited for, not timed: at most 30 s, checked by the count.
  size_t series = 0;
  auto regions_gone = [&] {
    return !std::filesystem::exists(db + "-pending") || std::filesystem::is_empty(db + "-pending");
  };
  for (int wait = 0; wait < 3000 && (series < 5000 || !regions_gone()); ++wait) {
    usleep(10 * 1000);
    series = 0;
    const std::string text = Reader(db).Render(Format::kText);
    for (size_t at = text.find("\nsessions_total{"); at != std::string::npos; at = text.find("\nsessions_total{", at + 1))
      ++series;
  }
  CHECK(series == 5000);
  Registry again(db);  // the same process writes on
  CHECK(BuildCounter().Name("sessions").LabelNames({"id"}).Register(again).WithLabelValues({"4999"}).Value() == 1);
  CHECK(regions_gone());  // with its writer's last flush
}
