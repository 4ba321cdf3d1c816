// How large the -wal file grows under sustained immediate writes from a
// few processes while a scraper renders the file back to back (a scrape
// holds a read snapshot, which is what keeps a checkpoint from finishing).
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>

#include "benchmarks.h"
#include "populate.h"
#include "promsqlite/promsqlite.h"

namespace bench {
namespace {

// Each writer process increments its own series of the populated family.
// A call that throws DatabaseError (the write lock was not had within
// busy_timeout_ms), opening the Registry or incrementing, is counted, as an
// application would log it and go on.
int Writer(const std::string& db, int index, double seconds, const std::string& out) {
  long long done = 0, failed = 0;
  double worst_us = 0;
  auto report = [&](const promsqlite::DatabaseError& e) {
    if (failed++ == 0) std::fprintf(stderr, "promsqlite-bench wal: writer %d: %s\n", index, e.what());
  };
  try {
    promsqlite::Options options;
    options.write_mode = promsqlite::WriteMode::kImmediate;  // a transaction per update, as the WAL figures assume
    promsqlite::Registry registry(db, options);
    auto family = promsqlite::BuildCounter().Name(kManyFamily).LabelNames(ManyLabelNames()).Register(registry);
    promsqlite::Counter counter = family.WithLabelValues(ManyLabelValues(index));
    for (double start = NowSeconds(); NowSeconds() - start < seconds;) {
      try {
        int64_t t0 = NowNanos();
        counter.Increment();
        worst_us = std::max(worst_us, static_cast<double>(NowNanos() - t0) / 1e3);
        ++done;
      } catch (const promsqlite::DatabaseError& e) {
        report(e);
      }
    }
  } catch (const promsqlite::DatabaseError& e) {
    report(e);  // could not even open the file and declare the family
  }
  FILE* f = std::fopen(out.c_str(), "w");
  if (!f) return 1;
  std::fprintf(f, "%lld %lld %lld\n", done, failed, static_cast<long long>(worst_us));
  return std::fclose(f) == 0 ? 0 : 1;
}

int Scraper(const std::string& db, double seconds, const std::string& out) {
  promsqlite::Reader reader(db);
  int64_t renders = 0;
  size_t bytes = 0;
  for (double start = NowSeconds(); NowSeconds() - start < seconds; ++renders)
    reader.Render(promsqlite::Format::kText, [&](std::string_view chunk) { bytes += chunk.size(); });
  FILE* f = std::fopen(out.c_str(), "w");
  if (!f) return 1;
  std::fprintf(f, "%lld %zu\n", static_cast<long long>(renders), bytes);
  return std::fclose(f) == 0 ? 0 : 1;
}

// The first `n` numbers of a child's result file.
std::vector<long long> ReadNumbers(const std::string& path, int n) {
  std::vector<long long> numbers(static_cast<size_t>(n));
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) throw std::runtime_error("cannot open " + path);
  bool complete = true;
  for (long long& x : numbers) complete = complete && std::fscanf(f, "%lld", &x) == 1;
  std::fclose(f);
  if (!complete) throw std::runtime_error("cannot read " + path);
  return numbers;
}

}  // namespace

int RunWal(const Flags& flags) {
  const std::string dir = flags.Get("dir", "/tmp");
  const double seconds = flags.Double("seconds", 10);
  const int writers = flags.Int("writers", 3);
  const int series = flags.Int("series", 10000);
  const std::string db = dir + "/wal.db", wal = db + "-wal";
  Populate(db, series);

  std::vector<pid_t> pids;
  pids.push_back(ForkChild([&] { return Scraper(db, seconds, db + ".scraper"); }));
  for (int w = 0; w < writers; ++w)
    pids.push_back(ForkChild([&] { return Writer(db, w, seconds, db + ".w" + std::to_string(w)); }));

  // Sample the WAL's size until every child is done (bounded: a stuck
  // child is killed and reported).
  int64_t max_bytes = 0, samples = 0;
  std::vector<bool> done(pids.size(), false);
  size_t remaining = pids.size();
  bool failed = false;
  for (double start = NowSeconds(); remaining > 0; ++samples) {
    struct stat st;
    if (stat(wal.c_str(), &st) == 0) max_bytes = std::max<int64_t>(max_bytes, st.st_size);
    for (size_t i = 0; i < pids.size(); ++i) {
      int status = 0;
      if (done[i] || waitpid(pids[i], &status, WNOHANG) != pids[i]) continue;
      done[i] = true;
      --remaining;
      failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    }
    if (remaining > 0 && NowSeconds() - start > seconds + 60) {
      for (size_t i = 0; i < pids.size(); ++i) {
        if (!done[i]) kill(pids[i], SIGKILL), waitpid(pids[i], nullptr, 0);
      }
      throw std::runtime_error("wal: a child did not finish in time");
    }
    usleep(2000);
  }
  if (failed) throw std::runtime_error("wal: a child failed");

  long long increments = 0, failures = 0, worst_us = 0;
  std::string per_writer;
  for (int w = 0; w < writers; ++w) {
    std::vector<long long> counts = ReadNumbers(db + ".w" + std::to_string(w), 3);
    increments += counts[0];
    failures += counts[1];
    worst_us = std::max(worst_us, counts[2]);
    per_writer += " " + std::to_string(counts[0]);
  }
  std::vector<long long> scrapes = ReadNumbers(db + ".scraper", 1);
  Note("wal: " + std::to_string(writers) + " writer processes made " + std::to_string(increments) +
       " increments (each:" + per_writer + ") in " + flags.Get("seconds", "10") + " s while a scraper rendered " +
       std::to_string(series) + " series " + std::to_string(scrapes[0]) + " times; WAL sampled " +
       std::to_string(samples) + " times");
  Report("wal_max_mib", static_cast<double>(max_bytes) / (1024 * 1024));
  // What keeping the WAL small costs the writers meanwhile.
  Report("wal_writers_inc_per_s", static_cast<double>(increments) / seconds);
  // The slowest single increment: checkpoints and renders included.
  Report("wal_writers_max_us", static_cast<double>(worst_us));
  // Not lost updates (the caller was told), but writes that did not happen.
  Report("wal_failed_writes", static_cast<double>(failures));
  return 0;
}

}  // namespace bench
