// promsqlite-server given files that are not what it expects. The server
// always starts (no file is hopeless: it may be fixed or appear later),
// keeps running, answers /-/healthy 200, /-/ready 503 and /metrics 500 with
// the file and the reason in the body, and serves the file once it is
// valid. Files that SQLite takes for an empty database (an empty file, a
// missing one) are served as an empty exposition instead.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include "promsqlite/promsqlite.h"
#include "reliability_helper.h"
#include "test_helper.h"

using server_test::ServerProcess;
using server_test::TempDir;

namespace {

constexpr const char* kOpenMetricsAccept = "application/openmetrics-text;version=1.0.0";

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

int Sqlite3(const std::string& db, const std::string& sql) {
  std::string out;
  int rc = server_test::RunCommand("sqlite3 " + server_test::Quote(db) + " " + server_test::Quote(sql), &out);
  INFO(out);
  return rc;
}

httplib::Client ClientFor(int port) {
  auto client = server_test::Client(port);
  client.set_connection_timeout(5, 0);
  client.set_read_timeout(10, 0);  // a scrape that hangs is a failure, not a wait
  return client;
}

// /metrics answers 500 naming the file and the reason (any of `reasons`),
// in both formats; the server keeps running and says it is healthy but not
// ready.
void CheckRefusesFile(ServerProcess& server, const std::string& db, const std::vector<std::string>& reasons) {
  auto client = ClientFor(server.port());
  for (const char* accept : {"text/plain", kOpenMetricsAccept}) {
    CAPTURE(accept);
    auto res = client.Get("/metrics", {{"Accept", accept}});
    REQUIRE_MESSAGE(res, "no answer: " << httplib::to_string(res.error()));
    CAPTURE(res->body);
    CHECK(res->status == 500);
    CHECK(Contains(res->body, db));
    bool has_reason = false;
    for (const auto& reason : reasons) has_reason = has_reason || Contains(res->body, reason);
    CHECK(has_reason);
    CHECK(std::count(res->body.begin(), res->body.end(), '\n') == 1);  // one line
  }
  auto healthy = client.Get("/-/healthy");
  REQUIRE(healthy);
  CHECK(healthy->status == 200);
  auto ready = client.Get("/-/ready");
  REQUIRE(ready);
  CHECK(ready->status == 503);
  auto landing = client.Get("/");
  REQUIRE(landing);
  CHECK(landing->status == 200);
  CHECK(Contains(landing->body, "cannot be read"));
  CHECK(server.Running());
}

// /metrics answers 200 with the sample file's content.
void CheckServesSample(ServerProcess& server) {
  auto client = ClientFor(server.port());
  auto res = client.Get("/metrics");
  REQUIRE_MESSAGE(res, "no answer: " << httplib::to_string(res.error()));
  CAPTURE(res->body.substr(0, 500));
  CHECK(res->status == 200);
  CHECK(Contains(res->body, reliability::kSampleLine));
  CHECK(Contains(res->body, "promsqlite_server_file_exists 1\n"));
}

// /metrics answers 200 with nothing but the server's own metrics.
void CheckServesEmpty(ServerProcess& server, bool exists) {
  auto client = ClientFor(server.port());
  auto res = client.Get("/metrics");
  REQUIRE_MESSAGE(res, "no answer: " << httplib::to_string(res.error()));
  CAPTURE(res->body.substr(0, 500));
  CHECK(res->status == 200);
  CHECK(Contains(res->body, exists ? "promsqlite_server_file_exists 1\n" : "promsqlite_server_file_exists 0\n"));
  CHECK(Contains(res->body, "promsqlite_server_file_families 0\n"));
  CHECK_FALSE(Contains(res->body, "sample_"));
}

// Starts a server on `db`, which must start despite the file and log one
// error line that names the file.
std::unique_ptr<ServerProcess> StartOn(const std::string& db, bool expect_error = true) {
  auto server = std::make_unique<ServerProcess>(std::vector<std::string>{"--db", db});
  REQUIRE_MESSAGE(server->Start(), server->Log());
  std::string log = server->Log();
  CAPTURE(log);
  if (expect_error) {
    CHECK(Contains(log, "level=error msg=\"cannot read the promsqlite file"));
    CHECK(Contains(log, db));
  } else {
    CHECK_FALSE(Contains(log, "level=error"));
  }
  return server;
}

// Checkpoints the -wal file into the main file and removes it and the -shm
// (the sqlite3 shell, the last to close the file, does so).
void MoveWalIntoFile(const std::string& db) {
  REQUIRE(Sqlite3(db, "PRAGMA wal_checkpoint(TRUNCATE);") == 0);
  REQUIRE(access((db + "-wal").c_str(), F_OK) != 0);
  REQUIRE(access((db + "-shm").c_str(), F_OK) != 0);
}

// A valid file written elsewhere and renamed onto `db`, as a deployment
// replaces a file: made whole first, for a writer leaves its last updates
// in the -wal (docs/checkpoints.md, "Closing"), which a rename of the file
// alone would leave behind.
void ReplaceWithSample(const std::string& db) {
  std::string fresh = db + ".fresh";
  server_test::WriteSampleFile(fresh);
  MoveWalIntoFile(fresh);
  REQUIRE(std::rename(fresh.c_str(), db.c_str()) == 0);
}

// Runs the server as an unprivileged user for the permission cases: root
// reads every file whatever its mode. Points PROMSQLITE_SERVER at a wrapper
// around setpriv while it lives.
class UnprivilegedServer {
 public:
  UnprivilegedServer() {
    if (geteuid() != 0) {  // permissions apply to us already
      usable_ = true;
      return;
    }
    std::string out;
    if (server_test::RunCommand("command -v setpriv", &out) != 0) return;
    original_ = server_test::ServerBinary();
    chmod(dir_.path().c_str(), 0755);
    // The build tree may sit in a folder "nobody" cannot enter (CI clones
    // into a 0700 mktemp folder): run a copy of the server and its libraries
    // (libpromsqlite, and libpromsqlite_push for the remote-write agent).
    namespace fs = std::filesystem;
    std::string binary = dir_.File("promsqlite-server");
    fs::copy_file(original_, binary);
    for (const auto& entry : fs::directory_iterator(fs::path(original_).parent_path().parent_path() / "lib")) {
      const std::string name = entry.path().filename().string();
      if (name.rfind("libpromsqlite.so", 0) == 0 || name.rfind("libpromsqlite_push.so", 0) == 0)
        fs::copy(entry.path(), dir_.File(entry.path().filename().string()), fs::copy_options::copy_symlinks);
    }
    std::string wrapper = dir_.File("as-nobody");
    WriteBytes(wrapper, "#!/bin/sh\nLD_LIBRARY_PATH=" + server_test::Quote(dir_.path()) +
                            " exec setpriv --reuid=65534 --regid=65534 --clear-groups -- " +
                            server_test::Quote(binary) + " \"$@\"\n");
    chmod(wrapper.c_str(), 0755);
    setenv("PROMSQLITE_SERVER", wrapper.c_str(), 1);
    usable_ = true;
  }
  ~UnprivilegedServer() {
    if (!original_.empty()) setenv("PROMSQLITE_SERVER", original_.c_str(), 1);
  }
  bool usable() const { return usable_; }

