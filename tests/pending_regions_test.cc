// Batched writers with shared regions (PendingStore::kSharedFile,
// docs/pending-regions.md) as a whole: readers see every update whose call
// returned while writers update and flush, fork() gives a child its own
// region, threads of one process add up exactly before any flush, and
// removals and TTL expiry meet pending updates. The region format itself is
// pending_region_test.cc; kills are reliability/kill_torture_test.cc.
#include <SQLiteCpp/Database.h>
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <new>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "promsqlite/promsqlite.h"
#include "test_util.h"

using namespace promsqlite;

namespace {

Options Batched(int interval_ms = 3600 * 1000) {
  Options options;
  options.write_mode = WriteMode::kBatched;
  options.flush_interval_ms = interval_ms;
  options.housekeeping_interval_ms = 0;  // only the passes a test runs
  return options;
}

std::string Text(const std::string& db, ReaderOptions options = ReaderOptions()) {
  return Reader(db, options).Render(Format::kText);
}

// The exposition without its HELP and TYPE lines.
std::string Body(const std::string& text) {
  std::string out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line[0] != '#') out += line + "\n";
  return out;
}

// The value of sample `series` (name and labels as rendered) in `text`;
// NaN when absent.
double Sample(const std::string& text, const std::string& series) {
  const std::string key = series + " ";
  size_t at = text.rfind("\n" + key);
  if (at != std::string::npos) ++at;
  else if (text.compare(0, key.size(), key) == 0) at = 0;
  else return std::nan("");
  return std::stod(text.substr(at + key.size()));
}

// The region files beside `db` (FILE-pending/*.region).
std::vector<std::string> Regions(const std::string& db) {
  std::vector<std::string> names;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(db + "-pending", error))
    if (entry.path().extension() == ".region") names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// What the rows of the file hold, without any region.
struct Rows {
  int64_t series = 0;
  double values = 0;  // the sum of every series' value
  int64_t counts = 0;  // of every series' count
};
Rows RowsOf(const std::string& db) {
  SQLite::Database file(db, SQLite::OPEN_READONLY);
  SQLite::Statement query(file, "SELECT count(*), total(value), total(count) FROM series");
  query.executeStep();
  return {query.getColumn(0).getInt64(), query.getColumn(1).getDouble(),
          static_cast<int64_t>(query.getColumn(2).getDouble())};
}

// Renders `db` with a Reader in a forked process (another process than the
// writers of the test) and returns the text; throws when the child failed.
std::string TextInAnotherProcess(const std::string& db) {
  test::TempDir dir;
  const std::string out = dir.File("text");
  if (test::RunInChildren(1, [&](int) { test::WriteFile(out, Text(db)); }) != 0)
    throw std::runtime_error("the reading process failed");
  return test::ReadFile(out);
}

// A forked process that runs commands sent to it one at a time: Do(c) runs
// `body(c)` in it and returns once it has; Do('x') makes it exit() (a
// normal exit: batched registries flush); Kill() SIGKILLs it.
class Commanded {
 public:
  explicit Commanded(std::function<void(char)> body) {
    int to[2], from[2];
    if (pipe(to) != 0 || pipe(from) != 0) throw std::runtime_error("pipe failed");
    std::fflush(nullptr);
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      close(to[1]);
      close(from[0]);
      char command;
      while (read(to[0], &command, 1) == 1) {
        char answer = 'k';
        if (command != 'x') {
          try {
            body(command);
          } catch (const std::exception& e) {
            std::fprintf(stderr, "commanded child: %s\n", e.what());
            answer = 'E';
          }
        }
        if (write(from[1], &answer, 1) != 1) _exit(3);
        if (command == 'x') std::exit(0);
      }
      _exit(0);
    }
    close(to[0]);
    close(from[1]);
    to_ = to[1];
    from_ = from[0];
  }
  ~Commanded() {
    close(to_);
    close(from_);
    if (pid_ > 0) test::KillAndReap(pid_);
  }
  Commanded(const Commanded&) = delete;
  pid_t pid() const { return pid_; }
  Commanded& operator=(const Commanded&) = delete;

  void Do(char command) {
    char answer = 0;
    if (write(to_, &command, 1) != 1 || read(from_, &answer, 1) != 1 || answer != 'k')
      throw std::runtime_error(std::string("the child failed command ") + command);
  }
  // Exits normally; its exit code.
  int Exit() {
    Do('x');
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return test::ExitCode(status);
  }
  void Kill() {
    test::KillAndReap(pid_);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
  int to_ = -1, from_ = -1;
};

// Anonymous shared memory made before fork(): each forked writer publishes
// there what it started and what returned.
template <typename T>
class SharedMemory {
 public:
  SharedMemory() {
    void* map = mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) throw std::runtime_error("mmap failed");
    value_ = new (map) T();
  }
  ~SharedMemory() {
    value_->~T();
    munmap(value_, sizeof(T));
  }
  SharedMemory(const SharedMemory&) = delete;
  SharedMemory& operator=(const SharedMemory&) = delete;
  T* operator->() { return value_; }
  T& operator*() { return *value_; }

 private:
  T* value_;
};

