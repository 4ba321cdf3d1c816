// Series lifecycle: per-process gauges whose dead writers vanish, TTL
// expiry, remove/clear/wipe, and housekeeping that keeps the file bounded.
#include <SQLiteCpp/Database.h>
#include <doctest/doctest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "promsqlite/promsqlite.h"
#include "test_util.h"

using namespace promsqlite;

namespace {

// A clock tests move by hand.
struct FakeClock {
  std::shared_ptr<std::atomic<double>> now = std::make_shared<std::atomic<double>>(1.8e9);
  void Advance(double seconds) { now->store(now->load() + seconds); }
  std::function<double()> fn() const {
    auto n = now;
    return [n] { return n->load(); };
  }
};

pid_t StartWorker(const std::string& db, GaugeMode mode, double value) {
  return test::StartGaugeWorker(db, "worker_memory_bytes", mode, value);
}

std::string Text(const std::string& db, ReaderOptions options = ReaderOptions()) {
  return Reader(db, options).Render(Format::kText);
}

// How many rows a series' child tables hold: "classic native exemplars".
std::string ChildRows(const std::string& db) {
  SQLite::Database file(db, SQLite::OPEN_READONLY);
  std::string out;
  for (const char* table : {"bucket_counts", "native_buckets", "exemplars"})
    out += (out.empty() ? "" : " ") +
           std::to_string(file.execAndGet(std::string("SELECT count(*) FROM ") + table).getInt64());
  return out;
}

std::string Body(const std::string& text) {  // drops HELP/TYPE lines
  std::string out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    std::string line = text.substr(start, end - start + 1);
    if (line[0] != '#') out += line;
    start = end + 1;
  }
  return out;
}

}  // namespace

TEST_CASE("live gauge modes show only running processes' values; plain modes keep the dead ones'") {
  struct Case {
    GaugeMode mode;
    const char* live_sample;  // after killing the writers of 10 and 30 (20 and 40 stay)
  };
  const Case cases[] = {
      {GaugeMode::kLiveSum, "worker_memory_bytes 60\n"},
      {GaugeMode::kLiveMax, "worker_memory_bytes 40\n"},
      {GaugeMode::kLiveMin, "worker_memory_bytes 20\n"},
      {GaugeMode::kLiveMostRecent, "worker_memory_bytes 40\n"},
      {GaugeMode::kSum, "worker_memory_bytes 100\n"},
      {GaugeMode::kMax, "worker_memory_bytes 40\n"},
      {GaugeMode::kMin, "worker_memory_bytes 10\n"},
      {GaugeMode::kMostRecent, "worker_memory_bytes 40\n"},
  };
  for (const Case& c : cases) {
    std::string mode = GaugeModeName(c.mode);
    CAPTURE(mode);
    test::TempDir dir;
    const std::string db = dir.File("m.db");
    std::vector<pid_t> pids;
    for (double v : {10, 20, 30, 40}) pids.push_back(StartWorker(db, c.mode, v));
    test::KillAndReap(pids[0]);
    test::KillAndReap(pids[2]);
    CHECK(Body(Text(db)) == c.live_sample);
    Registry registry(db);
    HousekeepingReport report = registry.Housekeep();
    CHECK(report.dead_process_series == (IsLive(c.mode) ? 2 : 0));
    CHECK(report.dead_writers == (IsLive(c.mode) ? 2 : 0));
    CHECK(Body(Text(db)) == c.live_sample);
    CHECK(test::CheckExposition(Text(db), false).exit_code == 0);
    test::KillAndReap(pids[1]);
    test::KillAndReap(pids[3]);
  }
}

TEST_CASE("mode all and liveall expose one series per process with a pid label") {
  test::TempDir dir;
  const std::string db = dir.File("m.db");
  pid_t a = StartWorker(db, GaugeMode::kLiveAll, 1);
  pid_t b = StartWorker(db, GaugeMode::kLiveAll, 2);
  std::string both = Body(Text(db));
  CHECK(both.find("worker_memory_bytes{pid=\"" + std::to_string(a) + "\"} 1\n") != std::string::npos);
  CHECK(both.find("worker_memory_bytes{pid=\"" + std::to_string(b) + "\"} 2\n") != std::string::npos);
  test::KillAndReap(a);
  CHECK(Body(Text(db)) == "worker_memory_bytes{pid=\"" + std::to_string(b) + "\"} 2\n");
  CHECK(test::CheckExposition(Text(db), false).exit_code == 0);
  CHECK(test::CheckExposition(Reader(db).Render(Format::kOpenMetrics), true).exit_code == 0);
  test::KillAndReap(b);
  CHECK(Body(Text(db)).empty());
}

