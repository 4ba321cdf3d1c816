#include "timed_command.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>

namespace promsqlite::cli {
namespace {

volatile sig_atomic_t g_child = 0;
constexpr int kForwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};

// Forwards signals sent by another process (kill, a CI runner's timeout).
// Signals from the terminal already reach the child through its process
// group; forwarding those would deliver them twice.
void Forward(int signal, siginfo_t* info, void*) {
  if (g_child > 0 && info != nullptr && info->si_code <= 0) kill(g_child, signal);
}

// Where execvp finds `name`: itself when it has a slash, else the first
// executable file of that name in $PATH (default "/bin:/usr/bin").
std::string FoundInPath(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  std::string dirs = path && *path ? path : "/bin:/usr/bin";
  for (size_t start = 0, colon; start <= dirs.size(); start = colon + 1) {
    colon = dirs.find(':', start);
    if (colon == std::string::npos) colon = dirs.size();
    std::string dir = dirs.substr(start, colon - start);
    std::string file = (dir.empty() ? "." : dir) + "/" + name;
    if (access(file.c_str(), X_OK) == 0) return file;
  }
  return name;
}

}  // namespace

TimedRun RunTimed(const std::vector<std::string>& command) {
  TimedRun run;
  struct sigaction forward = {};
  forward.sa_sigaction = &Forward;
  forward.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&forward.sa_mask);
  struct sigaction previous[sizeof kForwarded / sizeof kForwarded[0]];

  std::vector<char*> argv;
  for (const std::string& arg : command) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);

  // posix_spawnp, not fork + execvp: the child shares our memory until it
  // execs instead of copying our page tables, which cost more than the
  // rest of a `time` here; an exec that fails is its return value.
  auto start = std::chrono::steady_clock::now();
  pid_t pid = 0;
  int failed = posix_spawnp(&pid, argv[0], nullptr, nullptr, argv.data(), environ);
  if (failed == ENOEXEC) {
    // A file without "#!": execvp runs it with /bin/sh, posix_spawnp does not.
    std::string file = FoundInPath(command[0]);
    std::vector<char*> shell = {const_cast<char*>("sh"), file.data()};
    shell.insert(shell.end(), argv.begin() + 1, argv.end());
    failed = posix_spawn(&pid, "/bin/sh", nullptr, nullptr, shell.data(), environ);
  }
  if (failed != 0) {
    run.start_error = std::strerror(failed);
    run.exit_status = 127;
    return run;
  }
  g_child = pid;
  for (size_t i = 0; i < sizeof kForwarded / sizeof kForwarded[0]; ++i)
    sigaction(kForwarded[i], &forward, &previous[i]);

  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  g_child = 0;
  for (size_t i = 0; i < sizeof kForwarded / sizeof kForwarded[0]; ++i)
    sigaction(kForwarded[i], &previous[i], nullptr);

  run.started = true;
  run.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return run;
}

}  // namespace promsqlite::cli