 private:
  TempDir dir_;
  std::string original_;
  bool usable_ = false;
};

// A folder an unprivileged user may enter (mkdtemp makes them 0700).
std::string OpenFolder(const TempDir& dir, const std::string& name) {
  std::string path = dir.File(name);
  std::filesystem::create_directory(path);
  chmod(dir.path().c_str(), 0755);
  chmod(path.c_str(), 0755);
  return path;
}

}  // namespace

TEST_CASE("an empty file is served as an empty exposition, then with its content once a writer fills it") {
  TempDir dir;
  std::string db = dir.File("empty.db");
  WriteBytes(db, "");
  auto server = StartOn(db, /*expect_error=*/false);
  CheckServesEmpty(*server, /*exists=*/true);
  server_test::WriteSampleFile(db);  // SQLite takes an empty file for an empty database
  CheckServesSample(*server);
  CHECK(server->Stop(SIGTERM) == 0);
}

TEST_CASE("a text file answers 500 with the reason and is served once replaced by a valid file") {
  TempDir dir;
  std::string db = dir.File("notes.db");
  WriteBytes(db, "This is not a database.\nJust some notes.\n");
  auto server = StartOn(db);
  CheckRefusesFile(*server, db, {"not a database"});
  ReplaceWithSample(db);
  CheckServesSample(*server);
  CHECK(server->Stop(SIGTERM) == 0);
}

