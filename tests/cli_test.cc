// The promsqlite command-line tool: every command, every error path with
// its exit code, and that a rejected invocation writes nothing.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "promsqlite/promsqlite.h"
#include "test_util.h"
#include "unreadable_cases.h"

using promsqlite::test::CommandResult;
using promsqlite::test::TempDir;

namespace {

std::string Cli() {
  const char* path = std::getenv("PROMSQLITE_CLI");
  REQUIRE_MESSAGE(path != nullptr, "PROMSQLITE_CLI is set by meson");
  return path;
}

CommandResult Run(const std::string& db, std::vector<std::string> args, const std::string& input = "") {
  args.insert(args.begin(), {Cli(), "--db", db});
  return promsqlite::test::RunCommand(args, input);
}

std::string Dump(const std::string& db, const std::string& format = "text") {
  CommandResult r = Run(db, {"dump", "--format", format});
  REQUIRE(r.exit_code == 0);
  return r.output;
}

// Everything the file holds that a user can see: families (with those
// that have no series) and all samples with their _created times.
std::string Snapshot(const std::string& db) {
  struct stat st;
  if (stat(db.c_str(), &st) != 0) return "<no file>";
  return Run(db, {"list"}).output + Dump(db, "openmetrics");
}

using promsqlite::test::Contains;

// stdout and stderr of one run, apart.
struct Streams {
  int exit_code = -1;
  std::string out, err;
};
Streams RunApart(std::vector<std::string> argv) {
  TempDir dir;
  argv.insert(argv.begin(), {"/bin/sh", "-c", "err=$1; shift; exec \"$@\" 2>\"$err\"", "sh", dir.File("stderr")});
  CommandResult r = promsqlite::test::RunCommand(argv);
  return {r.exit_code, r.output, promsqlite::test::ReadFile(dir.File("stderr"))};
}

// Every command, with arguments that are fine apart from the file.
const std::vector<std::vector<std::string>>& EveryCommand() {
  static const std::vector<std::vector<std::string>> commands = {
      {"inc", "x"}, {"set", "x", "1"}, {"add", "x", "1"}, {"observe", "x", "1"}, {"time", "x", "--", "true"},
      {"info", "x"}, {"state", "x", "a", "--states", "a,b"}, {"dump"}, {"list"}, {"rm", "x"}, {"clear", "x"},
      {"wipe", "--yes"}, {"housekeep"}, {"push", "--gateway", "http://127.0.0.1:9", "--job", "j"},
      {"remote-write", "--url", "http://127.0.0.1:9/api/v1/write"}, {"check"}, {"check", "--repair"}};
  return commands;
}

}  // namespace

TEST_CASE("inc adds to a counter named with or without _total") {
  TempDir dir;
  const std::string db = dir.File("m.db");
  CHECK(Run(db, {"inc", "jobs_total", "--label", "queue=fast", "--help", "Jobs done."}).exit_code == 0);
  CHECK(Run(db, {"inc", "jobs", "2.5", "--label", "queue=fast"}).exit_code == 0);
  CHECK(Dump(db) == "# HELP jobs_total Jobs done.\n# TYPE jobs_total counter\njobs_total{queue=\"fast\"} 3.5\n");
}

TEST_CASE("set and add change a gauge; add takes negative deltas") {
  TempDir dir;
  const std::string db = dir.File("m.db");
  CHECK(Run(db, {"set", "queue_depth", "10"}).exit_code == 0);
  CHECK(Run(db, {"add", "queue_depth", "-3.5"}).exit_code == 0);
  CHECK(Run(db, {"add", "queue_depth", "1e1"}).exit_code == 0);
  CHECK(Dump(db) == "# HELP queue_depth \n# TYPE queue_depth gauge\nqueue_depth 16.5\n");
}

TEST_CASE("observe uses --buckets, then the file's buckets") {
  TempDir dir;
  const std::string db = dir.File("m.db");
  CHECK(Run(db, {"observe", "size_bytes", "300", "--buckets", "100,1000", "--help", "Sizes."}).exit_code == 0);
  CHECK(Run(db, {"observe", "size_bytes", "5000"}).exit_code == 0);
  CHECK(Dump(db) ==
        "# HELP size_bytes Sizes.\n# TYPE size_bytes histogram\nsize_bytes_bucket{le=\"100\"} 0\n"
        "size_bytes_bucket{le=\"1000\"} 1\nsize_bytes_bucket{le=\"+Inf\"} 2\nsize_bytes_sum 5300\nsize_bytes_count 2\n");
}

TEST_CASE("info and state write info and enum metrics") {
  TempDir dir;
  const std::string db = dir.File("m.db");
  CHECK(Run(db, {"info", "build_info", "--label", "version=1.2", "--label", "commit=abc"}).exit_code == 0);
  CHECK(Run(db, {"state", "phase", "test", "--states", "build,test,deploy"}).exit_code == 0);
  CHECK(Run(db, {"state", "phase", "deploy"}).exit_code == 0);  // states from the file
  CHECK(Dump(db) ==
        "# HELP build_info \n# TYPE build_info gauge\nbuild_info{commit=\"abc\",version=\"1.2\"} 1\n"
        "# HELP phase \n# TYPE phase gauge\nphase{phase=\"build\"} 0\nphase{phase=\"test\"} 0\nphase{phase=\"deploy\"} 1\n");
}

TEST_CASE("label values and help texts are taken literally") {
  TempDir dir;
  const std::string db = dir.File("m.db");
  CHECK(Run(db, {"inc", "c", "--label", "path=a\"b\\c\nd=e ü", "--help", "x\\y\nz \"q\""}).exit_code == 0);
  CHECK(Dump(db) == "# HELP c_total x\\\\y\\nz \"q\"\n# TYPE c_total counter\nc_total{path=\"a\\\"b\\\\c\\nd=e ü\"} 1\n");
}

TEST_CASE("dump output passes both validators") {
  TempDir dir;
  const std::string db = dir.File("m.db");
  REQUIRE(Run(db, {"inc", "jobs", "--label", "q=a\"b", "--help", "Jobs."}).exit_code == 0);
  REQUIRE(Run(db, {"observe", "step_seconds", "1.5", "--help", "Steps."}).exit_code == 0);
  REQUIRE(Run(db, {"set", "g", "NaN", "--help", "G."}).exit_code == 0);
  REQUIRE(Run(db, {"info", "app", "--label", "v=1", "--help", "App."}).exit_code == 0);
  REQUIRE(Run(db, {"state", "st", "b", "--states", "a,b", "--help", "St."}).exit_code == 0);
  CommandResult text = promsqlite::test::CheckExposition(Dump(db), false);
  INFO(text.output);
  CHECK(text.exit_code == 0);
  CommandResult om = promsqlite::test::CheckExposition(Dump(db, "openmetrics"), true);
  INFO(om.output);
  CHECK(om.exit_code == 0);
  CHECK(Dump(dir.File("missing.db"), "openmetrics") == "# EOF\n");
}

