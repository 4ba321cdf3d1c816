#include "timed_command.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

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

}  // namespace

TimedRun RunTimed(const std::vector<std::string>& command) {
  TimedRun run;
  int report[2];  // the child writes errno here when exec fails
  if (pipe2(report, O_CLOEXEC) != 0) {
    run.start_error = std::strerror(errno);
    run.exit_status = 127;
    return run;
  }
  struct sigaction forward = {};
  forward.sa_sigaction = &Forward;
  forward.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&forward.sa_mask);
  struct sigaction previous[sizeof kForwarded / sizeof kForwarded[0]];

  std::vector<char*> argv;
  for (const std::string& arg : command) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);

  auto start = std::chrono::steady_clock::now();
  pid_t pid = fork();
  if (pid == 0) {
    close(report[0]);
    execvp(argv[0], argv.data());
    int error = errno;
    ssize_t ignored = write(report[1], &error, sizeof error);
    (void)ignored;
    _exit(127);
  }
  close(report[1]);
  if (pid < 0) {
    close(report[0]);
    run.start_error = std::strerror(errno);
    run.exit_status = 127;
    return run;
  }
  g_child = pid;
  for (size_t i = 0; i < sizeof kForwarded / sizeof kForwarded[0]; ++i)
    sigaction(kForwarded[i], &forward, &previous[i]);

  int exec_error = 0;
  ssize_t n;
  do {
    n = read(report[0], &exec_error, sizeof exec_error);
  } while (n < 0 && errno == EINTR);
  close(report[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  g_child = 0;
  for (size_t i = 0; i < sizeof kForwarded / sizeof kForwarded[0]; ++i)
    sigaction(kForwarded[i], &previous[i], nullptr);

  if (n == static_cast<ssize_t>(sizeof exec_error)) {
    run.start_error = std::strerror(exec_error);
    run.exit_status = 127;
    return run;
  }
  run.started = true;
  run.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return run;
}

}  // namespace promsqlite::cli
