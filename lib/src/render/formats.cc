// The one table of exposition formats, and the public functions that only
// look things up in it. A new format is a new row here (and a Format value,
// and its renderer): the CLI, the server, Python and negotiation follow.
#include "render/formats.h"

#include <string>

#include "promsqlite/errors.h"
#include "render/renderers.h"

namespace promsqlite {
namespace detail {
namespace {

constexpr FormatTable kFormats = {{
    {Format::kText, "text", "text/plain; version=0.0.4; charset=utf-8",  //
     "text", "plain", {"0.0.4", nullptr}, nullptr, nullptr, MakeTextRenderer},
    {Format::kOpenMetrics, "openmetrics", "application/openmetrics-text; version=1.0.0; charset=utf-8",
     // 0.0.1 is what Prometheus calls the same text before 1.0.
     "application", "openmetrics-text", {"1.0.0", "0.0.1"}, nullptr, nullptr, MakeOpenMetricsRenderer},
    {Format::kProtobuf, "protobuf",
     "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited",
     "application", "vnd.google.protobuf", {nullptr, nullptr}, "io.prometheus.client.MetricFamily", "delimited",
     MakeProtobufRenderer},
}};

constexpr bool InEnumOrder() {
  for (size_t i = 0; i < kFormats.size(); ++i) {
    if (static_cast<size_t>(kFormats[i].format) != i) return false;
  }
  return true;
}
static_assert(InEnumOrder(), "kFormats is indexed by Format");

}  // namespace

const FormatTable& Formats() { return kFormats; }

const FormatEntry& EntryOf(Format format) {
  const auto i = static_cast<size_t>(format);
  return i < kFormats.size() ? kFormats[i] : kFormats[0];
}

}  // namespace detail

const char* ContentType(Format format) { return detail::EntryOf(format).content_type; }

const char* FormatName(Format format) { return detail::EntryOf(format).name; }

Format ParseFormat(std::string_view name) {
  std::string known;
  for (size_t i = 0; i < detail::kFormats.size(); ++i) {
    const detail::FormatEntry& entry = detail::kFormats[i];
    if (name == entry.name) return entry.format;
    known += i == 0 ? "" : i + 1 == detail::kFormats.size() ? " or " : ", ";
    known += entry.name;
  }
  throw InvalidArgument("format must be " + known + ", got \"" + std::string(name) + "\"");
}

const std::vector<Format>& AllFormats() {
  static const std::vector<Format> formats = [] {
    std::vector<Format> all;
    for (const detail::FormatEntry& entry : detail::kFormats) all.push_back(entry.format);
    return all;
  }();
  return formats;
}

}  // namespace promsqlite
