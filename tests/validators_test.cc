// Independent parsers accept what we render, and read back exactly the
// values several processes wrote, hostile labels included.
#include <doctest/doctest.h>

#include <algorithm>
#include <sstream>

#include "promsqlite/promsqlite.h"
#include "test_util.h"

using namespace promsqlite;

namespace {

const std::vector<std::string>& TrickyValues() {
  static const std::vector<std::string> values = {
      "a\"b", "c\\d", "e\nf", "ü€😀 ünïcödé", "", "\\n is not a newline", "tab\there", "{}=,\"\\\n"};
  return values;
}

constexpr int kWriters = 4;

// Every type, written by kWriters processes.
void WriteScenario(const std::string& db) {
  int failed = test::RunInChildren(kWriters, [&](int) {
    Registry registry(db);
    auto jobs = BuildCounter().Name("jobs_total").Help("Jobs \"done\"\\ \n per queue.").LabelNames({"queue"}).Register(registry);
    auto seconds = BuildHistogram().Name("task_seconds").Help("Task time.").Buckets({0.5, 1}).LabelNames({"kind"}).Register(registry);
    auto busy = BuildGauge().Name("workers_busy").Help("Busy workers.").LabelNames({"k"}).Register(registry);
    auto bytes = BuildSummary().Name("payload_bytes").Help("Payload sizes.").Register(registry);
    auto build = BuildInfo().Name("app_build").Help("Build.").LabelNames({"version", "commit"}).Register(registry);
    auto phase = BuildEnum().Name("phase").Help("Phase.").States({"init", "r\"un", "dönë"}).Register(registry);
    for (const std::string& v : TrickyValues()) {
      jobs.WithLabelValues({v}).Increment(1.5);
      Histogram h = seconds.WithLabelValues({v});
      h.Observe(0.25);
      h.Observe(0.75);
      h.Observe(2);
      busy.WithLabelValues({v}).Increment();
    }
    bytes.WithLabelValues({}).Observe(10);
    build.WithLabelValues({"1.0 \"beta\"", "c\\0ffee"});
    phase.WithLabelValues({}).Set("r\"un");
  });
  REQUIRE(failed == 0);
}

std::vector<std::string> Expected(bool openmetrics) {
  std::vector<std::string> lines;
  const double n = kWriters;
  for (const std::string& v : TrickyValues()) {
    lines.push_back(test::SampleLine("jobs_total", {{"queue", v}}, 1.5 * n));
    lines.push_back(test::SampleLine("task_seconds_bucket", {{"kind", v}, {"le", "0.5"}}, n));
    lines.push_back(test::SampleLine("task_seconds_bucket", {{"kind", v}, {"le", openmetrics ? "1.0" : "1"}}, 2 * n));
    lines.push_back(test::SampleLine("task_seconds_bucket", {{"kind", v}, {"le", "+Inf"}}, 3 * n));
    lines.push_back(test::SampleLine("task_seconds_count", {{"kind", v}}, 3 * n));
    lines.push_back(test::SampleLine("task_seconds_sum", {{"kind", v}}, 3 * n));
    lines.push_back(test::SampleLine("workers_busy", {{"k", v}}, n));
  }
  lines.push_back(test::SampleLine("payload_bytes_count", {}, n));
  lines.push_back(test::SampleLine("payload_bytes_sum", {}, 10 * n));
  lines.push_back(test::SampleLine("app_build_info", {{"version", "1.0 \"beta\""}, {"commit", "c\\0ffee"}}, 1));
  lines.push_back(test::SampleLine("phase", {{"phase", "init"}}, 0));
  lines.push_back(test::SampleLine("phase", {{"phase", "r\"un"}}, 1));
  lines.push_back(test::SampleLine("phase", {{"phase", "dönë"}}, 0));
  std::sort(lines.begin(), lines.end());
  return lines;
}

std::vector<std::string> ParsedSamples(const std::string& body, bool openmetrics) {
  test::CommandResult parsed = test::ParseWithPython(body, openmetrics);
  INFO(parsed.output);
  REQUIRE(parsed.exit_code == 0);
  std::vector<std::string> lines;
  std::istringstream in(parsed.output);
  for (std::string line; std::getline(in, line);) {
    if (line.find("_created{") == std::string::npos) lines.push_back(line);  // timestamps vary
  }
  return lines;
}

}  // namespace

TEST_CASE("text output passes promtool, lint and the structural checks") {
  test::TempDir dir;
  WriteScenario(dir.File("m.db"));
  std::string text = Reader(dir.File("m.db")).Render(Format::kText);
  test::CommandResult check = test::CheckExposition(text, false);
  INFO(check.output);
  INFO(text);
  CHECK(check.exit_code == 0);
}

TEST_CASE("OpenMetrics output passes the official strict parser") {
  test::TempDir dir;
  WriteScenario(dir.File("m.db"));
  std::string om = Reader(dir.File("m.db")).Render(Format::kOpenMetrics);
  test::CommandResult check = test::CheckExposition(om, true);
  INFO(check.output);
  INFO(om);
  CHECK(check.exit_code == 0);
}

TEST_CASE("the Python parsers read back exactly what several processes wrote, in both formats") {
  test::TempDir dir;
  WriteScenario(dir.File("m.db"));
  Reader reader(dir.File("m.db"));
  for (bool openmetrics : {false, true}) {
    CAPTURE(openmetrics);
    std::vector<std::string> got = ParsedSamples(reader.Render(openmetrics ? Format::kOpenMetrics : Format::kText), openmetrics);
    std::vector<std::string> want = Expected(openmetrics);
    CHECK(got.size() == want.size());
    for (size_t i = 0; i < std::min(got.size(), want.size()); ++i) {
      CAPTURE(i);
      CHECK(got[i] == want[i]);
    }
  }
}

TEST_CASE("a histogram with negative buckets omits _sum and _count in OpenMetrics, as the spec requires") {
  test::TempDir dir;
  Registry registry(dir.File("m.db"));
  Histogram h = BuildHistogram().Name("delta").Help("Change.").Buckets({-1, 0, 1}).Register(registry).WithLabelValues({});
  h.Observe(-2);
  h.Observe(0.5);
  std::string om = registry.Render(Format::kOpenMetrics);
  CHECK(om.find("delta_sum") == std::string::npos);
  CHECK(om.find("delta_bucket{le=\"-1.0\"} 1\n") != std::string::npos);
  test::CommandResult om_check = test::CheckExposition(om, true);
  INFO(om_check.output);
  CHECK(om_check.exit_code == 0);
  std::string text = registry.Render(Format::kText);
  CHECK(text.find("delta_sum -1.5\n") != std::string::npos);  // 0.0.4 has no such rule
  CHECK(test::CheckExposition(text, false).exit_code == 0);
}

TEST_CASE("the validators reject broken expositions (they are not rubber stamps)") {
  CHECK(test::CheckExposition("# TYPE x counter\nx_total -1\n", false).exit_code == 1);
  CHECK(test::CheckExposition("# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n", false).exit_code == 1);
  CHECK(test::CheckExposition("# TYPE x counter\nx_total 1\n", true).exit_code == 1);  // no # EOF
}