// Whether one of `names` contains `part`.
bool Contains(const std::vector<std::string>& names, const std::string& part) {
  return std::any_of(names.begin(), names.end(), [&](const std::string& n) { return test::Contains(n, part); });
}

// ---- Read-through --------------------------------------------------------

constexpr int kReadThroughWriters = 4;
// The observations of rt_seconds (buckets 0.5 and 1): one per bucket, each a
// dyadic fraction, so that any sum of them is exact in a double and the sum
// of a snapshot follows from its buckets.
constexpr double kObservations[3] = {0.25, 0.75, 4};

// What one writer started (before the call) and acknowledged (after it
// returned), per series: its own counter, the counter all writers share,
// and the observations per bucket of the shared histogram.
struct Published {
  std::atomic<int64_t> started_own{0}, acked_own{0};
  std::atomic<int64_t> started_shared{0}, acked_shared{0};
  std::atomic<int64_t> started_observed[3] = {}, acked_observed[3] = {};
};

struct Board {
  std::atomic<int> ready{0};  // writers that made their region
  std::atomic<int> stop{0};
  Published writers[kReadThroughWriters];
};

// Sums over the writers: the shared counter, each own counter, the
// histogram's observations per bucket.
struct Totals {
  int64_t own[kReadThroughWriters] = {};
  int64_t shared = 0;
  int64_t observed[3] = {};
  int64_t count() const { return observed[0] + observed[1] + observed[2]; }
};

Totals Acknowledged(Board& board) {
  Totals t;
  for (int w = 0; w < kReadThroughWriters; ++w) {
    Published& p = board.writers[w];
    t.own[w] = p.acked_own.load();
    t.shared += p.acked_shared.load();
    for (int k = 0; k < 3; ++k) t.observed[k] += p.acked_observed[k].load();
  }
  return t;
}

Totals Started(Board& board) {
  Totals t;
  for (int w = 0; w < kReadThroughWriters; ++w) {
    Published& p = board.writers[w];
    t.own[w] = p.started_own.load();
    t.shared += p.started_shared.load();
    for (int k = 0; k < 3; ++k) t.observed[k] += p.started_observed[k].load();
  }
  return t;
}

// A snapshot's values of the read-through families.
struct Seen {
  double own[kReadThroughWriters] = {};
  double shared = 0;
  double le_half = 0, le_one = 0, inf = 0, count = 0, sum = 0;
};

std::string WriterLabel(int w) { return "w" + std::to_string(w); }

Seen SeenInText(const std::string& text) {
  Seen s;
  for (int w = 0; w < kReadThroughWriters; ++w) s.own[w] = Sample(text, "rt_ops_total{w=\"" + WriterLabel(w) + "\"}");
  s.shared = Sample(text, "rt_ops_total{w=\"all\"}");
  s.le_half = Sample(text, "rt_seconds_bucket{le=\"0.5\"}");
  s.le_one = Sample(text, "rt_seconds_bucket{le=\"1\"}");
  s.inf = Sample(text, "rt_seconds_bucket{le=\"+Inf\"}");
  s.count = Sample(text, "rt_seconds_count");
  s.sum = Sample(text, "rt_seconds_sum");
  return s;
}

Seen SeenInSnapshot(const std::vector<FamilySnapshot>& families) {
  Seen s;
  for (double* v : {&s.shared, &s.le_half, &s.le_one, &s.inf, &s.count, &s.sum}) *v = std::nan("");
  for (double& v : s.own) v = std::nan("");
  for (const FamilySnapshot& f : families) {
    for (const SeriesSnapshot& series : f.series) {
      if (f.spec.name == "rt_ops") {
        const std::string& label = series.label_values.at(0);
        if (label == "all") s.shared = series.value;
        for (int w = 0; w < kReadThroughWriters; ++w)
          if (label == WriterLabel(w)) s.own[w] = series.value;
      } else if (f.spec.name == "rt_seconds" && series.bucket_counts.size() == 2) {
        s.le_half = static_cast<double>(series.bucket_counts[0]);
        s.le_one = static_cast<double>(series.bucket_counts[1]);
        s.inf = s.count = static_cast<double>(series.count);
        s.sum = series.value;
      }
    }
  }
  return s;
}