TEST_CASE("list shows families with type, series count, labels and help") {
  TempDir dir;
  const std::string db = dir.File("m.db");
  Run(db, {"inc", "jobs", "--label", "q=a", "--label", "host=h", "--help", "Jobs\ndone."});
  Run(db, {"inc", "jobs", "--label", "q=b", "--label", "host=h"});
  Run(db, {"set", "g", "1"});
  CHECK(Run(db, {"list"}).output ==
        "NAME\tTYPE\tSERIES\tLABELS\tHELP\ng\tgauge\t1\t-\t\njobs\tcounter\t2\thost,q\tJobs\\ndone.\n");
}

TEST_CASE("rm removes one series, or a whole family") {
  TempDir dir;
  const std::string db = dir.File("m.db");
  Run(db, {"inc", "jobs", "--label", "q=a"});
  Run(db, {"inc", "jobs", "--label", "q=b"});
  Run(db, {"set", "g", "1"});
  CHECK(Run(db, {"rm", "jobs_total", "--label", "q=a"}).exit_code == 0);
  CHECK(Dump(db) == "# HELP g \n# TYPE g gauge\ng 1\n# HELP jobs_total \n# TYPE jobs_total counter\njobs_total{q=\"b\"} 1\n");
  CHECK(Run(db, {"rm", "jobs"}).exit_code == 0);
  CHECK(Run(db, {"rm", "g"}).exit_code == 0);
  CHECK(Run(db, {"list"}).output == "NAME\tTYPE\tSERIES\tLABELS\tHELP\n");
}

TEST_CASE("the database comes from --db before or after the command, else $PROMSQLITE_DB") {
  TempDir dir;
  CHECK(promsqlite::test::RunCommand({Cli(), "inc", "a", "--db", dir.File("after.db")}).exit_code == 0);
  CHECK(Dump(dir.File("after.db")) == "# HELP a_total \n# TYPE a_total counter\na_total 1\n");
  CHECK(promsqlite::test::RunCommand({"/usr/bin/env", "PROMSQLITE_DB=" + dir.File("env.db"), Cli(), "inc", "b"}).exit_code == 0);
  CHECK(Dump(dir.File("env.db")) == "# HELP b_total \n# TYPE b_total counter\nb_total 1\n");
  // --db wins over the environment.
  CHECK(promsqlite::test::RunCommand({"/usr/bin/env", "PROMSQLITE_DB=" + dir.File("env.db"), Cli(), "inc", "c", "--db",
                                      dir.File("after.db")}).exit_code == 0);
  CHECK(Contains(Dump(dir.File("after.db")), "c_total 1\n"));
  CHECK_FALSE(Contains(Dump(dir.File("env.db")), "c_total"));
}

TEST_CASE("without --db or $PROMSQLITE_DB every command exits 2 naming both, and writes no file in the working folder") {
  TempDir dir;
  const std::string message =
      "promsqlite: no promsqlite file chosen: give --db FILE or set the environment variable PROMSQLITE_DB "
      "(see 'promsqlite --help')\n";
  // In the folder it runs in, with PROMSQLITE_DB unset, then set but empty.
  for (const char* env : {"-u", "PROMSQLITE_DB="}) {
    for (std::vector<std::string> args : EveryCommand()) {
      CAPTURE(env);
      CAPTURE(args[0]);
      std::vector<std::string> argv = {"/bin/sh", "-c", "cd \"$0\" && exec env " + std::string(env) +
                                                            (env[0] == '-' ? " PROMSQLITE_DB" : "") + " \"$@\"",
                                       dir.path(), Cli()};
      argv.insert(argv.end(), args.begin(), args.end());
      Streams r = RunApart(argv);
      CHECK(r.exit_code == 2);
      CHECK(r.err == message);
      CHECK(r.out == "");
    }
  }
  CHECK(promsqlite::test::RunCommand({"ls", "-A", dir.path()}).output == "");
  // Before the command's own arguments: the same line whatever else is wrong.
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"inc"}, {"inc", "x", "-1"}, {"inc", "9x"}, {"set", "x"}, {"dump", "--format", "json"}, {"wipe"},
           {"inc", "x", "--buckets", "1"}, {"time", "x"}}) {
    CAPTURE(args[0]);
    args.insert(args.begin(), {"/usr/bin/env", "-u", "PROMSQLITE_DB", Cli()});
    CHECK(promsqlite::test::RunCommand(args).output == message);
  }
  // Only a command line that cannot be read at all is reported first.
  CHECK(promsqlite::test::RunCommand({"/usr/bin/env", "-u", "PROMSQLITE_DB", Cli(), "inc", "x", "--frobnicate"}).output ==
        "promsqlite: unknown option --frobnicate (see 'promsqlite --help')\n");
  // An empty --db is no choice either.
  CommandResult empty = promsqlite::test::RunCommand({Cli(), "--db", "", "list"});
  CHECK(empty.exit_code == 2);
  CHECK(empty.output == "promsqlite: --db needs a file name, got \"\" (see 'promsqlite --help')\n");
  CHECK(promsqlite::test::RunCommand({Cli(), "--db=", "inc", "x"}).exit_code == 2);
  // Help and the version need no file.
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{{"--help"}, {"inc", "--help"}, {"--version"}}) {
    args.insert(args.begin(), {"/usr/bin/env", "-u", "PROMSQLITE_DB", Cli()});
    CHECK(promsqlite::test::RunCommand(args).exit_code == 0);
  }
}

TEST_CASE("--help on every command and --version") {
  for (const char* command :
       {"inc", "set", "add", "observe", "time", "info", "state", "dump", "list", "rm", "clear", "wipe", "housekeep",
        "push", "remote-write", "check"}) {
    CAPTURE(command);
    CommandResult r = promsqlite::test::RunCommand({Cli(), command, "--help"});
    CHECK(r.exit_code == 0);
    CHECK(Contains(r.output, std::string("usage: promsqlite [--db FILE] ") + command));
  }
  CommandResult general = promsqlite::test::RunCommand({Cli(), "--help"});
  CHECK(general.exit_code == 0);
  CHECK(Contains(general.output, "Exit codes:"));
  CHECK(Contains(general.output, "--db FILE       the file (before or after COMMAND), else $PROMSQLITE_DB"));
  CHECK_FALSE(Contains(general.output, "promsqlite.db"));
  CHECK(Contains(promsqlite::test::RunCommand({Cli(), "--version"}).output, "promsqlite 0.1.0 (SQLite 3."));
}

