// Readers of a file whose -wal and -shm a writer without
// SQLITE_FCNTL_PERSIST_WAL (Python's sqlite3) removed by closing it last,
// in a folder they may not write (docs/schema.md "Closing",
// docs/permissions.md): store::WalFreeRead and the Reader on top of it. The
// reader runs as another user in a forked child (root only, as CI runs;
// numeric ids without an /etc/passwd entry); the foreign writer is plain
// sqlite3 in the parent, each step of one handed to the other over pipes.
#include <doctest/doctest.h>
#include <grp.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <stdexcept>
#include <string>

#include "promsqlite/promsqlite.h"
#include "store/database.h"
#include "test_util.h"

namespace promsqlite {
namespace {

constexpr uid_t kReaderUser = 61005;  // may read the folder, not write it
const bool kNotRoot = geteuid() != 0;

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

// A writer in another language: plain sqlite3, no persistent WAL, closed at
// once unless `keep` (then the caller closes it).
sqlite3* ForeignWrite(const std::string& db, const std::string& sql, bool keep = false) {
  sqlite3* raw = nullptr;
  if (sqlite3_open(db.c_str(), &raw) != SQLITE_OK) throw std::runtime_error("open");
  sqlite3_busy_timeout(raw, 10000);
  char* error = nullptr;
  if (sqlite3_exec(raw, ("PRAGMA wal_autocheckpoint = 0; BEGIN IMMEDIATE; " + sql + "; COMMIT").c_str(), nullptr,
                   nullptr, &error) != SQLITE_OK) {
    std::string message = error ? error : "?";
    sqlite3_free(error);
    sqlite3_close(raw);
    throw std::runtime_error("foreign write: " + message);
  }
  if (keep) return raw;
  sqlite3_close(raw);
  return nullptr;
}

// A folder root owns (0755) holding a file the library wrote (jobs_total 5)
// and a foreign writer then closed last: no -wal, no -shm.
struct ClosedByForeignWriter {
  test::TempDir dir;
  std::string folder = dir.File("data");
  std::string db = folder + "/metrics.db";
  ClosedByForeignWriter() {
    chmod(dir.path().c_str(), 0755);
    mkdir(folder.c_str(), 0755);
    {
      Registry registry(db);
      BuildCounter().Name("jobs").Help("Jobs.").Register(registry).Add({}).Increment(4);
    }
    ForeignWrite(db, "UPDATE series SET value = value + 1");
    REQUIRE(!Exists(db + "-wal"));
    REQUIRE(!Exists(db + "-shm"));
  }
};

// Runs `reader` as kReaderUser in a child and `writer` in this process,
// alternating: reader step 0, writer step 0, reader step 1, ... Each side is
// called with the step's number and returns whether it has another step.
// Returns the child's exit code (0: every check in it held).
int Alternate(const std::function<bool(int)>& reader, const std::function<bool(int)>& writer) {
  int to_child[2], to_parent[2];
  if (pipe(to_child) != 0 || pipe(to_parent) != 0) throw std::runtime_error("pipe");
  pid_t pid = fork();
  if (pid == 0) {
    close(to_child[1]);
    close(to_parent[0]);
    int code = 0;
    try {
      if (setgroups(0, nullptr) != 0 || setgid(kReaderUser) != 0 || setuid(kReaderUser) != 0)
        throw std::runtime_error("cannot switch user");
      char go;
      for (int step = 0;; ++step) {
        const bool more = reader(step);
        if (write(to_parent[1], more ? "x" : "e", 1) != 1) throw std::runtime_error("pipe write");
        if (!more || read(to_child[0], &go, 1) != 1) break;
      }
    } catch (const std::exception& e) {
      std::fprintf(stderr, "reader: %s\n", e.what());
      code = 1;
    }
    _exit(code);
  }
  close(to_child[0]);
  close(to_parent[1]);
  char c;
  for (int step = 0; read(to_parent[0], &c, 1) == 1 && c == 'x'; ++step) {
    if (!writer(step) || write(to_child[1], "x", 1) != 1) break;
  }
  close(to_child[1]);  // a reader still waiting for a step ends
  close(to_parent[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return test::ExitCode(status);
}

void Require(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error(what);
}

double Jobs(const std::string& text) {
  const std::string key = "jobs_total ";
  size_t at = text.find("\n" + key);
  if (at == std::string::npos) throw std::runtime_error("no jobs_total in:\n" + text);
  return std::atof(text.c_str() + at + 1 + key.size());
}

}  // namespace

TEST_CASE("a reader reads a file whose -wal and -shm a writer closing last removed, and creates neither" *
          doctest::skip(kNotRoot)) {
  ClosedByForeignWriter file;
  // As root first (the folder is writable): valid, and nothing created.
  const std::string expected = Reader(file.db).Render(Format::kOpenMetrics);
  test::CommandResult valid = test::CheckExposition(expected, true);
  CHECK_MESSAGE(valid.exit_code == 0, valid.output);
  CHECK(!Exists(file.db + "-wal"));
  CHECK(!Exists(file.db + "-shm"));
  CHECK(Alternate(
            [&](int) {
              Reader reader(file.db);
              Require(Jobs(reader.Render(Format::kText)) == 5, "Render");
              Require(Jobs(reader.Render(Format::kText)) == 5, "a second Render on the same Reader");
              Require(reader.Snapshot().at(0).series.at(0).value == 5, "Snapshot");
              Require(reader.Families().at(0).series == 1, "Families");
              Require(reader.Stats().series == 1, "Stats");
              std::string streamed, chunk;
              auto rendering = reader.StartRender(Format::kOpenMetrics);
              while (rendering->Next(&chunk)) streamed += chunk;
              rendering.reset();
              Require(streamed == expected, "OpenMetrics, streamed: " + streamed);
              Require(!Exists(file.db + "-wal") && !Exists(file.db + "-shm"), "the reader created a -wal");
              return false;
            },
            [](int) { return false; }) == 0);
}

TEST_CASE("while such a reader reads, a writer closing last cannot remove the -wal it began" *
          doctest::skip(kNotRoot)) {
  ClosedByForeignWriter file;
  std::unique_ptr<detail::WalFreeRead> read;
  CHECK(Alternate(
            [&](int step) {
              if (step == 0) {
                read = detail::WalFreeRead::Open(file.db, 1000);
                Require(read != nullptr, "not read without the -wal");
                SQLite::Statement value(read->db(), "SELECT value FROM series");
                Require(value.executeStep() && value.getColumn(0).getDouble() == 5, "value before");
                return true;  // the writer now begins, writes and closes
              }
              // Its close found our shared lock: no checkpoint into the file, no deletion.
              Require(Exists(file.db + "-wal"), "the -wal was removed during the read");
              read->CheckUnchanged();  // the file is as it was: the read was one snapshot
              read.reset();
              Require(detail::WalFreeRead::Open(file.db, 1000) == nullptr, "the -wal is there: read it");
              Require(Jobs(Reader(file.db).Render(Format::kText)) == 6, "the new value, through the -wal");
              return false;
            },
            [&](int) {
              ForeignWrite(file.db, "UPDATE series SET value = value + 1");
              return true;
            }) == 0);
}

TEST_CASE("a read without the -wal that a checkpoint wrote into fails and asks to read again" *
          doctest::skip(kNotRoot)) {
  ClosedByForeignWriter file;
  std::unique_ptr<detail::WalFreeRead> read;
  sqlite3* writer = nullptr;
  CHECK(Alternate(
            [&](int step) {
              if (step == 0) {
                read = detail::WalFreeRead::Open(file.db, 1000);
                Require(read != nullptr, "not read without the -wal");
                return true;
              }
              try {
                read->CheckUnchanged();
                throw std::runtime_error("a checkpoint into the file went unnoticed");
              } catch (const DatabaseError& e) {
                Require(test::Contains(e.what(), file.db + ": cannot read: a writer checkpointed into the file "
                                                           "while it was read without its -wal"),
                        e.what());
                Require(test::Contains(e.what(), "read again"), e.what());
              }
              read.reset();
              Require(Jobs(Reader(file.db).Render(Format::kText)) == 6, "read again");
              return false;
            },
            [&](int step) {
              if (step == 0) {
                // Rows enough that the file grows when the checkpoint copies them.
                std::string sql = "UPDATE series SET value = value + 1";
                for (int i = 0; i < 200; ++i)
                  sql += "; INSERT INTO families (name, type, help, unit, label_names, buckets, states, created) "
                         "VALUES ('pad" + std::to_string(i) + "', 'gauge', '" + std::string(200, 'x') +
                         "', '', '', '', x'', 0)";
                writer = ForeignWrite(file.db, sql, /*keep=*/true);
                int log = -1, copied = -1;
                REQUIRE(sqlite3_wal_checkpoint_v2(writer, nullptr, SQLITE_CHECKPOINT_RESTART, &log, &copied) ==
                        SQLITE_OK);
                CHECK(copied > 0);
                return true;
              }
              return false;
            }) == 0);
  sqlite3_close(writer);
}

}  // namespace promsqlite
