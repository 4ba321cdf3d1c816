// End to end: writer processes update one file, a real Prometheus scrapes
// promsqlite-server (../shared/tools/prom-scrape), and PromQL sees exactly
// what was written.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cmath>
#include <sstream>

#include "promsqlite/promsqlite.h"
#include "test_helper.h"
#include "test_util.h"

using server_test::ServerProcess;
using server_test::TempDir;

namespace {

constexpr int kWriters = 4;
const char* const kWeird = "quote\" backslash\\ newline\n utf8 \xc3\xbc\xe2\x82\xac";
// kWeird as a PromQL string literal and as Python's json.dumps writes it.
const char* const kWeirdPromQL = "\"quote\\\" backslash\\\\ newline\\n utf8 \xc3\xbc\xe2\x82\xac\"";
const char* const kWeirdJson = "\"quote\\\" backslash\\\\ newline\\n utf8 \\u00fc\\u20ac\"";

void Writer(const std::string& db, int worker) {
  promsqlite::Registry registry(db);
  auto requests = promsqlite::BuildCounter().Name("e2e_requests_total").Help("Requests.")
                      .LabelNames({"path"}).Register(registry);
  auto latency = promsqlite::BuildHistogram().Name("e2e_latency_seconds").Help("Latency.")
                     .Buckets({0.1, 0.5, 1, 5}).Register(registry);
  auto build = promsqlite::BuildInfo().Name("e2e_build").Help("Build.")
                   .LabelNames({"version", "note"}).Register(registry);
  auto workers = promsqlite::BuildGauge().Name("e2e_workers").Help("Workers that finished.")
                     .Register(registry);
  build.WithLabelValues({"1.2.3", kWeird});
  for (int i = 0; i < 100; ++i) requests.WithLabelValues({"/plain"}).Increment();
  for (int i = 0; i < 25; ++i) requests.WithLabelValues({kWeird}).Increment(0.5 + worker);
  auto h = latency.WithLabelValues({});
  for (int i = 0; i < 10; ++i) h.Observe(0.05);
  for (int i = 0; i < 20; ++i) h.Observe(0.3);
  for (int i = 0; i < 10; ++i) h.Observe(0.7);
  workers.WithLabelValues({}).Increment();
}

// The "value" of the first result of the n-th query line, or "" when none.
std::string ValueOf(const std::vector<std::string>& lines, size_t n) {
  if (n >= lines.size()) return "";
  const std::string key = "\"value\": \"";
  size_t pos = lines[n].find(key);
  if (pos == std::string::npos) return "";
  pos += key.size();
  return lines[n].substr(pos, lines[n].find('"', pos) - pos);
}

}  // namespace

TEST_CASE("a real Prometheus scraping the server sees exactly what writer processes wrote") {
  TempDir dir;
  std::string db = dir.File("shared.db");
  // The server starts before the file exists, as on a fresh host.
  ServerProcess server({"--db", db});
  REQUIRE(server.Start());

  REQUIRE(promsqlite::test::RunInChildren(kWriters, [&](int w) { Writer(db, w); }) == 0);

  const std::vector<std::string> queries = {
      "sum(e2e_requests_total{path=\"/plain\"})",
      std::string("sum(e2e_requests_total{path=") + kWeirdPromQL + "})",
      "histogram_quantile(0.5, sum by (le) (e2e_latency_seconds_bucket))",
      "histogram_quantile(0.9, sum by (le) (e2e_latency_seconds_bucket))",
      "sum(e2e_latency_seconds_count)",
      std::string("count(e2e_build_info{version=\"1.2.3\",note=") + kWeirdPromQL + "} == 1)",
      "e2e_build_info",
      "e2e_workers",
      "promsqlite_build_info",
  };
  std::string command = server_test::Quote(server_test::SharedTool("prom-scrape")) + " --target 127.0.0.1:" +
                        std::to_string(server.port());
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
  CHECK(out.find("\"up\"") != std::string::npos);

  CHECK(ValueOf(lines, 0) == "400");
  // 25 increments of 0.5, 1.5, 2.5 and 3.5 by the four writers.
  CHECK(ValueOf(lines, 1) == "200");
  // 160 observations: 40 at 0.05, 80 at 0.3, 40 at 0.7; the median lies in
  // (0.1, 0.5] and is interpolated to 0.3; the 0.9 quantile in (0.5, 1] to 0.8.
  CHECK(std::fabs(std::stod(ValueOf(lines, 2)) - 0.3) < 1e-9);
  CHECK(std::fabs(std::stod(ValueOf(lines, 3)) - 0.8) < 1e-9);
  CHECK(ValueOf(lines, 4) == "160");
  CHECK(ValueOf(lines, 5) == "1");
  CHECK(lines[6].find(std::string("\"note\": ") + kWeirdJson) != std::string::npos);
  CHECK(ValueOf(lines, 6) == "1");
  CHECK(ValueOf(lines, 7) == "4");
  CHECK(lines[8].find("\"sqlite_version\": \"" + std::string(promsqlite::SqliteVersion()) + "\"") !=
        std::string::npos);
  CHECK(server.Stop(SIGTERM) == 0);
}
