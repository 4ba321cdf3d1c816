// A parser for the text format 0.0.4 that promsqlite's own renderer writes
// (not for arbitrary exposition text): "# HELP", "# TYPE" and
// name{label="value",...} value lines, no timestamps. Remote-write needs
// samples, and the public Reader gives text; parsing our own output keeps
// the core library free of push concerns.
#ifndef PROMSQLITE_SRC_PUSH_EXPOSITION_PARSER_H_
#define PROMSQLITE_SRC_PUSH_EXPOSITION_PARSER_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace promsqlite::detail {

struct ParsedSample {
  std::string name;  // the series name, e.g. latency_seconds_bucket
  std::vector<std::pair<std::string, std::string>> labels;  // unescaped, in text order
  double value = 0;
};

struct ParsedFamily {
  std::string name;  // as in "# TYPE", e.g. requests_total
  std::string type;  // counter, gauge, histogram, summary, untyped
  std::string help;  // unescaped
  std::vector<ParsedSample> samples;
};

// Throws InvalidArgument naming the line when the text is malformed.
std::vector<ParsedFamily> ParseTextExposition(std::string_view text);

}  // namespace promsqlite::detail

#endif  // PROMSQLITE_SRC_PUSH_EXPOSITION_PARSER_H_
