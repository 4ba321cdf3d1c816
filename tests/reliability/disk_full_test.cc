// A full disk (simulated with RLIMIT_FSIZE, which makes write() fail with
// EFBIG past a size, like ENOSPC): writes fail with a clear error, nothing
// crashes or corrupts, and once space returns writes succeed with all
// earlier data intact. Batched mode keeps its pending updates meanwhile.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <cstdlib>

#include "promsqlite/promsqlite.h"
#include "test_util.h"

using namespace promsqlite;

namespace {

int64_t Size(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? st.st_size : 0;
}

// Files may grow by at most `extra` bytes past their current size.
void LimitFileSize(const std::string& db, int64_t extra) {
  rlimit limit;
  getrlimit(RLIMIT_FSIZE, &limit);
  int64_t largest = std::max({Size(db), Size(db + "-wal"), Size(db + "-shm")});
  limit.rlim_cur = static_cast<rlim_t>(largest + extra);
  if (setrlimit(RLIMIT_FSIZE, &limit) != 0) throw std::runtime_error("setrlimit failed");
}

void Unlimit() {
  rlimit limit;
  getrlimit(RLIMIT_FSIZE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_FSIZE, &limit);
}

bool IsDiskFullMessage(const std::string& message, const std::string& db) {
  return message.rfind(db + ": ", 0) == 0 &&
         (message.find("database or disk is full") != std::string::npos ||
          message.find("disk I/O error") != std::string::npos);
}

void Check(bool condition, const std::string& what) {
  if (!condition) throw std::runtime_error(what);
}

}  // namespace

TEST_CASE("a full disk fails immediate writes clearly; after space returns, writes resume and data is intact") {
  test::TempDir dir;
  const std::string db = dir.File("m.db");
  int failed = test::RunInChildren(1, [&](int) {
    signal(SIGXFSZ, SIG_IGN);  // get EFBIG instead of being killed
    Registry registry(db);
    auto family = BuildCounter().Name("c").Help("C.").LabelNames({"id"}).Register(registry);
    family.WithLabelValues({"base"}).Increment(5);
    LimitFileSize(db, 64 * 1024);
    int acknowledged = 0;
    std::string error;
    for (int i = 0; i < 20000 && error.empty(); ++i) {
      try {
        family.WithLabelValues({std::to_string(i) + std::string(300, 'x')}).Increment();
        ++acknowledged;
      } catch (const DatabaseError& e) {
        error = e.what();
      }
    }
    Check(!error.empty(), "the size limit was never hit");
    Check(IsDiskFullMessage(error, db), "unclear error: " + error);
    // Further writes keep failing cleanly while the disk is full.
    for (int i = 0; i < 5; ++i) {
      try {
        family.WithLabelValues({"base"}).Increment();
        ++acknowledged;  // fits in space freed by a rollback: fine, it is acknowledged
      } catch (const DatabaseError& e) {
        Check(IsDiskFullMessage(e.what(), db), std::string("unclear error: ") + e.what());
      }
    }
    Unlimit();
    family.WithLabelValues({"after"}).Increment();
    Check(test::IntegrityCheck(db) == "ok", "integrity: " + test::IntegrityCheck(db));
    // Every acknowledged increment is there, exactly once.
    std::string text = Reader(db).Render(Format::kText);
    double total = 0;
    for (size_t at = text.find("\nc_total{"); at != std::string::npos; at = text.find("\nc_total{", at + 1))
      total += std::stod(text.substr(text.find("} ", at) + 2));
    Check(total == 5 + acknowledged + 1, "total " + std::to_string(total) + " != " + std::to_string(6 + acknowledged));
  });
  CHECK(failed == 0);
}

TEST_CASE("a full disk keeps batched updates pending; they are flushed once space returns") {
  test::TempDir dir;
  const std::string db = dir.File("m.db");
  int failed = test::RunInChildren(1, [&](int) {
    signal(SIGXFSZ, SIG_IGN);
    Options options;
    options.write_mode = WriteMode::kBatched;
    options.flush_interval_ms = 60000;
    // No checkpoints: a restarted WAL would give the flush room inside the
    // -wal's existing length (where a size limit does not bite), depending
    // on when the background checkpoint ran.
    options.checkpoint_wal_pages = 0;
    Registry registry(db, options);
    auto family = BuildCounter().Name("c").LabelNames({"id"}).Register(registry);
    std::vector<Counter> counters;
    for (int i = 0; i < 2000; ++i) counters.push_back(family.WithLabelValues({std::to_string(i) + std::string(200, 'y')}));
    // Each series updated once before the disk fills: its place in the
    // region (or in process memory) is made.
    for (Counter& c : counters) c.Increment();
    registry.Flush();
    LimitFileSize(db, 4096);
    for (int round = 0; round < 3; ++round)
      for (Counter& c : counters) c.Increment();
    bool flush_failed = false;
    try {
      registry.Flush();
    } catch (const DatabaseError& e) {
      flush_failed = true;
      Check(IsDiskFullMessage(e.what(), db), std::string("unclear error: ") + e.what());
    }
    Check(flush_failed, "the flush fit in 4 KiB");
    Check(counters[7].Value() == 4, "pending updates were dropped");
    Unlimit();
    registry.Flush();
    Check(test::IntegrityCheck(db) == "ok", "integrity");
    std::string text = Reader(db).Render(Format::kText);
    Check(text.find(" 1\n") == std::string::npos && text.find(" 7\n") == std::string::npos, "not exactly 4 each");
  });
  CHECK(failed == 0);
}

TEST_CASE("the CLI on a full disk exits 1 with one line, and the file stays sound") {
  test::TempDir dir;
  const std::string db = dir.File("m.db");
  const char* cli = std::getenv("PROMSQLITE_CLI");
  REQUIRE(cli != nullptr);
  REQUIRE(test::RunCommand({cli, "--db", db, "inc", "before", "--label", "k=v"}).exit_code == 0);
  const std::string before = Reader(db).Render(Format::kText);
  // 1 block of file size: any growth of the WAL fails.
  test::CommandResult full = test::RunCommand(
      {"/bin/sh", "-c", "ulimit -f 1; trap '' XFSZ; exec \"$0\" --db \"$1\" inc after --label k=v", cli, db});
  CHECK(full.exit_code == 1);
  CHECK(std::count(full.output.begin(), full.output.end(), '\n') == 1);
  CHECK(IsDiskFullMessage(full.output.substr(12), db));  // after "promsqlite: "
  CHECK(test::IntegrityCheck(db) == "ok");
  CHECK(Reader(db).Render(Format::kText) == before);
  CHECK(test::RunCommand({cli, "--db", db, "inc", "before", "--label", "k=v"}).exit_code == 0);
}
