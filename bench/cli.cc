// What a shell loop pays per call of the promsqlite tool: --calls rounds,
// each running /bin/true (the cost of starting any program here), then
// `promsqlite --db FILE inc bench_cli_items_total --label k=v`, then
// `promsqlite --db FILE time bench_cli_step_seconds -- true`, one after the
// other (posix_spawn, then wait), on a file that exists (made by one call
// of each first). Each call's wall time is taken from the spawn to the end
// of the wait; its CPU time (user + system) from wait4. The figures are the
// medians over the rounds; interleaving the three puts the same noise of a
// shared machine on each.
//
// Then the device flushes (fsync, fdatasync, syncfs, sync) of --calls more
// calls of each command, counted by the LD_PRELOAD shim --flush-counter
// (tests/flush_counter.cc): per call, on average. A call that closes the
// file as its last user checkpoints it once its WAL holds 256 pages
// (docs/checkpoints.md, "Closing"), so a run of calls includes those; the
// rest flush nothing. --synchronous full is counted too, as context: it
// syncs every commit.
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "benchmarks.h"

extern char** environ;

namespace bench {
namespace {

struct Call {
  double wall_ms = 0;
  double cpu_ms = 0;
};

// Runs `argv` with the environment plus `extra` ("NAME=value"), stdout and
// stderr to /dev/null; throws unless it exits 0.
Call Run(const std::vector<std::string>& argv, const std::vector<std::string>& extra = {}) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<char*> env;
  for (char** e = environ; *e != nullptr; ++e) env.push_back(*e);
  for (const std::string& e : extra) env.push_back(const_cast<char*>(e.c_str()));
  env.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  const int64_t start = NowNanos();
  pid_t pid = 0;
  const int failed = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  if (failed != 0) throw std::runtime_error("cannot start " + argv[0]);
  int status = 0;
  struct rusage usage {};
  while (wait4(pid, &status, 0, &usage) < 0) {
    if (errno != EINTR) throw std::runtime_error("wait4 failed");
  }
  Call call;
  call.wall_ms = (NowNanos() - start) / 1e6;
  call.cpu_ms = (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e3 +
                (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e3;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string line;
    for (const std::string& a : argv) line += " " + a;
    throw std::runtime_error("failed (status " + std::to_string(status) + "):" + line);
  }
  return call;
}

off_t FileSize(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? st.st_size : 0;
}

// Flushes per call of `argv`, over `calls` calls.
double FlushesPerCall(const std::vector<std::string>& argv, int calls, const std::string& shim,
                      const std::string& log) {
  unlink(log.c_str());
  for (int i = 0; i < calls; ++i) Run(argv, {"LD_PRELOAD=" + shim, "PROMSQLITE_FLUSH_LOG=" + log});
  return static_cast<double>(FileSize(log)) / calls;
}

void Summary(const std::string& what, std::vector<double> wall, std::vector<double> cpu) {
  char line[256];
  std::snprintf(line, sizeof line, "%s: wall p10 %.3f, p50 %.3f, p90 %.3f, p99 %.3f, max %.3f ms; CPU p50 %.3f ms",
                what.c_str(), Percentile(wall, 0.10), Percentile(wall, 0.50), Percentile(wall, 0.90),
                Percentile(wall, 0.99), Percentile(wall, 1.0), Percentile(cpu, 0.50));
  Note(line);
}

}  // namespace

int RunCli(const Flags& flags) {
  const std::string cli = flags.Get("cli", "");
  const std::string shim = flags.Get("flush-counter", "");
  const std::string dir = flags.Get("dir", "/tmp");
  const int calls = flags.Int("calls", 200);
  if (cli.empty()) throw std::runtime_error("--cli PATH (the promsqlite tool) is required");
  if (calls < 1) throw std::runtime_error("--calls must be at least 1");
  const std::string db = dir + "/cli.db";
  RemoveDatabase(db);
  const std::vector<std::string> floor = {"/bin/true"};
  const std::vector<std::string> inc = {cli, "--db", db, "inc", "bench_cli_items_total", "--label", "k=v"};
  const std::vector<std::string> time = {cli, "--db", db, "time", "bench_cli_step_seconds", "--", "true"};
  Run(inc);  // the file and its declarations exist from here on
  Run(time);

  std::vector<double> floor_wall, floor_cpu, inc_wall, inc_cpu, time_wall, time_cpu;
  for (int i = 0; i < calls; ++i) {
    Call c = Run(floor);
    floor_wall.push_back(c.wall_ms);
    floor_cpu.push_back(c.cpu_ms);
    c = Run(inc);
    inc_wall.push_back(c.wall_ms);
    inc_cpu.push_back(c.cpu_ms);
    c = Run(time);
    time_wall.push_back(c.wall_ms);
    time_cpu.push_back(c.cpu_ms);
  }
  Summary("/bin/true", floor_wall, floor_cpu);
  Summary("inc", inc_wall, inc_cpu);
  Summary("time -- true", time_wall, time_cpu);
  Report("cli_exec_floor_ms", Median(floor_wall));
  Report("cli_inc_ms", Median(inc_wall));
  Report("cli_inc_cpu_ms", Median(inc_cpu));
  Report("cli_time_ms", Median(time_wall));
  std::vector<double> overhead;  // what time adds to running its command, per round
  for (size_t i = 0; i < time_wall.size(); ++i) overhead.push_back(time_wall[i] - floor_wall[i]);
  Report("cli_time_overhead_ms", Median(overhead));
  Report("cli_inc_vs_exec_floor_ratio", MedianRatio(inc_wall, floor_wall));

  if (shim.empty()) {
    Note("no --flush-counter: flushes not counted");
    return 0;
  }
  if (access(shim.c_str(), R_OK) != 0) throw std::runtime_error("--flush-counter " + shim + ": no such file");
  const std::string log = dir + "/cli-flushes";
  Report("cli_flushes_per_call", FlushesPerCall(inc, calls, shim, log));
  Report("cli_time_flushes_per_call", FlushesPerCall(time, calls, shim, log));
  std::vector<std::string> full = inc;
  full.insert(full.begin() + 3, {"--synchronous", "full"});
  Report("cli_full_flushes_per_call", FlushesPerCall(full, std::min(calls, 20), shim, log));
  unlink(log.c_str());
  return 0;
}

}  // namespace bench
