// The write gate (store/write_gate.h): fair, prompt waiting for the write
// lock, robust against killed processes, with a fallback when the sidecar
// cannot be used. Bounded by counts, never by time.
#include <doctest/doctest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>

#include "promsqlite/promsqlite.h"
#include "store/write_gate.h"
#include "test_util.h"

using promsqlite::test::KillAndReap;
using promsqlite::test::RunInChildren;
using promsqlite::test::TempDir;
using promsqlite::detail::WriteGate;

namespace {

promsqlite::Counter Jobs(promsqlite::Registry& registry) {
  return promsqlite::BuildCounter().Name("jobs").Help("Jobs.").Register(registry).WithLabelValues({});
}

promsqlite::Histogram Seconds(promsqlite::Registry& registry) {
  return promsqlite::BuildHistogram().Name("job_seconds").Help("Job time.").Buckets({0.1, 1}).Register(registry)
      .WithLabelValues({});
}

// `writers` forked processes, each making `each` increments and `each`
// observations back to back; returns how many children failed.
// The write lock is met by immediate updates, one transaction each
// (batched ones, the default, take it once per flush).
promsqlite::Options Immediate(promsqlite::Options options = {}) {
  options.write_mode = promsqlite::WriteMode::kImmediate;
  return options;
}

int Hammer(const std::string& db, int writers, int each, promsqlite::Options options = {}) {
  return RunInChildren(writers, [&](int) {
    promsqlite::Registry registry(db, Immediate(options));
    promsqlite::Counter jobs = Jobs(registry);
    promsqlite::Histogram seconds = Seconds(registry);
    for (int i = 0; i < each; ++i) {
      jobs.Increment();
      seconds.Observe(0.5);
    }
  });
}

// A forked process that holds the gate (and, with `sqlite_too`, SQLite's
// write lock) until killed; returns once it holds them.
pid_t StartHolder(const std::string& db, bool sqlite_too) {
  return promsqlite::test::StartPausedChild([&] {
    // Left open on purpose (released): both locks stay held until the kill.
    WriteGate* gate = WriteGate::Open(db).release();
    if (!gate || gate->Acquire(WriteGate::Clock::now() + std::chrono::seconds(30)) != WriteGate::Entry::kOwned)
      throw std::runtime_error("cannot take the gate");
    sqlite3* raw = nullptr;
    if (sqlite_too && (sqlite3_open(db.c_str(), &raw) != SQLITE_OK ||
                       sqlite3_exec(raw, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK))
      throw std::runtime_error("cannot take SQLite's write lock");
  });
}

// A forked process that draws a ticket and waits behind the holder until
// killed; returns once it waits.
pid_t StartWaiter(const std::string& db) {
  auto gate = WriteGate::Open(db);
  REQUIRE(gate != nullptr);
  const uint32_t before = gate->Counters().first;
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    auto mine = WriteGate::Open(db);
    if (mine) mine->Acquire(WriteGate::Clock::now() + std::chrono::seconds(60));
    _exit(0);
  }
  while (gate->Counters().first == before) usleep(100);  // its ticket is drawn
  usleep(20 * 1000);                                      // and its slot locked
  return pid;
}

double Total(const std::string& db) {
  promsqlite::Registry registry(db);
  return Jobs(registry).Value();
}

}  // namespace

TEST_CASE("eight forked writers hammering one series all finish and add up exactly") {
  TempDir dir;
  const std::string db = dir.File("m.db");
  { promsqlite::Registry registry(db); Jobs(registry); Seconds(registry); }
  REQUIRE(Hammer(db, 8, 2000) == 0);
  promsqlite::Registry registry(db);
  CHECK(Jobs(registry).Value() == 16000);
  CHECK(Seconds(registry).Value().count == 16000);
  CHECK(Seconds(registry).Value().sum == 8000);
  // Every ticket drawn was served: nobody is left in the queue.
  auto gate = WriteGate::Open(db);
  REQUIRE(gate != nullptr);
  CHECK_FALSE(gate->Busy());
}

