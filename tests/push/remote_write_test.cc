// Remote-write to the real Prometheus (Debian's 2.42, remote-write receiver
// enabled), read back through its query API; and the exposition parser
// that turns our own text output into samples.
#include <doctest/doctest.h>

#include <cmath>
#include <ctime>

#include "promsqlite/promsqlite.h"
#include "promsqlite/push.h"
#include "push/exposition_parser.h"
#include "push_test_util.h"
#include "test_util.h"

using namespace promsqlite;
using promsqlite::test::CommandResult;
using promsqlite::test::Prometheus;
using promsqlite::test::TempDir;

namespace {

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The value of an instant query that must return exactly one series.
std::string OnlyValue(const Prometheus& prometheus, const std::string& promql) {
  std::string json = prometheus.Query(promql);
  INFO(promql << " -> " << json);
  REQUIRE(Contains(json, "\"status\":\"success\""));
  size_t first = json.find("\"value\":[");
  REQUIRE(first != std::string::npos);
  REQUIRE(json.find("\"value\":[", first + 1) == std::string::npos);
  size_t open = json.find(",\"", first);
  return json.substr(open + 2, json.find('"', open + 2) - open - 2);
}

}  // namespace

TEST_CASE("remote-write stores every sample exactly, queryable with histogram_quantile") {
  TempDir dir;
  Prometheus prometheus(dir.path());
  test::WriteAllTypes(dir.File("m.db"));
  CommandResult r = test::RunCommand({test::Cli(), "--db", dir.File("m.db"), "remote-write", "--url",
                                      prometheus.url() + "/api/v1/write", "--label", "instance=runner-1"});
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);

  CHECK(OnlyValue(prometheus, R"(requests_total{instance="runner-1"})") == "3.5");
  // Label values arrive unescaped: JSON shows them re-escaped its own way.
  std::string series = prometheus.Query(R"(requests_total{who="grüße→✓"})");
  CHECK(Contains(series, R"("path":"a\"b\\c\nd")"));
  CHECK(OnlyValue(prometheus, "temperature_celsius") == "-12.25");
  CHECK(OnlyValue(prometheus, R"(latency_seconds_bucket{le="0.1"})") == "0");
  CHECK(OnlyValue(prometheus, R"(latency_seconds_bucket{le="1"})") == "2");
  CHECK(OnlyValue(prometheus, R"(latency_seconds_bucket{le="+Inf"})") == "3");
  CHECK(OnlyValue(prometheus, "latency_seconds_sum") == "2.75");
  CHECK(OnlyValue(prometheus, "latency_seconds_count") == "3");
  // Rank 1.5 of 3 falls in (0.1, 1] holding 2: 0.1 + 0.9 * 1.5 / 2.
  CHECK(OnlyValue(prometheus, "histogram_quantile(0.5, latency_seconds_bucket)") == "0.775");
  CHECK(OnlyValue(prometheus, "job_seconds_sum") == "4");
  CHECK(OnlyValue(prometheus, "job_seconds_count") == "2");
  CHECK(OnlyValue(prometheus, R"(build_info{version="1.2.3"})") == "1");
  CHECK(OnlyValue(prometheus, R"(phase{phase="b"})") == "1");
  CHECK(OnlyValue(prometheus, R"(phase{phase="a"})") == "0");
  CHECK(OnlyValue(prometheus, R"(count({instance="runner-1"}))") == "12");
}

TEST_CASE("extra labels keep the counters of two hosts apart") {
  TempDir dir;
  Prometheus prometheus(dir.path());
  Registry(dir.File("a.db")).Register<Counter>(test::Spec(MetricType::kCounter, "builds")).WithLabelValues({}).Increment(3);
  Registry(dir.File("b.db")).Register<Counter>(test::Spec(MetricType::kCounter, "builds")).WithLabelValues({}).Increment(4);
  Reader a(dir.File("a.db")), b(dir.File("b.db"));
  RemoteWriteOptions options;
  options.url = prometheus.url() + "/api/v1/write";
  options.extra_labels = {{"instance", "a"}};
  RemoteWrite(a, options);
  options.extra_labels = {{"instance", "b"}};
  RemoteWrite(b, options);
  CHECK(OnlyValue(prometheus, "sum(builds_total)") == "7");
  CHECK(OnlyValue(prometheus, "count(builds_total)") == "2");
}

TEST_CASE("an explicit timestamp is used for every sample") {
  TempDir dir;
  Prometheus prometheus(dir.path());
  Registry(dir.File("m.db")).Register<Gauge>(test::Spec(MetricType::kGauge, "stamped")).WithLabelValues({}).Set(5);
  Reader reader(dir.File("m.db"));
  RemoteWriteOptions options;
  options.url = prometheus.url() + "/api/v1/write";
  options.timestamp_ms = (std::time(nullptr) - 60) * 1000LL;
  RemoteWrite(reader, options);
  CHECK(OnlyValue(prometheus, "timestamp(stamped)") == std::to_string(options.timestamp_ms / 1000));
}

TEST_CASE("the parser reads our text output back: names, unescaped labels and help, special values") {
  auto families = detail::ParseTextExposition(
      "# HELP a_total Line\\none \\\\ two \"q\"\n"
      "# TYPE a_total counter\n"
      "a_total{k=\"x\\\"y\\\\z\\nw\",u=\"ü\"} 1.5e+06\n"
      "# TYPE g gauge\n"
      "g NaN\n"
      "g{s=\"\"} -Inf\n"
      "# TYPE h histogram\n"
      "h_bucket{le=\"+Inf\"} 2\n"
      "h_sum 3\n");
  REQUIRE(families.size() == 3);
  CHECK(families[0].name == "a_total");
  CHECK(families[0].type == "counter");
  CHECK(families[0].help == "Line\none \\ two \"q\"");
  REQUIRE(families[0].samples.size() == 1);
  CHECK(families[0].samples[0].labels ==
        std::vector<std::pair<std::string, std::string>>{{"k", "x\"y\\z\nw"}, {"u", "ü"}});
  CHECK(families[0].samples[0].value == 1.5e6);
  CHECK(std::isnan(families[1].samples[0].value));
  CHECK(families[1].samples[1].value == -INFINITY);
  CHECK(families[2].help.empty());
  CHECK(families[2].samples.size() == 2);
  CHECK(families[2].samples[0].name == "h_bucket");
}

TEST_CASE("the parser names the line of malformed input") {
  CHECK_THROWS_WITH_AS(detail::ParseTextExposition("# TYPE x gauge\nx{a=\"1} 2\n"), "exposition line 2: unterminated label value",
                       InvalidArgument);
  CHECK_THROWS_AS(detail::ParseTextExposition("x 1 2\n"), InvalidArgument);
}
