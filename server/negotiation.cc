#include "negotiation.h"

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

namespace promsqlite_server {

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

// A q-value ("0", "0.5", "1.000"); malformed ones count as 1, the way
// lenient servers read them, rather than rejecting the whole header.
double ParseQ(std::string_view text) {
  std::string s(Trim(text));
  char* end = nullptr;
  double q = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || !(q >= 0) || q > 1) return 1;
  return q;
}

// Splits on commas outside quoted strings.
std::vector<std::string_view> SplitList(std::string_view header) {
  std::vector<std::string_view> parts;
  bool quoted = false;
  size_t start = 0;
  for (size_t i = 0; i < header.size(); ++i) {
    char c = header[i];
    if (c == '"') quoted = !quoted;
    if (c == ',' && !quoted) {
      parts.push_back(header.substr(start, i - start));
      start = i + 1;
    }
  }
  parts.push_back(header.substr(start));
  return parts;
}

struct MediaRange {
  std::string type;     // "text", "*"
  std::string subtype;  // "plain", "*"
  std::string version;  // the version parameter, "" when absent
  std::string proto;     // protobuf: the proto parameter (message name)
  std::string encoding;  // protobuf: the encoding parameter
  bool has_other_params = false;
  double q = 1;
};

bool ParseMediaRange(std::string_view item, MediaRange* range) {
  std::vector<std::string_view> params;
  size_t start = 0;
  bool quoted = false;
  for (size_t i = 0; i <= item.size(); ++i) {
    if (i < item.size() && item[i] == '"') quoted = !quoted;
    if (i == item.size() || (item[i] == ';' && !quoted)) {
      params.push_back(Trim(item.substr(start, i - start)));
      start = i + 1;
    }
  }
  std::string media = Lower(params[0]);
  size_t slash = media.find('/');
  if (media.empty() || slash == std::string::npos) return false;
  range->type = media.substr(0, slash);
  range->subtype = media.substr(slash + 1);
  if (range->type.empty() || range->subtype.empty()) return false;
  for (size_t i = 1; i < params.size(); ++i) {
    size_t eq = params[i].find('=');
    if (eq == std::string_view::npos) continue;
    std::string key = Lower(Trim(params[i].substr(0, eq)));
    std::string_view value = Trim(params[i].substr(eq + 1));
    if (key == "q") {
      range->q = ParseQ(value);
    } else if (key == "version") {
      range->version = Unquote(value);
    } else if (key == "proto") {
      range->proto = Unquote(value);
    } else if (key == "encoding") {
      range->encoding = Lower(Unquote(value));
    } else if (key != "charset" && key != "escaping") {
      range->has_other_params = true;
    }
  }
  return true;
}

// How specifically `range` names a format: 0 no match, 1 "*/*",
// 2 "type/*", 3 "type/subtype", 4 with a version we produce. The binary
// protobuf format is only chosen when named exactly, with the message and
// the delimited encoding (as Prometheus asks for it), never by a wildcard.
int Match(const MediaRange& range, promsqlite::Format format) {
  if (format == promsqlite::Format::kProtobuf) {
    return range.type == "application" && range.subtype == "vnd.google.protobuf" &&
                   range.proto == "io.prometheus.client.MetricFamily" && range.encoding == "delimited"
               ? 4
               : 0;
  }
  const bool om = format == promsqlite::Format::kOpenMetrics;
  const char* type = om ? "application" : "text";
  const char* subtype = om ? "openmetrics-text" : "plain";
  if (range.type == "*") return range.subtype == "*" ? 1 : 0;
  if (range.type != type) return 0;
  if (range.subtype == "*") return 2;
  if (range.subtype != subtype) return 0;
  if (range.version.empty()) return 3;
  // OpenMetrics 0.0.1 is what Prometheus calls the same text before 1.0.
  bool ours = om ? (range.version == "1.0.0" || range.version == "0.0.1")
                 : range.version == "0.0.4";
  return ours ? 4 : 0;
}

}  // namespace

FormatChoice NegotiateFormat(std::string_view accept) {
  FormatChoice choice;
  if (Trim(accept).empty()) return choice;
  struct Rank {
    int specificity = 0;
    double q = 0;
  } ranks[3];  // [0] text, [1] OpenMetrics, [2] protobuf
  const promsqlite::Format formats[3] = {promsqlite::Format::kText, promsqlite::Format::kOpenMetrics,
                                         promsqlite::Format::kProtobuf};
  for (std::string_view item : SplitList(accept)) {
    MediaRange range;
    if (!ParseMediaRange(Trim(item), &range)) continue;
    for (int f = 0; f < 3; ++f) {
      int s = Match(range, formats[f]);
      if (s > ranks[f].specificity || (s > 0 && s == ranks[f].specificity && range.q > ranks[f].q)) {
        ranks[f].specificity = s;
        ranks[f].q = range.q;
      }
    }
  }
  if (ranks[0].specificity == 0 && ranks[1].specificity == 0 && ranks[2].specificity == 0) return choice;
  if (ranks[2].q > ranks[0].q && ranks[2].q > ranks[1].q) {
    choice.format = promsqlite::Format::kProtobuf;
  } else if (ranks[1].q > ranks[0].q) {
    choice.format = promsqlite::Format::kOpenMetrics;
  } else if (ranks[0].q > 0) {
    choice.format = promsqlite::Format::kText;
  } else {
    choice.acceptable = false;
  }
  return choice;
}

bool AcceptsGzip(std::string_view accept_encoding) {
  double gzip_q = -1, star_q = -1, identity_q = -1;
  for (std::string_view item : SplitList(accept_encoding)) {
    item = Trim(item);
    size_t semi = item.find(';');
    std::string coding = Lower(Trim(item.substr(0, semi)));
    double q = 1;
    if (semi != std::string_view::npos) {
      std::string_view params = item.substr(semi + 1);
      while (!params.empty()) {
        size_t next = params.find(';');
        std::string_view param = Trim(params.substr(0, next));
        size_t eq = param.find('=');
        if (eq != std::string_view::npos && Lower(Trim(param.substr(0, eq))) == "q")
          q = ParseQ(param.substr(eq + 1));
        if (next == std::string_view::npos) break;
        params.remove_prefix(next + 1);
      }
    }
    if (coding == "gzip" || coding == "x-gzip") {
      gzip_q = std::max(gzip_q, q);
    } else if (coding == "*") {
      star_q = q;
    } else if (coding == "identity") {
      identity_q = q;
    }
  }
  double q = gzip_q >= 0 ? gzip_q : star_q;
  if (q <= 0) return false;
  return identity_q < 0 || q >= identity_q;
}

}  // namespace promsqlite_server