TEST_CASE("one writer claims each WAL cycle's checkpoint; a claim nobody carries out stops no checkpoint") {
  TempDir dir;
  const std::string db = dir.File("m.db");
  promsqlite::Options options = Immediate();
  options.checkpoint_wal_pages = 20;
  { promsqlite::Registry registry(db, options); Jobs(registry); }
  auto first = WriteGate::Open(db), second = WriteGate::Open(db);
  REQUIRE(first != nullptr);
  REQUIRE(second != nullptr);
  const uint32_t done = first->Checkpoints();
  CHECK(first->ClaimCheckpoint(done + 100));
  CHECK_FALSE(second->ClaimCheckpoint(done + 100));  // claimed already
  CHECK_FALSE(first->ClaimCheckpoint(done + 100));
  // Claim the cycle the writers below will find due, as a writer that is
  // then killed before it checkpoints would: they checkpoint regardless
  // once the WAL is twice as long as due, so it stays bounded.
  CHECK(second->ClaimCheckpoint(done));
  REQUIRE(Hammer(db, 4, 500, options) == 0);
  CHECK(first->Checkpoints() != done);
  struct stat st;
  REQUIRE(stat((db + "-wal").c_str(), &st) == 0);
  CHECK(st.st_size < 200 * 4096);  // unbounded, it would pass 4 MiB
  promsqlite::Registry registry(db, options);
  CHECK(Jobs(registry).Value() == 2000);
}

