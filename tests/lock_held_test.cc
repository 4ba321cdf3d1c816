// Another process holds the write lock (a writer stopped in a debugger, a
// sqlite3 shell in BEGIN IMMEDIATE): no update raises or waits for it past
// Options::update_lock_wait_ms, whatever its kind, in a new family or a new
// series, in either write mode; every update lands exactly once after the
// release, also when its process was SIGKILLed during the hold (issue 27,
// docs/reliability.md). The bound itself is measured by bench/run's
// lock-held step, not asserted here.
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <string>

#include <doctest/doctest.h>

#include "promsqlite/promsqlite.h"
#include "test_util.h"

namespace {

using promsqlite::test::Contains;
using promsqlite::test::TempDir;

// Holds SQLite's write lock in a forked process until killed.
pid_t StartLockHolder(const std::string& db) {
  return promsqlite::test::StartPausedChild([&] {
    sqlite3* raw = nullptr;  // left open on purpose: the lock stays until the kill
    if (sqlite3_open(db.c_str(), &raw) != SQLITE_OK ||
        sqlite3_exec(raw, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK)
      throw std::runtime_error("cannot take SQLite's write lock");
  });
}

struct Round {
  int rounds;
  int pause_ms;  // between rounds: the updates span the hold
};

// CI: 40 rounds over about 2 s; PROMSQLITE_LONG_TESTS=1: 300 over 15 s.
Round Rounds() { return promsqlite::test::LongTests() ? Round{300, 50} : Round{40, 50}; }

// Every kind of update, each round: a counter the file has, with and
// without an exemplar; a family declared during the hold, with a new series
// in its first three rounds; a shared gauge, a per-process gauge, a classic
// histogram and a native one.
void Updates(promsqlite::Registry& registry, const Round& plan) {
  auto jobs = promsqlite::BuildCounter().Name("jobs").Help("Jobs.").Register(registry).WithLabelValues({});
  auto late = promsqlite::BuildCounter().Name("late").Help("Declared while the lock was held.").LabelNames({"k"})
                  .Register(registry);
  auto level = promsqlite::BuildGauge().Name("level").Register(registry).WithLabelValues({});
  auto peak = promsqlite::BuildGauge().Name("peak").Mode(promsqlite::GaugeMode::kMax).Register(registry)
                  .WithLabelValues({});
  auto size = promsqlite::BuildHistogram().Name("size").Buckets({1, 2}).Register(registry).WithLabelValues({});
  auto lat = promsqlite::BuildHistogram().Name("lat").NativeHistogram(1.1).Register(registry).WithLabelValues({});
  for (int r = 0; r < plan.rounds; ++r) {
    jobs.Increment();
    jobs.Increment(1, {{"trace", std::to_string(r)}});
    late.WithLabelValues({std::to_string(r % 3)}).Increment(2);
    level.Set(r);
    peak.Set(r);
    size.Observe(r % 4);
    lat.Observe(0.5 * (r % 3 + 1));
    usleep(static_cast<useconds_t>(plan.pause_ms) * 1000);
  }
}

// What the file must hold once every update landed once.
void CheckExact(const std::string& db, const Round& plan) {
  promsqlite::Registry registry(db);
  CHECK(promsqlite::BuildCounter().Name("jobs").Register(registry).WithLabelValues({}).Value() == 2 * plan.rounds);
  auto late = promsqlite::BuildCounter().Name("late").LabelNames({"k"}).Register(registry);
  for (int k = 0; k < 3; ++k) {
    int rounds = 0;
    for (int r = 0; r < plan.rounds; ++r) rounds += r % 3 == k;
    CHECK(late.WithLabelValues({std::to_string(k)}).Value() == 2 * rounds);
  }
  CHECK(promsqlite::BuildGauge().Name("level").Register(registry).WithLabelValues({}).Value() == plan.rounds - 1);
  double size_sum = 0, lat_sum = 0;
  for (int r = 0; r < plan.rounds; ++r) {
    size_sum += r % 4;
    lat_sum += 0.5 * (r % 3 + 1);
  }
  auto size = promsqlite::BuildHistogram().Name("size").Buckets({1, 2}).Register(registry).WithLabelValues({}).Value();
  CHECK(size.count == plan.rounds);
  CHECK(size.sum == size_sum);
  auto lat = promsqlite::BuildHistogram().Name("lat").NativeHistogram(1.1).Register(registry).WithLabelValues({})
                 .Value();
  CHECK(lat.count == plan.rounds);
  CHECK(lat.sum == lat_sum);
  promsqlite::Reader reader(db);
  const std::string text = reader.Render(promsqlite::Format::kOpenMetrics);
  CHECK(Contains(text, "\npeak " + std::to_string(plan.rounds - 1) + "\n"));
  CHECK(Contains(text, "# HELP late Declared while the lock was held.\n"));
  CHECK(Contains(text, "jobs_total " + std::to_string(2 * plan.rounds) + " # {trace=\"" +
                           std::to_string(plan.rounds - 1) + "\"} 1"));
}

// A file with the counter `jobs` declared, and another process holding its
// write lock; returns that process.
pid_t HoldFileWithJobs(const std::string& db) {
  { promsqlite::Registry registry(db); promsqlite::BuildCounter().Name("jobs").Help("Jobs.").Register(registry); }
  return StartLockHolder(db);
}

promsqlite::Options Mode(bool immediate) {
  promsqlite::Options options;
  if (immediate) options.write_mode = promsqlite::WriteMode::kImmediate;
  options.update_lock_wait_ms = 50;
  options.busy_timeout_ms = 60000;  // a wait for the lock would outlast the test
  options.on_background_error = [](const std::string&) {};  // said once per hold; not what is tested
  return options;
}

}  // namespace

TEST_CASE("a writer SIGKILLed while another process holds the lock loses none of its updates, of any kind") {
  const Round plan = Rounds();
  for (bool immediate : {false, true}) {
    CAPTURE(immediate);
    TempDir dir;
    const std::string db = dir.File("m.db");
    promsqlite::test::KilledAtScopeEnd holder_at_end{HoldFileWithJobs(db)};
    const pid_t holder = holder_at_end.pid;
    // Every update returns without an error (a throw fails the child, and
    // StartPausedChild then throws); then the writer is killed, still
    // holding whatever it kept.
    pid_t writer = promsqlite::test::StartPausedChild([&] {
      // Never destroyed: nothing flushes it before the kill.
      auto* registry = new promsqlite::Registry(db, Mode(immediate));
      Updates(*registry, plan);
    });
    {
      // What the server shows as promsqlite_writer_updates_waiting{pid}.
      promsqlite::Reader reader(db);
      const promsqlite::FileStats stats = reader.Stats();
      REQUIRE(stats.waiting.size() == 1);
      CHECK(stats.waiting[0].pid == writer);
      CHECK(stats.waiting[0].updates > 0);
      CHECK(stats.waiting[0].since > 0);
    }
    promsqlite::test::KillAndReap(writer);
    holder_at_end.pid = 0;  // reaped here
    promsqlite::test::KillAndReap(holder);
    // A recoverer writes what the dead writer kept, exactly once.
    promsqlite::Registry recoverer(db, Mode(true));
    const promsqlite::HousekeepingReport report = recoverer.Housekeep();
    CHECK(report.recovered_regions == 1);
    CheckExact(db, plan);
    recoverer.Housekeep();  // a second pass finds nothing more to write
    CheckExact(db, plan);
  }
}

TEST_CASE("a writer that lives through another process's hold writes every kept update once, in order, after it") {
  const Round plan = Rounds();
  for (bool immediate : {false, true}) {
    CAPTURE(immediate);
    TempDir dir;
    const std::string db = dir.File("m.db");
    promsqlite::test::KilledAtScopeEnd holder_at_end{HoldFileWithJobs(db)};
    const pid_t holder = holder_at_end.pid;
    promsqlite::Options options = Mode(immediate);
    std::vector<std::string> reports;
    options.on_background_error = [&](const std::string& line) { reports.push_back(line); };
    promsqlite::Registry registry(db, options);
    Updates(registry, plan);
    const auto waiting = registry.WaitingForLock();
    CHECK(waiting.updates > 0);
    CHECK(waiting.since > 0);
    promsqlite::Reader reader(db);
    {
      // A scrape during the hold shows what a slot could hold (counters,
      // shared gauges, classic histograms), kept or not, in either mode;
      // the families declared during the hold show once their
      // declarations are written.
      const std::string text = reader.Render(promsqlite::Format::kText);
      CHECK(Contains(text, "\njobs_total " + std::to_string(2 * plan.rounds) + "\n"));
      for (const char* declared_meanwhile : {"late_total", "level", "size_count", "peak", "lat_count"})
        CHECK_FALSE(Contains(text, declared_meanwhile));
    }
    REQUIRE(reader.Stats().waiting.size() == 1);
    CHECK(reader.Stats().waiting[0].updates == waiting.updates);
    holder_at_end.pid = 0;  // reaped here
    promsqlite::test::KillAndReap(holder);
    registry.Flush();
    CHECK(registry.WaitingForLock().updates == 0);
    CHECK(reader.Stats().waiting.empty());
    CheckExact(db, plan);
    REQUIRE(reports.size() >= 2);
    CHECK(Contains(reports.front(), "update_lock_wait_ms"));
    CHECK(Contains(reports.back(), "the write lock is free again"));
  }
}

TEST_CASE("label churn while another process holds the lock: evicted children never make an update wait for the flusher") {
  TempDir dir;
  const std::string db = dir.File("m.db");
  { promsqlite::Registry registry(db); promsqlite::BuildCounter().Name("jobs").Help("Jobs.").Register(registry); }
  promsqlite::Options options;  // batched, regions
  options.flush_interval_ms = 20;  // a flush starts waiting for the lock at once...
  options.busy_timeout_ms = 3600 * 1000;  // ...for an hour: an update that waited for it would hang the test
  options.update_lock_wait_ms = 20;
  options.on_background_error = [](const std::string&) {};
  promsqlite::Registry registry(db, options);
  // Made before the hold: its increment below waits for no lock (its
  // region), so nothing tells the flusher the lock is held, and its flush
  // waits busy_timeout_ms.
  promsqlite::Counter jobs = promsqlite::BuildCounter().Name("jobs").Register(registry).WithLabelValues({});
  auto sessions = promsqlite::BuildCounter().Name("sessions").LabelNames({"id"}).Register(registry);
  // Children whose updates are written: the cache evicts them as new ones
  // come (more than the 2 x 1024 it keeps).
  for (int i = 0; i < 3000; ++i) sessions.WithLabelValues({std::to_string(i)}).Increment();
  registry.Flush();
  promsqlite::test::KilledAtScopeEnd holder_at_end{StartLockHolder(db)};
  const pid_t holder = holder_at_end.pid;
  jobs.Increment();  // the flusher runs, and its flush waits for the lock, holding its mutex
  usleep(100 * 1000);
  // Each new label value evicts an old child on this thread; the release
  // of an evicted child takes the flush mutex, which the waiting flush
  // holds: it is left to the flusher, so this loop does not wait an hour.
  for (int i = 3000; i < 6000; ++i) sessions.WithLabelValues({std::to_string(i)}).Increment();
  CHECK(sessions.CachedChildren() < 6000);
  holder_at_end.pid = 0;  // reaped here
  promsqlite::test::KillAndReap(holder);
  registry.Flush();
  promsqlite::Reader reader(db);
  const std::string text = reader.Render(promsqlite::Format::kText);
  CHECK(Contains(text, "\njobs_total 1\n"));
  size_t series = 0;
  for (size_t at = text.find("\nsessions_total{"); at != std::string::npos; at = text.find("\nsessions_total{", at + 1)) {
    CHECK(text.compare(text.find('}', at), 4, "} 1\n") == 0);
    ++series;
  }
  CHECK(series == 6000);
}
