// Files that are not ours, newer, missing or broken get a clear error; the
// WAL stays bounded under sustained writes.
#include <SQLiteCpp/Database.h>
#include <doctest/doctest.h>
#include <sqlite3.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "promsqlite/promsqlite.h"
#include "store/database.h"
#include "test_util.h"

using namespace promsqlite;

namespace {

std::string ErrorOpening(const std::string& path, Options options = Options()) {
  try {
    Registry registry(path, options);
  } catch (const DatabaseError& e) {
    return e.what();
  }
  return "no error";
}

std::string ErrorReading(const std::string& path) {
  try {
    Reader(path).Render(Format::kText);
  } catch (const DatabaseError& e) {
    return e.what();
  }
  return "no error";
}

// The value of `sql` (a PRAGMA) on the file at `path`, read-only.
std::string Pragma(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr);
  sqlite3_step(stmt);
  std::string value = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return value;
}

}  // namespace

TEST_CASE("a file written by a newer schema is refused by writers and readers") {
  test::TempDir dir;
  const std::string path = dir.File("m.db");
  { Registry registry(path); }
  test::ExecSql(path, "PRAGMA user_version = 99");
  std::string expected = path + ": written by a newer promsqlite (schema version 99; this build reads up to " + std::to_string(SchemaVersion()) + ")";
  CHECK(ErrorOpening(path) == expected);
  CHECK(ErrorReading(path) == expected);
}

