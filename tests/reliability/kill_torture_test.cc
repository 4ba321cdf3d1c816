// Kill torture: many processes update overlapping series while a driver
// SIGKILLs half of them at random moments, a reader renders in a loop and
// checkpoints run constantly. Afterwards every acknowledged update is in
// the file, nothing is counted twice, histograms (classic and native
// buckets of one family) are consistent and the file passes PRAGMA
// integrity_check.
//
// Each worker keeps a ledger (its own file, one write() per record, so a
// SIGKILL never tears a record): "I kind series value" before a call and
// "D <ms>" after it returned. A killed worker has at most one call in
// flight (an I without D): it may or may not have landed, so each figure is
// checked against [acknowledged, acknowledged + in flight].
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include <SQLiteCpp/Database.h>

#include "declare/native_histogram.h"
#include "promsqlite/promsqlite.h"
#include "read/snapshot.h"
#include "test_util.h"

using namespace promsqlite;

namespace {

constexpr int kSeries = 4;
const std::vector<double> kBuckets = {0.1, 1};
const double kObservations[] = {0.05, 0.5, 5};

double MonotonicMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

struct Families {
  Family<Counter> ops;
  Family<Gauge> level;
  Family<Histogram> seconds;
};

// `native`: the histogram has native buckets too (whose pending updates
// wait in process memory in batched mode, docs/pending-regions.md).
Families Declare(Registry& registry, bool native) {
  auto seconds = BuildHistogram().Name("torture_seconds").Help("Seconds.").LabelNames({"s"}).Buckets(kBuckets);
  if (native) seconds.NativeHistogram(2);
  return {BuildCounter().Name("torture_ops").Help("Ops.").LabelNames({"s"}).Register(registry),
          BuildGauge().Name("torture_level").Help("Level.").LabelNames({"s"}).Register(registry),
          seconds.Register(registry)};
}

void Append(int fd, const std::string& record) {
  if (write(fd, record.data(), record.size()) != static_cast<ssize_t>(record.size())) _exit(3);
}

// Runs until killed or `duration_ms` passed.
[[noreturn]] void Worker(const std::string& db, const std::string& ledger, const Options& options, bool native,
                         unsigned seed, double duration_ms) {
  int fd = open(ledger.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  try {
    Registry registry(db, options);
    Families f = Declare(registry, native);
    std::mt19937 rng(seed);
    double end = MonotonicMs() + duration_ms;
    while (MonotonicMs() < end) {
      int kind = static_cast<int>(rng() % 3);
      int s = static_cast<int>(rng() % kSeries);
      std::string label = "s" + std::to_string(s);
      double value = kind == 0 ? 1 : kind == 1 ? (rng() % 2 ? 1 : -1) : kObservations[rng() % 3];
      std::ostringstream intent;
      intent << "I " << kind << ' ' << s << ' ' << value << '\n';
      Append(fd, intent.str());
      if (kind == 0) f.ops.WithLabelValues({label}).Increment(value);
      else if (kind == 1) f.level.WithLabelValues({label}).Increment(value);
      else f.seconds.WithLabelValues({label}).Observe(value);
      Append(fd, "D " + std::to_string(MonotonicMs()) + "\n");
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "worker: %s\n", e.what());
    _exit(1);
  }
  std::exit(0);  // normal exit: a batched registry flushes here
}

// The native buckets of torture_seconds per series: (series, index) ->
// count, index 1000 for the zero bucket; and each series' count.
struct NativeSnapshot : detail::SnapshotVisitor {
  void Family(const detail::FamilyRecord&) override {}
  void Series(const detail::FamilyRecord& family, const detail::SeriesRecord& r) override {
    if (family.spec.name != "torture_seconds") return;
    int s = r.label_values[0][1] - '0';
    count[s] = r.count;
    schema[s] = r.native.schema;
    if (r.native.zero_count) buckets[{s, 1000}] = r.native.zero_count;
    for (const auto& [index, n] : r.native.positive) buckets[{s, index}] = n;
    for (const auto& [index, n] : r.native.negative) buckets[{s, -index}] = n;
  }
  void End() override {}
  std::map<std::pair<int, int>, int64_t> buckets;
  std::map<int, int64_t> count;
  std::map<int, int> schema;
};

NativeSnapshot ReadNative(const std::string& db) {
  SQLite::Database file(db, SQLite::OPEN_READONLY);
  file.setBusyTimeout(5000);
  NativeSnapshot snapshot;
  detail::ReadSnapshot(file, db, 0, snapshot);
  return snapshot;
}

// A reader that renders in a loop and fails on an inconsistent histogram
// or a counter that went backwards.
[[noreturn]] void Scraper(const std::string& db, bool native) {
  Reader reader(db);
  std::map<int, double> last_ops;
  for (int round = 0;; ++round) {
    if (native && round % 4 == 0) {
      // The native buckets of one snapshot add up to its count.
      NativeSnapshot native = ReadNative(db);
      std::map<int, int64_t> sums;
      for (const auto& [key, n] : native.buckets) sums[key.first] += n;
      for (const auto& [series, count] : native.count) {
        if (sums[series] != count) {
          std::fprintf(stderr, "scraper: native buckets %lld != count %lld\n", static_cast<long long>(sums[series]),
                       static_cast<long long>(count));
          _exit(2);
        }
      }
    }
    std::string text = reader.Render(Format::kText);
    for (int s = 0; s < kSeries; ++s) {
      std::string labels = "s=\"s" + std::to_string(s) + "\"";
      size_t ops = text.find("torture_ops_total{" + labels + "} ");
      if (ops != std::string::npos) {
        double value = std::stod(text.substr(text.find("} ", ops) + 2));
        if (value < last_ops[s]) {
          std::fprintf(stderr, "scraper: torture_ops_total went back from %g to %g\n", last_ops[s], value);
          _exit(3);
        }
        last_ops[s] = value;
      }
      size_t inf = text.find("torture_seconds_bucket{" + labels + ",le=\"+Inf\"} ");
      size_t count = text.find("torture_seconds_count{" + labels + "} ");
      if (inf == std::string::npos || count == std::string::npos) continue;
      std::string a = text.substr(text.find("} ", inf) + 2, text.find('\n', inf) - text.find("} ", inf) - 2);
      std::string b = text.substr(text.find("} ", count) + 2, text.find('\n', count) - text.find("} ", count) - 2);
      if (a != b) {
        std::fprintf(stderr, "scraper: +Inf %s != count %s\n", a.c_str(), b.c_str());
        _exit(2);
      }
    }
  }
}

struct Tally {
  double done = 0, in_flight_low = 0, in_flight_high = 0;
  void Add(double v, bool acknowledged) {
    if (acknowledged) done += v;
    else (v < 0 ? in_flight_low : in_flight_high) += v;
  }
  // Sums of fractions differ in their last bits with the order of addition:
  // a relative 1e-9, far below the smallest observation (0.05).
  bool Holds(double actual) const {
    const double tolerance = 1e-9 * std::max(1.0, std::fabs(actual));
    return actual >= done + in_flight_low - tolerance && actual <= done + in_flight_high + tolerance;
  }
};

struct Expected {
  std::map<int, Tally> ops, level, count, sum;
  std::map<std::pair<int, int>, Tally> bucket;  // non-cumulative
  std::map<std::pair<int, int>, Tally> native;  // (series, index at schema 0)
};

// Reads a ledger. `lost_after_ms` >= 0: acknowledged calls after that time
// may be missing (batched mode, killed worker): they count as in flight.
void ReadLedger(const std::string& path, double lost_after_ms, Expected* e) {
  std::istringstream in(test::ReadFile(path));
  std::string line;
  int kind = -1, s = 0;
  double value = 0;
  bool open_intent = false;
  auto account = [&](bool acknowledged) {
    if (kind == 0) e->ops[s].Add(value, acknowledged);
    if (kind == 1) e->level[s].Add(value, acknowledged);
    if (kind == 2) {
      e->count[s].Add(1, acknowledged);
      e->sum[s].Add(value, acknowledged);
      int b = value <= kBuckets[0] ? 0 : value <= kBuckets[1] ? 1 : -1;
      if (b >= 0) e->bucket[{s, b}].Add(1, acknowledged);
      int sign;
      int32_t index;
      detail::NativeBucketOf(value, 0, kDefaultNativeZeroThreshold, &sign, &index);
      e->native[{s, index}].Add(1, acknowledged);
    }
  };
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    char tag;
    fields >> tag;
    if (tag == 'I') {
      fields >> kind >> s >> value;
      open_intent = true;
    } else if (tag == 'D') {
      double when;
      fields >> when;
      account(lost_after_ms < 0 || when < lost_after_ms);
      open_intent = false;
    }
  }
  if (open_intent) account(false);
}

double Sample(const std::string& text, const std::string& series) {
  size_t at = text.find("\n" + series + " ");
  REQUIRE_MESSAGE(at != std::string::npos, series);
  return std::stod(text.substr(at + series.size() + 2));
}

// Kills a recoverer (a housekeeping pass in a child) at random moments
// `times` times: a recovery cut short must leave nothing applied twice or
// lost for the next one.
void KillRecoverers(const std::string& db, const Options& options, int times, std::mt19937& rng) {
  for (int i = 0; i < times; ++i) {
    std::fflush(nullptr);
    pid_t pid = fork();
    if (pid == 0) {
      try {
        Registry(db, options).Housekeep();
      } catch (...) {
      }
      _exit(0);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 3000));
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
}

// `exact`: every acknowledged update must be in the file, also those of
// killed workers (immediate mode, and batched mode with shared regions,
// after recovery);
// otherwise a killed batched worker may lose its last interval.
void Torture(WriteMode mode, int workers, double duration_ms, bool native = true, bool exact = false,
             PendingStore store = PendingStore::kSharedFile) {
  test::TempDir dir;
  const std::string db = dir.File("torture.db");
  Options options;
  options.write_mode = mode;
  options.pending_store = store;
  options.flush_interval_ms = 50;
  // Checkpoints every 64 pages of WAL: dozens per run. (Every few commits
  // would make the run measure this machine's fsync latency instead: each
  // checkpoint syncs the file while holding the write lock.)
  options.checkpoint_wal_pages = 64;
  options.busy_timeout_ms = 30000;  // a shared CI disk can be slow to sync
  {
    Registry registry(db, options);
    Families f = Declare(registry, native);
    for (int s = 0; s < kSeries; ++s) {
      std::string label = "s" + std::to_string(s);
      f.ops.WithLabelValues({label});
      f.level.WithLabelValues({label});
      f.seconds.WithLabelValues({label});
    }
  }
  std::vector<pid_t> pids;
  std::fflush(nullptr);
  for (int i = 0; i < workers; ++i) {
    pid_t pid = fork();
    if (pid == 0) Worker(db, dir.File("ledger-" + std::to_string(i)), options, native, 1000 + i, duration_ms);
    pids.push_back(pid);
  }
  pid_t scraper = fork();
  if (scraper == 0) Scraper(db, native);

  // Kill every other worker at a random moment; restart the scraper once
  // with a SIGKILL in the middle of a render.
  std::mt19937 rng(42);
  std::vector<double> killed_at(workers, -1);
  for (int i = 0; i < workers; i += 2) {
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % static_cast<unsigned>(duration_ms / workers * 2 + 1)));
    kill(pids[i], SIGKILL);
    killed_at[i] = MonotonicMs();
    if (i == workers / 2) {
      kill(scraper, SIGKILL);
      waitpid(scraper, nullptr, 0);
      scraper = fork();
      if (scraper == 0) Scraper(db, native);
    }
  }
  for (int i = 0; i < workers; ++i) {
    int status = 0;
    waitpid(pids[i], &status, 0);
    if (i % 2 == 1) {
      CAPTURE(i);
      CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
    }
  }
  int scraper_status = 0;
  if (waitpid(scraper, &scraper_status, WNOHANG) == scraper) {
    CAPTURE(scraper_status);
    FAIL("the scraper saw an inconsistent histogram, a counter going back, or died");
  }
  if (exact) {
    // Recoverers killed mid-way, then one that finishes; the scraper reads
    // on meanwhile: a recovery must not make a counter go back or jump.
    KillRecoverers(db, options, 4, rng);
    HousekeepingReport report = Registry(db, options).Housekeep();
    CAPTURE(report.recovered_regions);
    // Every region is gone: recovered, or removed by its writer at exit.
    size_t regions = 0;
    if (std::filesystem::exists(db + "-pending"))  // made by the first writer that kept anything there
      for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(db + "-pending")) ++regions;
    CHECK(regions == 0);
  }
  if (waitpid(scraper, &scraper_status, WNOHANG) == scraper) {
    CAPTURE(scraper_status);
    FAIL("the scraper saw a counter go back during recovery, or died");
  }
  kill(scraper, SIGKILL);
  waitpid(scraper, nullptr, 0);

  Expected e;
  // Batched: a killed worker may lose what it acknowledged within the last
  // flush interval before its death (plus scheduling slack on a busy box).
  const double slack_ms = 2000;
  for (int i = 0; i < workers; ++i) {
    double lost_after = !exact && mode == WriteMode::kBatched && killed_at[i] >= 0 ? killed_at[i] - slack_ms : -1;
    ReadLedger(dir.File("ledger-" + std::to_string(i)), lost_after, &e);
  }
  CHECK(test::IntegrityCheck(db) == "ok");
  std::string text = Reader(db).Render(Format::kText);
  for (int s = 0; s < kSeries; ++s) {
    std::string l = "{s=\"s" + std::to_string(s) + "\"";
    CAPTURE(s);
    CHECK(e.ops[s].Holds(Sample(text, "torture_ops_total" + l + "}")));
    CHECK(e.level[s].Holds(Sample(text, "torture_level" + l + "}")));
    double count = Sample(text, "torture_seconds_count" + l + "}");
    CHECK(e.count[s].Holds(count));
    CHECK(Sample(text, "torture_seconds_bucket" + l + ",le=\"+Inf\"}") == count);
    const double sum = Sample(text, "torture_seconds_sum" + l + "}");
    CAPTURE(sum);
    CAPTURE(e.sum[s].done);
    CHECK(e.sum[s].Holds(sum));
    double le01 = Sample(text, "torture_seconds_bucket" + l + ",le=\"0.1\"}");
    double le1 = Sample(text, "torture_seconds_bucket" + l + ",le=\"1\"}");
    CHECK(e.bucket[{s, 0}].Holds(le01));
    CHECK(e.bucket[{s, 1}].Holds(le1 - le01));
  }
  // The native buckets (schema 0: 0.05 -> -4, 0.5 -> -1, 5 -> 3) hold the
  // same observations as the classic ones.
  if (native) {
    NativeSnapshot buckets = ReadNative(db);
    for (int s = 0; s < kSeries; ++s) {
      CAPTURE(s);
      CHECK(buckets.schema[s] == 0);
      for (int index : {-4, -1, 3}) {
        CAPTURE(index);
        CHECK(e.native[{s, index}].Holds(static_cast<double>(buckets.buckets[{s, index}])));
      }
    }
    CHECK(buckets.buckets.size() <= static_cast<size_t>(3 * kSeries));
  }
  // The ledgers prove real work happened.
  double total = 0;
  for (auto& [s, t] : e.ops) total += t.done;
  CHECK(total > 100);
}

}  // namespace

