// Runs a command as `time` does for the CLI: stdin/stdout/stderr shared,
// signals sent to us forwarded to it, wall time measured.
#ifndef PROMSQLITE_CLI_TIMED_COMMAND_H_
#define PROMSQLITE_CLI_TIMED_COMMAND_H_

#include <string>
#include <vector>

namespace promsqlite::cli {

struct TimedRun {
  bool started = false;     // false: exec failed (start_error says why)
  std::string start_error;  // e.g. "No such file or directory"
  int exit_status = 0;      // the command's status; 128+N when killed by signal N; 127 when not started
  double seconds = 0;       // wall time from fork to exit
};

TimedRun RunTimed(const std::vector<std::string>& command);

}  // namespace promsqlite::cli

#endif  // PROMSQLITE_CLI_TIMED_COMMAND_H_
