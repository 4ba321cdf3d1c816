// The one escaper for exposition text.
#ifndef PROMSQLITE_SRC_BASE_ESCAPE_H_
#define PROMSQLITE_SRC_BASE_ESCAPE_H_

#include <string>
#include <string_view>

namespace promsqlite::detail {

// HELP text. Text 0.0.4 escapes only backslash and newline; OpenMetrics also
// escapes the double quote.
void AppendEscapedHelp(std::string& out, std::string_view help, bool escape_quote);

// A label value (both formats): backslash, double quote and newline.
void AppendEscapedLabelValue(std::string& out, std::string_view value);

}  // namespace promsqlite::detail

#endif  // PROMSQLITE_SRC_BASE_ESCAPE_H_