TEST_CASE("time passes stdin/stdout through and exits with the command's status") {
  TempDir dir;
  const std::string db = dir.File("m.db");
  CommandResult cat = Run(db, {"time", "step_seconds", "--label", "step=cat", "--", "cat"}, "piped input\n");
  CHECK(cat.exit_code == 0);
  CHECK(cat.output == "piped input\n");
  CHECK(Run(db, {"time", "step_seconds", "--label", "step=fail", "--", "false"}).exit_code == 1);
  CHECK(Run(db, {"time", "step_seconds", "--label", "step=fail", "--", "sh", "-c", "exit 42"}).exit_code == 42);
  CHECK(Run(db, {"time", "step_seconds", "--label", "step=kill", "--", "sh", "-c", "kill -9 $$"}).exit_code == 128 + 9);
  CommandResult missing = Run(db, {"time", "step_seconds", "--label", "step=none", "--", "/no/such/program"});
  CHECK(missing.exit_code == 127);
  CHECK(missing.output == "promsqlite: cannot run \"/no/such/program\": No such file or directory\n");
  std::string text = Dump(db);
  CHECK(Contains(text, "step_runs_total{outcome=\"success\",step=\"cat\"} 1\n"));
  CHECK(Contains(text, "step_runs_total{outcome=\"failure\",step=\"fail\"} 2\n"));
  CHECK(Contains(text, "step_runs_total{outcome=\"failure\",step=\"kill\"} 1\n"));
  CHECK(Contains(text, "step_runs_total{outcome=\"failure\",step=\"none\"} 1\n"));
  CHECK(Contains(text, "step_seconds_count{step=\"fail\"} 2\n"));
  CHECK(promsqlite::test::CheckExposition(Dump(db, "openmetrics"), true).exit_code == 0);
}

TEST_CASE("time runs an executable file without #! with /bin/sh, as a shell does, by path or found in PATH") {
  TempDir dir;
  const std::string db = dir.File("m.db");
  promsqlite::test::WriteFile(dir.File("step.sh"), "echo \"ran $1\"\nexit 7\n");
  REQUIRE(chmod(dir.File("step.sh").c_str(), 0755) == 0);
  CommandResult by_path = Run(db, {"time", "step_seconds", "--", dir.File("step.sh"), "one"});
  CHECK(by_path.exit_code == 7);
  CHECK(by_path.output == "ran one\n");
  CommandResult in_path = promsqlite::test::RunCommand(
      {"/usr/bin/env", "PATH=" + dir.path() + ":/usr/bin:/bin", Cli(), "--db", db, "time", "step_seconds", "--",
       "step.sh", "two"});
  CHECK(in_path.exit_code == 7);
  CHECK(in_path.output == "ran two\n");
  CHECK(Contains(Dump(db), "step_runs_total{outcome=\"failure\"} 2\n"));
}