TEST_CASE("a file of random bytes answers 500 with the reason and is served once replaced by a valid file") {
  TempDir dir;
  std::string db = dir.File("random.db");
  std::mt19937 rng(42);
  std::string bytes(100000, '\0');
  for (char& c : bytes) c = static_cast<char>(rng() & 0xff);
  WriteBytes(db, bytes);
  auto server = StartOn(db);
  CheckRefusesFile(*server, db, {"not a database"});
  ReplaceWithSample(db);
  CheckServesSample(*server);
  CHECK(server->Stop(SIGTERM) == 0);
}

TEST_CASE("a promsqlite file truncated to half answers 500 with the reason and is served once replaced") {
  TempDir dir;
  std::string db = dir.File("truncated.db");
  server_test::WriteLargeFile(db, 5, 400);
  server_test::WriteSampleFile(db);
  MoveWalIntoFile(db);
  std::string whole = ReadBytes(db);
  REQUIRE(whole.size() > 8192);
  WriteBytes(db, whole.substr(0, whole.size() / 2));
  auto server = StartOn(db);
  CheckRefusesFile(*server, db, {"truncated", "malformed", "not a database", "corrupt"});
  ReplaceWithSample(db);
  CheckServesSample(*server);
  CHECK(server->Stop(SIGTERM) == 0);
}

TEST_CASE("an SQLite database of another application answers 500 with the reason and is served once replaced") {
  TempDir dir;
  std::string db = dir.File("other.db");
  REQUIRE(Sqlite3(db, "CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT);"
                      "INSERT INTO accounts (name) VALUES ('alice');") == 0);
  auto server = StartOn(db);
  CheckRefusesFile(*server, db, {"another application"});
  ReplaceWithSample(db);
  CheckServesSample(*server);
  CHECK(server->Stop(SIGTERM) == 0);
}

TEST_CASE("a promsqlite file with a newer schema answers 500 with the reason and is served once set back") {
  TempDir dir;
  std::string db = dir.File("newer.db");
  server_test::WriteSampleFile(db);
  std::string version;
  REQUIRE(server_test::RunCommand("sqlite3 " + server_test::Quote(db) + " 'PRAGMA user_version;'", &version) == 0);
  REQUIRE(std::atoi(version.c_str()) > 0);
  REQUIRE(Sqlite3(db, "PRAGMA user_version = 99;") == 0);
  auto server = StartOn(db);
  CheckRefusesFile(*server, db, {"newer"});
  // Fixed in place, on the same inode the server has seen.
  REQUIRE(Sqlite3(db, "PRAGMA user_version = " + std::to_string(std::atoi(version.c_str())) + ";") == 0);
  CheckServesSample(*server);
  CHECK(server->Stop(SIGTERM) == 0);
}

// A directory, pipe or device at startup makes the server exit 1
// (server/http_test.cc); these take the file's place while it runs.
TEST_CASE("a directory that takes the file's place answers 500 with the reason and is served once it is a file") {
  TempDir dir;
  std::string db = dir.File("folder.db");
  auto server = StartOn(db, /*expect_error=*/false);
  std::filesystem::create_directory(db);
  CheckRefusesFile(*server, db, {"directory"});
  std::filesystem::remove(db);
  server_test::WriteSampleFile(db);
  CheckServesSample(*server);
  CHECK(server->Stop(SIGTERM) == 0);
}

