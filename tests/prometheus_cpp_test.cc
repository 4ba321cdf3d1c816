// promsqlite/prometheus_cpp.h: a file served through a real
// prometheus::Exposer beside in-process prometheus-cpp metrics, scraped
// over loopback, validated by ../shared/tools/check-exposition and read
// back sample by sample with the official Python client's parser.
#include <doctest/doctest.h>
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "promsqlite/prometheus_cpp.h"
#include "promsqlite/promsqlite.h"
#include "test_util.h"

using namespace promsqlite;
using promsqlite::test::CommandResult;
using promsqlite::test::SampleLine;
using promsqlite::test::TempDir;

namespace {

using promsqlite::test::Contains;

std::set<std::string> Lines(const std::string& text) {
  std::set<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.insert(line);
  return lines;
}

// Every metric type, written by `workers` forked processes; each adds the
// same amounts, so the totals are `workers` times one worker's. Values are
// exact in binary, so nothing depends on how a serializer rounds.
void WriteFromProcesses(const std::string& path, int workers) {
  int failed = test::RunInChildren(workers, [&](int index) {
    Registry registry(path);
    auto jobs = BuildCounter().Name("jobs_total").Help("Jobs done.").LabelNames({"queue", "outcome"})
                    .Register(registry);
    jobs.WithLabelValues({"fast", "ok"}).Increment(3);
    jobs.WithLabelValues({"slow \"bulk\"\\", "failed"}).Increment(0.5);
    BuildGauge().Name("queue_depth").Help("Queued jobs.").Register(registry).WithLabelValues({}).Increment(-2.25);
    auto latency = BuildHistogram().Name("job_seconds").Help("Job latency.").Buckets({0.25, 1, 4})
                       .LabelNames({"queue"}).Register(registry).WithLabelValues({"fast"});
    latency.Observe(0.125);
    latency.Observe(0.5);
    latency.Observe(8);
    BuildSummary().Name("payload_bytes").Help("Payload sizes.").Register(registry).WithLabelValues({})
        .Observe(1024 * (index + 1));
    BuildInfo().Name("build").Help("Build.").LabelNames({"version"}).Register(registry)
        .WithLabelValues({"1.2.3"});
    BuildEnum().Name("phase").Help("Current phase.").States({"idle", "busy", "done"}).LabelNames({"host"})
        .Register(registry).WithLabelValues({"h1"}).Set("busy");
  });
  REQUIRE(failed == 0);
}

// The samples the file must show after WriteFromProcesses(path, 4).
std::vector<std::string> ExpectedFileSamples() {
  return {
      SampleLine("jobs_total", {{"queue", "fast"}, {"outcome", "ok"}}, 12),
      SampleLine("jobs_total", {{"queue", "slow \"bulk\"\\"}, {"outcome", "failed"}}, 2),
      SampleLine("queue_depth", {}, -9),
      SampleLine("job_seconds_bucket", {{"queue", "fast"}, {"le", "0.25"}}, 4),
      SampleLine("job_seconds_bucket", {{"queue", "fast"}, {"le", "1"}}, 8),
      SampleLine("job_seconds_bucket", {{"queue", "fast"}, {"le", "4"}}, 8),
      SampleLine("job_seconds_bucket", {{"queue", "fast"}, {"le", "+Inf"}}, 12),
      SampleLine("job_seconds_sum", {{"queue", "fast"}}, 4 * 8.625),
      SampleLine("job_seconds_count", {{"queue", "fast"}}, 12),
      SampleLine("payload_bytes_sum", {}, 1024 * (1 + 2 + 3 + 4)),
      SampleLine("payload_bytes_count", {}, 4),
      SampleLine("build_info", {{"version", "1.2.3"}}, 1),
      SampleLine("phase", {{"host", "h1"}, {"phase", "idle"}}, 0),
      SampleLine("phase", {{"host", "h1"}, {"phase", "busy"}}, 1),
      SampleLine("phase", {{"host", "h1"}, {"phase", "done"}}, 0),
  };
}

std::string Scrape(int port) {
  CommandResult r = test::RunCommand({"curl", "-sSf", "http://127.0.0.1:" + std::to_string(port) + "/metrics"});
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  return r.output;
}

// An Exposer on a free loopback port with an in-process counter (7) and
// the file.
struct Endpoint {
  explicit Endpoint(std::shared_ptr<FileCollectable> collectable) : file(std::move(collectable)) {
    prometheus::BuildCounter().Name("app_requests_total").Help("Requests of this process.").Register(*registry)
        .Add({{"code", "200"}}).Increment(7);
    exposer.RegisterCollectable(registry);
    exposer.RegisterCollectable(file);
    port = exposer.GetListeningPorts().at(0);
  }
  prometheus::Exposer exposer{"127.0.0.1:0"};
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  std::shared_ptr<FileCollectable> file;
  int port = 0;
};

}  // namespace