// What is wrong with a snapshot `s` taken after `before` was acknowledged
// and before `after` was started, following `last`; empty when nothing.
std::string CheckSeen(const Seen& s, const Totals& before, const Totals& after, const Seen& last) {
  std::ostringstream problem;
  auto within = [&](const std::string& what, double seen, int64_t low, int64_t high, double previous) {
    if (!(seen >= static_cast<double>(low)))
      problem << what << " is " << seen << ", less than the " << low << " acknowledged before the snapshot; ";
    if (!(seen <= static_cast<double>(high)))
      problem << what << " is " << seen << ", more than the " << high << " started by its end; ";
    if (seen < previous) problem << what << " went back from " << previous << " to " << seen << "; ";
  };
  for (int w = 0; w < kReadThroughWriters; ++w)
    within("rt_ops_total{w=" + WriterLabel(w) + "}", s.own[w], before.own[w], after.own[w], last.own[w]);
  within("rt_ops_total{w=all}", s.shared, before.shared, after.shared, last.shared);
  within("rt_seconds_count", s.count, before.count(), after.count(), last.count);
  within("rt_seconds_bucket{le=0.5}", s.le_half, before.observed[0], after.observed[0], last.le_half);
  // Cumulative: le=1 holds both lower buckets' observations.
  within("rt_seconds_bucket{le=1}", s.le_one, before.observed[0] + before.observed[1],
         after.observed[0] + after.observed[1], last.le_one);
  if (s.inf != s.count) problem << "+Inf bucket " << s.inf << " != _count " << s.count << "; ";
  // The sum follows from the buckets when they are one state of the series.
  const double sum = kObservations[0] * s.le_half + kObservations[1] * (s.le_one - s.le_half) +
                     kObservations[2] * (s.count - s.le_one);
  if (s.sum != sum) problem << "_sum " << s.sum << " != " << sum << " from the buckets; ";
  return problem.str();
}

// Runs until told to stop, then exits normally (which flushes and removes
// its region).
[[noreturn]] void ReadThroughWriter(const std::string& db, int w, Board& board) {
  try {
    // Two writers flush only at exit, two every few milliseconds: flushes
    // commit under the readers' snapshots all the time.
    const int interval_ms[kReadThroughWriters] = {3600 * 1000, 3600 * 1000, 2, 15};
    Registry registry(db, Batched(interval_ms[w]));
    auto ops = BuildCounter().Name("rt_ops").Help("Ops.").LabelNames({"w"}).Register(registry);
    Counter own = ops.WithLabelValues({WriterLabel(w)});
    Counter shared = ops.WithLabelValues({"all"});
    Histogram seconds = BuildHistogram().Name("rt_seconds").Help("Seconds.").Buckets({0.5, 1}).Register(registry)
                            .WithLabelValues({});
    Published& p = board.writers[w];
    for (uint64_t i = 0; i == 0 || board.stop.load(std::memory_order_relaxed) == 0; ++i) {
      p.started_own.fetch_add(1);
      own.Increment();
      p.acked_own.fetch_add(1);
      p.started_shared.fetch_add(1);
      shared.Increment();
      p.acked_shared.fetch_add(1);
      const int k = static_cast<int>((i + static_cast<uint64_t>(w)) % 3);
      p.started_observed[k].fetch_add(1);
      seconds.Observe(kObservations[k]);
      p.acked_observed[k].fetch_add(1);
      if (i == 0) board.ready.fetch_add(1);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "read-through writer %d: %s\n", w, e.what());
    _exit(1);
  }
  std::exit(0);
}

// ---- Threads ---------------------------------------------------------------

// The expected text of the threads test: `threads` threads, each
// `iterations` times: th_ops_total{k=i%16} += 1, th_level += 2, th_seconds
// observes kObservations[i%3].
std::string ThreadsText(int threads, int iterations) {
  std::map<std::string, int64_t> per_key;  // sorted as rendered
  int64_t observed[3] = {};
  for (int t = 0; t < threads; ++t)
    for (int i = 0; i < iterations; ++i) {
      ++per_key[std::to_string(i % 16)];
      ++observed[i % 3];
    }
  std::ostringstream out;
  out << "th_level " << 2 * threads * iterations << "\n";
  for (const auto& [k, n] : per_key) out << "th_ops_total{k=\"" << k << "\"} " << n << "\n";
  const int64_t count = observed[0] + observed[1] + observed[2];
  out << "th_seconds_bucket{le=\"0.5\"} " << observed[0] << "\n";
  out << "th_seconds_bucket{le=\"1\"} " << observed[0] + observed[1] << "\n";
  out << "th_seconds_bucket{le=\"+Inf\"} " << count << "\n";
  char sum[64];  // a multiple of 0.25: %.15g is its shortest form, as rendered
  std::snprintf(sum, sizeof sum, "%.15g",
                kObservations[0] * observed[0] + kObservations[1] * observed[1] + kObservations[2] * observed[2]);
  out << "th_seconds_sum " << sum << "\n";
  out << "th_seconds_count " << count << "\n";
  return out.str();
}

// ---- Remove and TTL --------------------------------------------------------

// A clock tests move by hand (Unix seconds).
struct FakeClock {
  std::shared_ptr<std::atomic<double>> now = std::make_shared<std::atomic<double>>(1.8e9);
  void Advance(double seconds) { now->store(now->load() + seconds); }
  std::function<double()> fn() const {
    auto n = now;
    return [n] { return n->load(); };
  }
};

}  // namespace