TEST_CASE("a path in a folder that does not exist is served as empty until the folder and the file appear") {
  TempDir dir;
  std::string folder = dir.File("later");
  std::string db = folder + "/metrics.db";
  auto server = StartOn(db, /*expect_error=*/false);
  CHECK(Contains(server->Log(), "folder does not exist yet"));
  CheckServesEmpty(*server, /*exists=*/false);
  std::filesystem::create_directory(folder);
  server_test::WriteSampleFile(db);
  CheckServesSample(*server);
  CHECK(server->Stop(SIGTERM) == 0);
}

TEST_CASE("a named pipe in place of the file answers 500 instead of hanging the server") {
  TempDir dir;
  std::string db = dir.File("pipe.db");
  REQUIRE(mkfifo(db.c_str(), 0644) == 0);
  // Opening a FIFO blocks until a writer appears: the server must not try,
  // and at startup it refuses the path at once.
  ServerProcess server({"--db", db});
  CHECK_FALSE(server.Start());
  CHECK(server.Wait() == 1);
  CHECK(Contains(server.Log(), "not a regular file"));

  // When the pipe appears after the start: 500, until it is a file.
  std::string later = dir.File("later.db");
  auto second = StartOn(later, /*expect_error=*/false);
  REQUIRE(mkfifo(later.c_str(), 0644) == 0);
  CheckRefusesFile(*second, later, {"not a regular file"});
  std::filesystem::remove(later);
  server_test::WriteSampleFile(later);
  CheckServesSample(*second);
  CHECK(second->Stop(SIGTERM) == 0);
}

TEST_CASE("a device that takes the file's place answers 500 with the reason") {
  TempDir dir;
  std::string db = dir.File("zero.db");
  auto server = StartOn(db, /*expect_error=*/false);
  std::filesystem::create_symlink("/dev/zero", db);
  CheckRefusesFile(*server, db, {"not a regular file"});
  std::filesystem::remove(db);
  server_test::WriteSampleFile(db);
  CheckServesSample(*server);
  CHECK(server->Stop(SIGTERM) == 0);
}

TEST_CASE("a symbolic link loop answers 500 with the reason, not an empty exposition") {
  TempDir dir;
  std::string db = dir.File("loop.db");
  std::filesystem::create_symlink(dir.File("loop2.db"), db);
  std::filesystem::create_symlink(db, dir.File("loop2.db"));
  auto server = StartOn(db);
  CheckRefusesFile(*server, db, {"symbolic links"});
  std::filesystem::remove(db);
  server_test::WriteSampleFile(db);
  CheckServesSample(*server);
  CHECK(server->Stop(SIGTERM) == 0);
}

TEST_CASE("a file replaced on disk is served from the new file, not the old one") {
  TempDir dir;
  std::string db = dir.File("replaced.db");
  {
    promsqlite::Registry registry(db);
    promsqlite::BuildCounter().Name("old_file_total").Help("Only in the old file.").Register(registry)
        .WithLabelValues({}).Increment();
  }
  MoveWalIntoFile(db);  // whole, as a file is before it is replaced by a rename (see ReplaceWithSample)
  auto server = StartOn(db, /*expect_error=*/false);
  auto client = ClientFor(server->port());
  auto res = client.Get("/metrics");
  REQUIRE(res);
  CHECK(Contains(res->body, "old_file_total 1\n"));

  SUBCASE("by a rename") { ReplaceWithSample(db); }
  SUBCASE("by a delete and a writer creating it again") {
    std::filesystem::remove(db);
    server_test::WriteSampleFile(db);
  }
  res = client.Get("/metrics");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(Contains(res->body, reliability::kSampleLine));
  CHECK_FALSE(Contains(res->body, "old_file_total"));
  CHECK(server->Stop(SIGTERM) == 0);
}

