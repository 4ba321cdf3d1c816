// The protobuf exposition through promsqlite-server: negotiated, gzipped,
// HEAD; scraped by a real Prometheus 2.42 with native histograms enabled
// (../shared/tools/prom-scrape --enable-feature native-histograms).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "declare/native_histogram.h"
#include "promsqlite/promsqlite.h"
#include "test_helper.h"
#include "test_util.h"

using server_test::ServerProcess;
using server_test::TempDir;

namespace {

constexpr const char* kPrometheusNativeAccept =
    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,"
    "application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
constexpr const char* kProtobufType =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

constexpr int kWriters = 4;

// What writer `w` observes: multiples of 1/8 (exact sums), skewed so that
// the median is not in the middle of the range.
std::vector<double> WriterValues(int w) {
  std::vector<double> values;
  for (int i = 1; i <= 101; ++i) values.push_back((i * i % 997 + w * 31) / 8.0 + (i % 3 == 0 ? 200 : 0));
  return values;
}

// prom-scrape's query lines (one per query), in order; fails on a down target.
std::vector<std::string> PromScrape(int port, const std::vector<std::string>& queries, bool native) {
  std::string command = server_test::Quote(server_test::SharedTool("prom-scrape")) + " --target 127.0.0.1:" +
                        std::to_string(port);
  if (native) command += " --enable-feature native-histograms";
  for (const auto& q : queries) command += " " + server_test::Quote(q);
  std::string out;
  int rc = server_test::RunCommand(command, &out);
  INFO(out);
  REQUIRE(rc == 0);
  std::vector<std::string> lines;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("{\"query\"", 0) == 0) lines.push_back(line);
  }
  REQUIRE(lines.size() == queries.size());
  return lines;
}

// The "value" of the only result of a query line, or "" when none.
std::string ValueOf(const std::string& line) {
  const std::string key = "\"value\": \"";
  size_t pos = line.find(key);
  if (pos == std::string::npos || line.find(key, pos + 1) != std::string::npos) return "";
  pos += key.size();
  return line.substr(pos, line.find('"', pos) - pos);
}

void RunWriters(const std::string& db, bool batched) {
  REQUIRE(promsqlite::test::RunInChildren(kWriters, [&](int w) {
            promsqlite::Options options;
            if (batched && w % 2 == 1) options.write_mode = promsqlite::WriteMode::kBatched;
            promsqlite::Registry registry(db, options);
            auto h = promsqlite::BuildHistogram().Name("native_op_seconds").Help("Operation time.")
                         .NativeHistogram(1.1).Register(registry).WithLabelValues({});
            for (double v : WriterValues(w)) h.Observe(v);
          }) == 0);
}

}  // namespace

TEST_CASE("Prometheus' protobuf Accept header gets the protobuf exposition, gzipped on request, and HEAD its headers") {
  TempDir dir;
  std::string db = dir.File("m.db");
  server_test::WriteSampleFile(db);
  ServerProcess server({"--db", db});
  REQUIRE(server.Start());
  httplib::Client client = server_test::Client(server.port());
  auto plain = client.Get("/metrics", {{"Accept", kPrometheusNativeAccept}});
  REQUIRE(plain);
  CHECK(plain->status == 200);
  CHECK(plain->get_header_value("Content-Type") == kProtobufType);
  CHECK(plain->get_header_value("Content-Encoding").empty());
  std::string decoded = promsqlite::test::DecodeMetricFamilies(plain->body);
  CHECK(decoded.find("name: \"sample_requests_total\"\nhelp: \"Requests handled.\"\ntype: COUNTER\n") !=
        std::string::npos);
  CHECK(decoded.find("name: \"promsqlite_build_info\"") != std::string::npos);  // the server's own, after the file's

  auto gzipped = client.Get("/metrics", {{"Accept", kPrometheusNativeAccept}, {"Accept-Encoding", "gzip"}});
  REQUIRE(gzipped);
  CHECK(gzipped->get_header_value("Content-Type") == kProtobufType);
  CHECK(gzipped->get_header_value("Content-Encoding") == "gzip");
  std::string unzipped = promsqlite::test::DecodeMetricFamilies(server_test::Gunzip(gzipped->body));
  CHECK(unzipped.find("name: \"sample_latency_seconds\"\nhelp: \"Latency.\"\ntype: HISTOGRAM\n") != std::string::npos);

  auto head = client.Head("/metrics", {{"Accept", kPrometheusNativeAccept}, {"Accept-Encoding", "gzip"}});
  REQUIRE(head);
  CHECK(head->status == 200);
  CHECK(head->get_header_value("Content-Type") == kProtobufType);
  CHECK(head->body.empty());
  CHECK(server.Stop(SIGTERM) == 0);
}

