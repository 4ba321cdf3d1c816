// Content negotiation for serving an exposition over HTTP: NegotiateFormat
// (an Accept header against the media ranges of the table of formats,
// formats.cc) and AcceptsGzip (Accept-Encoding), q-values as RFC 9110
// describes them, q=0 included ("not acceptable").
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "base/float_format.h"
#include "render/formats.h"

namespace promsqlite {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string Unquote(std::string_view s) {
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') return std::string(s.substr(1, s.size() - 2));
  return std::string(s);
}

// "0", "0.5", "1.000"; a malformed q counts as 1, the way lenient servers
// read it, rather than rejecting the whole header. Locale-free (strtod
// would read "0.5" as 0 where the decimal point is a comma).
double ParseQ(std::string_view text) {
  double q = 0;
  if (!detail::ParseFloat(Trim(text), &q) || !(q >= 0) || q > 1) return 1;
  return q;
}

// The pieces of `text` between `separator`s outside quoted strings, trimmed.
std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  bool quoted = false;
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i < text.size() && text[i] == '"') quoted = !quoted;
    if (i == text.size() || (text[i] == separator && !quoted)) {
      parts.push_back(Trim(text.substr(start, i - start)));
      start = i + 1;
    }
  }
  return parts;
}

// One element of an HTTP list header, e.g. "text/plain;version=0.0.4;q=0.5"
// or "gzip;q=0.8".
struct Element {
  std::string value;  // lowercase: "text/plain", "gzip"
  double q = 1;
  std::vector<std::pair<std::string, std::string>> params;  // but q: (lowercase name, unquoted value)
};

// The elements of an Accept or Accept-Encoding header, empty ones skipped.
std::vector<Element> ParseList(std::string_view header) {
  std::vector<Element> elements;
  for (std::string_view item : Split(header, ',')) {
    if (item.empty()) continue;
    std::vector<std::string_view> parts = Split(item, ';');
    Element& element = elements.emplace_back();
    element.value = Lower(parts[0]);
    for (size_t i = 1; i < parts.size(); ++i) {
      size_t eq = parts[i].find('=');
      if (eq == std::string_view::npos) continue;
      std::string name = Lower(Trim(parts[i].substr(0, eq)));
      std::string_view value = Trim(parts[i].substr(eq + 1));
      if (name == "q") {
        element.q = ParseQ(value);
      } else {
        element.params.emplace_back(std::move(name), Unquote(value));
      }
    }
  }
  return elements;
}

struct MediaRange {
  std::string type;      // "text", "*"
  std::string subtype;   // "plain", "*"
  std::string version;   // "" when absent
  std::string proto;     // the message a protobuf range names
  std::string encoding;  // lowercase
  double q = 1;
};

bool ParseMediaRange(const Element& element, MediaRange* range) {
  size_t slash = element.value.find('/');
  if (slash == std::string::npos) return false;
  range->type = element.value.substr(0, slash);
  range->subtype = element.value.substr(slash + 1);
  if (range->type.empty() || range->subtype.empty()) return false;
  range->q = element.q;
  for (const auto& [name, value] : element.params) {
    if (name == "version") range->version = value;
    if (name == "proto") range->proto = value;
    if (name == "encoding") range->encoding = Lower(value);
  }
  return true;
}

// How specifically `range` names `format`: 0 not at all, 1 "*/*",
// 2 "type/*", 3 "type/subtype", 4 with a version (or the parameters) we
// write. A binary format is only chosen when named exactly.
int Specificity(const MediaRange& range, const detail::FormatEntry& format) {
  const bool by_wildcard = format.proto == nullptr;
  if (range.type == "*") return by_wildcard && range.subtype == "*" ? 1 : 0;
  if (range.type != format.type) return 0;
  if (range.subtype == "*") return by_wildcard ? 2 : 0;
  if (range.subtype != format.subtype) return 0;
  if (format.proto) return range.proto == format.proto && range.encoding == format.encoding ? 4 : 0;
  if (range.version.empty()) return 3;
  for (const char* version : format.versions) {
    if (version && range.version == version) return 4;
  }
  return 0;
}

}  // namespace

std::optional<Format> NegotiateFormat(std::string_view accept_header) {
  if (Trim(accept_header).empty()) return Format::kText;
  const detail::FormatTable& formats = detail::Formats();
  struct Rank {
    int specificity = 0;  // of the most specific range naming the format
    double q = 0;         // the highest q among those
  };
  std::vector<Rank> ranks(formats.size());
  bool named = false;
  for (const Element& element : ParseList(accept_header)) {
    MediaRange range;
    if (!ParseMediaRange(element, &range)) continue;
    for (size_t f = 0; f < formats.size(); ++f) {
      int s = Specificity(range, formats[f]);
      if (s > ranks[f].specificity || (s > 0 && s == ranks[f].specificity && range.q > ranks[f].q)) {
        ranks[f] = {s, range.q};
        named = true;
      }
    }
  }
  if (!named) return Format::kText;  // as client_golang falls back
  size_t best = 0;  // the highest q; the table's order breaks ties
  for (size_t f = 1; f < formats.size(); ++f) {
    if (ranks[f].q > ranks[best].q) best = f;
  }
  if (ranks[best].q <= 0) return std::nullopt;
  return formats[best].format;
}

bool AcceptsGzip(std::string_view accept_encoding_header) {
  double gzip_q = -1, star_q = -1, identity_q = -1;  // -1: not listed
  for (const Element& coding : ParseList(accept_encoding_header)) {
    if (coding.value == "gzip" || coding.value == "x-gzip") {
      gzip_q = std::max(gzip_q, coding.q);
    } else if (coding.value == "*") {
      star_q = coding.q;
    } else if (coding.value == "identity") {
      identity_q = coding.q;
    }
  }
  double q = gzip_q >= 0 ? gzip_q : star_q;  // the coding named wins over "*"
  if (q <= 0) return false;
  return identity_q < 0 || q >= identity_q;
}

}  // namespace promsqlite
