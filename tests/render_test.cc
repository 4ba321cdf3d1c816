// The exact bytes of both formats for data covering all six types.
#include <doctest/doctest.h>

#include "promsqlite/promsqlite.h"
#include "test_util.h"

using namespace promsqlite;

namespace {

void Fill(Registry& registry) {
  auto requests = BuildCounter().Name("http_requests_total").Help("Requests.\nSecond \\ line \"quoted\"")
                      .LabelNames({"path", "code"}).Register(registry);
  requests.WithLabelValues({"/a\"b\\c\nd", "200"}).Increment(3);
  requests.WithLabelValues({"/", "500"}).Increment(1e6);
  BuildGauge().Name("temperature_celsius").Unit("celsius").Register(registry).WithLabelValues({}).Set(-0.25);
  BuildHistogram().Name("rpc_seconds").Buckets({0.005, 1, 2.5}).Register(registry).WithLabelValues({}).Observe(2);
  BuildSummary().Name("payload_bytes").Register(registry).WithLabelValues({}).Observe(1234567);
  BuildInfo().Name("app").LabelNames({"version"}).Register(registry).WithLabelValues({"1.0"});
  BuildEnum().Name("mode").States({"a", "b"}).Register(registry).WithLabelValues({}).Set("b");
  BuildGauge().Name("unused").Help("declared, never used").Register(registry);
}

// _created values differ per run: replace them by a fixed token.
std::string MaskCreated(std::string text) {
  size_t pos = 0;
  while ((pos = text.find("_created", pos)) != std::string::npos) {
    size_t space = text.find(' ', pos);
    size_t eol = text.find('\n', space);
    text.replace(space + 1, eol - space - 1, "T");
    pos = space;
  }
  return text;
}

}  // namespace

TEST_CASE("text 0.0.4 is what client_golang writes: sorted families, Go floats, le last, no _created") {
  test::TempDir dir;
  Registry registry(dir.File("m.db"));
  Fill(registry);
  CHECK(registry.Render(Format::kText) ==
        "# HELP app_info \n# TYPE app_info gauge\n"
        "app_info{version=\"1.0\"} 1\n"
        "# HELP http_requests_total Requests.\\nSecond \\\\ line \"quoted\"\n"
        "# TYPE http_requests_total counter\n"
        "http_requests_total{code=\"200\",path=\"/a\\\"b\\\\c\\nd\"} 3\n"
        "http_requests_total{code=\"500\",path=\"/\"} 1e+06\n"
        "# HELP mode \n# TYPE mode gauge\n"
        "mode{mode=\"a\"} 0\n"
        "mode{mode=\"b\"} 1\n"
        "# HELP payload_bytes \n# TYPE payload_bytes summary\n"
        "payload_bytes_sum 1.234567e+06\n"
        "payload_bytes_count 1\n"
        "# HELP rpc_seconds \n# TYPE rpc_seconds histogram\n"
        "rpc_seconds_bucket{le=\"0.005\"} 0\n"
        "rpc_seconds_bucket{le=\"1\"} 0\n"
        "rpc_seconds_bucket{le=\"2.5\"} 1\n"
        "rpc_seconds_bucket{le=\"+Inf\"} 1\n"
        "rpc_seconds_sum 2\n"
        "rpc_seconds_count 1\n"
        "# HELP temperature_celsius \n# TYPE temperature_celsius gauge\n"
        "temperature_celsius -0.25\n");
}

TEST_CASE("OpenMetrics 1.0: counter family without _total, _created, info, stateset, canonical le, UNIT, EOF") {
  test::TempDir dir;
  Registry registry(dir.File("m.db"));
  Fill(registry);
  CHECK(MaskCreated(registry.Render(Format::kOpenMetrics)) ==
        "# TYPE app info\n"
        "app_info{version=\"1.0\"} 1\n"
        "# TYPE http_requests counter\n"
        "# HELP http_requests Requests.\\nSecond \\\\ line \\\"quoted\\\"\n"
        "http_requests_total{code=\"200\",path=\"/a\\\"b\\\\c\\nd\"} 3\n"
        "http_requests_created{code=\"200\",path=\"/a\\\"b\\\\c\\nd\"} T\n"
        "http_requests_total{code=\"500\",path=\"/\"} 1e+06\n"
        "http_requests_created{code=\"500\",path=\"/\"} T\n"
        "# TYPE mode stateset\n"
        "mode{mode=\"a\"} 0\n"
        "mode{mode=\"b\"} 1\n"
        "# TYPE payload_bytes summary\n"
        "payload_bytes_count 1\n"
        "payload_bytes_sum 1.234567e+06\n"
        "payload_bytes_created T\n"
        "# TYPE rpc_seconds histogram\n"
        "rpc_seconds_bucket{le=\"0.005\"} 0\n"
        "rpc_seconds_bucket{le=\"1.0\"} 0\n"
        "rpc_seconds_bucket{le=\"2.5\"} 1\n"
        "rpc_seconds_bucket{le=\"+Inf\"} 1\n"
        "rpc_seconds_count 1\n"
        "rpc_seconds_sum 2\n"
        "rpc_seconds_created T\n"
        "# TYPE temperature_celsius gauge\n"
        "# UNIT temperature_celsius celsius\n"
        "temperature_celsius -0.25\n"
        "# EOF\n");
}

