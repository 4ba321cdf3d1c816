// Where housekeeping runs (store/maintenance.h): a pass that falls due
// after a commit runs on a thread of the writer's process, not on the
// thread that updated, and updates go on while it runs; a child forked
// meanwhile housekeeps and writes by itself. The pass is held at its first
// reading of the clock (Options::clock) to see it happen, not timed.
#include <doctest/doctest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <thread>

#include "promsqlite/promsqlite.h"
#include "test_util.h"

using namespace promsqlite;

namespace {

// A fake clock that any thread but the test's own waits at while `hold` is
// set (counting in `held` that it did): the housekeeping thread reads it
// once per pass, before its TTL deletes, holding no lock.
struct GatedClock {
  struct State {
    std::atomic<double> now{1.8e9};
    std::atomic<bool> hold{false};
    std::atomic<int> held{0};
    std::thread::id test_thread = std::this_thread::get_id();
  };
  std::shared_ptr<State> state = std::make_shared<State>();

  std::function<double()> fn() const {
    auto s = state;
    return [s] {
      if (std::this_thread::get_id() != s->test_thread && s->hold.load()) {
        ++s->held;
        while (s->hold.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      return s->now.load();
    };
  }
};

// Waits up to 30 s for `done`; false when it never came.
bool Eventually(const std::function<bool()>& done) {
  for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
       std::chrono::steady_clock::now() < until; std::this_thread::sleep_for(std::chrono::milliseconds(5))) {
    if (done()) return true;
  }
  return done();
}

int64_t Rows(const std::string& db) { return Reader(db).Stats().series; }

struct Writer {
  Counter hot;
  Family<Counter> jobs;
};

// A registry whose three "jobs" series expire (TTL 60 s) once the clock is
// moved on, and a counter without TTL to update meanwhile.
Writer Declare(Registry& registry) {
  Writer w{BuildCounter().Name("hot").Register(registry).WithLabelValues({}),
           BuildCounter().Name("jobs").LabelNames({"id"}).Ttl(60).Register(registry)};
  for (const char* id : {"a", "b", "c"}) w.jobs.WithLabelValues({id}).Increment();
  w.hot.Increment();
  return w;
}

}  // namespace

TEST_CASE("a due housekeeping pass runs on a thread of its own while the updating thread goes on") {
  test::TempDir dir;
  const std::string db = dir.File("m.db");
  GatedClock clock;
  Options options;
  options.clock = clock.fn();
  options.housekeeping_interval_ms = 1000;
  options.write_mode = WriteMode::kImmediate;  // each update may start the due pass
  Registry registry(db, options);
  Writer w = Declare(registry);
  CHECK(Rows(db) == 4);

  clock.state->now = clock.state->now + 120;  // the jobs expire, and a pass is due
  clock.state->hold = true;
  w.hot.Increment();  // asks for the pass and returns: the pass would not wait for the test's own thread
  REQUIRE(Eventually([&] { return clock.state->held.load() == 1; }));  // another thread runs it
  for (int i = 0; i < 5; ++i) w.hot.Increment();  // while the pass is under way
  CHECK(w.hot.Value() == 7);
  CHECK(Rows(db) == 4);  // held before its deletes

  clock.state->hold = false;
  CHECK(Eventually([&] { return Rows(db) == 1; }));  // the expired jobs are gone, hot stays
  CHECK(clock.state->held.load() == 1);
}

TEST_CASE("a child forked during its parent's housekeeping pass housekeeps and writes by itself") {
  test::TempDir dir;
  const std::string db = dir.File("m.db");
  GatedClock clock;
  Options options;
  options.clock = clock.fn();
  options.housekeeping_interval_ms = 1000;
  options.write_mode = WriteMode::kImmediate;  // each update may start the due pass
  std::optional<Registry> registry(std::in_place, db, options);
  Writer w = Declare(*registry);

  clock.state->now = clock.state->now + 120;
  clock.state->hold = true;
  w.hot.Increment();
  REQUIRE(Eventually([&] { return clock.state->held.load() == 1; }));  // the parent's pass, held

  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // The parent's pass (and its lock on passes) does not exist here: an
    // explicit pass runs at once, on this thread, and so do updates.
    int code = 0;
    try {
      if (registry->Housekeep().expired_series != 3) code = 2;
      w.hot.Increment();
      if (w.hot.Value() != 3) code = 3;
      registry.reset();  // stops nothing of the parent's
    } catch (...) {
      code = 4;
    }
    _exit(code);
  }
  CHECK(test::WaitForExit(pid, 30) == 0);
  CHECK(Rows(db) == 1);
  CHECK(w.hot.Value() == 3);

  clock.state->hold = false;  // the parent's pass goes on, finds nothing left, and ends
  w.hot.Increment();
  CHECK(w.hot.Value() == 4);
  registry.reset();  // joins the housekeeping thread
  CHECK(Rows(db) == 1);
  CHECK(test::IntegrityCheck(db) == "ok");
}
