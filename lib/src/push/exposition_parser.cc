#include "push/exposition_parser.h"

#include <charconv>
#include <cmath>
#include <limits>

#include "promsqlite/errors.h"

namespace promsqlite::detail {
namespace {

[[noreturn]] void Malformed(size_t line_number, const std::string& why) {
  throw InvalidArgument("exposition line " + std::to_string(line_number) + ": " + why);
}

bool NameChar(char c, bool first) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || (!first && c >= '0' && c <= '9');
}

// The renderer writes Go's float forms: decimal/exponent, +Inf, -Inf, NaN.
bool ParseValue(std::string_view text, double& value) {
  if (text == "+Inf") value = std::numeric_limits<double>::infinity();
  else if (text == "-Inf") value = -std::numeric_limits<double>::infinity();
  else if (text == "NaN") value = std::numeric_limits<double>::quiet_NaN();
  else {
    auto res = std::from_chars(text.data(), text.data() + text.size(), value);
    return !text.empty() && res.ec == std::errc() && res.ptr == text.data() + text.size();
  }
  return true;
}

// Undoes the escaping of HELP text (\\ and \n) or of label values (also \").
std::string Unescape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size()) {
      char next = text[++i];
      out += next == 'n' ? '\n' : next;
    } else {
      out += text[i];
    }
  }
  return out;
}

ParsedSample ParseSample(std::string_view line, size_t line_number) {
  ParsedSample sample;
  size_t i = 0;
  while (i < line.size() && NameChar(line[i], i == 0)) ++i;
  if (i == 0) Malformed(line_number, "expected a metric name");
  sample.name = std::string(line.substr(0, i));
  if (i < line.size() && line[i] == '{') {
    ++i;
    while (i < line.size() && line[i] != '}') {
      size_t start = i;
      while (i < line.size() && NameChar(line[i], i == start)) ++i;
      std::string name(line.substr(start, i - start));
      if (name.empty() || line.substr(i, 2) != "=\"") Malformed(line_number, "expected label=\"value\"");
      i += 2;
      size_t value_start = i;
      while (i < line.size() && line[i] != '"') i += line[i] == '\\' ? 2 : 1;
      if (i >= line.size()) Malformed(line_number, "unterminated label value");
      sample.labels.emplace_back(std::move(name), Unescape(line.substr(value_start, i - value_start)));
      ++i;  // closing quote
      if (i < line.size() && line[i] == ',') ++i;
    }
    if (i >= line.size()) Malformed(line_number, "unterminated label set");
    ++i;  // '}'
  }
  if (i >= line.size() || line[i] != ' ') Malformed(line_number, "expected a space before the value");
  if (!ParseValue(line.substr(i + 1), sample.value)) Malformed(line_number, "malformed value");
  return sample;
}

}  // namespace

std::vector<ParsedFamily> ParseTextExposition(std::string_view text) {
  std::vector<ParsedFamily> families;
  std::string pending_help_name, pending_help;
  size_t line_number = 0;
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++line_number;
    if (line.empty()) continue;
    if (line.rfind("# HELP ", 0) == 0) {
      std::string_view rest = line.substr(7);
      size_t space = rest.find(' ');
      pending_help_name = std::string(rest.substr(0, space));
      pending_help = space == std::string_view::npos ? "" : Unescape(rest.substr(space + 1));
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      std::string_view rest = line.substr(7);
      size_t space = rest.find(' ');
      if (space == std::string_view::npos) Malformed(line_number, "TYPE without a type");
      ParsedFamily family;
      family.name = std::string(rest.substr(0, space));
      family.type = std::string(rest.substr(space + 1));
      if (family.name == pending_help_name) family.help = pending_help;
      families.push_back(std::move(family));
      continue;
    }
    if (line[0] == '#') continue;
    if (families.empty()) {
      families.emplace_back();  // a sample without TYPE: untyped, its own family
      families.back().type = "untyped";
    }
    families.back().samples.push_back(ParseSample(line, line_number));
    if (families.back().name.empty()) families.back().name = families.back().samples.back().name;
  }
  return families;
}

}  // namespace promsqlite::detail