TEST_CASE("time forwards a signal sent to it and reports 128+N") {
  TempDir dir;
  const std::string db = dir.File("m.db");
  pid_t pid = fork();
  if (pid == 0) {
    execl(Cli().c_str(), "promsqlite", "--db", db.c_str(), "time", "wait_seconds", "--", "sleep", "30",
          static_cast<char*>(nullptr));
    _exit(126);
  }
  // Wait until the timed command runs (the families are declared first).
  for (int i = 0; i < 200 && !Contains(Run(db, {"list"}).output, "wait_runs"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 128 + SIGTERM);
  CHECK(Contains(Dump(db), "wait_runs_total{outcome=\"failure\"} 1\n"));
}

TEST_CASE("every rejected invocation has its exit code, one line on stderr, and writes nothing") {
  TempDir dir;
  const std::string db = dir.File("m.db");
  REQUIRE(Run(db, {"inc", "jobs", "--label", "q=a"}).exit_code == 0);
  REQUIRE(Run(db, {"observe", "h", "1", "--buckets", "1,2"}).exit_code == 0);
  REQUIRE(Run(db, {"state", "st", "a", "--states", "a,b"}).exit_code == 0);
  REQUIRE(Run(db, {"set", "g", "1"}).exit_code == 0);
  const std::string before = Snapshot(db);
  struct Case {
    std::vector<std::string> args;
    int code;
    const char* message;
  };
  const Case cases[] = {
      {{"bogus"}, 2, "promsqlite: unknown command \"bogus\" (see 'promsqlite --help')\n"},
      {{}, 2, "promsqlite: no command given (see 'promsqlite --help')\n"},
      {{"inc"}, 2, "promsqlite: inc needs a metric NAME (see 'promsqlite --help')\n"},
      {{"inc", "jobs", "--label", "q=a", "--frobnicate"}, 2, "promsqlite: unknown option --frobnicate (see 'promsqlite --help')\n"},
      {{"inc", "jobs", "x", "--label", "q=a"}, 2, "promsqlite: AMOUNT must be a number, got \"x\" (see 'promsqlite --help')\n"},
      {{"inc", "jobs", "1,5", "--label", "q=a"}, 2, "promsqlite: AMOUNT must be a number, got \"1,5\" (see 'promsqlite --help')\n"},
      {{"inc", "jobs", "1", "2", "--label", "q=a"}, 2, "promsqlite: inc: unexpected argument \"2\" (see 'promsqlite --help')\n"},
      {{"inc", "jobs", "--label", "q"}, 2, "promsqlite: --label needs KEY=VALUE, got \"q\" (see 'promsqlite --help')\n"},
      {{"inc", "jobs", "--label", "=v"}, 2, "promsqlite: --label needs KEY=VALUE, got \"=v\" (see 'promsqlite --help')\n"},
      {{"inc", "jobs", "--label", "q=a", "--label", "q=b"}, 2, "promsqlite: --label q is given twice (see 'promsqlite --help')\n"},
      {{"inc", "jobs", "--label"}, 2, "promsqlite: --label needs a value (see 'promsqlite --help')\n"},
      {{"inc", "jobs", "--label", "q=a", "--exemplar", "id"}, 2, "promsqlite: --exemplar needs KEY=VALUE, got \"id\" (see 'promsqlite --help')\n"},
      {{"set", "g", "2", "--exemplar", "id=1"}, 2, "promsqlite: --exemplar is for inc and observe, not set (see 'promsqlite --help')\n"},
      {{"dump", "--repair"}, 2, "promsqlite: dump does not take --repair (see 'promsqlite --help')\n"},
      {{"check", "all"}, 2, "promsqlite: check: unexpected argument \"all\" (see 'promsqlite --help')\n"},
      {{"inc", "jobs", "--label", "q=a", "--exemplar", "0id=1"}, 3, "promsqlite: metric 'jobs': exemplar label name \"0id\" must match [a-zA-Z_][a-zA-Z0-9_]*\n"},
      {{"observe", "new_h", "1", "--exemplar", "id=" + std::string(127, 'x')}, 3, "promsqlite: metric 'new_h': exemplar labels have 129 characters (names and values together), more than the limit of 128\n"},
      {{"inc", "jobs", "--buckets", "1", "--label", "q=a"}, 2, "promsqlite: inc does not take --buckets (see 'promsqlite --help')\n"},
      {{"set", "g"}, 2, "promsqlite: set needs a VALUE (see 'promsqlite --help')\n"},
      {{"observe", "h", "1", "--buckets", "1,x"}, 2, "promsqlite: --buckets must be a number, got \"x\" (see 'promsqlite --help')\n"},
      {{"dump", "--format", "json"}, 2, "promsqlite: --format must be text, openmetrics or protobuf, got \"json\" (see 'promsqlite --help')\n"},
      {{"observe", "nh", "1", "--native-max-buckets", "5"}, 2, "promsqlite: --native-zero-threshold and --native-max-buckets need --native-factor (see 'promsqlite --help')\n"},
      {{"observe", "nh", "1", "--native-factor", "1.1", "--native-max-buckets", "2.5"}, 2, "promsqlite: --native-max-buckets must be a whole number, got \"2.5\" (see 'promsqlite --help')\n"},
      {{"observe", "nh", "1", "--native-factor", "1"}, 3, "promsqlite: metric 'nh': native histogram bucket factor must be a finite number > 1, got 1\n"},
      {{"observe", "nh", "1", "--native-factor", "0.9"}, 3, "promsqlite: metric 'nh': native histogram bucket factor must be a finite number > 1, got 0.9\n"},
      {{"observe", "nh", "1", "--native-factor", "1.1", "--native-zero-threshold", "-1"}, 3, "promsqlite: metric 'nh': native histogram zero threshold must be a finite number >= 0, got -1\n"},
      {{"observe", "nh", "1", "--native-factor", "1.1", "--native-max-buckets", "0"}, 3, "promsqlite: metric 'nh': native histogram max buckets must be >= 1, got 0\n"},
      {{"observe", "h", "1", "--native-factor", "1.1"}, 3, nullptr},  // h is classic only
      {{"state", "new_enum", "a"}, 2, "promsqlite: state needs --states A,B,... to declare the new enum new_enum (see 'promsqlite --help')\n"},
      {{"time", "t"}, 2, "promsqlite: time needs a COMMAND after -- (see 'promsqlite --help')\n"},
      {{"time", "t", "--label", "step=x", "sh", "-c", "exit 0"}, 2, "promsqlite: time: put -- before the command to run: promsqlite time t -- sh -c 'exit 0' (see 'promsqlite --help')\n"},
      {{"time", "t", "make", "-j4", "--label", "step=x"}, 2, "promsqlite: time: put -- before the command to run: promsqlite time t -- make -j4 --label step=x (see 'promsqlite --help')\n"},
      {{"time", "t", "echo", "it's"}, 2, "promsqlite: time: put -- before the command to run: promsqlite time t -- echo 'it'\\''s' (see 'promsqlite --help')\n"},
      {{"time", "t", "true", "--", "true"}, 2, "promsqlite: time: put -- before the command to run: promsqlite time t -- true -- true (see 'promsqlite --help')\n"},
      {{"--port", "9100", "list"}, 2, "promsqlite: unknown option --port: ports are for promsqlite-server, which serves the file (promsqlite-server --db FILE --web.listen-address=:9100); promsqlite only writes and reads it (see 'promsqlite --help')\n"},
      {{"dump", "--port=x"}, 2, "promsqlite: unknown option --port: ports are for promsqlite-server, which serves the file (promsqlite-server --db FILE --web.listen-address=:9186); promsqlite only writes and reads it (see 'promsqlite --help')\n"},
      {{"dump", "--web.listen-address", ":9200"}, 2, "promsqlite: unknown option --web.listen-address: ports are for promsqlite-server, which serves the file (promsqlite-server --db FILE --web.listen-address=:9200); promsqlite only writes and reads it (see 'promsqlite --help')\n"},
      {{"time", "t", "--label", "outcome=x", "--", "true"}, 2, "promsqlite: time adds the label \"outcome\" itself; do not pass it with --label (see 'promsqlite --help')\n"},
      {{"inc", "jobs", "-1", "--label", "q=a"}, 3, "promsqlite: metric 'jobs': AMOUNT must be >= 0, got \"-1\": counters only go up (for a value that also goes down, use a gauge: promsqlite add NAME DELTA)\n"},
      {{"inc", "jobs", "-0.5e-3", "--label", "q=a"}, 3, "promsqlite: metric 'jobs': AMOUNT must be >= 0, got \"-0.5e-3\": counters only go up (for a value that also goes down, use a gauge: promsqlite add NAME DELTA)\n"},
      {{"inc", "jobs", "NaN", "--label", "q=a"}, 3, "promsqlite: metric 'jobs': AMOUNT must be a finite number >= 0, got \"NaN\"\n"},
      {{"inc", "jobs", "Inf", "--label", "q=a"}, 3, "promsqlite: metric 'jobs': AMOUNT must be a finite number >= 0, got \"Inf\"\n"},
      {{"inc", "jobs", "-inf", "--label", "q=a"}, 3, "promsqlite: metric 'jobs': AMOUNT must be a finite number >= 0, got \"-inf\"\n"},
      {{"inc", "9jobs"}, 3, "promsqlite: metric '9jobs': metric name \"9jobs\" must match [a-zA-Z_:][a-zA-Z0-9_:]*\n"},
      {{"inc", "new", "--label", "bad-name=1"}, 3, "promsqlite: metric 'new': label name \"bad-name\" must match [a-zA-Z_][a-zA-Z0-9_]*\n"},
      {{"inc", "new", "--label", "__x=1"}, 3, "promsqlite: metric 'new': label name \"__x\" starts with \"__\", which is reserved\n"},
      {{"inc", "new", "--label", "q=\xff"}, 3, "promsqlite: metric 'new': value of label \"q\" is not valid UTF-8\n"},
      {{"inc", "g"}, 3, nullptr},                                  // type clash: a gauge
      {{"inc", "jobs", "--label", "other=a"}, 3, nullptr},         // label clash
      {{"observe", "h", "1", "--buckets", "1,3"}, 3, nullptr},     // bucket clash
      {{"observe", "h", "NaN"}, 3, "promsqlite: metric 'h': VALUE must be a number, not NaN\n"},
      {{"observe", "h", "1", "--buckets", "2,1"}, 3, "promsqlite: metric 'h': bucket bounds must be strictly increasing, but 2 is followed by 1\n"},
      {{"observe", "h2", "1", "--label", "le=1"}, 3, "promsqlite: metric 'h2': a histogram cannot have a label named \"le\" (it names the buckets)\n"},
      {{"add", "g", "NaN"}, 3, "promsqlite: metric 'g': DELTA must be a number, not NaN\n"},
      {{"state", "st", "c"}, 3, nullptr},                          // not a declared state
      {{"state", "st2", "c", "--states", "a,b"}, 3, "promsqlite: metric 'st2': state \"c\" is not among --states a,b\n"},
      {{"state", "st3", "a", "--states", "a,a"}, 3, "promsqlite: metric 'st3': state \"a\" is declared twice\n"},
      {{"time", "t", "--label", "x=\xc0", "--", "true"}, 3, "promsqlite: metric 't': value of label \"x\" is not valid UTF-8\n"},
      {{"rm", "nothing"}, 3, nullptr},
      {{"rm", "jobs", "--label", "q=zzz"}, 3, "promsqlite: metric 'jobs' has no series with these labels\n"},
      {{"rm", "jobs", "--label", "nope=1"}, 3, "promsqlite: metric 'jobs': label 'nope' is not declared (declared labels: q)\n"},
      {{"inc", "jobs", "--label", "q=a", "--synchronous", "sometimes"}, 2, "promsqlite: --synchronous must be normal or full, got \"sometimes\" (see 'promsqlite --help')\n"},
  };
  for (const Case& c : cases) {
    std::string joined;
    for (const std::string& a : c.args) joined += a + " ";
    CAPTURE(joined);
    CommandResult r = Run(db, c.args);
    CHECK(r.exit_code == c.code);
    if (c.message) CHECK(r.output == c.message);
    else CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
    // In the tool's words, not the C++ API's (Counter.Increment, Options::...).
    CHECK_FALSE(Contains(r.output, "::"));
    CHECK_FALSE(Contains(r.output, "Increment"));
    CHECK_FALSE(Contains(r.output, "Observe"));
    CHECK(Snapshot(db) == before);
  }
  // Invalid input does not even create a missing file.
  CHECK(Run(dir.File("new.db"), {"inc", "x", "-1"}).exit_code == 3);
  CHECK(Snapshot(dir.File("new.db")) == "<no file>");
}

TEST_CASE("inc and observe --exemplar keep an exemplar, shown in OpenMetrics") {
  TempDir dir;
  const std::string db = dir.File("m.db");
  REQUIRE(Run(db, {"inc", "jobs", "2", "--label", "stage=build", "--exemplar", "job_id=1234"}).exit_code == 0);
  REQUIRE(Run(db, {"observe", "build_seconds", "93.5", "--buckets", "60,120", "--exemplar", "job_id=1234",
                   "--exemplar", "runner=r1"}).exit_code == 0);
  const std::string om = Dump(db, "openmetrics");
  CHECK(om.find("jobs_total{stage=\"build\"} 2 # {job_id=\"1234\"} 2 17") != std::string::npos);
  CHECK(om.find("build_seconds_bucket{le=\"120.0\"} 1 # {job_id=\"1234\",runner=\"r1\"} 93.5 17") != std::string::npos);
  CHECK(Dump(db).find("job_id") == std::string::npos);  // the text format has none
}

TEST_CASE("--exemplar KEY= keeps an empty value, as the official clients do") {
  // prometheus_client and client_golang accept empty exemplar label values;
  // an unset $CI_JOB_ID must not fail the job's metrics.
  TempDir dir;
  const std::string db = dir.File("m.db");
  REQUIRE(Run(db, {"inc", "jobs", "--exemplar", "job_id="}).exit_code == 0);
  REQUIRE(Run(db, {"observe", "build_seconds", "3", "--buckets", "60", "--exemplar", "job_id="}).exit_code == 0);
  const std::string om = Dump(db, "openmetrics");
  CHECK(Contains(om, "jobs_total 1 # {job_id=\"\"} 1 17"));
  CHECK(Contains(om, "build_seconds_bucket{le=\"60.0\"} 1 # {job_id=\"\"} 3 17"));
  CHECK(promsqlite::test::CheckExposition(om, true).exit_code == 0);
  CHECK(Contains(Run(db, {"inc", "--help"}).output, "An empty VALUE"));
}

TEST_CASE("database problems exit 1 with the file's name") {
  TempDir dir;
  promsqlite::test::WriteFile(dir.File("text.db"), std::string(8192, 'x'));
  // One line that names the file; the wording is the library's.
  auto names_file = [&](const std::string& output) {
    return output.rfind("promsqlite: " + dir.File("text.db") + ": ", 0) == 0 && Contains(output, "not a database") &&
           std::count(output.begin(), output.end(), '\n') == 1;
  };
  CommandResult r = Run(dir.File("text.db"), {"inc", "a"});
  CHECK(r.exit_code == 1);
  CHECK(names_file(r.output));
  CHECK(Run(dir.File("text.db"), {"dump"}).exit_code == 1);
  CHECK(names_file(Run(dir.File("text.db"), {"dump"}).output));
  CommandResult absent = Run(dir.File("absent.db"), {"rm", "a"});
  CHECK(absent.exit_code == 1);
  CHECK(absent.output == "promsqlite: " + dir.File("absent.db") + ": no such file (rm does not create one)\n");
  for (const char* command : {"clear", "wipe", "housekeep"}) {
    CAPTURE(command);
    std::vector<std::string> args = {command};
    if (args[0] == "clear") args.push_back("a");
    if (args[0] == "wipe") args.push_back("--yes");
    CHECK(Run(dir.File("absent.db"), args).output ==
          "promsqlite: " + dir.File("absent.db") + ": no such file (" + command + " does not create one)\n");
  }
  CHECK(Snapshot(dir.File("absent.db")) == "<no file>");
  mkdir(dir.File("dir.db").c_str(), 0700);
  CHECK(Run(dir.File("dir.db"), {"set", "a", "1"}).exit_code == 1);
}

TEST_CASE("a command that fails prints nothing on stdout, only its line on stderr") {
  TempDir dir;
  promsqlite::test::WriteFile(dir.File("notdb.txt"), "not a database\n" + std::string(8192, 'x'));
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"list"}, {"dump"}, {"dump", "--format", "openmetrics"}, {"dump", "--format", "protobuf"}, {"housekeep"},
           {"inc", "x"}, {"push", "--gateway", "http://127.0.0.1:9", "--job", "j"}, {"check"}, {"check", "--repair"}}) {
    CAPTURE(args[0]);
    args.insert(args.begin(), {Cli(), "--db", dir.File("notdb.txt")});
    Streams r = RunApart(args);
    CHECK(r.exit_code == 1);
    CHECK(r.out == "");
    CHECK(r.err.rfind("promsqlite: " + dir.File("notdb.txt") + ": ", 0) == 0);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  }
  // Output that cannot be written is an error too, with its line.
  const std::string db = dir.File("m.db");
  REQUIRE(Run(db, {"inc", "x"}).exit_code == 0);
  for (const char* command : {"list", "dump", "housekeep", "check"}) {
    CAPTURE(command);
    CommandResult full = promsqlite::test::RunCommand(
        {"/bin/sh", "-c", "exec \"$0\" --db \"$1\" \"$2\" 2>&1 >/dev/full", Cli(), db, command});
    CHECK(full.exit_code == 1);
    CHECK(full.output == "promsqlite: cannot write to stdout: No space left on device\n");
  }
}

