// Several users, one file (docs/permissions.md): Options::file_mode, the
// CLI's --mode and PROMSQLITE_MODE, the error a process that may not write
// gets, and the recipe of a setgid folder shared by a group of writers with
// a server that runs as its own user. The cases that switch users need root
// (CI runs as root) and are skipped otherwise; they use numeric ids that need
// no entry in /etc/passwd.
#include <doctest/doctest.h>
#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <functional>
#include <vector>

#include "promsqlite/promsqlite.h"
#include "server/test_helper.h"
#include "test_util.h"

namespace promsqlite {
namespace {

constexpr gid_t kWriters = 61000;    // the group shared by the writers and the server
constexpr uid_t kMember = 61001;     // a writer in the group
constexpr uid_t kMember2 = 61004;    // another writer in the group
constexpr uid_t kOutsider = 61002;   // a user outside the group
constexpr uid_t kServerUser = 61003; // the server's own user, in the group

const bool kNotRoot = geteuid() != 0;

unsigned ModeOf(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) throw std::runtime_error("cannot stat " + path);
  return st.st_mode & 07777;
}

gid_t GroupOf(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) throw std::runtime_error("cannot stat " + path);
  return st.st_gid;
}

// Becomes user `uid` (its own group `uid`, plus `groups`) with `mask`, in a
// forked child; returns false when the child failed.
bool RunAs(uid_t uid, std::vector<gid_t> groups, mode_t mask, const std::function<void()>& body) {
  return test::RunInChildren(1, [&](int) {
           if (geteuid() == 0) {
             if (setgroups(groups.size(), groups.data()) != 0 || setgid(uid) != 0 || setuid(uid) != 0)
               throw std::runtime_error("cannot switch to uid " + std::to_string(uid));
           }
           umask(mask);
           body();
         }) == 0;
}

// A writer that adds `amount` to shared_jobs_total{by=BY} in `path`.
void AddJobs(const std::string& path, const std::string& by, double amount, unsigned file_mode = 0) {
  Options options;
  options.file_mode = file_mode;
  Registry registry(path, options);
  BuildCounter().Name("shared_jobs").Help("Jobs.").LabelNames({"by"}).Register(registry)
      .WithLabelValues({by}).Increment(amount);
}

