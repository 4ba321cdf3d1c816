// Shared by the server's tests: temporary folders, promsqlite files written
// through the public API, the server binary run as a subprocess on a free
// loopback port, and the shared validators run as commands.
#ifndef PROMSQLITE_TESTS_SERVER_TEST_HELPER_H_
#define PROMSQLITE_TESTS_SERVER_TEST_HELPER_H_

#include <httplib.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include "test_util.h"

namespace server_test {

// A fresh folder, removed with its contents on destruction.
using TempDir = promsqlite::test::TempDir;

// promsqlite-server as a child process. Start() passes
// "--listen 127.0.0.1:0" unless the arguments name an address, and waits
// for the "listening" log line that tells the chosen port.
class ServerProcess {
 public:
  explicit ServerProcess(std::vector<std::string> args);
  ~ServerProcess();  // SIGKILLs it if it still runs

  // False when the server exited instead; exit_status() then says how.
  bool Start();
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  bool Running();
  // Sends `sig` and waits (up to 20 s) for the exit status.
  int Stop(int sig);
  // Waits for an exit that needs no signal (a failed start).
  int Wait();
  int exit_status() const { return exit_status_; }
  std::string Log() const;  // everything written to stderr so far
  std::string Stdout() const;

 private:
  TempDir dir_;
  std::vector<std::string> args_;
  pid_t pid_ = -1;
  int port_ = 0;
  int exit_status_ = -1;
};

// A client for the server at 127.0.0.1:port that leaves gzip bodies alone.
httplib::Client Client(int port);

// Path of the server binary and of a tool in ../shared/tools (from env).
std::string ServerBinary();
std::string SharedTool(const std::string& name);

// Runs `command` with /bin/sh; *output gets stdout and stderr.
int RunCommand(const std::string& command, std::string* output, const std::string& input = "");

// Shell-quotes one argument.
std::string Quote(const std::string& arg);

// Writes every metric type, including label values with quotes,
// backslashes, newlines and UTF-8, into a promsqlite file.
void WriteSampleFile(const std::string& path);

// Writes `families` gauge families of `series` series each.
void WriteLargeFile(const std::string& path, int families, int series);

// A bcrypt ($2b$) hash of `password`, made with the system's crypt(3).
std::string BcryptHash(const std::string& password);

// Decompresses a gzip body; throws on malformed input.
std::string Gunzip(const std::string& data);

// Sends raw bytes to 127.0.0.1:port and returns everything read until the
// server closes the connection (or `timeout_s` passes). With read_delay_ms,
// a small receive buffer and a pause before reading make the response
// stay in flight for that long.
std::string RawRequest(int port, const std::string& request, int timeout_s = 10,
                       int read_delay_ms = 0);

// A file's peak resident memory (VmHWM) in KiB, for /proc/PID/status.
long PeakRssKib(pid_t pid);

}  // namespace server_test

#endif  // PROMSQLITE_TESTS_SERVER_TEST_HELPER_H_
