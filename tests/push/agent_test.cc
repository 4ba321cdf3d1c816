// promsqlite-server's remote-write agent (--remote-write.url) against the
// real Prometheus 2.42 receiver with native histograms enabled.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <thread>

#include "declare/native_histogram.h"
#include "promsqlite/promsqlite.h"
#include "push_test_util.h"
#include "test_util.h"

using namespace promsqlite;
using promsqlite::test::ChildProcess;
using promsqlite::test::Prometheus;
using promsqlite::test::Server;
using promsqlite::test::TempDir;

namespace {

using promsqlite::test::Contains;

// The single value of an instant query, "" while there is none.
std::string Value(const Prometheus& prometheus, const std::string& promql) {
  std::string json = prometheus.Query(promql);
  size_t first = json.find("\"value\":[");
  if (first == std::string::npos || json.find("\"value\":[", first + 1) != std::string::npos) return "";
  size_t open = json.find(",\"", first);
  return json.substr(open + 2, json.find('"', open + 2) - open - 2);
}

// Polls until `promql` has the value `expected` (the agent sends on its own
// schedule); returns the last value seen.
std::string WaitForValue(const Prometheus& prometheus, const std::string& promql, const std::string& expected) {
  std::string value;
  for (int i = 0; i < 300; ++i) {
    value = Value(prometheus, promql);
    if (value == expected) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return value;
}

// The value of an unlabelled sample in a text exposition, or NaN.
double SampleValue(const std::string& text, const std::string& name) {
  size_t pos = text.find("\n" + name + " ");
  if (pos == std::string::npos) return NAN;
  return std::stod(text.substr(pos + name.size() + 2));
}

std::vector<double> Values(int w) {
  std::vector<double> values;
  for (int i = 1; i <= 41; ++i) values.push_back((i * 37 % 211 + w * 5) / 4.0);
  return values;
}

}  // namespace

TEST_CASE("the agent sends the file periodically while serving /metrics: native histograms of several processes, exactly") {
  TempDir dir;
  Prometheus prometheus(dir.path(), {"--enable-feature=native-histograms"});
  const std::string db = dir.File("m.db");
  const int writers = 3;
  REQUIRE(test::RunInChildren(writers, [&](int w) {
            Registry registry(db);
            auto h = BuildHistogram().Name("agent_job_seconds").Help("Job time.").NativeHistogram(1.1)
                         .Register(registry).WithLabelValues({});
            for (double v : Values(w)) h.Observe(v);
          }) == 0);
  std::vector<double> all;
  for (int w = 0; w < writers; ++w)
    for (double v : Values(w)) all.push_back(v);
  const test::NativeExpectation expected = test::ExpectNative(all, 3);

  const int port = test::FreePort();
  ChildProcess server({Server(), "--db", db, "--listen", "127.0.0.1:" + std::to_string(port), "--remote-write.url",
                       prometheus.url() + "/api/v1/write", "--remote-write.interval", "500ms",
                       "--remote-write.label", "instance=agent-host", "--remote-write.send-native-histograms"},
                      dir.File("server.log"));
  CHECK(WaitForValue(prometheus, R"(histogram_count(agent_job_seconds{instance="agent-host"}))",
                     std::to_string(expected.count)) == std::to_string(expected.count));
  CHECK(std::stod(Value(prometheus, "histogram_sum(agent_job_seconds)")) == expected.sum);
  double quantile = std::stod(Value(prometheus, "histogram_quantile(0.5, agent_job_seconds)"));
  CHECK(quantile > expected.lower);
  CHECK(quantile <= expected.upper);

  // Later changes arrive with a later send.
  {
    Registry registry(db);
    BuildCounter().Name("agent_later").Register(registry).WithLabelValues({}).Increment(7);
  }
  CHECK(WaitForValue(prometheus, R"(agent_later_total{instance="agent-host"})", "7") == "7");

  // The server kept serving, and counts what the agent did.
  test::HttpAnswer metrics = test::HttpGet(port, "/metrics");
  REQUIRE(metrics.status == 200);
  CHECK(Contains(metrics.body, "agent_job_seconds_count 123\n"));
  CHECK(SampleValue(metrics.body, "promsqlite_remote_write_samples_sent_total") >= 1);
  CHECK(SampleValue(metrics.body, "promsqlite_remote_write_histograms_sent_total") >= 1);
  CHECK(SampleValue(metrics.body, "promsqlite_remote_write_failures_total") == 0);
  CHECK(SampleValue(metrics.body, "promsqlite_remote_write_last_success_timestamp_seconds") > 1.7e9);
}

TEST_CASE("when the server stops, the agent sends what changed since its last send") {
  TempDir dir;
  Prometheus prometheus(dir.path());
  const std::string db = dir.File("m.db");
  Registry registry(db);
  Counter jobs = BuildCounter().Name("agent_final_jobs").Help("Jobs.").Register(registry).WithLabelValues({});
  jobs.Increment(2);
  const int port = test::FreePort();
  // An hour's interval: only the send at start and the one at shutdown.
  ChildProcess server({Server(), "--db", db, "--listen", "127.0.0.1:" + std::to_string(port), "--remote-write.url",
                       prometheus.url() + "/api/v1/write", "--remote-write.interval", "1h", "--remote-write.label",
                       "instance=leaving-host"},
                      dir.File("server.log"));
  REQUIRE(WaitForValue(prometheus, R"(agent_final_jobs_total{instance="leaving-host"})", "2") == "2");
  jobs.Increment(40);
  CHECK(server.Stop(SIGTERM, 30) == 0);
  // Without the last send the receiver would keep 2 until the next start.
  CHECK(WaitForValue(prometheus, R"(agent_final_jobs_total{instance="leaving-host"})", "42") == "42");
  CHECK(Contains(test::ReadFile(dir.File("server.log")), "remote-write sent the file's last state"));
}

TEST_CASE("an unreachable receiver is retried a bounded number of times, counted as failures, and /metrics keeps working") {
  TempDir dir;
  const std::string db = dir.File("m.db");
  Registry(db).Register<Gauge>(test::Spec(MetricType::kGauge, "g")).WithLabelValues({}).Set(1);
  const int port = test::FreePort();
  const int nobody = test::FreePort();
  ChildProcess server({Server(), "--db", db, "--listen", "127.0.0.1:" + std::to_string(port), "--remote-write.url",
                       "http://127.0.0.1:" + std::to_string(nobody) + "/api/v1/write", "--remote-write.interval",
                       "200ms", "--remote-write.retries", "1", "--remote-write.timeout", "1s"},
                      dir.File("server.log"));
  double failures = 0;
  for (int i = 0; i < 200 && !(failures >= 2); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    test::HttpAnswer metrics = test::HttpGet(port, "/metrics");
    if (metrics.status == 200) failures = SampleValue(metrics.body, "promsqlite_remote_write_failures_total");
  }
  CHECK(failures >= 2);
  test::HttpAnswer metrics = test::HttpGet(port, "/metrics");
  CHECK(metrics.status == 200);
  CHECK(Contains(metrics.body, "\ng 1\n"));
  CHECK(SampleValue(metrics.body, "promsqlite_remote_write_last_success_timestamp_seconds") == 0);
  CHECK(SampleValue(metrics.body, "promsqlite_remote_write_samples_sent_total") == 0);
  // One warning per distinct error, not one per attempt.
  std::string log = test::ReadFile(dir.File("server.log"));
  CHECK(Contains(log, "remote-write failed"));
  // The last send at shutdown is tried once, and the server still stops
  // cleanly when it fails.
  CHECK(server.Stop(SIGTERM, 30) == 0);
  log = test::ReadFile(dir.File("server.log"));
  CHECK(Contains(log, "remote-write of the file's last state failed"));
}

// The issue's scenario end to end: Prometheus' defaults (no native
// histograms), the server's defaults, a counter beside a native histogram.
TEST_CASE("by default the agent sends native histograms in their classic form: a receiver without them takes all") {
  TempDir dir;
  Prometheus prometheus(dir.path());
  const std::string db = dir.File("m.db");
  {
    Registry registry(db);
    BuildCounter().Name("agent_plain_jobs").Register(registry).WithLabelValues({}).Increment(5);
    auto h = BuildHistogram().Name("agent_native_seconds").NativeHistogram(1.1).Register(registry).WithLabelValues({});
    for (double v : {0.25, 2.0}) h.Observe(v);
  }
  const int port = test::FreePort();
  ChildProcess server({Server(), "--db", db, "--listen", "127.0.0.1:" + std::to_string(port), "--remote-write.url",
                       prometheus.url() + "/api/v1/write", "--remote-write.interval", "1s"},
                      dir.File("server.log"));
  CHECK(WaitForValue(prometheus, "agent_plain_jobs_total", "5") == "5");
  CHECK(WaitForValue(prometheus, "agent_native_seconds_count", "2") == "2");
  CHECK(Value(prometheus, "agent_native_seconds_sum") == "2.25");
  CHECK(Value(prometheus, R"(agent_native_seconds_bucket{le="+Inf"})") == "2");
  CHECK_FALSE(Contains(test::ReadFile(dir.File("server.log")), "remote-write failed"));
}

TEST_CASE("a refusing receiver (400) is not retried and logged as refused; a failing one (500) is retried") {
  TempDir dir;
  const std::string db = dir.File("m.db");
  Registry(db).Register<Gauge>(test::Spec(MetricType::kGauge, "g")).WithLabelValues({}).Set(1);
  for (int status : {400, 500}) {
    CAPTURE(status);
    test::FakeEndpoint receiver([status](const httplib::Request&, httplib::Response& res) {
      res.status = status;
      res.set_content("out of order sample\n(details)", "text/plain");
    });
    const int port = test::FreePort();
    // An hour's interval: one send at start (plus its retries), then none.
    ChildProcess server({Server(), "--db", db, "--listen", "127.0.0.1:" + std::to_string(port),
                         "--remote-write.url", receiver.url() + "/api/v1/write", "--remote-write.interval", "1h",
                         "--remote-write.retries", "2"},
                        dir.File("server.log"));
    const int expected_requests = status == 400 ? 1 : 3;
    for (int i = 0; i < 100 && receiver.requests() < expected_requests; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // no further attempt comes
    CHECK(receiver.requests() == expected_requests);
    std::string log = test::ReadFile(dir.File("server.log"));
    CHECK(Contains(log, "out of order sample (details)"));  // the receiver's reason, on one line
    CHECK(Contains(log, "give each sending host a label of its own"));  // and what to do
    if (status == 400) {
      CHECK(Contains(log, "level=error msg=\"remote-write refused: this send is dropped, not retried"));
    } else {
      CHECK(Contains(log, "level=warn msg=\"remote-write failed; will send again\""));
    }
    CHECK(server.Stop(SIGTERM, 30) == 0);
  }
}