TEST_CASE("SIGKILLed immediate-mode writers lose no acknowledged update and corrupt nothing") {
  // 16 writers on two cores wait for each other past update_lock_wait_ms
  // at times: those updates are kept in their regions, so a killed
  // worker's are written by recovery, exactly once.
  Torture(WriteMode::kImmediate, test::LongTests() ? 32 : 16, test::LongTests() ? 30000 : 3000, true, true);
}

TEST_CASE("SIGKILLed batched writers with a native histogram lose nothing acknowledged, counted exactly once") {
  // The native histogram's observations are written at once, or kept in
  // the region's records when they wait past update_lock_wait_ms.
  Torture(WriteMode::kBatched, test::LongTests() ? 32 : 16, test::LongTests() ? 30000 : 3000, true, true);
}

TEST_CASE("SIGKILLed batched writers with pending updates in process memory lose at most their last interval") {
  Torture(WriteMode::kBatched, test::LongTests() ? 32 : 16, test::LongTests() ? 30000 : 3000, true, false,
          PendingStore::kProcessMemory);
}

TEST_CASE("SIGKILLed batched writers with shared regions lose nothing acknowledged, counted exactly once") {
  // Every series in regions: exact totals after recovery, also with
  // recoverers killed mid-way; scrapes never see a counter go back.
  Torture(WriteMode::kBatched, test::LongTests() ? 32 : 16, test::LongTests() ? 30000 : 3000, false, true);
}
