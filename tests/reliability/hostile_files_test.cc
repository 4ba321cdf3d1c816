// Files that are not what they should be: the library (writer and reader)
// and the CLI each answer with a clear error naming the file, change
// nothing, and never crash.
#include <doctest/doctest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <random>

#include "promsqlite/promsqlite.h"
#include "test_util.h"

using namespace promsqlite;

namespace {

// A real promsqlite file with enough series to span many pages.
void WriteRealFile(const std::string& path) {
  Registry registry(path);
  auto family = BuildCounter().Name("c").Help("C.").LabelNames({"id"}).Register(registry);
  for (int i = 0; i < 400; ++i) family.WithLabelValues({std::to_string(i) + std::string(100, 'x')}).Increment();
}

std::string WriterError(const std::string& path) {
  try {
    Registry registry(path);
    BuildCounter().Name("probe").Register(registry).WithLabelValues({}).Increment();
  } catch (const DatabaseError& e) {
    return e.what();
  }
  return "no error";
}

std::string ReaderError(const std::string& path) {
  try {
    Reader(path).Render(Format::kOpenMetrics);
  } catch (const DatabaseError& e) {
    return e.what();
  }
  return "no error";
}

test::CommandResult Cli(const std::string& path, std::vector<std::string> args) {
  const char* cli = std::getenv("PROMSQLITE_CLI");
  REQUIRE(cli != nullptr);
  args.insert(args.begin(), {cli, "--db", path});
  return test::RunCommand(args);
}

struct Hostile {
  const char* what;
  std::function<void(const std::string& path)> make;
  std::string error;  // expected after "PATH: " for writer, reader and CLI ({path}: the path); empty: see below
};

}  // namespace

TEST_CASE("hostile files get a clear error from writer, reader and CLI, and stay untouched") {
  const Hostile cases[] = {
      {"a text file", [](const std::string& p) { test::WriteFile(p, "not a database\n" + std::string(4096, 't')); },
       "file is not a database (another program's file?): choose another path, or move it away"},
      {"random bytes",
       [](const std::string& p) {
         std::mt19937 rng(7);
         std::string bytes(16384, '\0');
         for (char& c : bytes) c = static_cast<char>(rng());
         test::WriteFile(p, bytes);
       },
       "file is not a database (another program's file?): choose another path, or move it away"},
      {"a truncated database",
       [](const std::string& p) {
         WriteRealFile(p);
         std::string whole = test::ReadFile(p);
         test::WriteFile(p, whole.substr(0, whole.size() / 2));
       },
       ""},
      {"another application's database",
       [](const std::string& p) { test::ExecSql(p, "CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)"); },
       "not a promsqlite database (an SQLite file of another application)"},
      {"a newer schema",
       [](const std::string& p) {
         WriteRealFile(p);
         test::ExecSql(p, "PRAGMA user_version = 99");
       },
       "written by a newer promsqlite (schema version 99; this build reads up to " + std::to_string(SchemaVersion()) + ")"},
      {"a directory", [](const std::string& p) { mkdir(p.c_str(), 0700); },
       "is a directory, not a promsqlite database: give the path of a file in it, e.g. {path}/metrics.db"},
  };
  for (const Hostile& c : cases) {
    std::string what = c.what;
    CAPTURE(what);
    test::TempDir dir;
    const std::string path = dir.File("hostile.db");
    c.make(path);
    const std::string before = test::ReadFile(path);
    std::string writer = WriterError(path), reader = ReaderError(path);
    test::CommandResult inc = Cli(path, {"inc", "probe"});
    test::CommandResult dump = Cli(path, {"dump"});
    if (!c.error.empty()) {
      std::string expected = path + ": " + c.error;
      if (size_t at = expected.find("{path}"); at != std::string::npos) expected.replace(at, 6, path);
      CHECK(writer == expected);
      CHECK(reader == expected);
      CHECK(inc.output == "promsqlite: " + expected + "\n");
      CHECK(dump.output == "promsqlite: " + expected + "\n");
    } else {  // truncated: sizes depend on the page layout
      std::string prefix = path + ": database file is truncated (";
      CHECK(writer.rfind(prefix, 0) == 0);
      CHECK(reader.rfind(prefix, 0) == 0);
      CHECK(inc.output.rfind("promsqlite: " + prefix, 0) == 0);
    }
    CHECK(inc.exit_code == 1);
    CHECK(dump.exit_code == 1);
    CHECK(test::ReadFile(path) == before);
  }
}

TEST_CASE("a path in a missing directory is an error that names the folder, not a crash") {
  test::TempDir dir;
  const std::string path = dir.File("no/such/dir/m.db");
  const std::string expected = path + ": folder " + dir.File("no/such/dir") + " does not exist: create it (mkdir -p " +
                               dir.File("no/such/dir") + "); for writers that run as different users, make it a "
                               "setgid folder of their group (docs/permissions.md)";
  CHECK(WriterError(path) == expected);
  CHECK(Reader(path).Render(Format::kText).empty());  // a reader waits for writers to create it
  test::CommandResult inc = Cli(path, {"inc", "x"});
  CHECK(inc.exit_code == 1);
  CHECK(inc.output == "promsqlite: " + expected + "\n");
}

TEST_CASE("an empty file is an empty database: writers initialize it, readers see nothing") {
  test::TempDir dir;
  const std::string path = dir.File("empty.db");
  test::WriteFile(path, "");
  CHECK(Reader(path).Render(Format::kOpenMetrics) == "# EOF\n");
  CHECK(Cli(path, {"inc", "x"}).exit_code == 0);
  CHECK(Reader(path).Render(Format::kText) == "# HELP x_total \n# TYPE x_total counter\nx_total 1\n");
}

TEST_CASE("a read-only file: writers get a clear error, readers still read") {
  test::TempDir dir;
  const std::string path = dir.File("ro.db");
  WriteRealFile(path);
  chmod(dir.path().c_str(), 0755);
  chmod(path.c_str(), 0444);
  const std::string before = test::ReadFile(path);
  // root ignores file modes, so the checks run as "nobody" when we are root.
  int failed = test::RunInChildren(1, [&](int) {
    if (getuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) throw std::runtime_error("cannot drop to nobody");
    std::string error = WriterError(path);
    if (error.rfind(path + ": cannot open for writing: the file is read-only for this process (mode 0444", 0) != 0 ||
        error.find("see docs/permissions.md") == std::string::npos)
      throw std::runtime_error("writer: " + error);
    if (Reader(path).Render(Format::kText).find("c_total{id=\"0") == std::string::npos)
      throw std::runtime_error("reader could not read a read-only file");
  });
  CHECK(failed == 0);
  CHECK(test::ReadFile(path) == before);
}