TEST_CASE("20 concurrent processes x 50 increments give exactly 1000") {
  TempDir dir;
  const std::string db = dir.File("m.db");
  std::string script = "for p in $(seq 20); do (for i in $(seq 50); do '" + Cli() + "' --db '" + db +
                       "' inc shell_jobs --label 'kind=a \"b\"' || echo FAILED; done) & done; wait";
  CommandResult r = promsqlite::test::RunCommand({"/bin/sh", "-c", script});
  CHECK(r.output == "");
  CHECK(Dump(db) == "# HELP shell_jobs_total \n# TYPE shell_jobs_total counter\nshell_jobs_total{kind=\"a \\\"b\\\"\"} 1000\n");
}

TEST_CASE("observe from several processes gives a consistent histogram") {
  // Binary fractions: the sum is exact in whatever order processes add.
  TempDir dir;
  const std::string db = dir.File("m.db");
  std::string script = "for p in $(seq 8); do (for v in 0.0625 0.5 4 64; do '" + Cli() + "' --db '" + db +
                       "' observe op_seconds $v --buckets 0.1,1,10 --help Ops. || echo FAILED; done) & done; wait";
  CommandResult r = promsqlite::test::RunCommand({"/bin/sh", "-c", script});
  CHECK(r.output == "");
  CHECK(Dump(db) ==
        "# HELP op_seconds Ops.\n# TYPE op_seconds histogram\nop_seconds_bucket{le=\"0.1\"} 8\n"
        "op_seconds_bucket{le=\"1\"} 16\nop_seconds_bucket{le=\"10\"} 24\nop_seconds_bucket{le=\"+Inf\"} 32\n"
        "op_seconds_sum 548.5\nop_seconds_count 32\n");
  CHECK(promsqlite::test::CheckExposition(Dump(db), false).exit_code == 0);
}