TEST_CASE("a writer record with a running pid but another start time is a dead process (pid reuse)") {
  test::TempDir dir;
  const std::string db = dir.File("m.db");
  Registry registry(db);
  auto family = BuildGauge().Name("inflight").Mode(GaugeMode::kLiveSum).Register(registry);
  family.WithLabelValues({}).Set(5);  // this process: alive
  // A previous process that had our pid: same pid, older start time.
  std::string sql =
      "INSERT INTO writers (pid, start_time, boot_id, created) SELECT pid, start_time - 1, boot_id, created "
      "FROM writers; INSERT INTO series (family_id, labels, writer_id, value, count, created, updated) "
      "SELECT family_id, labels, (SELECT max(id) FROM writers), 1000, 0, created, updated FROM series;";
  test::ExecSql(db, sql);
  CHECK(Body(Text(db)) == "inflight 5\n");
  HousekeepingReport report = registry.Housekeep();
  CHECK(report.dead_process_series == 1);
  CHECK(report.dead_writers == 1);
  CHECK(Body(Text(db)) == "inflight 5\n");
}

TEST_CASE("series past their TTL vanish from the exposition and are deleted; fresh ones stay") {
  test::TempDir dir;
  const std::string db = dir.File("m.db");
  FakeClock clock;
  Options options;
  options.clock = clock.fn();
  // Each update stamps its row at once; batched updates pending when the
  // clock jumps count as updated now (pending_regions_test.cc).
  options.write_mode = WriteMode::kImmediate;
  ReaderOptions reader_options;
  reader_options.clock = clock.fn();
  Registry registry(db, options);
  auto jobs = BuildCounter().Name("jobs").LabelNames({"id"}).Ttl(60).Register(registry);
  auto forever = BuildCounter().Name("forever").LabelNames({"id"}).Register(registry);
  jobs.WithLabelValues({"old"}).Increment();
  forever.WithLabelValues({"old"}).Increment();
  clock.Advance(45);
  jobs.WithLabelValues({"new"}).Increment();
  CHECK(Body(Text(db, reader_options)) == "forever_total{id=\"old\"} 1\njobs_total{id=\"new\"} 1\njobs_total{id=\"old\"} 1\n");
  clock.Advance(30);  // "old" is 75 s old, "new" 30 s
  CHECK(Body(Text(db, reader_options)) == "forever_total{id=\"old\"} 1\njobs_total{id=\"new\"} 1\n");
  HousekeepingReport report = registry.Housekeep();
  CHECK(report.expired_series == 1);
  CHECK(Reader(db, reader_options).Stats().series == 2);
  // Writing again brings an expired series back, from 0.
  jobs.WithLabelValues({"old"}).Increment();
  CHECK(Body(Text(db, reader_options)) == "forever_total{id=\"old\"} 1\njobs_total{id=\"new\"} 1\njobs_total{id=\"old\"} 1\n");
}