TEST_CASE("readers see every acknowledged update of batched writers while they update and flush") {
  test::TempDir dir;
  const std::string db = dir.File("rt.db");
  SharedMemory<Board> board;
  std::vector<pid_t> writers;
  for (int w = 0; w < kReadThroughWriters; ++w) {
    std::fflush(nullptr);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) ReadThroughWriter(db, w, *board);
    writers.push_back(pid);
  }
  // Every writer has made its region and updated each series once.
  while (board->ready.load() < kReadThroughWriters) {
    bool dead = false;
    for (pid_t pid : writers) dead = dead || waitpid(pid, nullptr, WNOHANG) == pid;
    if (dead) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  REQUIRE(board->ready.load() == kReadThroughWriters);
  CHECK(Regions(db).size() == kReadThroughWriters);

  Reader reader(db);
  Seen last;
  for (double& v : last.own) v = 0;
  std::string problem;
  int rounds = 0;
  const int kRounds = test::LongTests() ? 10000 : 1000;
  // While the writers update; then while they end (a flush, the region
  // removed, its record deleted): counters must not go back meanwhile.
  std::vector<bool> ended(kReadThroughWriters, false);
  int running = kReadThroughWriters;
  for (; problem.empty() && running > 0; ++rounds) {
    if (rounds == kRounds) board->stop.store(1);
    if (rounds >= kRounds) {
      for (int w = 0; w < kReadThroughWriters; ++w) {
        int status = 0;
        if (!ended[w] && waitpid(writers[w], &status, WNOHANG) == writers[w]) {
          ended[w] = true;
          --running;
          CAPTURE(w);
          CHECK(test::ExitCode(status) == 0);
        }
      }
    }
    const Totals before = Acknowledged(*board);
    Seen seen = rounds % 2 == 0 ? SeenInText(reader.Render(Format::kText)) : SeenInSnapshot(reader.Snapshot());
    const Totals after = Started(*board);
    problem = CheckSeen(seen, before, after, last);
    if (!problem.empty()) problem = "snapshot " + std::to_string(rounds) + ": " + problem;
    last = seen;
  }
  CHECK(problem == "");
  CHECK(rounds > kRounds);
  if (running > 0) {
    board->stop.store(1);
    for (int w = 0; w < kReadThroughWriters; ++w)
      if (!ended[w]) waitpid(writers[w], nullptr, 0);
  }

  // Every writer ended normally: its flush wrote everything, exactly, and
  // its region is gone.
  const Totals acked = Acknowledged(*board);
  const Totals started = Started(*board);
  const std::string text = Text(db);
  Seen final_seen = SeenInText(text);
  for (int w = 0; w < kReadThroughWriters; ++w) {
    CAPTURE(w);
    CHECK(acked.own[w] == started.own[w]);
    CHECK(final_seen.own[w] == static_cast<double>(acked.own[w]));
  }
  CHECK(final_seen.shared == static_cast<double>(acked.shared));
  CHECK(final_seen.count == static_cast<double>(acked.count()));
  CHECK(final_seen.le_half == static_cast<double>(acked.observed[0]));
  CHECK(final_seen.le_one == static_cast<double>(acked.observed[0] + acked.observed[1]));
  CHECK(final_seen.sum == kObservations[0] * acked.observed[0] + kObservations[1] * acked.observed[1] +
                              kObservations[2] * acked.observed[2]);
  CHECK(Regions(db).empty());
  // The rows alone have it all.
  const Rows rows = RowsOf(db);
  CHECK(rows.series == kReadThroughWriters + 2);
  CHECK(rows.values == 2 * static_cast<double>(acked.shared) + final_seen.sum);
  CHECK(rows.counts == acked.count());
}