TEST_CASE("observe --native-factor declares a native histogram that several processes share; dump --format protobuf shows it") {
  TempDir dir;
  const std::string db = dir.File("m.db");
  std::string script = "for p in $(seq 6); do (for v in 0.25 1 3 3 100; do '" + Cli() + "' --db '" + db +
                       "' observe step_seconds $v --native-factor 2 --help Steps. || echo FAILED; done) & done; wait";
  CommandResult r = promsqlite::test::RunCommand({"/bin/sh", "-c", script});
  CHECK(r.output == "");
  // Later invocations find the declaration in the file.
  CHECK(Run(db, {"observe", "step_seconds", "-1"}).exit_code == 0);
  CHECK(Dump(db) ==
        "# HELP step_seconds Steps.\n# TYPE step_seconds histogram\nstep_seconds_bucket{le=\"+Inf\"} 31\n"
        "step_seconds_sum 642.5\nstep_seconds_count 31\n");
  // Schema 0: 0.25 -> bucket -2, 1 -> 0, 3 -> 2, 100 -> 7; -1 -> negative bucket 0.
  CHECK(promsqlite::test::DecodeMetricFamilies(Dump(db, "protobuf")) ==
        "name: \"step_seconds\"\nhelp: \"Steps.\"\ntype: HISTOGRAM\nmetric {\n  histogram {\n"
        "    sample_count: 31\n    sample_sum: 642.5\n    schema: 0\n    zero_threshold: 2.9387358770557188e-39\n"
        "    zero_count: 0\n    negative_span {\n      offset: 0\n      length: 1\n    }\n    negative_delta: 1\n"
        "    positive_span {\n      offset: -2\n      length: 1\n    }\n    positive_span {\n      offset: 1\n      length: 1\n    }\n"
        "    positive_span {\n      offset: 1\n      length: 1\n    }\n    positive_span {\n      offset: 4\n      length: 1\n    }\n"
        "    positive_delta: 6\n    positive_delta: 0\n    positive_delta: 6\n    positive_delta: -6\n  }\n}\n");
  // Classic buckets alongside, and time with a native histogram.
  CHECK(Run(db, {"observe", "both", "2", "--buckets", "1,5", "--native-factor", "1.1", "--help", "Both."}).exit_code == 0);
  CHECK(Run(db, {"time", "ci_step_seconds", "--native-factor", "1.1", "--help", "CI steps.", "--", "true"}).exit_code == 0);
  std::string text = Dump(db);
  CHECK(text.find("both_bucket{le=\"5\"} 1\n") != std::string::npos);
  CHECK(text.find("ci_step_seconds_count 1\n") != std::string::npos);
  CHECK(promsqlite::test::CheckExposition(text, false).exit_code == 0);
}