TEST_CASE("a series' bucket rows, native buckets and exemplars go with it, whoever deletes it") {
  test::TempDir dir;
  const std::string db = dir.File("m.db");
  FakeClock clock;
  Options options;
  options.clock = clock.fn();
  options.housekeeping_interval_ms = 0;  // only the passes this test runs
  Registry registry(db, options);
  auto declare = [&] {
    return BuildHistogram().Name("latency").LabelNames({"path"}).Buckets({1, 2}).NativeHistogram(1.1).Ttl(60)
        .Register(registry);
  };
  auto latency = declare();
  const Labels exemplar = {{"trace", "t1"}};
  // Each observation: one classic bucket row, one native bucket row, one exemplar.
  auto observe = [&](const std::string& path) { latency.WithLabelValues({path}).Observe(0.5, exemplar); };
  for (const char* path : {"a", "b", "c", "d"}) observe(path);
  CHECK(ChildRows(db) == "4 4 4");

  CHECK(registry.RemoveSeries("latency", {{"path", "a"}}));
  CHECK(ChildRows(db) == "3 3 3");
  test::ExecSql(db, "DELETE FROM series WHERE labels = x'620001'");  // path="b", as another program would
  CHECK(ChildRows(db) == "2 2 2");
  clock.Advance(61);
  observe("d");  // "c" expires, "d" does not
  CHECK(registry.Housekeep().expired_series == 1);
  CHECK(ChildRows(db) == "1 1 1");
  CHECK(registry.ClearFamily("latency"));
  CHECK(ChildRows(db) == "0 0 0");

  observe("d");
  CHECK(registry.RemoveFamily("latency"));
  CHECK(ChildRows(db) == "0 0 0");
  observe("d");  // rows of a family that is gone...
  CHECK(ChildRows(db) == "1 1 1");
  CHECK(registry.Housekeep().orphaned_series == 1);  // ...go with their series
  CHECK(ChildRows(db) == "0 0 0");

  latency = declare();
  observe("e");
  CHECK(ChildRows(db) == "1 1 1");
  registry.Wipe();
  CHECK(ChildRows(db) == "0 0 0");
  CHECK(test::IntegrityCheck(db) == "ok");
}

TEST_CASE("churning label values under a TTL keep the file bounded") {
  test::TempDir dir;
  const std::string db = dir.File("m.db");
  FakeClock clock;
  Options options;
  options.clock = clock.fn();
  options.housekeeping_interval_ms = 10000;  // writers housekeep by themselves every 10 s (fake time)
  // Immediate updates run those passes; a batched writer's flusher runs on
  // real time, which this test does not wait for.
  options.write_mode = WriteMode::kImmediate;
  Registry registry(db, options);
  auto family = BuildGauge().Name("session_bytes").LabelNames({"session"}).Ttl(30).Register(registry);
  int64_t most = 0;
  for (int round = 0; round < 20; ++round) {
    for (int i = 0; i < 200; ++i) family.WithLabelValues({std::to_string(round) + "-" + std::to_string(i)}).Set(i);
    clock.Advance(11);
    most = std::max(most, Reader(db).Stats().series);
  }
  CHECK(most <= 200 * 5);  // about 30 s of sessions, never all 4000
  CHECK(Reader(db).Stats().series < 4000);
}

TEST_CASE("remove, clear and wipe from the library; handles recreate their series") {
  test::TempDir dir;
  const std::string db = dir.File("m.db");
  Registry registry(db);
  auto requests = BuildCounter().Name("requests").Help("R.").LabelNames({"code"}).Register(registry);
  auto temp = BuildGauge().Name("temp").Help("T.").Register(registry);
  Counter ok = requests.WithLabelValues({"200"});
  ok.Increment(5);
  requests.WithLabelValues({"500"}).Increment();
  temp.WithLabelValues({}).Set(20);

  CHECK(registry.RemoveSeries("requests_total", {{"code", "500"}}));
  CHECK_FALSE(registry.RemoveSeries("requests_total", {{"code", "500"}}));
  CHECK(Body(Text(db)) == "requests_total{code=\"200\"} 5\ntemp 20\n");

  CHECK(registry.ClearFamily("requests"));
  CHECK(Body(Text(db)) == "temp 20\n");
  CHECK(Reader(db).Families().size() == 2);  // the declaration stays
  ok.Increment();  // the handle stays valid: the series comes back from 0
  CHECK(Body(Text(db)) == "requests_total{code=\"200\"} 1\ntemp 20\n");

  CHECK(registry.RemoveFamily("temp"));
  CHECK(Reader(db).Families().size() == 1);
  temp.WithLabelValues({}).Set(1);  // writes where no reader looks...
  CHECK(Body(Text(db)) == "requests_total{code=\"200\"} 1\n");
  registry.Flush();
  CHECK(registry.Housekeep().orphaned_series == 1);  // ...and housekeeping deletes it

  registry.Wipe();
  CHECK(Text(db).empty());
  CHECK(Reader(db).Families().empty());
  CHECK(test::IntegrityCheck(db) == "ok");
}
