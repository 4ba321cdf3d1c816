// The table of formats: names, content types, and content negotiation by
// Accept and Accept-Encoding (promsqlite/exposition.h), as plain functions.
#include <doctest/doctest.h>

#include <optional>
#include <string>

#include "promsqlite/promsqlite.h"

using namespace promsqlite;

namespace {

constexpr const char* kPrometheusAccept =
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

// Prometheus 2.42 with --enable-feature=native-histograms.
constexpr const char* kPrometheusNativeAccept =
    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,"
    "application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

// "om", "text", "pb" or "406".
std::string Chosen(const char* accept) {
  std::optional<Format> format = NegotiateFormat(accept);
  if (!format) return "406";
  if (*format == Format::kProtobuf) return "pb";
  return *format == Format::kOpenMetrics ? "om" : "text";
}

}  // namespace

TEST_CASE("Accept headers choose the format as exporters do") {
  struct Row {
    const char* accept;
    const char* expected;
  } table[] = {
      {kPrometheusAccept, "om"},
      {"", "text"},
      {"text/plain", "text"},
      {"text/plain;version=0.0.4", "text"},
      {"*/*", "text"},
      {"text/*", "text"},
      {"application/openmetrics-text", "om"},
      {"application/openmetrics-text; version=1.0.0; charset=utf-8", "om"},
      {"Application/OpenMetrics-Text;Version=1.0.0", "om"},
      {"application/openmetrics-text;version=0.0.1", "om"},
      {"application/openmetrics-text;version=2.0.0", "text"},  // not ours: falls back
      {"application/json", "text"},                           // neither named: fallback
      {"application/openmetrics-text;q=0.4, text/plain;q=0.6", "text"},
      {"application/openmetrics-text;q=0.6, text/plain;q=0.4", "om"},
      {"application/openmetrics-text;q=0.5, text/plain;q=0.5", "text"},  // tie: text
      {"application/openmetrics-text;q=0, text/plain", "text"},
      {"application/openmetrics-text;q=0, */*", "text"},
      {"text/plain;q=0, application/openmetrics-text", "om"},
      {"text/plain;q=0, */*", "om"},  // the specific range refuses text
      {"text/plain;q=0", "406"},
      {"text/plain;q=0, application/openmetrics-text;q=0", "406"},
      {"*/*;q=0", "406"},
      {"text/plain;q=0.000", "406"},
      {"text/plain;q=bogus", "text"},  // a malformed q counts as 1
      {kPrometheusNativeAccept, "pb"},
      {"application/vnd.google.protobuf; proto=\"io.prometheus.client.MetricFamily\"; encoding=delimited", "pb"},
      {"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text", "text"},
      {"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily", "text"},  // not delimited
      {"application/vnd.google.protobuf", "text"},
      {"application/*", "om"},  // wildcards never choose the binary format
      {"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.5,"
       "application/openmetrics-text;q=0.5", "om"},  // tie: not protobuf
      {"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited, text/plain;q=0",
       "pb"},
      {", ,text/plain , ", "text"},
  };
  for (const Row& row : table) {
    CAPTURE(row.accept);
    CHECK(Chosen(row.accept) == std::string(row.expected));
  }
}

TEST_CASE("each format has a name that parses back to it, and its content type") {
  CHECK(AllFormats() == std::vector<Format>{Format::kText, Format::kOpenMetrics, Format::kProtobuf});
  CHECK(std::string(FormatName(Format::kText)) == "text");
  CHECK(std::string(FormatName(Format::kOpenMetrics)) == "openmetrics");
  CHECK(std::string(FormatName(Format::kProtobuf)) == "protobuf");
  for (Format format : AllFormats()) {
    CAPTURE(FormatName(format));
    CHECK(ParseFormat(FormatName(format)) == format);
  }
  // As client_golang's expfmt sends them.
  CHECK(std::string(ContentType(Format::kText)) == "text/plain; version=0.0.4; charset=utf-8");
  CHECK(std::string(ContentType(Format::kOpenMetrics)) ==
        "application/openmetrics-text; version=1.0.0; charset=utf-8");
  CHECK(std::string(ContentType(Format::kProtobuf)) ==
        "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited");
}

TEST_CASE("each content type is negotiated back to its own format") {
  for (Format format : AllFormats()) {
    CAPTURE(ContentType(format));
    CHECK(NegotiateFormat(ContentType(format)) == format);
  }
}

TEST_CASE("an unknown format name is refused with the known names") {
  for (const char* name : {"json", "", "Text", " text", "open-metrics", "proto"}) {
    CAPTURE(name);
    try {
      ParseFormat(name);
      FAIL("accepted");
    } catch (const InvalidArgument& e) {
      CHECK(std::string(e.what()) ==
            "format must be text, openmetrics or protobuf, got \"" + std::string(name) + "\"");
    }
  }
}

TEST_CASE("Accept-Encoding allows gzip only when its q-value is above zero") {
  CHECK(AcceptsGzip("gzip"));
  CHECK(AcceptsGzip("GZIP"));
  CHECK(AcceptsGzip("gzip, deflate, br"));
  CHECK(AcceptsGzip("x-gzip"));
  CHECK(AcceptsGzip("*"));
  CHECK(AcceptsGzip("br;q=1.0, gzip;q=0.8, *;q=0.1"));
  CHECK(AcceptsGzip("gzip;q=0.5, identity;q=0.5"));
  CHECK_FALSE(AcceptsGzip(""));
  CHECK_FALSE(AcceptsGzip("identity"));
  CHECK_FALSE(AcceptsGzip("br"));
  CHECK_FALSE(AcceptsGzip("deflate"));
  CHECK_FALSE(AcceptsGzip("gzip;q=0"));
  CHECK_FALSE(AcceptsGzip("gzip; q=0.0"));
  CHECK_FALSE(AcceptsGzip("*;q=0"));
  CHECK_FALSE(AcceptsGzip("gzip;q=0, *"));  // the named coding wins over "*"
  CHECK_FALSE(AcceptsGzip("gzip;q=0.5, identity"));  // identity ranked higher
}