TEST_CASE("a forked child of a batched writer makes its own region; neither's pending updates are doubled or lost") {
  test::TempDir dir;
  const std::string db = dir.File("fork.db");
  Registry registry(db, Batched());
  Counter jobs = BuildCounter().Name("jobs").Register(registry).WithLabelValues({});
  Histogram seconds = BuildHistogram().Name("seconds").Buckets({1}).Register(registry).WithLabelValues({});
  jobs.Increment(100);
  seconds.Observe(0.5);
  const std::vector<std::string> parents = Regions(db);
  REQUIRE(parents.size() == 1);
  auto body = [&](char command) {
    if (command == 'u') {
      jobs.Increment(1);
      seconds.Observe(2);
    }
    if (command == 'f') registry.Flush();
  };
  auto expect = [&](int jobs_total, int le1, int count, double sum) {
    std::ostringstream out;
    out << "jobs_total " << jobs_total << "\nseconds_bucket{le=\"1\"} " << le1 << "\nseconds_bucket{le=\"+Inf\"} "
        << count << "\nseconds_sum " << sum << "\nseconds_count " << count << "\n";
    return out.str();
  };

  Commanded child(body);
  CHECK(Regions(db) == parents);  // the child's region comes with its first update
  child.Do('u');
  std::vector<std::string> both = Regions(db);
  REQUIRE(both.size() == 2);
  CHECK(Contains(both, "w-" + std::to_string(child.pid()) + "-"));
  // Both processes' updates, each once, none flushed yet.
  CHECK(Body(Text(db)) == expect(101, 1, 2, 2.5));
  CHECK(RowsOf(db).values == 0);
  child.Do('f');  // writes the child's own updates, not the parent's it inherited
  CHECK(Body(Text(db)) == expect(101, 1, 2, 2.5));
  CHECK(RowsOf(db).values == 1 + 2);
  registry.Flush();
  CHECK(Body(Text(db)) == expect(101, 1, 2, 2.5));
  CHECK(RowsOf(db).values == 101 + 2.5);

  // Both pending again; the child is killed: housekeeping recovers its
  // region, and leaves the live parent's alone.
  child.Do('u');
  jobs.Increment(10);
  CHECK(Body(Text(db)) == expect(112, 1, 3, 4.5));
  child.Kill();
  CHECK(Body(Text(db)) == expect(112, 1, 3, 4.5));
  HousekeepingReport report = registry.Housekeep();
  CHECK(report.recovered_regions == 1);
  CHECK(Regions(db) == parents);
  CHECK(Body(Text(db)) == expect(112, 1, 3, 4.5));
  CHECK(RowsOf(db).values == 102 + 4.5);
  registry.Flush();
  CHECK(RowsOf(db).values == 112 + 4.5);

  // A child that exits normally flushes and removes its own region only.
  Commanded second(body);
  second.Do('u');
  CHECK(Regions(db).size() == 2);
  CHECK(second.Exit() == 0);
  CHECK(Regions(db) == parents);
  CHECK(Body(Text(db)) == expect(113, 1, 4, 6.5));
  CHECK(RowsOf(db).values == 113 + 6.5);
}

TEST_CASE("children forked while a thread updates and the flusher runs each count their own updates once") {
  test::TempDir dir;
  const std::string db = dir.File("forks.db");
  Registry registry(db, Batched(1));
  Counter jobs = BuildCounter().Name("jobs").Register(registry).WithLabelValues({});
  Histogram seconds = BuildHistogram().Name("seconds").Buckets({1}).Register(registry).WithLabelValues({});
  constexpr int kChildren = 8, kChildUpdates = 1000;
  jobs.Increment();
  seconds.Observe(0.5);
  const std::vector<std::string> parents_region = Regions(db);
  REQUIRE(parents_region.size() == 1);
  std::atomic<bool> stop{false};
  std::atomic<int64_t> parent_updates{1};
  std::thread updater([&] {
    while (!stop.load()) {
      jobs.Increment();
      seconds.Observe(0.5);
      parent_updates.fetch_add(1);
    }
  });
  std::vector<pid_t> children;
  for (int i = 0; i < kChildren; ++i) {
    // Each fork waits for the updater's and the flusher's locks, whatever
    // they are doing.
    while (parent_updates.load() < (i + 1) * 1000) std::this_thread::yield();
    std::fflush(nullptr);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      for (int n = 0; n < kChildUpdates; ++n) {
        jobs.Increment();
        seconds.Observe(2);
      }
      // Half end normally (a flush, the region removed), half as if killed
      // (the region left to a recoverer).
      if (i % 2 == 0) std::exit(0);
      _exit(0);
    }
    children.push_back(pid);
  }
  stop.store(true);
  updater.join();
  for (pid_t pid : children) {
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(test::ExitCode(status) == 0);
  }
  const int64_t parents = parent_updates.load();
  const int64_t total = parents + kChildren * kChildUpdates;
  auto check = [&] {
    const std::string text = Text(db);
    CHECK(Sample(text, "jobs_total") == static_cast<double>(total));
    CHECK(Sample(text, "seconds_count") == static_cast<double>(total));
    CHECK(Sample(text, "seconds_bucket{le=\"1\"}") == static_cast<double>(parents));
    CHECK(Sample(text, "seconds_sum") == 0.5 * static_cast<double>(parents) + 2.0 * kChildren * kChildUpdates);
  };
  // The regions of the children that _exit()ed are read through until a
  // recoverer writes them: a child's first flush, or housekeeping.
  check();
  CHECK(Regions(db).size() <= 1 + kChildren / 2);
  registry.Housekeep();
  CHECK(Regions(db) == parents_region);
  check();
  registry.Flush();
  check();
  const Rows rows = RowsOf(db);
  CHECK(rows.values == static_cast<double>(total) + 0.5 * static_cast<double>(parents) + 2.0 * kChildren * kChildUpdates);
  CHECK(rows.counts == total);
}