TEST_CASE("a writer queues in the sidecar next to the database, created with the database's mode") {
  TempDir dir;
  const std::string db = dir.File("m.db");
  { promsqlite::Registry registry(db); Jobs(registry); }
  chmod(db.c_str(), 0660);
  unlink(WriteGate::SidecarPath(db).c_str());
  promsqlite::Registry registry(db);
  Jobs(registry).Increment();
  struct stat st;
  REQUIRE(stat(WriteGate::SidecarPath(db).c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0660);
}

TEST_CASE("a process killed while it holds the gate and SQLite's lock delays the others only briefly") {
  TempDir dir;
  const std::string db = dir.File("m.db");
  { promsqlite::Registry registry(db); Jobs(registry); Seconds(registry); }
  pid_t holder = StartHolder(db, true);
  // The writers queue behind it; the holder dies with them waiting.
  int ready[2];
  REQUIRE(pipe(ready) == 0);
  pid_t writers = fork();
  REQUIRE(writers >= 0);
  if (writers == 0) {
    close(ready[0]);
    close(ready[1]);
    _exit(Hammer(db, 4, 200) == 0 ? 0 : 1);
  }
  close(ready[0]);
  close(ready[1]);
  usleep(50 * 1000);
  KillAndReap(holder);
  int status = 0;
  REQUIRE(waitpid(writers, &status, 0) == writers);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(Total(db) == 800);
}

TEST_CASE("a process killed while it waits in the queue is skipped") {
  TempDir dir;
  const std::string db = dir.File("m.db");
  { promsqlite::Registry registry(db); Jobs(registry); Seconds(registry); }
  pid_t holder = StartHolder(db, false);
  pid_t waiter = StartWaiter(db);
  KillAndReap(waiter);
  KillAndReap(holder);
  // A writer that queues behind both dead tickets is served: they are
  // skipped. (Writers that never queue need not skip them.)
  auto gate = WriteGate::Open(db);
  REQUIRE(gate != nullptr);
  REQUIRE(gate->Acquire(WriteGate::Clock::now() + std::chrono::seconds(10)) == WriteGate::Entry::kOwned);
  gate->Release();
  CHECK_FALSE(gate->Busy());
  REQUIRE(Hammer(db, 4, 200) == 0);
  CHECK(Total(db) == 800);
  CHECK_FALSE(gate->Busy());
}

TEST_CASE("writers outside the queue skip the tickets of killed processes while they yield") {
  TempDir dir;
  const std::string db = dir.File("m.db");
  { promsqlite::Registry registry(db); Jobs(registry); }
  pid_t holder = StartHolder(db, false);
  pid_t waiter = StartWaiter(db);
  KillAndReap(waiter);
  KillAndReap(holder);
  auto gate = WriteGate::Open(db);
  REQUIRE(gate != nullptr);
  CHECK(gate->Busy());
  // Two looks per dead ticket, at least a millisecond apart.
  int looks = 0;
  for (; gate->Busy() && looks < 4; ++looks) {
    gate->SkipDeadServing();
    usleep(1500);
  }
  CHECK_FALSE(gate->Busy());
  CHECK(looks == 4);
}

TEST_CASE("writers outside the queue step aside for a holder whose turn lasts, and only for a while") {
  TempDir dir;
  const std::string db = dir.File("m.db");
  { promsqlite::Registry registry(db); Jobs(registry); }
  auto holder = WriteGate::Open(db), other = WriteGate::Open(db);
  REQUIRE(holder != nullptr);
  REQUIRE(other != nullptr);
  using std::chrono::microseconds;
  using std::chrono::milliseconds;
  CHECK_FALSE(other->HolderStarving(WriteGate::Clock::now() + milliseconds(1)));  // nobody holds it
  const auto before = WriteGate::Clock::now();
  REQUIRE(holder->Acquire(before + std::chrono::seconds(10)) == WriteGate::Entry::kOwned);
  const auto after = WriteGate::Clock::now();
  // The turn began between `before` and `after`.
  CHECK_FALSE(other->HolderStarving(before));                      // just served: let it poll
  if (after - before < microseconds(100)) {
    CHECK_FALSE(other->HolderStarving(before + microseconds(900)));  // still polling
    CHECK(other->HolderStarving(after + milliseconds(1)));           // 1 ms: losing the races
    CHECK(other->HolderStarving(before + milliseconds(9)));
  }
  CHECK_FALSE(other->HolderStarving(after + milliseconds(10)));    // stopped, or a long checkpoint
  // A writer outside the queue steps aside until its deadline while the
  // holder starves (had the turn passed 10 ms meanwhile, it would have
  // stopped earlier).
  usleep(1100);
  const auto deadline = WriteGate::Clock::now() + milliseconds(2);
  other->StepAside(deadline);
  const auto stepped = WriteGate::Clock::now();
  if (stepped - before < milliseconds(10)) CHECK(stepped >= deadline);
  // A handoff starts the next turn afresh: the new holder gets its own
  // 1 to 10 ms (the old turn is more than 10 ms old by then).
  std::atomic<int> stage{0};
  std::thread waiter([&] {
    auto third = WriteGate::Open(db);
    if (!third || third->Acquire(WriteGate::Clock::now() + std::chrono::seconds(10)) != WriteGate::Entry::kOwned)
      return;
    stage = 1;
    while (stage != 2) usleep(100);
    third->Release();
  });
  while (holder->Counters().first == holder->Counters().second + 1) usleep(100);  // its ticket is drawn
  const auto handoff = WriteGate::Clock::now();
  holder->Release();
  while (stage == 0) usleep(100);
  CHECK_FALSE(other->HolderStarving(handoff - microseconds(1)));
  if (WriteGate::Clock::now() - handoff < milliseconds(1))
    CHECK(other->HolderStarving(handoff + microseconds(9500)));
  stage = 2;
  waiter.join();
  CHECK_FALSE(other->Busy());
}

TEST_CASE("writers killed at random while they update leave exactly their acknowledged updates") {
  TempDir dir;
  const std::string db = dir.File("m.db");
  { promsqlite::Registry registry(db); Jobs(registry); }
  int acks[2];
  REQUIRE(pipe(acks) == 0);
  std::vector<pid_t> victims;
  for (int v = 0; v < 4; ++v) {
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      close(acks[0]);
      promsqlite::Registry registry(db, Immediate());
      promsqlite::Counter jobs = Jobs(registry);
      for (;;) {
        jobs.Increment();
        char byte = 1;
        if (write(acks[1], &byte, 1) != 1) _exit(1);  // acknowledged
      }
    }
    victims.push_back(pid);
  }
  close(acks[1]);
  // Survivors keep updating while the victims die one by one.
  pid_t survivors = fork();
  REQUIRE(survivors >= 0);
  if (survivors == 0) {
    close(acks[0]);
    _exit(Hammer(db, 3, 300) == 0 ? 0 : 1);
  }
  long acknowledged = 0;
  char buf[256];
  for (pid_t pid : victims) {
    for (int n = 0; n < 200;) {
      ssize_t got = read(acks[0], buf, sizeof buf);
      REQUIRE(got > 0);
      n += static_cast<int>(got);
      acknowledged += got;
    }
    kill(pid, SIGKILL);
  }
  for (pid_t pid : victims) waitpid(pid, nullptr, 0);
  for (ssize_t got; (got = read(acks[0], buf, sizeof buf)) > 0;) acknowledged += got;
  close(acks[0]);
  int status = 0;
  REQUIRE(waitpid(survivors, &status, 0) == survivors);
  CHECK(WEXITSTATUS(status) == 0);
  // A victim may die after its commit but before it acknowledged: at most
  // one update each beyond what was acknowledged, never fewer.
  double total = Total(db);
  CHECK(total >= acknowledged + 900);
  CHECK(total <= acknowledged + 900 + 4);
}