TEST_CASE("a version 4 file is read as it is and migrated by a writer, its data intact; then bucket rows go by the "
          "trigger") {
  test::TempDir dir;
  const std::string path = dir.File("v4.db");
  // The version 4 layout of docs/schema.md, as another program wrote it: a
  // histogram with two series and their bucket rows, a counter with an
  // exemplar, and a bucket row whose series is gone.
  test::ExecSql(path,
                "PRAGMA journal_mode = WAL;"
                "CREATE TABLE families (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE,"
                " type TEXT NOT NULL, help TEXT NOT NULL, unit TEXT NOT NULL, label_names TEXT NOT NULL,"
                " buckets TEXT NOT NULL, states BLOB NOT NULL, created REAL NOT NULL,"
                " gauge_mode TEXT NOT NULL DEFAULT '', ttl_seconds REAL NOT NULL DEFAULT 0,"
                " native_schema INTEGER, native_zero_threshold REAL NOT NULL DEFAULT 0,"
                " native_max_buckets INTEGER NOT NULL DEFAULT 0);"
                "CREATE TABLE series (id INTEGER PRIMARY KEY AUTOINCREMENT, family_id INTEGER NOT NULL,"
                " labels BLOB NOT NULL, writer_id INTEGER NOT NULL DEFAULT 0, value REAL,"
                " count INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL, updated REAL NOT NULL,"
                " native_schema INTEGER, UNIQUE (family_id, labels, writer_id));"
                "CREATE TABLE writers (id INTEGER PRIMARY KEY AUTOINCREMENT, pid INTEGER NOT NULL,"
                " start_time INTEGER NOT NULL, boot_id TEXT NOT NULL, created REAL NOT NULL,"
                " UNIQUE (pid, start_time, boot_id));"
                "CREATE TABLE bucket_counts (series_id INTEGER NOT NULL, bucket INTEGER NOT NULL,"
                " count INTEGER NOT NULL, PRIMARY KEY (series_id, bucket)) WITHOUT ROWID;"
                "CREATE TABLE native_buckets (series_id INTEGER NOT NULL, sign INTEGER NOT NULL,"
                " bucket INTEGER NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (series_id, sign, bucket))"
                " WITHOUT ROWID;"
                "CREATE TRIGGER series_deletes_native_buckets AFTER DELETE ON series BEGIN"
                " DELETE FROM native_buckets WHERE series_id = old.id; END;"
                "CREATE TABLE exemplars (series_id INTEGER NOT NULL, bucket INTEGER NOT NULL,"
                " labels BLOB NOT NULL, value REAL NOT NULL, timestamp REAL NOT NULL,"
                " PRIMARY KEY (series_id, bucket)) WITHOUT ROWID;"
                "CREATE TRIGGER series_deletes_exemplars AFTER DELETE ON series BEGIN"
                " DELETE FROM exemplars WHERE series_id = old.id; END;"
                "INSERT INTO families VALUES (1, 'lat', 'histogram', 'Latency.', '', 'path', '1,2', x'', 1700000000,"
                " '', 0, NULL, 0, 0);"
                "INSERT INTO families VALUES (2, 'jobs', 'counter', 'Jobs.', '', '', '', x'', 1700000000,"
                " '', 0, NULL, 0, 0);"
                "INSERT INTO series VALUES (1, 1, x'610001', 0, 3.5, 3, 1700000000, 1700000000, NULL);"  // path="a"
                "INSERT INTO series VALUES (2, 1, x'620001', 0, 7, 1, 1700000000, 1700000000, NULL);"    // path="b"
                "INSERT INTO series VALUES (3, 2, x'', 0, 5, 0, 1700000000, 1700000000, NULL);"
                "INSERT INTO bucket_counts VALUES (1, 0, 1), (1, 1, 1), (2, 1, 1), (99, 0, 4);"
                // exemplar {trace="t1"} 2 at 1700000001: the tuple (trace, t1)
                "INSERT INTO exemplars VALUES (3, 0, x'7472616365000174310001', 2, 1700000001);"
                "PRAGMA application_id = 1349676371; PRAGMA user_version = 4;");
  const std::string text = Reader(path).Render(Format::kText);
  const std::string openmetrics = Reader(path).Render(Format::kOpenMetrics);
  CHECK(test::Contains(text, "lat_bucket{path=\"a\",le=\"1\"} 1\nlat_bucket{path=\"a\",le=\"2\"} 2\n"
                             "lat_bucket{path=\"a\",le=\"+Inf\"} 3\n"));
  CHECK(test::Contains(text, "lat_bucket{path=\"b\",le=\"1\"} 0\nlat_bucket{path=\"b\",le=\"2\"} 1\n"));
  CHECK(test::Contains(openmetrics, "jobs_total 5 # {trace=\"t1\"} 2 1700000001\n"));
  CHECK(Pragma(path, "PRAGMA user_version") == "4");  // readers change nothing

  { Registry registry(path); }  // a writer migrates the file when it opens it
  CHECK(Pragma(path, "PRAGMA user_version") == std::to_string(SchemaVersion()));  // 5: the trigger
  CHECK(Pragma(path, "SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' AND "
                     "name = 'series_deletes_bucket_counts'") == "1");
  CHECK(Pragma(path, "SELECT count(*) FROM bucket_counts WHERE series_id = 99") == "0");  // the orphan went
  CHECK(Pragma(path, "SELECT count(*) FROM bucket_counts") == "3");
  CHECK(Reader(path).Render(Format::kText) == text);
  CHECK(Reader(path).Render(Format::kOpenMetrics) == openmetrics);
  CHECK(test::IntegrityCheck(path) == "ok");

  // From now on a series' bucket rows go with it, by the trigger.
  Registry registry(path);
  CHECK(registry.RemoveSeries("lat", {{"path", "a"}}));
  CHECK(Pragma(path, "SELECT count(*) FROM bucket_counts") == "1");
  test::ExecSql(path, "DELETE FROM series WHERE id = 2");  // as another program would
  CHECK(Pragma(path, "SELECT count(*) FROM bucket_counts") == "0");
  CHECK(Pragma(path, "SELECT count(*) FROM exemplars") == "1");  // the counter's stays
}

TEST_CASE("an SQLite file of another application is refused") {
  test::TempDir dir;
  const std::string path = dir.File("other.db");
  test::ExecSql(path, "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)");
  std::string expected = path + ": not a promsqlite database (an SQLite file of another application)";
  CHECK(ErrorOpening(path) == expected);
  CHECK(ErrorReading(path) == expected);
}