TEST_CASE("threads of one batched writer add up exactly, read by another process before any flush") {
  test::TempDir dir;
  const std::string db = dir.File("threads.db");
  int interval_ms = 3600 * 1000;
  SUBCASE("flushed only when asked") {}
  SUBCASE("flushed every millisecond meanwhile") { interval_ms = 1; }
  Registry registry(db, Batched(interval_ms));
  auto ops = BuildCounter().Name("th_ops").LabelNames({"k"}).Register(registry);
  Gauge level = BuildGauge().Name("th_level").Register(registry).WithLabelValues({});
  auto seconds = BuildHistogram().Name("th_seconds").Buckets({0.5, 1}).Register(registry);
  constexpr int kThreads = 8, kIterations = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      // The 16 series of th_ops are first used by several threads at once:
      // their slots are made while other threads update.
      for (int i = 0; i < kIterations; ++i) {
        ops.WithLabelValues({std::to_string(i % 16)}).Increment();
        level.Increment(2);
        seconds.WithLabelValues({}).Observe(kObservations[i % 3]);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  if (interval_ms > 1000) {
    const Rows rows = RowsOf(db);
    CHECK(rows.series == 18);
    CHECK(rows.values == 0);  // nothing flushed: it is all in the region
    CHECK(rows.counts == 0);
  }
  CHECK(Body(TextInAnotherProcess(db)) == ThreadsText(kThreads, kIterations));
  registry.Flush();
  CHECK(Body(TextInAnotherProcess(db)) == ThreadsText(kThreads, kIterations));
  CHECK(RowsOf(db).counts == kThreads * kIterations);
}

// ---- Removal and TTL with pending updates ----------------------------------
// Documented (Registry::RemoveSeries, docs/schema.md): a removed series that
// is updated again comes back from 0 with only the new update; so does an
// expired one that housekeeping deleted.

TEST_CASE("a series this writer removes while its updates are pending comes back with only the later updates") {
  test::TempDir dir;
  const std::string db = dir.File("remove.db");
  Registry registry(db, Batched());
  auto jobs = BuildCounter().Name("jobs").LabelNames({"id"}).Register(registry);
  Histogram seconds = BuildHistogram().Name("seconds").Buckets({1}).Register(registry).WithLabelValues({});
  Counter a = jobs.WithLabelValues({"a"});
  a.Increment(5);
  jobs.WithLabelValues({"b"}).Increment(7);
  seconds.Observe(0.5);
  registry.Flush();
  a.Increment(3);  // pending (in the region) when the series goes
  seconds.Observe(2);
  CHECK(Body(Text(db)) ==
        "jobs_total{id=\"a\"} 8\njobs_total{id=\"b\"} 7\nseconds_bucket{le=\"1\"} 1\nseconds_bucket{le=\"+Inf\"} 2\n"
        "seconds_sum 2.5\nseconds_count 2\n");
  CHECK(registry.RemoveSeries("jobs", {{"id", "a"}}));
  CHECK(registry.RemoveSeries("seconds", {}));
  // Readers no longer show the series, nor what was pending for it.
  CHECK(Body(Text(db)) == "jobs_total{id=\"b\"} 7\n");
  a.Increment(1);
  seconds.Observe(0.5);
  const std::string after = "jobs_total{id=\"a\"} 1\njobs_total{id=\"b\"} 7\nseconds_bucket{le=\"1\"} 1\n"
                            "seconds_bucket{le=\"+Inf\"} 1\nseconds_sum 0.5\nseconds_count 1\n";
  CHECK(Body(Text(db)) == after);  // read through, before the flush
  registry.Flush();
  CHECK(Body(Text(db)) == after);
  // A family removed and declared again starts empty too.
  jobs.WithLabelValues({"b"}).Increment(2);
  CHECK(registry.RemoveFamily("jobs"));
  auto again = BuildCounter().Name("jobs").LabelNames({"id"}).Register(registry);
  again.WithLabelValues({"b"}).Increment(1);
  const std::string redeclared = "jobs_total{id=\"b\"} 1\nseconds_bucket{le=\"1\"} 1\nseconds_bucket{le=\"+Inf\"} 1\n"
                                 "seconds_sum 0.5\nseconds_count 1\n";
  CHECK(Body(Text(db)) == redeclared);
  registry.Flush();
  CHECK(Body(Text(db)) == redeclared);
}

TEST_CASE("a series another process removes comes back with only the updates a batched writer makes after it") {
  test::TempDir dir;
  const std::string db = dir.File("remove.db");
  Registry registry(db, Batched());
  auto jobs = BuildCounter().Name("jobs").LabelNames({"id"}).Register(registry);
  Counter a = jobs.WithLabelValues({"a"});
  a.Increment(5);
  registry.Flush();  // nothing pending when the series goes
  CHECK(test::RunInChildren(1, [&](int) {
          if (!Registry(db).RemoveSeries("jobs", {{"id", "a"}})) throw std::runtime_error("not removed");
        }) == 0);
  CHECK(Body(Text(db)).empty());
  a.Increment(2);
  CHECK(Body(Text(db)) == "jobs_total{id=\"a\"} 2\n");
  registry.Flush();
  CHECK(Body(Text(db)) == "jobs_total{id=\"a\"} 2\n");
}

// FAILS: another process's pending update from before a removal comes back:
// readers keep showing it right after the removal, and its flush writes it
// into the series anew. (The working tree's registry.h documents this as
// intended; the lead is deciding the semantics.)
TEST_CASE("a pending update of another process from before a removal does not come back" * doctest::skip()) {
  test::TempDir dir;
  const std::string db = dir.File("remove.db");
  Registry registry(db, Batched());
  Counter a = BuildCounter().Name("jobs").LabelNames({"id"}).Register(registry).WithLabelValues({"a"});
  a.Increment(5);  // pending in this process's region
  CHECK(test::RunInChildren(1, [&](int) {
          if (!Registry(db).RemoveSeries("jobs", {{"id", "a"}})) throw std::runtime_error("not removed");
        }) == 0);
  CHECK(Body(Text(db)).empty());  // observed: jobs_total{id="a"} 5
  a.Increment(1);
  registry.Flush();
  CHECK(Body(Text(db)) == "jobs_total{id=\"a\"} 1\n");  // observed: 6
}

TEST_CASE("an expired series updated before housekeeping lives on from its row; once deleted, from the update") {
  test::TempDir dir;
  const std::string db = dir.File("ttl.db");
  FakeClock clock;
  Options options = Batched();
  options.clock = clock.fn();
  ReaderOptions reader_options;
  reader_options.clock = clock.fn();
  Registry registry(db, options);
  auto jobs = BuildCounter().Name("jobs").LabelNames({"id"}).Ttl(60).Register(registry);
  auto level = BuildGauge().Name("level").LabelNames({"id"}).Ttl(60).Register(registry);
  for (const char* id : {"before", "after"}) {
    jobs.WithLabelValues({id}).Increment(100);
    level.WithLabelValues({id}).Set(100);
  }
  registry.Flush();
  clock.Advance(61);
  CHECK(Body(Text(db, reader_options)).empty());  // expired
  // "before": updated again before housekeeping deletes it: a pending
  // update keeps it alive, its row included, as immediate mode's upsert
  // would (housekeeping spares it); "after": once it is deleted.
  jobs.WithLabelValues({"before"}).Increment(1);
  level.WithLabelValues({"before"}).Increment(1);
  CHECK(Body(Text(db, reader_options)) == "jobs_total{id=\"before\"} 101\nlevel{id=\"before\"} 101\n");
  CHECK(registry.Housekeep().expired_series == 2);
  CHECK(Body(Text(db, reader_options)) == "jobs_total{id=\"before\"} 101\nlevel{id=\"before\"} 101\n");
  jobs.WithLabelValues({"after"}).Increment(2);
  level.WithLabelValues({"after"}).Increment(2);
  const std::string expected = "jobs_total{id=\"after\"} 2\njobs_total{id=\"before\"} 101\nlevel{id=\"after\"} 2\n"
                               "level{id=\"before\"} 101\n";
  CHECK(Body(Text(db, reader_options)) == expected);
  registry.Flush();
  CHECK(Body(Text(db, reader_options)) == expected);
  // The flush stamped the rows with its time: 30 s later they live on.
  clock.Advance(30);
  CHECK(registry.Housekeep().expired_series == 0);
  CHECK(Body(Text(db, reader_options)) == expected);
}

// A series with a pending update is not expired: readers show its row plus
// the update (101), as its flush then writes it (immediate mode gives 101).
TEST_CASE("readers show an expired series' pending update as its flush writes it") {
  test::TempDir dir;
  const std::string db = dir.File("ttl.db");
  FakeClock clock;
  Options options = Batched();
  options.clock = clock.fn();
  ReaderOptions reader_options;
  reader_options.clock = clock.fn();
  Registry registry(db, options);
  Counter jobs = BuildCounter().Name("jobs").Ttl(60).Register(registry).WithLabelValues({});
  jobs.Increment(100);
  registry.Flush();
  clock.Advance(61);
  jobs.Increment(1);  // pending; the expired row is not deleted yet
  const std::string before_flush = Body(Text(db, reader_options));
  CHECK(before_flush == "jobs_total 101\n");
  registry.Flush();
  CHECK(Body(Text(db, reader_options)) == before_flush);
}

// An update within the TTL keeps a series alive while it is pending: the
// region keeps no time of update, so a pending update counts as made now
// (its flush stamps it), for readers and housekeeping alike. Here the row
// was written at 0 and updated (pending) at 10; at 65 the series is alive
// at 101, as in immediate mode.
TEST_CASE("a pending update within the TTL keeps its series alive") {
  test::TempDir dir;
  const std::string db = dir.File("ttl.db");
  FakeClock clock;
  Options options = Batched();
  options.clock = clock.fn();
  ReaderOptions reader_options;
  reader_options.clock = clock.fn();
  Registry registry(db, options);
  Counter jobs = BuildCounter().Name("jobs").Ttl(60).Register(registry).WithLabelValues({});
  jobs.Increment(100);
  registry.Flush();
  clock.Advance(10);
  jobs.Increment(1);  // pending: updated at 10
  clock.Advance(55);  // 65: the row is 65 s old, the series 55 s
  CHECK(Body(Text(db, reader_options)) == "jobs_total 101\n");
  CHECK(registry.Housekeep().expired_series == 0);
  registry.Flush();
  CHECK(Body(Text(db, reader_options)) == "jobs_total 101\n");
}

namespace {

// How many descriptors of this process are open on files in `folder`.
int DescriptorsInto(const std::string& folder) {
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code error;
    const std::string target = std::filesystem::read_symlink(entry.path(), error).string();
    if (!error && target.rfind(folder + "/", 0) == 0) ++count;
  }
  return count;
}

}  // namespace