TEST_CASE("without a usable sidecar, writers fall back to polling SQLite's lock and stay exact") {
  TempDir dir;
  const std::string db = dir.File("m.db");
  {
    promsqlite::Options poll;
    poll.lock_wait = promsqlite::LockWait::kPoll;  // makes no sidecar
    promsqlite::Registry registry(db, poll);
    Jobs(registry);
    Seconds(registry);
  }
  // A directory where the sidecar would be: it can be neither created nor opened.
  REQUIRE(mkdir(WriteGate::SidecarPath(db).c_str(), 0755) == 0);
  CHECK(WriteGate::Open(db) == nullptr);
  REQUIRE(Hammer(db, 4, 500) == 0);
  promsqlite::Registry registry(db);
  CHECK(Jobs(registry).Value() == 2000);
  CHECK(Seconds(registry).Value().count == 2000);
}

TEST_CASE("LockWait::kPoll and kSqliteDefault make no sidecar and stay exact") {
  for (auto wait : {promsqlite::LockWait::kPoll, promsqlite::LockWait::kSqliteDefault}) {
    TempDir dir;
    const std::string db = dir.File("m.db");
    promsqlite::Options options;
    options.lock_wait = wait;
    { promsqlite::Registry registry(db, options); Jobs(registry); Seconds(registry); }
    REQUIRE(Hammer(db, 4, 300, options) == 0);
    CHECK(access(WriteGate::SidecarPath(db).c_str(), F_OK) != 0);
    CHECK(Total(db) == 1200);
  }
}