TEST_CASE("an empty help: text writes \"# HELP name \" as client_golang does, OpenMetrics no HELP line") {
  test::TempDir dir;
  Registry registry(dir.File("m.db"));
  BuildCounter().Name("c").Register(registry).WithLabelValues({}).Increment(2);
  BuildInfo().Name("i").Help("").Register(registry).WithLabelValues({});
  BuildGauge().Name("g").Help("Has help.").Register(registry).WithLabelValues({}).Set(1);
  const std::string text = registry.Render(Format::kText);
  CHECK(text ==
        "# HELP c_total \n# TYPE c_total counter\nc_total 2\n"
        "# HELP g Has help.\n# TYPE g gauge\ng 1\n"
        "# HELP i_info \n# TYPE i_info gauge\ni_info 1\n");
  // promtool (Prometheus' own parser) accepts it; only its lint notes the
  // missing help texts (exit code 3).
  test::CommandResult promtool = test::RunCommand({"promtool", "check", "metrics"}, text);
  CHECK_MESSAGE(promtool.exit_code == 3, promtool.output);
  CHECK(promtool.output.find("c_total no help text") != std::string::npos);
  // The Python client reads the same samples, with an empty help.
  test::CommandResult parsed = test::ParseWithPython(text, false);
  CHECK(parsed.output == "c_total{} 2.0\ng{} 1.0\ni_info{} 1.0\n");

  // OpenMetrics: HELP is optional there and the Python client's strict
  // parser reads a missing one as empty: no line.
  const std::string om = registry.Render(Format::kOpenMetrics);
  CHECK(om.find("# HELP c ") == std::string::npos);
  CHECK(om.find("# HELP i ") == std::string::npos);
  CHECK(om.find("# HELP g Has help.\n") != std::string::npos);
  test::CommandResult valid = test::CheckExposition(om, true);
  CHECK_MESSAGE(valid.exit_code == 0, valid.output);
}

TEST_CASE("series are ordered by label values, as client_golang orders them") {
  test::TempDir dir;
  Registry registry(dir.File("m.db"));
  auto family = BuildGauge().Name("g").LabelNames({"b", "a"}).Register(registry);
  family.WithLabelValues({"1", "y"}).Set(1);
  family.WithLabelValues({"2", "x"}).Set(2);
  family.WithLabelValues({"1", "x"}).Set(3);
  family.WithLabelValues({"", "xx"}).Set(4);
  CHECK(registry.Render(Format::kText) ==
        "# HELP g \n# TYPE g gauge\ng{a=\"x\",b=\"1\"} 3\ng{a=\"x\",b=\"2\"} 2\ng{a=\"xx\",b=\"\"} 4\ng{a=\"y\",b=\"1\"} 1\n");
}

TEST_CASE("an empty or missing file renders as an empty exposition") {
  test::TempDir dir;
  Reader missing(dir.File("not-yet.db"));
  CHECK(missing.Render(Format::kText).empty());
  CHECK(missing.Render(Format::kOpenMetrics) == "# EOF\n");
  CHECK_FALSE(missing.Stats().exists);
  test::WriteFile(dir.File("empty.db"), "");
  Reader empty(dir.File("empty.db"));
  CHECK(empty.Render(Format::kOpenMetrics) == "# EOF\n");
}

TEST_CASE("rendering streams in bounded chunks") {
  test::TempDir dir;
  Registry registry(dir.File("m.db"));
  auto family = BuildCounter().Name("c").LabelNames({"id"}).Register(registry);
  for (int i = 0; i < 3000; ++i) family.WithLabelValues({std::to_string(i) + std::string(40, 'x')});
  size_t chunks = 0, largest = 0, total = 0;
  Reader(dir.File("m.db")).Render(Format::kText, [&](std::string_view chunk) {
    ++chunks;
    largest = std::max(largest, chunk.size());
    total += chunk.size();
  });
  CHECK(total > 150000);
  CHECK(chunks > 3);
  CHECK(largest < 40 * 1024);
}

TEST_CASE("in-memory families render after the file's, through the same renderer") {
  test::TempDir dir;
  Registry registry(dir.File("m.db"));
  BuildGauge().Name("a").Register(registry).WithLabelValues({}).Set(1);
  MemoryFamily own;
  own.spec.type = MetricType::kCounter;
  own.spec.name = "server_scrapes_total";
  own.spec.label_names = {"code", "b"};
  own.samples.push_back({{"200", "x"}, 5, 0});
  Reader reader(dir.File("m.db"));
  std::string out;
  reader.Render(Format::kText, [&](std::string_view c) { out.append(c); }, {own});
  CHECK(out == "# HELP a \n# TYPE a gauge\na 1\n# HELP server_scrapes_total \n# TYPE server_scrapes_total counter\nserver_scrapes_total{b=\"x\",code=\"200\"} 5\n");
  out.clear();
  reader.Render(Format::kOpenMetrics, [&](std::string_view c) { out.append(c); }, {own});
  CHECK(out == "# TYPE a gauge\na 1\n# TYPE server_scrapes counter\nserver_scrapes_total{b=\"x\",code=\"200\"} 5\n# EOF\n");
}