TEST_CASE("a reader that keeps regions mapped between snapshots sees the slots made since, and lets go of removed ones") {
  test::TempDir dir;
  const std::string db = dir.File("keep.db");
  Reader reader(db);
  // Long label values: the slots of 40 steps of 10 new series span many
  // pages, so the region grows past what the reader mapped at each step.
  auto id = [](int i) { return std::string(200, 'x') + std::to_string(i); };
  constexpr int kSteps = 40, kPerStep = 10;
  {
    Registry registry(db, Batched());
    auto jobs = BuildCounter().Name("jobs").LabelNames({"id"}).Register(registry);
    for (int step = 0; step < kSteps; ++step) {
      for (int i = 0; i < (step + 1) * kPerStep; ++i) jobs.WithLabelValues({id(i)}).Increment();
      const std::string text = reader.Render(Format::kText);
      // A series made at step s has been incremented at every step since.
      for (int i = 0; i < (step + 1) * kPerStep; ++i) {
        CAPTURE(step);
        CAPTURE(i);
        REQUIRE(Sample(text, "jobs_total{id=\"" + id(i) + "\"}") == step - i / kPerStep + 1);
      }
    }
    CHECK(DescriptorsInto(db + "-pending") == 2);  // the writer's, and the reader's mapping
  }
  // The writer ended: its flush wrote everything and removed its region;
  // the reader's next snapshot reads the rows and drops its mapping.
  CHECK(Regions(db).empty());
  const std::string text = reader.Render(Format::kText);
  for (int i = 0; i < kSteps * kPerStep; ++i)
    CHECK(Sample(text, "jobs_total{id=\"" + id(i) + "\"}") == kSteps - i / kPerStep);
  CHECK(DescriptorsInto(db + "-pending") == 0);
}

