// The promsqlite tool's commands. Each validates everything it can before
// it opens the file, so a rejected invocation writes nothing.
#ifndef PROMSQLITE_CLI_COMMANDS_H_
#define PROMSQLITE_CLI_COMMANDS_H_

#include <stdexcept>
#include <string>

#include "args.h"

namespace promsqlite::cli {

// Exit codes (documented in `promsqlite --help`).
constexpr int kExitOk = 0;
constexpr int kExitDatabaseError = 1;  // the file cannot be read or written
constexpr int kExitUsage = 2;          // unknown command/option, missing or malformed argument
constexpr int kExitInvalid = 3;        // rejected by the data model, clash with the file, not found
// 4: push, remote-write (push_command.h).
constexpr int kExitUnreadableRows = 5;  // dump, list: printed all but rows that cannot be read; check: found some
constexpr int kExitNotStarted = 127;   // time: COMMAND could not be started

// A metric or series the command needed is not in the file (exit 3).
class NotFound : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The database path: --db, else $PROMSQLITE_DB. Throws UsageError when
// neither is given (or --db is empty): there is no default file.
std::string DatabasePath(const Args& args);

// Runs args.command; returns the exit code. Throws UsageError, NotFound or
// promsqlite::Error.
int RunCommand(const Args& args);

// A library message without what only C++ callers have: some name options
// of the C++ API ("... (Options::busy_timeout_ms)", "(Options::file_mode,
// promsqlite --mode 0660 or ...)", "(and create_if_missing is false)").
std::string InToolWords(std::string message);

// Usage of one command, or of the tool when `command` is empty or unknown.
std::string Usage(const std::string& command);

}  // namespace promsqlite::cli

#endif  // PROMSQLITE_CLI_COMMANDS_H_