TEST_CASE("clear, wipe and housekeep from the CLI; --ttl declares an expiry") {
  TempDir dir;
  const std::string db = dir.File("m.db");
  Run(db, {"inc", "jobs", "--label", "q=a", "--help", "Jobs."});
  Run(db, {"set", "temp", "3", "--ttl", "3600", "--help", "Temp."});
  CHECK(Run(db, {"list"}).output.find("temp\tgauge\t1") != std::string::npos);
  CHECK(Run(db, {"set", "temp", "4"}).exit_code == 3);  // a TTL is part of the declaration
  CHECK(Run(db, {"clear", "jobs_total"}).exit_code == 0);
  CHECK(Dump(db) == "# HELP temp Temp.\n# TYPE temp gauge\ntemp 3\n");
  CHECK(Run(db, {"list"}).output.find("jobs\tcounter\t0\tq\tJobs.") != std::string::npos);
  CHECK(Run(db, {"clear", "nothing"}).output == "promsqlite: no metric 'nothing' in " + db + "\n");
  CommandResult housekeep = Run(db, {"housekeep"});
  CHECK(housekeep.exit_code == 0);
  CHECK(housekeep.output == "expired_series 0\ndead_process_series 0\ndead_writers 0\norphaned_series 0\ncomplete yes\n");
  CHECK(Run(db, {"wipe"}).exit_code == 2);  // needs --yes
  CHECK(Dump(db) != "");
  CHECK(Run(db, {"wipe", "--yes"}).exit_code == 0);
  CHECK(Dump(db) == "");
  CHECK(Run(db, {"list"}).output == "NAME\tTYPE\tSERIES\tLABELS\tHELP\n");
  CHECK(promsqlite::test::CheckExposition(Dump(db, "openmetrics"), true).exit_code == 0);
  CHECK(Run(db, {"inc", "x", "--ttl", "-1"}).exit_code == 3);
  CHECK(Run(db, {"inc", "x", "--ttl", "soon"}).exit_code == 2);
}

namespace {

std::string FlushCounter() {
  const char* path = std::getenv("PROMSQLITE_FLUSH_COUNTER");
  REQUIRE_MESSAGE(path != nullptr, "PROMSQLITE_FLUSH_COUNTER is set by meson");
  return path;
}

// The device flushes (fsync, fdatasync...) of `calls` runs of the tool with
// `args` on `db` (tests/flush_counter.cc counts them).
long FlushesOf(const std::string& db, const std::vector<std::string>& args, int calls,
               const std::vector<std::string>& env = {}) {
  TempDir dir;
  const std::string log = dir.File("flushes");
  std::vector<std::string> argv = {"/usr/bin/env", "LD_PRELOAD=" + FlushCounter(), "PROMSQLITE_FLUSH_LOG=" + log};
  argv.insert(argv.end(), env.begin(), env.end());
  argv.insert(argv.end(), {Cli(), "--db", db});
  argv.insert(argv.end(), args.begin(), args.end());
  for (int i = 0; i < calls; ++i) REQUIRE(promsqlite::test::RunCommand(argv).exit_code == 0);
  struct stat st;
  return stat(log.c_str(), &st) == 0 ? static_cast<long>(st.st_size) : 0;
}

// What the dynamic loader loads for one run of the tool (LD_DEBUG=files
// names each library it maps, in the tool and in the programs it runs, such
// as promsqlite-push), with its exit code.
CommandResult LoadedBy(const std::string& db, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"/usr/bin/env", "LD_DEBUG=files", Cli(), "--db", db};
  argv.insert(argv.end(), args.begin(), args.end());
  return promsqlite::test::RunCommand(argv);
}

// The push library and what it alone brings in.
const char* const kPushLibraries[] = {"libpromsqlite_push.so", "libprotobuf", "libssl", "libcrypto",
                                      "libsnappy", "libbrotli", "libcpp-httplib", "libz.so"};

}  // namespace

TEST_CASE("the commands that write or read the file load neither the push library nor what it needs") {
  TempDir dir;
  const std::string db = dir.File("m.db");
  REQUIRE(Run(db, {"inc", "jobs", "--label", "q=a"}).exit_code == 0);
  const std::vector<std::vector<std::string>> commands = {
      {"inc", "jobs", "--label", "q=a"}, {"set", "g", "1"}, {"add", "g", "2"}, {"observe", "h", "1"},
      {"info", "build", "--label", "version=1"}, {"state", "st", "a", "--states", "a,b"}, {"time", "t", "--", "true"},
      {"dump"}, {"list"}, {"rm", "g"}, {"clear", "jobs"}, {"housekeep"}};
  for (const auto& command : commands) {
    CAPTURE(command[0]);
    CommandResult r = LoadedBy(db, command);
    CHECK(r.exit_code == 0);
    CHECK(Contains(r.output, "file=libsqlite3.so"));  // LD_DEBUG does show what is loaded
    for (const char* library : kPushLibraries) {
      CAPTURE(library);
      CHECK_FALSE(Contains(r.output, std::string("file=") + library));
    }
  }
  // Nor does the program itself need them.
  CommandResult ldd = promsqlite::test::RunCommand({"ldd", Cli()});
  REQUIRE(ldd.exit_code == 0);
  for (const char* library : kPushLibraries) CHECK_FALSE(Contains(ldd.output, library));
  // push and remote-write load it when they run (here: nothing listens on
  // the discard port, so they fail to deliver, exit 4).
  if (std::string(std::getenv("PROMSQLITE_PUSH_BUILT") ? std::getenv("PROMSQLITE_PUSH_BUILT") : "") == "yes") {
    for (const std::vector<std::string>& command :
         {std::vector<std::string>{"push", "--gateway", "http://127.0.0.1:9", "--job", "j", "--retries", "0"},
          std::vector<std::string>{"remote-write", "--url", "http://127.0.0.1:9/api/v1/write", "--retries", "0"}}) {
      CAPTURE(command[0]);
      CommandResult r = LoadedBy(db, command);
      CHECK(r.exit_code == 4);
      CHECK(Contains(r.output, "file=libpromsqlite_push.so"));
      CHECK(Contains(r.output, "file=libprotobuf"));
    }
  }
}