TEST_CASE("with update_lock_wait_ms < 0, an update that cannot get the lock within busy_timeout_ms fails naming the file and the wait") {
  TempDir dir;
  const std::string db = dir.File("m.db");
  promsqlite::Options options = Immediate();
  options.busy_timeout_ms = 300;
  options.update_lock_wait_ms = -1;  // wait busy_timeout_ms, then throw
  promsqlite::Registry registry(db, options);  // opened before anyone holds the lock
  promsqlite::Counter jobs = Jobs(registry);
  for (bool gate_too : {false, true}) {
    CAPTURE(gate_too);
    const double before = Total(db);
    sqlite3* raw = nullptr;
    pid_t holder = 0;
    if (gate_too) {
      holder = StartHolder(db, true);
    } else {
      REQUIRE(sqlite3_open(db.c_str(), &raw) == SQLITE_OK);
      REQUIRE(sqlite3_exec(raw, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
    }
    try {
      jobs.Increment();
      FAIL("the increment should have timed out");
    } catch (const promsqlite::DatabaseError& e) {
      std::string message = e.what();
      CHECK(message.find(db) != std::string::npos);
      CHECK(message.find("300 ms") != std::string::npos);
      CHECK(message.find("busy_timeout_ms") != std::string::npos);
    }
    if (gate_too) KillAndReap(holder);
    else sqlite3_close(raw);
    CHECK(Total(db) == before);  // nothing half-written
    jobs.Increment();  // free again: works
    CHECK(Total(db) == before + 1);
  }
}

TEST_CASE("a foreign writer that knows nothing of the gate still interleaves correctly") {
  TempDir dir;
  const std::string db = dir.File("m.db");
  { promsqlite::Registry registry(db); Jobs(registry); }
  // Plain sqlite3 with SQLite's own busy handler, following docs/schema.md:
  // add to the series' value in a BEGIN IMMEDIATE transaction.
  int failed = RunInChildren(3, [&](int index) {
    if (index == 0) {
      sqlite3* raw = nullptr;
      if (sqlite3_open(db.c_str(), &raw) != SQLITE_OK) throw std::runtime_error("open");
      sqlite3_busy_timeout(raw, 10000);
      for (int i = 0; i < 500; ++i) {
        int rc = sqlite3_exec(raw,
                              "BEGIN IMMEDIATE; UPDATE series SET value = value + 1 WHERE family_id = "
                              "(SELECT id FROM families WHERE name = 'jobs'); COMMIT;",
                              nullptr, nullptr, nullptr);
        if (rc != SQLITE_OK) throw std::runtime_error(sqlite3_errmsg(raw));
      }
      sqlite3_close(raw);
    } else {
      promsqlite::Registry registry(db, Immediate());
      promsqlite::Counter jobs = Jobs(registry);
      for (int i = 0; i < 500; ++i) jobs.Increment();
    }
  });
  CHECK(failed == 0);
  CHECK(Total(db) == 1500);
}

TEST_CASE("declaring a family the file has already, as declared, does not wait for a held write lock") {
  TempDir dir;
  const std::string db = dir.File("m.db");
  { promsqlite::Registry registry(db); Jobs(registry); }
  sqlite3* raw = nullptr;
  REQUIRE(sqlite3_open(db.c_str(), &raw) == SQLITE_OK);
  REQUIRE(sqlite3_exec(raw, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
  promsqlite::Options options;
  options.busy_timeout_ms = 60000;  // a wait for the lock would outlast the test
  options.flush_interval_ms = 3600 * 1000;
  {
    promsqlite::Registry registry(db, options);
    // Checked by reading: no wait, no error...
    promsqlite::Counter jobs = Jobs(registry);
    jobs.Increment();  // batched: into the region, no wait either
    // ...and a conflicting declaration is still refused, by reading.
    CHECK_THROWS_AS(promsqlite::BuildGauge().Name("jobs_total").Register(registry), promsqlite::DeclarationConflict);
    // A new family needs the lock: it is checked by reading and kept for
    // the flush, with its first series (its row waits too) and an update.
    promsqlite::Options impatient = options;
    impatient.update_lock_wait_ms = 20;
    promsqlite::Registry other(db, impatient);
    auto fresh = promsqlite::BuildCounter().Name("new_family").Help("New.").Register(other);
    fresh.WithLabelValues({}).Increment(2);
    CHECK(fresh.WithLabelValues({}).Value() == 2);  // this process's view has it
    sqlite3_exec(raw, "ROLLBACK", nullptr, nullptr, nullptr);
    other.Flush();
  }
  sqlite3_close(raw);
  CHECK(Total(db) == 1);  // the registry's flush at its end
  promsqlite::Reader reader(db);
  const std::string text = reader.Render(promsqlite::Format::kText);
  CHECK(promsqlite::test::Contains(text, "# HELP new_family_total New.\n# TYPE new_family_total counter\nnew_family_total 2\n"));
}

TEST_CASE("by default no update waits past update_lock_wait_ms or raises while another process holds the lock; all land once it is free") {
  TempDir dir;
  const std::string db = dir.File("m.db");
  promsqlite::Options options;  // the defaults: batched, regions, immediate outside them
  options.flush_interval_ms = 3600 * 1000;
  options.update_lock_wait_ms = 50;
  std::vector<std::string> reports;
  options.on_background_error = [&](const std::string& message) { reports.push_back(message); };
  promsqlite::Registry registry(db, options);
  auto native = promsqlite::BuildHistogram().Name("latency").NativeHistogram(1.1).Register(registry).WithLabelValues({});
  auto live = promsqlite::BuildGauge().Name("inflight").Mode(promsqlite::GaugeMode::kLiveSum).Register(registry)
                  .WithLabelValues({});
  promsqlite::Counter jobs = Jobs(registry);
  native.Observe(1);
  sqlite3* raw = nullptr;
  REQUIRE(sqlite3_open(db.c_str(), &raw) == SQLITE_OK);
  REQUIRE(sqlite3_exec(raw, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
  // Written at once, each would wait for the lock: kept instead, no error.
  for (int i = 0; i < 5; ++i) {
    native.Observe(0.5);
    live.Set(i);
    jobs.Increment(1, {{"trace_id", std::to_string(i)}});
  }
  CHECK(reports.size() == 1);  // said once, naming the bound
  CHECK(promsqlite::test::Contains(reports.at(0), "50 ms (Options::update_lock_wait_ms)"));
  CHECK(native.Value().count == 6);  // this process's view has them
  CHECK(jobs.Value() == 5);
  sqlite3_exec(raw, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(raw);
  // The lock is free, but earlier updates of the series wait: kept too, so
  // that they are written in order (the gauge's last Set wins).
  native.Observe(0.5);
  live.Set(7);
  CHECK(reports.size() == 1);
  registry.Flush();  // writes them all, and reports the wait over
  REQUIRE(reports.size() == 2);
  CHECK(promsqlite::test::Contains(reports.at(1), "17 update(s)"));
  live.Set(4);  // written at once again
  promsqlite::Reader reader(db);
  const std::string text = reader.Render(promsqlite::Format::kOpenMetrics);
  CHECK(promsqlite::test::Contains(text, "latency_count 7\n"));
  CHECK(promsqlite::test::Contains(text, "inflight 4\n"));
  CHECK(promsqlite::test::Contains(text, "jobs_total 5 # {trace_id=\"4\"} 1"));
}
