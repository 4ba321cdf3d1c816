// Command-line parsing for the promsqlite tool: one command, positionals,
// repeated --label KEY=VALUE, a few named options, and everything after
// "--" for `time`.
#ifndef PROMSQLITE_CLI_ARGS_H_
#define PROMSQLITE_CLI_ARGS_H_

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "promsqlite/family.h"

namespace promsqlite::cli {

// A malformed invocation (exit code 2).
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Args {
  std::string command;
  std::vector<std::string> positionals;
  Labels labels;                               // --label KEY=VALUE, each key once
  Labels exemplar;                             // --exemplar KEY=VALUE, each key once
  bool has_exemplar = false;                   // --exemplar was given
  std::map<std::string, std::string> options;  // --db, --help TEXT, --buckets, --states, --format, --ttl
  bool yes = false;                            // --yes (wipe)
  std::vector<std::string> command_line;       // after "--" (time)
  bool show_help = false;                      // -h, or --help without a text
  bool show_version = false;
  std::vector<std::string> arguments;          // argv[1..] as given (push and remote-write pass them on)

  std::optional<std::string> Option(const std::string& name) const;
};

// Parses argv[1..]. Options may come before or after the command. Throws
// UsageError, with a hint where a mistake is common: `time NAME cmd ...`
// without "--", --port (the server's business).
Args ParseArgs(int argc, char** argv);

// Locale-free number as the tool accepts it: decimal or exponent form,
// optional sign, Inf, NaN. Throws UsageError naming `what`.
double ParseNumber(const std::string& text, const std::string& what);

// "0.1,0.5,1" -> {0.1, 0.5, 1}; "a,b" -> {"a", "b"}.
std::vector<double> ParseNumberList(const std::string& text, const std::string& what);
std::vector<std::string> SplitList(const std::string& text);

}  // namespace promsqlite::cli

#endif  // PROMSQLITE_CLI_ARGS_H_