TEST_CASE("an Exposer serves in-process metrics and a file written by forked processes, every value exact") {
  TempDir dir;
  const std::string db = dir.File("m.db");
  WriteFromProcesses(db, 4);
  Endpoint endpoint(std::make_shared<FileCollectable>(db));

  std::string body = Scrape(endpoint.port);
  CommandResult valid = test::CheckExposition(body, false);
  CHECK_MESSAGE(valid.exit_code == 0, valid.output, "\n", body);
  CommandResult parsed = test::ParseWithPython(body, false);
  REQUIRE_MESSAGE(parsed.exit_code == 0, parsed.output);
  std::set<std::string> samples = Lines(parsed.output);
  CHECK(samples.count(SampleLine("app_requests_total", {{"code", "200"}}, 7)) == 1);
  for (const std::string& expected : ExpectedFileSamples()) CHECK_MESSAGE(samples.count(expected) == 1, expected);

  // The same samples as promsqlite's own text renderer, none more.
  CommandResult own = test::ParseWithPython(Reader(db).Render(Format::kText), false);
  REQUIRE(own.exit_code == 0);
  std::set<std::string> file_samples = Lines(own.output);
  CHECK(file_samples.size() == ExpectedFileSamples().size());
  for (const std::string& line : file_samples) CHECK_MESSAGE(samples.count(line) == 1, line);
  // Types as the text renderer writes them: info and stateset are gauges.
  for (const char* type_line : {"# TYPE jobs_total counter", "# TYPE queue_depth gauge", "# TYPE job_seconds histogram",
                                "# TYPE payload_bytes summary", "# TYPE build_info gauge", "# TYPE phase gauge",
                                "# HELP phase Current phase.", "# TYPE app_requests_total counter"})
    CHECK_MESSAGE(Contains(body, std::string(type_line) + "\n"), type_line);

  // More processes write while the Exposer runs: the next scrape has them.
  WriteFromProcesses(db, 4);
  parsed = test::ParseWithPython(Scrape(endpoint.port), false);
  REQUIRE(parsed.exit_code == 0);
  samples = Lines(parsed.output);
  CHECK(samples.count(SampleLine("jobs_total", {{"queue", "fast"}, {"outcome", "ok"}}, 24)) == 1);
  CHECK(samples.count(SampleLine("job_seconds_bucket", {{"queue", "fast"}, {"le", "+Inf"}}, 24)) == 1);
  CHECK(samples.count(SampleLine("app_requests_total", {{"code", "200"}}, 7)) == 1);
}

TEST_CASE("a missing file collects as empty and is served once a writer creates it") {
  TempDir dir;
  const std::string db = dir.File("later.db");
  std::vector<std::string> errors;
  auto file = std::make_shared<FileCollectable>(db, [&](const std::string& e) { errors.push_back(e); });
  CHECK(file->Collect().empty());
  Endpoint endpoint(file);
  std::string body = Scrape(endpoint.port);
  CHECK(Contains(body, "app_requests_total{code=\"200\"} 7"));
  CHECK_FALSE(Contains(body, "jobs_total"));

  WriteFromProcesses(db, 4);
  CommandResult parsed = test::ParseWithPython(Scrape(endpoint.port), false);
  REQUIRE(parsed.exit_code == 0);
  std::set<std::string> samples = Lines(parsed.output);
  for (const std::string& expected : ExpectedFileSamples()) CHECK_MESSAGE(samples.count(expected) == 1, expected);
  CHECK(errors.empty());
}

TEST_CASE("an unreadable file collects nothing and reports through the callback; Collect never throws") {
  TempDir dir;
  const std::string db = dir.File("garbage.db");
  test::WriteFile(db, std::string(8192, 'x'));
  std::vector<std::string> errors;
  auto file = std::make_shared<FileCollectable>(db, [&](const std::string& e) { errors.push_back(e); });
  std::vector<prometheus::MetricFamily> families;
  CHECK_NOTHROW(families = file->Collect());
  CHECK(families.empty());
  REQUIRE(errors.size() == 1);
  CHECK(Contains(errors[0], db));
  INFO(errors[0]);
  CHECK(Contains(errors[0], "not a database"));

  // The Exposer still serves the process's own metrics.
  Endpoint endpoint(file);
  CHECK(Contains(Scrape(endpoint.port), "app_requests_total{code=\"200\"} 7"));
  CHECK(errors.size() == 2);

  // A callback that throws is contained too.
  FileCollectable throwing(db, [](const std::string&) { throw std::runtime_error("callback failed"); });
  CHECK_NOTHROW(families = throwing.Collect());
  CHECK(families.empty());
}