TEST_CASE("Prometheus with native histograms scrapes one native histogram fed by several processes exactly") {
  TempDir dir;
  std::string db = dir.File("shared.db");
  ServerProcess server({"--db", db});
  REQUIRE(server.Start());
  RunWriters(db, /*batched=*/true);

  std::vector<double> all;
  for (int w = 0; w < kWriters; ++w) {
    for (double v : WriterValues(w)) all.push_back(v);
  }
  const promsqlite::test::NativeExpectation expected = promsqlite::test::ExpectNative(all, 3);

  auto lines = PromScrape(server.port(),
                          {"histogram_count(native_op_seconds)", "histogram_sum(native_op_seconds)",
                           "histogram_quantile(0.5, native_op_seconds)", "native_op_seconds"},
                          /*native=*/true);
  CHECK(ValueOf(lines[0]) == std::to_string(expected.count));
  REQUIRE(!ValueOf(lines[1]).empty());
  CHECK(std::stod(ValueOf(lines[1])) == expected.sum);
  REQUIRE(!ValueOf(lines[2]).empty());
  double quantile = std::stod(ValueOf(lines[2]));
  INFO("median " << expected.median << " in (" << expected.lower << ", " << expected.upper << "], quantile "
                 << quantile);
  CHECK(quantile > expected.lower);
  CHECK(quantile <= expected.upper);
  CHECK(lines[3].find("\"histogram\"") != std::string::npos);  // stored as a native histogram
  CHECK(server.Stop(SIGTERM) == 0);
}

TEST_CASE("classic types scraped as protobuf give the same PromQL answers as scraped as text") {
  TempDir dir;
  std::string db = dir.File("m.db");
  server_test::WriteSampleFile(db);
  {
    // A family larger than a render chunk: sent as several messages.
    promsqlite::Options batched;
    batched.write_mode = promsqlite::WriteMode::kBatched;
    promsqlite::Registry registry(db, batched);
    auto many = promsqlite::BuildCounter().Name("sample_many").Help("Many.").LabelNames({"id"}).Register(registry);
    for (int i = 0; i < 3000; ++i) many.WithLabelValues({std::to_string(i)}).Increment(i);
  }
  ServerProcess server({"--db", db});
  REQUIRE(server.Start());
  const std::vector<std::string> queries = {
      "count(sample_many_total)",
      "sum(sample_many_total)",
      "sample_requests_total",
      "sample_queue_depth",
      "sample_latency_seconds_bucket",
      "histogram_quantile(0.5, sample_latency_seconds_bucket)",
      "sample_latency_seconds_sum",
      "sample_latency_seconds_count",
      "sample_payload_bytes_sum",
      "sample_payload_bytes_count",
      "sample_build_info",
      "sample_state",
      // OpenMetrics (what prom-scrape gets without the feature) adds _created series.
      "count({__name__=~\"sample_.*\",__name__!~\".*_created\"})",
  };
  auto protobuf = PromScrape(server.port(), queries, /*native=*/true);
  auto text = PromScrape(server.port(), queries, /*native=*/false);
  for (size_t i = 0; i < queries.size(); ++i) {
    CAPTURE(queries[i]);
    CHECK(protobuf[i] == text[i]);
    CHECK(protobuf[i].find("\"result\": []") == std::string::npos);
  }
  CHECK(ValueOf(protobuf[0]) == "3000");
  CHECK(ValueOf(protobuf[1]) == "4498500");
  CHECK(server.Stop(SIGTERM) == 0);
}