TEST_CASE("handles of one series from two declarations in one registry share its slot: each Value() sees both, a flush writes both once") {
  test::TempDir dir;
  const std::string db = dir.File("share.db");
  Registry registry(db, Batched());
  auto first = BuildCounter().Name("jobs").LabelNames({"id"}).Register(registry);
  auto second = BuildCounter().Name("jobs").LabelNames({"id"}).Register(registry);
  Counter a = first.WithLabelValues({"x"}), b = second.WithLabelValues({"x"});
  a.Increment(2);
  b.Increment(3);
  CHECK(a.Value() == 5);
  CHECK(b.Value() == 5);
  CHECK(Regions(db).size() == 1);
  CHECK(Body(Text(db)) == "jobs_total{id=\"x\"} 5\n");
  registry.Flush();
  CHECK(RowsOf(db).values == 5);  // written once, not once per handle
  CHECK(Body(Text(db)) == "jobs_total{id=\"x\"} 5\n");
  // A handle that goes leaves its updates to the flush, never twice.
  b.Increment(1);
  { Counter gone = second.WithLabelValues({"x"}); gone.Increment(1); }
  a.Increment(1);
  registry.Flush();
  CHECK(RowsOf(db).values == 8);
  CHECK(a.Value() == 8);
}

TEST_CASE("by default, native histograms, per-process gauges and exemplars are written at once beside the regions") {
  test::TempDir dir;
  const std::string db = dir.File("outside.db");
  Options options;  // the defaults but for the flush interval
  options.flush_interval_ms = 3600 * 1000;
  Registry registry(db, options);
  Histogram native = BuildHistogram().Name("latency").NativeHistogram(1.1).Register(registry).WithLabelValues({});
  Gauge live = BuildGauge().Name("inflight").Mode(GaugeMode::kLiveSum).Register(registry).WithLabelValues({});
  Counter jobs = BuildCounter().Name("jobs").Register(registry).WithLabelValues({});
  native.Observe(0.5);
  live.Set(4);
  jobs.Increment(1, {{"trace_id", "abc"}});
  // The file's rows have the native observation, the gauge and the
  // exemplar before any flush; the counter's increment waits in the region.
  const Rows rows = RowsOf(db);
  CHECK(rows.values == 0.5 + 4);
  CHECK(rows.counts == 1);
  SQLite::Database raw(db, SQLite::OPEN_READONLY);
  CHECK(raw.execAndGet("SELECT count(*) FROM exemplars").getInt() == 1);
  CHECK(Regions(db).size() == 1);
  const std::string om = Reader(db).Render(Format::kOpenMetrics);
  CHECK(om.find("jobs_total 1 # {trace_id=\"abc\"} 1") != std::string::npos);
  CHECK(om.find("inflight 4") != std::string::npos);
}