TEST_CASE("push and remote-write without their helper program say so and exit 4; the other commands work") {
  if (std::string(std::getenv("PROMSQLITE_PUSH_BUILT") ? std::getenv("PROMSQLITE_PUSH_BUILT") : "") != "yes") return;
  const std::string installed = std::getenv("PROMSQLITE_PUSH_HELPER") ? std::getenv("PROMSQLITE_PUSH_HELPER") : "";
  if (access(installed.c_str(), F_OK) == 0) return;  // installed on this machine: it would be found there
  // The tool alone in a folder of its own (the helper is looked for beside
  // it, then where it is installed).
  TempDir dir;
  const std::string tool = dir.File("promsqlite");
  REQUIRE(promsqlite::test::RunCommand({"cp", Cli(), tool}).exit_code == 0);
  const std::string db = dir.File("m.db");
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {tool, "--db", db});
    return promsqlite::test::RunCommand(args);
  };
  REQUIRE(run({"inc", "jobs"}).exit_code == 0);
  CHECK(Contains(run({"dump"}).output, "jobs_total 1\n"));
  CommandResult push = run({"push", "--gateway", "http://127.0.0.1:9", "--job", "j"});
  CHECK(push.exit_code == 4);
  CHECK(push.output == "promsqlite: push: cannot run " + installed +
                           ", the program that sends the file (Pushgateway and remote-write support): No such file "
                           "or directory; it is installed with promsqlite (Debian: package promsqlite)\n");
  CommandResult remote = run({"remote-write", "--url", "http://127.0.0.1:9"});
  CHECK(remote.exit_code == 4);
  CHECK(remote.output.rfind("promsqlite: remote-write: cannot run " + installed + ",", 0) == 0);
  // Usage errors come first, from the tool itself.
  CHECK(run({"push", "--job", "j"}).output == "promsqlite: push needs --gateway (see 'promsqlite --help')\n");
  CHECK(run({"remote-write", "--url", "http://x", "--job", "j"}).exit_code == 2);
}

TEST_CASE("updates by processes that each open the file alone flush nothing; --synchronous full flushes each one") {
  TempDir dir;
  const std::string db = dir.File("m.db");
  REQUIRE(Run(db, {"inc", "jobs", "--label", "q=a"}).exit_code == 0);
  REQUIRE(Run(db, {"observe", "step_seconds", "0.5"}).exit_code == 0);
  // Each run opens and closes the file as its only user: no checkpoint when
  // it closes, and no new WAL to sync the header of (docs/checkpoints.md,
  // "Closing"); far below the 256 pages at which the last one out
  // checkpoints.
  CHECK(FlushesOf(db, {"inc", "jobs", "--label", "q=a"}, 20) == 0);
  CHECK(FlushesOf(db, {"time", "step_seconds", "--", "true"}, 5) == 0);
  CHECK(FlushesOf(db, {"set", "g", "1"}, 5) == 0);
  // Every commit synced: one flush at least per update.
  CHECK(FlushesOf(db, {"--synchronous", "full", "inc", "jobs", "--label", "q=a"}, 5) >= 5);
  CHECK(FlushesOf(db, {"inc", "jobs", "--label", "q=a"}, 5, {"PROMSQLITE_SYNCHRONOUS=full"}) >= 5);
  CHECK(FlushesOf(db, {"--synchronous", "normal", "inc", "jobs", "--label", "q=a"}, 5) == 0);
  CHECK(Contains(Dump(db), "jobs_total{q=\"a\"} 36\n"));
}

TEST_CASE("a row another program wrote wrongly: dump prints the rest exactly, names the row on stderr, exits 5; "
          "check lists it and exits 5; check --repair says what it deletes, deletes exactly it, exits 0") {
  for (const promsqlite::test::UnreadableCase& c : promsqlite::test::UnreadableCases()) {
    if (!c.core) continue;
    CAPTURE(c.name);
    TempDir dir;
    const std::string db = dir.File("m.db"), served = dir.File("served.db"), repaired = dir.File("repaired.db");
    promsqlite::test::WriteSoundFile(db);
    promsqlite::test::ExecSql(db, c.mistake);
    promsqlite::test::WriteSoundFile(served);
    if (!c.served_as.empty()) promsqlite::test::ExecSql(served, c.served_as);
    promsqlite::test::WriteSoundFile(repaired);
    if (!c.repaired_as.empty()) promsqlite::test::ExecSql(repaired, c.repaired_as);
    const std::string row_line = c.row.table + "\t" + c.row.key + "\t" + c.row.family + "\t" + c.row.problem + "\n";

    for (const char* format : {"text", "openmetrics", "protobuf"}) {
      CAPTURE(format);
      Streams dump = RunApart({Cli(), "--db", db, "dump", "--format", format});
      CHECK(dump.exit_code == 5);
      CHECK(dump.out == promsqlite::Reader(served).Render(promsqlite::ParseFormat(format)));
      CHECK(dump.err == "promsqlite: left out 1 row of " + db +
                            " that cannot be read (promsqlite check lists them, check --repair deletes them):\n"
                            "promsqlite:   " + c.row.ToString() + "\n");
    }
    Streams list = RunApart({Cli(), "--db", db, "list"});
    CHECK(list.exit_code == (c.row.table == "families" ? 5 : 0));

    Streams check = RunApart({Cli(), "--db", db, "check"});
    CHECK(check.exit_code == 5);
    CHECK(check.out == "TABLE\tKEY\tFAMILY\tPROBLEM\n" + row_line);
    CHECK(check.err == "promsqlite: 1 row in " + db + " cannot be read (promsqlite check --repair deletes it)\n");

    Streams repair = RunApart({Cli(), "--db", db, "check", "--repair"});
    CHECK(repair.exit_code == 0);
    CHECK(repair.out == "deleting:\nTABLE\tKEY\tFAMILY\tPROBLEM\n" + row_line +
                            "deleted 1 row (and the series of a family deleted, the buckets and exemplars of a series)\n");
    CHECK(repair.err == "");
    CHECK(promsqlite::test::RowsOf(db) == promsqlite::test::RowsOf(repaired));
    Streams again = RunApart({Cli(), "--db", db, "check"});
    CHECK(again.exit_code == 0);
    CHECK(again.out == "no unreadable rows\n");
    CHECK(Run(db, {"dump"}).exit_code == 0);
  }
}

TEST_CASE("check --repair on a sound file deletes nothing and says so; a listing that cannot be written deletes nothing") {
  TempDir dir;
  const std::string db = dir.File("m.db");
  promsqlite::test::WriteSoundFile(db);
  const std::string before = promsqlite::test::DumpDatabase(db);
  CommandResult r = Run(db, {"check", "--repair"});
  CHECK(r.exit_code == 0);
  CHECK(r.output == "no unreadable rows\n");
  promsqlite::test::ExecSql(db, promsqlite::test::UnreadableCases().front().mistake);
  const std::string broken = promsqlite::test::DumpDatabase(db);
  CHECK(broken != before);
  CommandResult full = promsqlite::test::RunCommand(
      {"/bin/sh", "-c", "exec \"$0\" --db \"$1\" check --repair 2>&1 >/dev/full", Cli(), db});
  CHECK(full.exit_code == 1);
  CHECK(full.output == "promsqlite: cannot write to stdout: No space left on device\npromsqlite: " + db +
                           ": nothing deleted (the rows could not be listed first)\n");
  CHECK(promsqlite::test::DumpDatabase(db) == broken);
}