TEST_CASE("a read-only file that a writer keeps open is served to a server that may only read") {
  UnprivilegedServer as_nobody;
  if (!as_nobody.usable()) {
    WARN_MESSAGE(false, "setpriv is missing: running as root, file permissions cannot be tested");
    return;
  }
  TempDir dir;
  std::string db = OpenFolder(dir, "ro") + "/metrics.db";
  server_test::WriteSampleFile(db);
  chmod(db.c_str(), 0444);
  // The writer (this process) keeps the file open, as an application does.
  promsqlite::Registry writer(db);
  auto ticks = promsqlite::BuildCounter().Name("ticks_total").Help("Ticks.").Register(writer);
  ticks.WithLabelValues({}).Increment();
  auto server = StartOn(db, /*expect_error=*/false);
  CheckServesSample(*server);
  ticks.WithLabelValues({}).Increment();
  auto res = ClientFor(server->port()).Get("/metrics");
  REQUIRE(res);
  CHECK(Contains(res->body, "ticks_total 2\n"));
  CHECK(server->Stop(SIGTERM) == 0);
}

TEST_CASE("a read-only file in a read-only folder without a writer is served or refused with the reason") {
  UnprivilegedServer as_nobody;
  if (!as_nobody.usable()) {
    WARN_MESSAGE(false, "setpriv is missing: running as root, file permissions cannot be tested");
    return;
  }
  TempDir dir;
  std::string folder = OpenFolder(dir, "ro");
  std::string db = folder + "/metrics.db";
  server_test::WriteSampleFile(db);
  MoveWalIntoFile(db);
  chmod(db.c_str(), 0444);
  chmod(folder.c_str(), 0555);
  auto server = std::make_unique<ServerProcess>(std::vector<std::string>{"--db", db});
  REQUIRE(server->Start());
  auto client = ClientFor(server->port());
  auto res = client.Get("/metrics");
  REQUIRE(res);
  // SQLite cannot read a WAL file without its -shm index when it may not
  // create one (lib/ would need to open such a file differently); then the
  // reason must be given. Either way the server serves it once a writer has
  // it open.
  if (res->status != 200) {
    CHECK(res->status == 500);
    CHECK(Contains(res->body, db));
    CHECK(Contains(res->body, "readonly"));
    MESSAGE("refused: " << res->body);
  }
  promsqlite::Registry writer(db);  // root: creates the -wal and -shm files
  promsqlite::BuildCounter().Name("ticks_total").Help("Ticks.").Register(writer).WithLabelValues({}).Increment();
  CheckServesSample(*server);
  CHECK(server->Stop(SIGTERM) == 0);
}

TEST_CASE("a file the server may not read answers 500 with the reason and is served once readable") {
  UnprivilegedServer as_nobody;
  if (!as_nobody.usable()) {
    WARN_MESSAGE(false, "setpriv is missing: running as root, file permissions cannot be tested");
    return;
  }
  TempDir dir;
  std::string db = OpenFolder(dir, "private") + "/metrics.db";
  server_test::WriteSampleFile(db);
  chmod(db.c_str(), 0600);
  auto server = StartOn(db);
  CheckRefusesFile(*server, db, {"unable to open", "ermission denied"});
  chmod(db.c_str(), 0644);
  CheckServesSample(*server);
  CHECK(server->Stop(SIGTERM) == 0);
}

TEST_CASE("a file in a folder the server may not enter answers 500, not an empty exposition") {
  UnprivilegedServer as_nobody;
  if (!as_nobody.usable()) {
    WARN_MESSAGE(false, "setpriv is missing: running as root, file permissions cannot be tested");
    return;
  }
  TempDir dir;
  std::string folder = OpenFolder(dir, "closed");
  std::string db = folder + "/metrics.db";
  server_test::WriteSampleFile(db);
  chmod(folder.c_str(), 0700);
  auto server = StartOn(db);
  CheckRefusesFile(*server, db, {"ermission denied"});
  chmod(folder.c_str(), 0755);
  CheckServesSample(*server);
  CHECK(server->Stop(SIGTERM) == 0);
}
