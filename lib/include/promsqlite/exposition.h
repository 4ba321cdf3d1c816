// Exposition formats and the streaming sink renderers write to.
#ifndef PROMSQLITE_EXPOSITION_H_
#define PROMSQLITE_EXPOSITION_H_

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "promsqlite/family.h"

namespace promsqlite {

enum class Format {
  kText,         // Prometheus text format 0.0.4, as client_golang writes it
  kOpenMetrics,  // OpenMetrics 1.0.0 text, ending in "# EOF"
  // Length-delimited io.prometheus.client.MetricFamily messages (client_model's
  // metrics.proto), the only format with native histograms. Binary: use the
  // Sink or Render's std::string, never a C string. A family larger than about
  // 32 KiB is sent as several consecutive messages with the same name, help
  // and type, so rendering never holds a whole family in memory.
  kProtobuf,
};

// The functions below read one table of the formats (lib/src/render/
// formats.cc). All are safe to call from any thread, do no I/O, and
// allocate nothing unless said.

// The HTTP Content-Type of a format, e.g.
// "text/plain; version=0.0.4; charset=utf-8", or for kProtobuf
// "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited".
const char* ContentType(Format format);

// The name of a format, as the CLI's dump --format and Python's
// generate_latest(format=...) take it: "text", "openmetrics" or "protobuf".
const char* FormatName(Format format);

// The format named `name` (FormatName's spelling, exactly: lowercase, no
// spaces). Throws InvalidArgument (promsqlite/errors.h) naming the known
// names otherwise, e.g.
// 'format must be text, openmetrics or protobuf, got "json"'.
Format ParseFormat(std::string_view name);

// Every format, in the order of the enum (text, OpenMetrics, protobuf),
// which is also NegotiateFormat's preference between equal q-values.
const std::vector<Format>& AllFormats();

// The format to answer an HTTP request with, given its Accept header (its
// values joined with ", "; empty when absent), as client_golang's
// expfmt.NegotiateIncludingOpenMetrics chooses:
//   kProtobuf     application/vnd.google.protobuf with
//                 proto=io.prometheus.client.MetricFamily and
//                 encoding=delimited (the other encodings are not ours)
//   kOpenMetrics  application/openmetrics-text, version 1.0.0, 0.0.1 or none
//   kText         text/plain, version 0.0.4 or none; also the answer to an
//                 empty header and to one naming none of our media ranges
// Media types and parameter names are case-insensitive; parameters other
// than q, version, proto and encoding are ignored; a malformed q counts as
// 1. Where expfmt takes the first range it knows after sorting by q, this
// follows RFC 9110 a little further, as promsqlite-server always has: the
// most specific range matching a format sets its q (so "text/plain;q=0,
// */*" refuses text but accepts OpenMetrics), wildcards select text ("*/*",
// "text/*") or OpenMetrics ("application/*") but never the binary protobuf
// format, the highest q wins, and ties go to text, then OpenMetrics.
// Returns nullopt when the header names our formats only with q=0
// ("text/plain;q=0", "*/*;q=0"): answer 406 Not Acceptable, or use
// value_or(Format::kText) to answer in text anyway, as expfmt does.
// Cost: linear in the header's length, a few small allocations per range.
std::optional<Format> NegotiateFormat(std::string_view accept_header);

// Whether a response to a request with this Accept-Encoding header (its
// values joined with ", ") may be gzip-compressed: "gzip" or "x-gzip" with
// q > 0, else "*" with q > 0, and not ranked below an explicitly listed
// "identity". The library itself never compresses (promsqlite-server gzips
// with zlib when this says so). Cost: as NegotiateFormat's.
bool AcceptsGzip(std::string_view accept_encoding_header);

// Receives the exposition in chunks of at most a few tens of KiB, in order.
// Rendering never holds the whole exposition in memory.
using Sink = std::function<void(std::string_view chunk)>;

// A counter or gauge family held in memory instead of in a file, such as a
// server's own metrics, rendered after the file's families by the same
// renderer. Label values are given in the order of spec.label_names.
struct MemoryFamily {
  FamilySpec spec;  // type kCounter or kGauge; name as it would be declared
  struct Sample {
    std::vector<std::string> label_values;
    double value = 0;
    double created = 0;  // Unix seconds of a counter's creation; 0: unknown
  };
  std::vector<Sample> samples;
};

}  // namespace promsqlite

#endif  // PROMSQLITE_EXPOSITION_H_