TEST_CASE("text, random bytes, a directory or a missing folder give a clear error") {
  test::TempDir dir;
  test::WriteFile(dir.File("text.db"), "hello, I am a text file\n" + std::string(5000, 'x'));
  const std::string foreign = ": file is not a database (another program's file?): choose another path, or move "
                              "it away";
  CHECK(ErrorOpening(dir.File("text.db")) == dir.File("text.db") + foreign);
  CHECK(ErrorReading(dir.File("text.db")) == dir.File("text.db") + foreign);
  mkdir(dir.File("folder.db").c_str(), 0700);
  const std::string folder = dir.File("folder.db") + ": is a directory, not a promsqlite database: give the path of a "
                             "file in it, e.g. " + dir.File("folder.db") + "/metrics.db";
  CHECK(ErrorOpening(dir.File("folder.db")) == folder);
  CHECK(ErrorReading(dir.File("folder.db")) == folder);
  Options no_create;
  no_create.create_if_missing = false;
  CHECK(ErrorOpening(dir.File("absent.db"), no_create) == dir.File("absent.db") + ": no such file (and create_if_missing is false)");
}

TEST_CASE("a path that cannot hold the file says why in one line, names the folder and what to do") {
  test::TempDir dir;
  const std::string recipe = "; for writers that run as different users, make it a setgid folder of their group "
                             "(docs/permissions.md)";
  SUBCASE("a folder that does not exist") {
    std::string path = dir.File("no/such/m.db");
    std::string expected = path + ": folder " + dir.File("no/such") + " does not exist: create it (mkdir -p " +
                           dir.File("no/such") + ")" + recipe;
    CHECK(ErrorOpening(path) == expected);
    Options with_mode;  // creating with a mode used to leak an internal temporary name
    with_mode.file_mode = 0660;
    CHECK(ErrorOpening(path, with_mode) == expected);
    CHECK_NOTHROW(Reader(path).CheckPath());  // a reader shows nothing until the folder and file exist
    CHECK(ErrorReading(path) == "no error");
  }
  SUBCASE("a file where a folder should be") {
    test::WriteFile(dir.File("plain"), "x");
    std::string path = dir.File("plain/m.db");
    std::string expected = path + ": " + dir.File("plain") + " is a file, not a folder: choose a path in a folder";
    CHECK(ErrorOpening(path) == expected);
    CHECK_THROWS_WITH_AS(Reader(path).CheckPath(), expected.c_str(), DatabaseError);
  }
  SUBCASE("a directory, for a reader at startup") {
    CHECK_THROWS_WITH_AS(Reader(dir.path()).CheckPath(), doctest::Contains("is a directory, not a promsqlite database"),
                         DatabaseError);
  }
  SUBCASE("a device") {
    CHECK(ErrorOpening("/dev/null") ==
          "/dev/null: is not a regular file (a device, pipe or socket), not a promsqlite database: choose a file's path");
  }
  SUBCASE("a name or a path too long") {
    std::string name(300, 'n');
    std::string error = ErrorOpening(dir.File(name + "/m.db"));
    CHECK(error.find("is 300 bytes long; a file or folder name may have at most 255: choose a shorter one") !=
          std::string::npos);
    CHECK(error.size() < 400);  // one readable line, the path shortened
    std::string deep = dir.path();
    while (deep.size() < 5000) deep += "/" + std::string(200, 'd');
    error = ErrorOpening(deep + "/m.db");
    CHECK(error.find("bytes long; at most 4095 are allowed: choose a shorter one") != std::string::npos);
    CHECK(error.size() < 300);
  }
  SUBCASE("a missing file in an existing folder is fine") {
    CHECK_NOTHROW(Reader(dir.File("later.db")).CheckPath());
    CHECK(ErrorOpening(dir.File("later.db")) == "no error");
  }
}

TEST_CASE("a folder on a read-only file system is named as such") {
  test::TempDir dir;
  const std::string mount_point = dir.File("ro");
  mkdir(mount_point.c_str(), 0755);
  // Needs CAP_SYS_ADMIN (root on this project's machines and CI).
  if (std::system(("mount -t tmpfs -o ro tmpfs " + mount_point + " 2>/dev/null").c_str()) != 0) {
    MESSAGE("cannot mount a read-only tmpfs here; checking the message of an existing file's folder instead");
    CHECK(detail::PathProblem(mount_point + "/m.db", true, true) == "");  // writable: nothing to report
    return;
  }
  std::string path = mount_point + "/m.db";
  std::string error = ErrorOpening(path);
  std::system(("umount " + mount_point).c_str());
  CHECK(error == path + ": cannot create it: folder " + mount_point +
                     " is on a read-only file system: choose a path on a writable one (e.g. under /var/lib)");
}

