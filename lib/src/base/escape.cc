#include "base/escape.h"

namespace promsqlite::detail {
namespace {

void AppendEscaped(std::string& out, std::string_view text, bool escape_quote) {
  size_t plain_start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    const char* replacement = nullptr;
    if (c == '\\') replacement = "\\\\";
    else if (c == '\n') replacement = "\\n";
    else if (c == '"' && escape_quote) replacement = "\\\"";
    if (replacement == nullptr) continue;
    out.append(text.data() + plain_start, i - plain_start);
    out += replacement;
    plain_start = i + 1;
  }
  out.append(text.data() + plain_start, text.size() - plain_start);
}

}  // namespace

void AppendEscapedHelp(std::string& out, std::string_view help, bool escape_quote) {
  AppendEscaped(out, help, escape_quote);
}

void AppendEscapedLabelValue(std::string& out, std::string_view value) {
  AppendEscaped(out, value, true);
}

}  // namespace promsqlite::detail