TEST_CASE("a row another program wrote wrongly: with UnreadableRows::kSkip the rest is collected and the row reported "
          "through the callback; by default the Collect fails") {
  TempDir dir;
  const std::string db = dir.File("m.db");
  {
    Registry registry(db);
    auto jobs = BuildCounter().Name("jobs").LabelNames({"queue"}).Register(registry);
    jobs.WithLabelValues({"a"}).Increment(2);
    BuildGauge().Name("temperature").Register(registry).WithLabelValues({}).Set(21);
  }
  test::ExecSql(db, "INSERT INTO series (family_id, labels, value, created, updated) VALUES (1, x'63', 1, 0, 0)");
  std::vector<std::string> errors;
  ReaderOptions lenient;
  lenient.unreadable_rows = UnreadableRows::kSkip;
  FileCollectable file(db, [&](const std::string& e) { errors.push_back(e); }, lenient);
  std::vector<prometheus::MetricFamily> families = file.Collect();
  REQUIRE(families.size() == 2);
  CHECK(families[0].name == "jobs_total");
  REQUIRE(families[0].metric.size() == 1);
  CHECK(families[0].metric[0].counter.value == 2);
  CHECK(families[1].name == "temperature");
  CHECK(errors == std::vector<std::string>{"promsqlite: " + db + ": left out 1 row that cannot be read (promsqlite "
                                           "check lists them): series id=3 of family 'jobs': labels are not a tuple "
                                           "encoding"});
  errors.clear();
  CHECK(FileCollectable(db, [&](const std::string& e) { errors.push_back(e); }).Collect().empty());
  REQUIRE(errors.size() == 1);
  CHECK(Contains(errors[0], "cannot read series id=3 of family 'jobs'"));
}

TEST_CASE("the conversion: names, types and label order as the text renderer shows them") {
  TempDir dir;
  const std::string db = dir.File("m.db");
  {
    Registry registry(db);
    BuildCounter().Name("c").LabelNames({"b", "a"}).Register(registry).WithLabelValues({"2", "1"}).Increment(5);
    BuildInfo().Name("i_info").LabelNames({"v"}).Register(registry).WithLabelValues({"x"});
    BuildEnum().Name("e").States({"on", "off"}).LabelNames({"z"}).Register(registry).WithLabelValues({"q"}).Set("off");
    BuildHistogram().Name("h").Buckets({1, 2}).Register(registry).WithLabelValues({}).Observe(1.5);
    BuildSummary().Name("s").Help("Sizes.").Register(registry).WithLabelValues({}).Observe(3);
    BuildGauge().Name("unused").Register(registry);  // no series: left out, as in the exposition
  }
  std::vector<prometheus::MetricFamily> families = FileCollectable(db).Collect();
  REQUIRE(families.size() == 5);

  const prometheus::MetricFamily& c = families[0];
  CHECK(c.name == "c_total");
  CHECK(c.type == prometheus::MetricType::Counter);
  REQUIRE(c.metric.size() == 1);
  CHECK(c.metric[0].counter.value == 5);
  REQUIRE(c.metric[0].label.size() == 2);
  CHECK(c.metric[0].label[0].name == "a");
  CHECK(c.metric[0].label[0].value == "1");
  CHECK(c.metric[0].label[1].name == "b");

  const prometheus::MetricFamily& e = families[1];
  CHECK(e.name == "e");
  CHECK(e.type == prometheus::MetricType::Gauge);
  REQUIRE(e.metric.size() == 2);
  for (size_t i = 0; i < 2; ++i) {
    REQUIRE(e.metric[i].label.size() == 2);
    CHECK(e.metric[i].label[0].name == "z");
    CHECK(e.metric[i].label[1].name == "e");  // the state label last
    CHECK(e.metric[i].label[1].value == (i == 0 ? "on" : "off"));
    CHECK(e.metric[i].gauge.value == (i == 0 ? 0 : 1));
  }

  const prometheus::MetricFamily& h = families[2];
  CHECK(h.name == "h");
  CHECK(h.type == prometheus::MetricType::Histogram);
  REQUIRE(h.metric.size() == 1);
  const prometheus::ClientMetric::Histogram& hist = h.metric[0].histogram;
  CHECK(hist.sample_count == 1);
  CHECK(hist.sample_sum == 1.5);
  REQUIRE(hist.bucket.size() == 3);
  CHECK(hist.bucket[0].upper_bound == 1);
  CHECK(hist.bucket[0].cumulative_count == 0);
  CHECK(hist.bucket[1].upper_bound == 2);
  CHECK(hist.bucket[1].cumulative_count == 1);
  CHECK(std::isinf(hist.bucket[2].upper_bound));
  CHECK(hist.bucket[2].cumulative_count == 1);

  const prometheus::MetricFamily& i = families[3];
  CHECK(i.name == "i_info");
  CHECK(i.type == prometheus::MetricType::Gauge);
  REQUIRE(i.metric.size() == 1);
  CHECK(i.metric[0].gauge.value == 1);

  const prometheus::MetricFamily& s = families[4];
  CHECK(s.name == "s");
  CHECK(s.help == "Sizes.");
  CHECK(s.type == prometheus::MetricType::Summary);
  CHECK(s.metric[0].summary.sample_count == 1);
  CHECK(s.metric[0].summary.sample_sum == 3);
  CHECK(s.metric[0].summary.quantile.empty());
}