std::string WriterError(const std::string& path, unsigned file_mode = 0) {
  try {
    AddJobs(path, "x", 1, file_mode);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// What the recipe sets up: a folder owned by root and the writers' group,
// setgid so that every file created in it belongs to the group.
struct SharedFolder {
  test::TempDir dir;
  std::string folder = dir.File("shared");
  std::string db = folder + "/metrics.db";
  SharedFolder() {
    chmod(dir.path().c_str(), 0755);  // mkdtemp makes it 0700
    std::filesystem::create_directory(folder);
    if (chown(folder.c_str(), 0, kWriters) != 0) throw std::runtime_error("chown " + folder);
    chmod(folder.c_str(), 02775);
  }
};

// Copies of the CLI and server with their libraries in a folder any user may
// enter (CI clones the project into a 0700 folder), and a way to run them
// as another user with setpriv.
class Programs {
 public:
  Programs() {
    namespace fs = std::filesystem;
    chmod(dir_.path().c_str(), 0755);
    std::string cli = std::getenv("PROMSQLITE_CLI"), server = std::getenv("PROMSQLITE_SERVER");
    fs::copy_file(cli, cli_);
    fs::copy_file(server, server_);
    for (const auto& entry : fs::directory_iterator(fs::path(cli).parent_path().parent_path() / "lib")) {
      if (entry.path().filename().string().rfind("libpromsqlite", 0) == 0 && !entry.is_directory())
        fs::copy(entry.path(), dir_.File(entry.path().filename().string()), fs::copy_options::copy_symlinks);
    }
  }
  // argv running `program` (cli() or server()) as uid (group uid, plus `groups`).
  std::vector<std::string> As(uid_t uid, const std::string& groups, const std::string& program) const {
    std::vector<std::string> argv = {"setpriv", "--reuid=" + std::to_string(uid), "--regid=" + std::to_string(uid)};
    argv.push_back(groups.empty() ? "--clear-groups" : "--groups=" + groups);
    argv.insert(argv.end(), {"--", "env", "LD_LIBRARY_PATH=" + dir_.path(), program});
    return argv;
  }
  const std::string& cli() const { return cli_; }
  const std::string& server() const { return server_; }
  std::string dir() const { return dir_.path(); }

 private:
  test::TempDir dir_;
  std::string cli_ = dir_.File("promsqlite"), server_ = dir_.File("promsqlite-server");
};

std::string Scrape(const std::string& db) {
  return Reader(db).Render(Format::kText);
}

}  // namespace

TEST_CASE("a file created with file_mode has exactly that mode whatever the umask, and so do its -wal and -shm") {
  test::TempDir dir;
  for (unsigned mode : {0660u, 0600u, 0664u}) {
    std::string db = dir.File("m" + std::to_string(mode) + ".db");
    CHECK(RunAs(0, {}, 077, [&] { AddJobs(db, "a", 1, mode); }));
    CHECK(RunAs(0, {}, 0, [&] { AddJobs(db, "a", 1, mode); }));  // reopened: nothing changes
    for (const char* suffix : {"", "-wal", "-shm"}) {
      INFO(db << suffix);
      CHECK(ModeOf(db + suffix) == mode);
    }
    CHECK(Scrape(db).find("shared_jobs_total{by=\"a\"} 2\n") != std::string::npos);
  }
}

TEST_CASE("without file_mode a new file gets SQLite's default: 0644 minus the umask") {
  test::TempDir dir;
  std::string db = dir.File("default.db");
  CHECK(RunAs(0, {}, 027, [&] { AddJobs(db, "a", 1); }));
  CHECK(ModeOf(db) == 0640);
  CHECK(ModeOf(db + "-wal") == 0640);
  CHECK(ModeOf(db + "-shm") == 0640);
}

TEST_CASE("file_mode applies only to a file the process creates: an existing file keeps its mode") {
  test::TempDir dir;
  std::string db = dir.File("existing.db");
  AddJobs(db, "a", 1, 0600);
  AddJobs(db, "a", 1, 0666);
  CHECK(ModeOf(db) == 0600);
  CHECK(ModeOf(db + "-wal") == 0600);
}

TEST_CASE("a file_mode without owner read and write, or with bits above 0777, is refused and creates nothing") {
  test::TempDir dir;
  std::string db = dir.File("bad.db");
  for (unsigned mode : {0444u, 0200u, 0060u, 01660u, 04755u, 010660u}) {
    Options options;
    options.file_mode = mode;
    CHECK_THROWS_AS(Registry(db, options), InvalidArgument);
    CHECK(!std::filesystem::exists(db));
  }
  Options options;
  options.file_mode = 0444;
  CHECK_THROWS_WITH(Registry(db, options),
                    (db + ": file_mode 0444 must include owner read and write (0600) and nothing above 0777").c_str());
}

TEST_CASE("the CLI's --mode and PROMSQLITE_MODE set the mode of a file it creates; a malformed mode exits 2") {
  test::TempDir dir;
  const std::string cli = std::getenv("PROMSQLITE_CLI");
  std::string a = dir.File("a.db"), b = dir.File("b.db"), c = dir.File("c.db"), d = dir.File("d.db");
  CHECK(test::RunCommand({cli, "--db", a, "--mode", "0660", "inc", "x"}).exit_code == 0);
  CHECK(ModeOf(a) == 0660);
  CHECK(test::RunCommand({"env", "PROMSQLITE_MODE=600", cli, "--db", b, "set", "g", "1"}).exit_code == 0);
  CHECK(ModeOf(b) == 0600);
  CHECK(ModeOf(b + "-wal") == 0600);
  // --mode wins over the environment.
  CHECK(test::RunCommand({"env", "PROMSQLITE_MODE=600", cli, "inc", "x", "--db", c, "--mode=0664"}).exit_code == 0);
  CHECK(ModeOf(c) == 0664);
  for (std::string bad : {"0444", "rw-rw----", "0o660", "8", "00660", "", "1660"}) {
    INFO(bad);
    test::CommandResult r = test::RunCommand({cli, "--db", d, "--mode", bad, "inc", "x"});
    CHECK(r.exit_code == 2);
    CHECK(r.output == "promsqlite: --mode must be octal permission bits that include owner read and write (such as "
                      "0660), got \"" + bad + "\" (see 'promsqlite --help')\n");
    CHECK(!std::filesystem::exists(d));
  }
  test::CommandResult env = test::RunCommand({"env", "PROMSQLITE_MODE=0066", cli, "--db", d, "inc", "x"});
  CHECK(env.exit_code == 2);
  CHECK(env.output.find("PROMSQLITE_MODE must be octal permission bits") != std::string::npos);
  CHECK(!std::filesystem::exists(d));
}

TEST_CASE("a group member writes to a file root created with 0660 in the group's setgid folder" *
          doctest::skip(kNotRoot)) {
  SharedFolder shared;
  AddJobs(shared.db, "root", 1, 0660);
  for (const char* suffix : {"", "-wal", "-shm"}) {
    INFO(suffix);
    CHECK(ModeOf(shared.db + suffix) == 0660);
    CHECK(GroupOf(shared.db + suffix) == kWriters);
  }
  CHECK(RunAs(kMember, {kWriters}, 022, [&] { AddJobs(shared.db, "member", 2); }));
  AddJobs(shared.db, "root", 1);
  std::string text = Scrape(shared.db);
  CHECK(text.find("shared_jobs_total{by=\"root\"} 2\n") != std::string::npos);
  CHECK(text.find("shared_jobs_total{by=\"member\"} 2\n") != std::string::npos);
  CHECK(test::IntegrityCheck(shared.db) == "ok");
}

TEST_CASE("writers of one group share a file any of them created in the setgid folder, whatever their umask" *
          doctest::skip(kNotRoot)) {
  SharedFolder shared;
  CHECK(RunAs(kMember, {kWriters}, 077, [&] { AddJobs(shared.db, "first", 1, 0660); }));
  CHECK(ModeOf(shared.db) == 0660);
  CHECK(GroupOf(shared.db) == kWriters);
  CHECK(RunAs(kMember2, {kWriters}, 077, [&] { AddJobs(shared.db, "second", 1, 0660); }));
  CHECK(RunAs(kMember, {kWriters}, 022, [&] { AddJobs(shared.db, "first", 1); }));
  std::string text = Scrape(shared.db);
  CHECK(text.find("shared_jobs_total{by=\"first\"} 2\n") != std::string::npos);
  CHECK(text.find("shared_jobs_total{by=\"second\"} 1\n") != std::string::npos);
}

TEST_CASE("group members that create the file at the same moment under umask 077 all write to it" *
          doctest::skip(kNotRoot)) {
  for (int round = 0; round < 5; ++round) {
    SharedFolder shared;
    int failed = test::RunInChildren(8, [&](int i) {
      if (setgroups(1, &kWriters) != 0 || setgid(i % 2 ? kMember : kMember2) != 0 ||
          setuid(i % 2 ? kMember : kMember2) != 0)
        throw std::runtime_error("cannot switch user");
      umask(077);
      AddJobs(shared.db, "all", 1, 0660);
    });
    CHECK(failed == 0);
    CHECK(ModeOf(shared.db) == 0660);
    CHECK(Scrape(shared.db).find("shared_jobs_total{by=\"all\"} 8\n") != std::string::npos);
    CHECK(ModeOf(shared.db + "-lock") == 0660);  // the write gate's sidecar: every member may queue
    CHECK((ModeOf(shared.db + "-pending") & 0777) == 0770);  // the regions' folder (docs/pending-regions.md)
    // The file, -wal, -shm, -lock and -pending: no temporary left.
    CHECK(std::distance(std::filesystem::directory_iterator(shared.folder), {}) == 5);
    CHECK(std::distance(std::filesystem::directory_iterator(shared.db + "-pending"), {}) == 0);
  }
}

TEST_CASE("a user outside the group gets an error that says what to do, and changes nothing" *
          doctest::skip(kNotRoot)) {
  SharedFolder shared;
  AddJobs(shared.db, "root", 1, 0660);
  chmod(shared.folder.c_str(), 02777);  // only the file's mode keeps the outsider out
  chmod(shared.db.c_str(), 0664);       // it may read, not write
  const std::string before = test::DumpDatabase(shared.db);
  const std::string bytes = test::ReadFile(shared.db), wal = test::ReadFile(shared.db + "-wal");
  std::string expected_start = shared.db + ": cannot open for writing: the file is read-only for this process (mode "
                               "0664, owner root, group ";
  CHECK(RunAs(kOutsider, {}, 022, [&] {
    std::string error = WriterError(shared.db);
    for (const std::string& part : {expected_start, std::string("; this process runs as uid 61002, not in group "),
                                    std::string("mode 0660"), std::string("setgid folder"),
                                    std::string("docs/permissions.md")}) {
      if (error.find(part) == std::string::npos) throw std::runtime_error("error lacks \"" + part + "\": " + error);
    }
    if (error.rfind(expected_start, 0) != 0) throw std::runtime_error("unexpected error: " + error);
  }));
  Programs programs;
  std::vector<std::string> argv = programs.As(kOutsider, "", programs.cli());
  argv.insert(argv.end(), {"--db", shared.db, "inc", "shared_jobs", "--label", "by=outsider"});
  test::CommandResult r = test::RunCommand(argv);
  CHECK(r.exit_code == 1);
  CHECK(r.output.rfind("promsqlite: " + expected_start, 0) == 0);
  CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
  // In the tool's terms: the library's advice names Options::file_mode for
  // C++ callers; the CLI's names its own flag and variable only.
  CHECK(r.output.find("(promsqlite --mode 0660 or PROMSQLITE_MODE=0660)") != std::string::npos);
  CHECK(r.output.find("::") == std::string::npos);
  // A file made writable for all while its -wal stays group-writable only:
  // the error names the -wal. (SQLite gives an empty -wal the file's mode
  // whenever it opens it, but only a process that may write it can do so.)
  chmod(shared.db.c_str(), 0666);
  chmod((shared.db + "-wal").c_str(), 0660);
  argv = programs.As(kOutsider, "", programs.cli());
  argv.insert(argv.end(), {"--db", shared.db, "inc", "shared_jobs", "--label", "by=outsider"});
  r = test::RunCommand(argv);
  CHECK(r.exit_code == 1);
  INFO(r.output);
  CHECK(r.output.rfind("promsqlite: " + shared.db + ": cannot open for writing: " + shared.db +
                           "-wal is read-only for this process (mode 0660",
                       0) == 0);
  CHECK(test::DumpDatabase(shared.db) == before);
  CHECK(test::ReadFile(shared.db) == bytes);
  CHECK(test::ReadFile(shared.db + "-wal") == wal);
}

TEST_CASE("a user outside the group cannot create a file in the group's setgid folder and is told why" *
          doctest::skip(kNotRoot)) {
  SharedFolder shared;
  CHECK(RunAs(kOutsider, {}, 022, [&] {
    std::string error = WriterError(shared.db, 0660);
    std::string start = shared.db + ": cannot open for writing: its folder " + shared.folder +
                        " (where the file, its -wal and -shm are created) is read-only for this process (mode 2775";
    if (error.rfind(start, 0) != 0) throw std::runtime_error("unexpected error: " + error);
  }));
  CHECK(!std::filesystem::exists(shared.db));
}

TEST_CASE("the server running as its own user in the group serves the file the writers wrote" *
          doctest::skip(kNotRoot)) {
  SharedFolder shared;
  Programs programs;
  std::vector<std::string> argv = programs.As(kMember, std::to_string(kWriters), programs.cli());
  argv.insert(argv.end(), {"--db", shared.db, "--mode", "0660", "inc", "shared_jobs", "5", "--label", "by=cli",
                           "--help", "Jobs."});
  CHECK(test::RunCommand(argv).exit_code == 0);
  CHECK(RunAs(kMember2, {kWriters}, 022, [&] { AddJobs(shared.db, "lib", 3); }));
  const std::string before = test::DumpDatabase(shared.db);

  // ServerProcess runs $PROMSQLITE_SERVER: a wrapper that runs the copy as the server's user.
  std::string wrapper = programs.dir() + "/as-server-user";
  std::string command;
  for (const std::string& a : programs.As(kServerUser, std::to_string(kWriters), programs.server()))
    command += server_test::Quote(a) + " ";
  test::WriteFile(wrapper, "#!/bin/sh\nexec " + command + "\"$@\"\n");
  chmod(wrapper.c_str(), 0755);
  const std::string original = std::getenv("PROMSQLITE_SERVER");
  setenv("PROMSQLITE_SERVER", wrapper.c_str(), 1);
  server_test::ServerProcess server({"--db", shared.db});
  bool started = server.Start();
  setenv("PROMSQLITE_SERVER", original.c_str(), 1);
  REQUIRE_MESSAGE(started, server.Log());
  std::string status = test::ReadFile("/proc/" + std::to_string(server.pid()) + "/status");
  CHECK(status.find("Uid:\t61003\t61003\t61003\t61003") != std::string::npos);

  auto res = server_test::Client(server.port()).Get("/metrics");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->body.find("shared_jobs_total{by=\"cli\"} 5\n") != std::string::npos);
  CHECK(res->body.find("shared_jobs_total{by=\"lib\"} 3\n") != std::string::npos);
  test::CommandResult valid = test::CheckExposition(res->body, /*openmetrics=*/false);
  CHECK_MESSAGE(valid.exit_code == 0, valid.output);
  CHECK(server.Stop(SIGTERM) == 0);
  CHECK(test::DumpDatabase(shared.db) == before);
}

}  // namespace promsqlite