TEST_CASE("the file is in WAL mode and marked as promsqlite's") {
  test::TempDir dir;
  const std::string path = dir.File("m.db");
  Options options;
  options.synchronous = Synchronous::kFull;
  { Registry registry(path, options); }
  CHECK(Pragma(path, "PRAGMA journal_mode") == "wal");
  CHECK(Pragma(path, "PRAGMA application_id") == std::to_string(0x50726d53));
  CHECK(Pragma(path, "PRAGMA user_version") == std::to_string(SchemaVersion()));
  CHECK(std::string(SqliteVersion()) == sqlite3_libversion());
  CHECK(std::string(Version()) == PROMSQLITE_TEST_VERSION);
}

TEST_CASE("a new file takes Options::page_size; an existing file keeps its own") {
  test::TempDir dir;
  auto page_size = [](const std::string& path) { return std::stoi(Pragma(path, "PRAGMA page_size")); };
  const std::string small = dir.File("small.db"), large = dir.File("large.db");
  { Registry registry(small); }
  CHECK(page_size(small) == 1024);  // the default
  Options options;
  options.page_size = 8192;
  {
    Registry registry(large, options);
    BuildCounter().Name("c").Register(registry).WithLabelValues({}).Increment();
  }
  CHECK(page_size(large) == 8192);
  options.page_size = 512;
  {
    Registry registry(large, options);
    auto counter = BuildCounter().Name("c").Register(registry).WithLabelValues({});
    counter.Increment();
    CHECK(counter.Value() == 2);
  }
  CHECK(page_size(large) == 8192);
  CHECK(Reader(large).Render(Format::kText).find("c_total 2\n") != std::string::npos);

  for (int bad : {0, 511, 1000, 131072, -1024}) {
    const std::string path = dir.File("bad.db");
    options.page_size = bad;
    try {
      Registry registry(path, options);
      FAIL("no error for page_size " << bad);
    } catch (const InvalidArgument& e) {
      CHECK(std::string(e.what()) ==
            path + ": page_size " + std::to_string(bad) + " must be a power of two from 512 to 65536");
    }
    struct stat st;
    CHECK(stat(path.c_str(), &st) != 0);  // nothing created
  }
}

TEST_CASE("checkpoints keep the WAL bounded under sustained writes") {
  test::TempDir dir;
  const std::string path = dir.File("m.db");
  Options options;
  options.checkpoint_wal_pages = 20;
  Registry registry(path, options);
  auto family = BuildCounter().Name("c").LabelNames({"i"}).Register(registry);
  for (int i = 0; i < 3000; ++i) family.WithLabelValues({std::to_string(i % 100)}).Increment();
  struct stat st;
  REQUIRE(stat((path + "-wal").c_str(), &st) == 0);
  // Checkpoints run in the background; a writer that gets 8 times the
  // threshold ahead of them waits (3000 commits would be 3000 pages).
  CHECK(st.st_size < 200 * 4096);
  CHECK(family.WithLabelValues({"7"}).Value() == 30);
}

namespace {

int64_t FileSize(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : -1;
}

// `n` increments, each its own transaction (immediate mode): a WAL frame each.
// `n` increments, a transaction each (immediate mode, whatever `options`
// say): as many commits as increments.
void IncrementTimes(const std::string& path, int n, Options options = Options()) {
  options.write_mode = WriteMode::kImmediate;
  Registry registry(path, options);
  Counter jobs = BuildCounter().Name("jobs").Help("Jobs.").Register(registry).WithLabelValues({});
  for (int i = 0; i < n; ++i) jobs.Increment();
}

// A forked process with the file open (a writer's connection, as a
// long-lived application has), until killed.
pid_t HoldOpen(const std::string& path) {
  return test::StartPausedChild([&] {
    auto* registry = new Registry(path);  // left open: the process is killed
    BuildCounter().Name("held").Register(*registry).WithLabelValues({}).Increment();
  });
}

}  // namespace

