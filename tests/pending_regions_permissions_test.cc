// Pending regions (docs/pending-regions.md) of a file several users share
// (docs/permissions.md): a 0660 file in a setgid folder of the writers'
// group, batched writers running as different users of the group. Each
// user's region must be readable by the others and by the server's user
// (read-through), each batched writer makes its own region in the shared
// folder, and any member recovers the region of another member's dead
// writer. Switching users needs root (CI runs as root): skipped otherwise.
// The users are numeric ids without /etc/passwd entries, as in
// permissions_test.cc.
#include <doctest/doctest.h>
#include <grp.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "promsqlite/promsqlite.h"
#include "test_util.h"

namespace promsqlite {
namespace {

constexpr gid_t kWriters = 61000;     // the group shared by the writers and the server
constexpr uid_t kMember = 61001;      // a writer in the group
constexpr uid_t kMember2 = 61004;     // another writer in the group
constexpr uid_t kServerUser = 61003;  // the server's own user, in the group

const bool kNotRoot = geteuid() != 0;

struct stat StatOf(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) throw std::runtime_error("cannot stat " + path);
  return st;
}
unsigned ModeOf(const std::string& path) { return StatOf(path).st_mode & 07777; }

// Becomes user `uid` (group `uid`, plus `groups`) with umask 022, in this
// (forked) process.
void BecomeUser(uid_t uid, const std::vector<gid_t>& groups) {
  if (setgroups(groups.size(), groups.data()) != 0 || setgid(uid) != 0 || setuid(uid) != 0)
    throw std::runtime_error("cannot switch to uid " + std::to_string(uid));
  umask(022);
}

// Runs `body` as user `uid` in a forked process and returns what it
// returned, or "failed: ..." with the exception it threw.
std::string OutputAs(uid_t uid, const std::vector<gid_t>& groups, const std::function<std::string()>& body) {
  int out[2];
  if (pipe(out) != 0) throw std::runtime_error("pipe failed");
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    close(out[0]);
    std::string result;
    try {
      BecomeUser(uid, groups);
      result = body();
    } catch (const std::exception& e) {
      result = std::string("failed: ") + e.what();
    }
    size_t written = 0;
    while (written < result.size()) {
      ssize_t n = write(out[1], result.data() + written, result.size() - written);
      if (n <= 0) _exit(1);
      written += static_cast<size_t>(n);
    }
    _exit(0);
  }
  close(out[1]);
  std::string result;
  char buffer[4096];
  for (ssize_t n; (n = read(out[0], buffer, sizeof buffer)) > 0;) result.append(buffer, static_cast<size_t>(n));
  close(out[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (test::ExitCode(status) != 0) result += " (exit " + std::to_string(test::ExitCode(status)) + ")";
  return result;
}

Options Batched() {
  Options options;
  options.write_mode = WriteMode::kBatched;
  options.flush_interval_ms = 3600 * 1000;  // nothing flushed during the test
  options.housekeeping_interval_ms = 0;
  std::string* problems = new std::string;  // leaked: the writer's process ends with _exit or a kill
  options.on_background_error = [problems](const std::string& line) { *problems += line + "\n"; };
  return options;
}

// A batched writer running as `uid`: adds `amount` to jobs_total{by=BY}
// (and observes `amount` in job_seconds) and stays alive, its updates
// pending in its region, until killed.
pid_t StartPendingWriter(const std::string& db, uid_t uid, const std::string& by, double amount) {
  return test::StartPausedChild([&] {
    BecomeUser(uid, {kWriters});
    // Left alive until the process is killed: its region with it.
    auto* registry = new Registry(db, Batched());
    BuildCounter().Name("jobs").Help("Jobs.").LabelNames({"by"}).Register(*registry).WithLabelValues({by})
        .Increment(amount);
    BuildHistogram().Name("job_seconds").Help("Seconds.").LabelNames({"by"}).Buckets({1}).Register(*registry)
        .WithLabelValues({by}).Observe(amount);
  });
}

// The region files beside `db`.
std::vector<std::string> Regions(const std::string& db) {
  std::vector<std::string> paths;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(db + "-pending", error))
    if (entry.path().extension() == ".region") paths.push_back(entry.path().string());
  std::sort(paths.begin(), paths.end());
  return paths;
}

// The region of the process `pid` (its name starts "w-PID-").
std::string RegionOf(const std::string& db, pid_t pid) {
  for (const std::string& path : Regions(db))
    if (std::filesystem::path(path).filename().string().rfind("w-" + std::to_string(pid) + "-", 0) == 0) return path;
  return "";
}

// jobs_total and job_seconds_count of `by` in an exposition, as "JOBS COUNT";
// "-" for a missing sample.
std::string JobsOf(const std::string& text, const std::string& by) {
  auto sample = [&](const std::string& series) -> std::string {
    size_t at = text.find("\n" + series + " ");
    if (at == std::string::npos) return "-";
    at += series.size() + 2;
    return text.substr(at, text.find('\n', at) - at);
  };
  return sample("jobs_total{by=\"" + by + "\"}") + " " + sample("job_seconds_count{by=\"" + by + "\"}");
}

// The value and count of the row of jobs{by="a"} and job_seconds{by="a"}
// (the tuple encoding of ("a") is 61 00 01), without any region: "JOBS COUNT".
std::string RowsOfA(const std::string& db) {
  sqlite3* file = nullptr;
  std::string out;
  if (sqlite3_open_v2(db.c_str(), &file, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* query = nullptr;
    const char* sql =
        "SELECT (SELECT value FROM series JOIN families f ON f.id = family_id WHERE f.name = 'jobs' AND labels = x'610001'), "
        "(SELECT count FROM series JOIN families f ON f.id = family_id WHERE f.name = 'job_seconds' AND labels = x'610001')";
    if (sqlite3_prepare_v2(file, sql, -1, &query, nullptr) == SQLITE_OK && sqlite3_step(query) == SQLITE_ROW)
      out = std::to_string(sqlite3_column_int64(query, 0)) + " " + std::to_string(sqlite3_column_int64(query, 1));
    sqlite3_finalize(query);
  }
  sqlite3_close(file);
  return out;
}

// What the recipe of docs/permissions.md sets up: a folder owned by root
// and the writers' group, setgid, with a 0660 file root created in it.
struct SharedFile {
  test::TempDir dir;
  std::string folder = dir.File("shared");
  std::string db = folder + "/metrics.db";
  SharedFile() {
    chmod(dir.path().c_str(), 0755);  // mkdtemp makes it 0700
    std::filesystem::create_directory(folder);
    if (chown(folder.c_str(), 0, kWriters) != 0) throw std::runtime_error("chown " + folder);
    chmod(folder.c_str(), 02775);
    Options options;
    options.file_mode = 0660;
    Registry registry(db, options);
    BuildCounter().Name("jobs").Help("Jobs.").LabelNames({"by"}).Register(registry);
  }
};

std::string Octal(unsigned mode) {
  char text[16];
  std::snprintf(text, sizeof text, "%04o", mode);
  return text;
}

}  // namespace

TEST_CASE("pending regions of a 0660 file: each member's batched writer makes its own 0660 region in the folder" *
          doctest::skip(kNotRoot)) {
  SharedFile shared;
  pid_t a = StartPendingWriter(shared.db, kMember, "a", 2);
  test::KilledAtScopeEnd kill_a{a};
  // The folder is made by the first batched writer (a member): the group
  // may list it and make regions in it, as in the database's folder.
  const std::string folder = shared.db + "-pending";
  CHECK(Octal(ModeOf(folder) & 0777) == "0770");
  CHECK(StatOf(folder).st_gid == kWriters);
  pid_t b = StartPendingWriter(shared.db, kMember2, "b", 3);
  test::KilledAtScopeEnd kill_b{b};
  const std::string region_a = RegionOf(shared.db, a), region_b = RegionOf(shared.db, b);
  REQUIRE(region_a != "");
  REQUIRE(region_b != "");
  CHECK(Regions(shared.db).size() == 2);
  CHECK(StatOf(region_a).st_uid == kMember);
  CHECK(StatOf(region_b).st_uid == kMember2);
  CHECK(Octal(ModeOf(region_a)) == "0660");  // the database's mode
  CHECK(Octal(ModeOf(region_b)) == "0660");
  CHECK(RowsOfA(shared.db) == "0 0");  // nothing flushed: all in the regions
  std::string text = Reader(shared.db).Render(Format::kText);  // as root
  CHECK(JobsOf(text, "a") + ", " + JobsOf(text, "b") == "2 1, 3 1");
  // Each member reads its own.
  CHECK(OutputAs(kMember, {kWriters}, [&] { return JobsOf(Reader(shared.db).Render(Format::kText), "a"); }) ==
        "2 1");
  CHECK(OutputAs(kMember2, {kWriters}, [&] { return JobsOf(Reader(shared.db).Render(Format::kText), "b"); }) ==
        "3 1");
}

TEST_CASE("pending regions of a 0660 file: a writer's next process recovers the region of its killed one" *
          doctest::skip(kNotRoot)) {
  SharedFile shared;
  pid_t a = StartPendingWriter(shared.db, kMember, "a", 2);
  const std::string region = RegionOf(shared.db, a);
  REQUIRE(region != "");
  test::KillAndReap(a);
  CHECK(JobsOf(Reader(shared.db).Render(Format::kText), "a") == "2 1");  // a dead writer's region reads through
  CHECK(RowsOfA(shared.db) == "0 0");
  CHECK(OutputAs(kMember, {kWriters}, [&] {
          HousekeepingReport report = Registry(shared.db, Batched()).Housekeep();
          return std::to_string(report.recovered_regions) + " " + std::to_string(report.recovered_updates);
        }) == "1 2");
  CHECK(!std::filesystem::exists(region));
  CHECK(RowsOfA(shared.db) == "2 1");  // written once, by the recoverer
  CHECK(JobsOf(Reader(shared.db).Render(Format::kText), "a") == "2 1");
  CHECK(test::IntegrityCheck(shared.db) == "ok");
}

// The folder of regions has the database's group and the setgid bit, so
// every region gets that group (a region with its writer's own group, here
// 61001, could not be opened by another member or the server's user with
// mode 0660, and readers would leave it out).
TEST_CASE("pending regions of a 0660 file: another member and the server's user read a member's pending updates") {
  SharedFile shared;
  pid_t a = StartPendingWriter(shared.db, kMember, "a", 2);
  test::KilledAtScopeEnd kill_a{a};
  const std::string region = RegionOf(shared.db, a);
  REQUIRE(region != "");
  CHECK(StatOf(region).st_gid == kWriters);
  for (uid_t reader : {kMember2, kServerUser}) {
    CAPTURE(reader);
    CHECK(OutputAs(reader, {kWriters}, [&] { return JobsOf(Reader(shared.db).Render(Format::kText), "a"); }) ==
          "2 1");
  }
}

// For the same reason another member can open, recover and remove a dead
// member's region.
TEST_CASE("pending regions of a 0660 file: a member recovers the region of another member's killed writer") {
  SharedFile shared;
  pid_t a = StartPendingWriter(shared.db, kMember, "a", 2);
  const std::string region = RegionOf(shared.db, a);
  REQUIRE(region != "");
  test::KillAndReap(a);
  SUBCASE("by a housekeeping pass") {
    CHECK(OutputAs(kMember2, {kWriters}, [&] {
            HousekeepingReport report = Registry(shared.db, Batched()).Housekeep();
            return std::to_string(report.recovered_regions) + " " + std::to_string(report.recovered_updates);
          }) == "1 2");
  }
  SUBCASE("by a batched writer's first flush") {
    CHECK(OutputAs(kMember2, {kWriters}, [&] {
            Options options = Batched();
            std::string problems;
            options.on_background_error = [&](const std::string& line) { problems += line + "\n"; };
            Registry registry(shared.db, options);
            BuildCounter().Name("jobs").Help("Jobs.").LabelNames({"by"}).Register(registry).WithLabelValues({"b"})
                .Increment(3);
            registry.Flush();
            return problems;
          }) == "");
  }
  CHECK(!std::filesystem::exists(region));
  CHECK(RowsOfA(shared.db) == "2 1");
  CHECK(OutputAs(kServerUser, {kWriters}, [&] { return JobsOf(Reader(shared.db).Render(Format::kText), "a"); }) ==
        "2 1");
}

}  // namespace promsqlite