TEST_CASE("a writer that closes the file as its last user leaves a short WAL as it is and empties one of 256 pages") {
  test::TempDir dir;
  const std::string path = dir.File("m.db");
  // No checkpoint at close (SQLite's, on the last connection, syncs the WAL
  // and the file every time): the next process reads the short WAL.
  IncrementTimes(path, 100);
  CHECK(FileSize(path + "-wal") > 100 * 1024);
  // From 256 pages the last one out checkpoints and cuts the WAL to nothing.
  IncrementTimes(path, 200);
  CHECK(FileSize(path + "-wal") == 0);
  CHECK(Reader(path).Render(Format::kText).find("jobs_total 300\n") != std::string::npos);
  CHECK(test::IntegrityCheck(path) == "ok");
  // While another process has the file open, the WAL it keeps indexed is
  // left to the threshold of Options::checkpoint_wal_pages.
  {
    test::KilledAtScopeEnd holder{HoldOpen(path)};
    IncrementTimes(path, 300);
    CHECK(FileSize(path + "-wal") > 300 * 1024);
  }
  CHECK(Reader(path).Render(Format::kText).find("jobs_total 600\n") != std::string::npos);
}

TEST_CASE("a checkpoint that a commit asked for runs before the registry is gone, also when it was not started") {
  test::TempDir dir;
  const std::string path = dir.File("m.db");
  IncrementTimes(path, 300);  // the last one out empties the WAL
  REQUIRE(FileSize(path + "-wal") == 0);
  test::KilledAtScopeEnd holder{HoldOpen(path)};  // no checkpoint at the close below
  const int64_t frames = (FileSize(path + "-wal") - 32) / (1024 + 24);
  REQUIRE(frames > 0);
  // Only the last of 20 commits finds the WAL at the threshold; the
  // registry is destroyed right after it, likely before the checkpointer's
  // thread took the request.
  Options options;
  options.checkpoint_wal_pages = static_cast<int>(frames) + 20;
  IncrementTimes(path, 20, options);
  // The database file alone, without its WAL, holds all 320.
  const std::string copy = dir.File("copy.db");
  test::WriteFile(copy, test::ReadFile(path));
  Registry registry(copy);
  CHECK(BuildCounter().Name("jobs").Help("Jobs.").Register(registry).WithLabelValues({}).Value() == 320);
}

namespace {

// A forked process holding a write lock on byte `byte` of the -shm file as
// SQLite does (byte 121: a checkpoint in progress; 120: a write
// transaction), until killed.
pid_t HoldShmByte(const std::string& path, long byte) {
  return test::StartPausedChild([&] {
    int fd = open((path + "-shm").c_str(), O_RDWR);
    struct flock lock = {};
    lock.l_type = F_WRLCK;
    lock.l_whence = SEEK_SET;
    lock.l_start = byte;
    lock.l_len = 1;
    if (fd < 0 || fcntl(fd, F_SETLK, &lock) != 0) throw std::runtime_error("cannot lock the -shm byte");
  });
}

}  // namespace

TEST_CASE("a read waits for another process's checkpoint to end before it takes its snapshot, within a bound") {
  test::TempDir dir;
  const std::string path = dir.File("m.db");
  // Open throughout, as writers are while one of them checkpoints.
  Registry registry(path);
  BuildCounter().Name("jobs").Help("Jobs.").Register(registry).WithLabelValues({}).Increment();
  CHECK_FALSE(detail::CheckpointInProgress(path));
  {
    test::KilledAtScopeEnd writer{HoldShmByte(path, 120)};  // SQLite's write lock: not a checkpoint
    CHECK_FALSE(detail::CheckpointInProgress(path));
  }
  {
    test::KilledAtScopeEnd checkpointer{HoldShmByte(path, 121)};
    CHECK(detail::CheckpointInProgress(path));
    ReaderOptions options;
    options.checkpoint_wait_ms = 50;
    Reader reader(path, options);
    const auto start = std::chrono::steady_clock::now();
    const std::string text = reader.Render(Format::kText);
    // A checkpoint that does not end delays the read by the bound, no more.
    CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(50));
    CHECK(text.find("jobs_total 1\n") != std::string::npos);
    options.checkpoint_wait_ms = 0;  // never waits
    CHECK(Reader(path, options).Render(Format::kText).find("jobs_total 1\n") != std::string::npos);
  }
  CHECK_FALSE(detail::CheckpointInProgress(path));
  CHECK(Reader(path).Render(Format::kText).find("jobs_total 1\n") != std::string::npos);
  // The read goes on as soon as the checkpoint ends, not at the bound.
  ReaderOptions patient;
  patient.checkpoint_wait_ms = 60000;
  pid_t holder = HoldShmByte(path, 121);
  std::thread ends([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    test::KillAndReap(holder);
  });
  const auto start = std::chrono::steady_clock::now();
  const std::string text = Reader(path, patient).Render(Format::kText);
  const auto waited = std::chrono::steady_clock::now() - start;
  ends.join();
  CHECK(waited >= std::chrono::milliseconds(100));
  CHECK(waited < std::chrono::seconds(30));
  CHECK(text.find("jobs_total 1\n") != std::string::npos);
}

namespace {

// How many descriptors this process has open.
int OpenDescriptors() {
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    (void)entry;
    ++count;
  }
  return count;
}

}  // namespace

TEST_CASE("a reader's checkpoint probe asks through SQLite's own -shm descriptor, and sees only the checkpoint lock") {
  test::TempDir dir;
  const std::string path = dir.File("m.db");
  Registry registry(path);
  BuildCounter().Name("jobs").Help("Jobs.").Register(registry).WithLabelValues({}).Increment();
  // A connection that has read the file holds the -shm file open.
  std::unique_ptr<SQLite::Database> db = detail::OpenDatabase(path, false, false, 1000);
  CHECK(db->execAndGet("SELECT count(*) FROM sqlite_master").getInt() > 0);
  detail::CheckpointProbe probe;
  const int before = OpenDescriptors();
  CHECK_FALSE(probe.InProgress(path));
  CHECK(probe.through_descriptor());
  {
    test::KilledAtScopeEnd writer{HoldShmByte(path, 120)};  // SQLite's write lock: not a checkpoint
    CHECK_FALSE(probe.InProgress(path));
  }
  {
    test::KilledAtScopeEnd checkpointer{HoldShmByte(path, 121)};
    CHECK(probe.InProgress(path));
    CHECK(probe.through_descriptor());
    CHECK(probe.InProgress(path));  // the descriptor found the first time, asked again
  }
  CHECK_FALSE(probe.InProgress(path));
  // It opened nothing of its own (closing one would drop this process's
  // SQLite locks on the -shm file), and the registry's writes go on.
  CHECK(OpenDescriptors() == before);
  BuildCounter().Name("jobs").Help("Jobs.").Register(registry).WithLabelValues({}).Increment();
  CHECK(Reader(path).Render(Format::kText).find("jobs_total 2\n") != std::string::npos);
}

namespace {

// The POSIX locks this process holds on `path` (lines of /proc/locks).
int LocksHeldOn(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return -1;
  std::ifstream in("/proc/locks");
  const std::string inode = ":" + std::to_string(st.st_ino) + " ", pid = " " + std::to_string(getpid()) + " ";
  int held = 0;
  for (std::string line; std::getline(in, line);)
    if (line.find(inode) != std::string::npos && line.find(pid) != std::string::npos && line.find("->") == std::string::npos)
      ++held;
  return held;
}

}  // namespace

TEST_CASE("opening another connection keeps the locks this process's open connections hold on the file") {
  test::TempDir dir;
  const std::string path = dir.File("m.db");
  Options immediate;
  immediate.write_mode = WriteMode::kImmediate;
  { Registry registry(path, immediate); BuildCounter().Name("c").Register(registry).WithLabelValues({}).Increment(); }
  // The last writer's close left an empty -wal: an open looks at the file's
  // header to tell a truncated file, which must not cost a lock of ours.
  Reader reader(path);
  auto rendering = reader.StartRender(Format::kText);  // a read transaction, holding SQLite's lock on the file
  const int held = LocksHeldOn(path);
  REQUIRE(held >= 1);
  {
    Registry another(path, immediate);
    BuildCounter().Name("c").Register(another).WithLabelValues({}).Increment();
    CHECK(LocksHeldOn(path) >= held);
  }
  CHECK(LocksHeldOn(path) == held);
  std::string text, chunk;
  while (rendering->Next(&chunk)) text += chunk;
  CHECK(text.find("c_total 1\n") != std::string::npos);  // the snapshot the lock protected
}
