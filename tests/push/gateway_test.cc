// Pushing to the real Pushgateway (Debian's prometheus-pushgateway): what
// it exposes afterwards, grouping keys, put/post, gzip, and its refusals.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <sstream>

#include "promsqlite/promsqlite.h"
#include "promsqlite/push.h"
#include "push_test_util.h"
#include "test_util.h"

using namespace promsqlite;
using promsqlite::test::CommandResult;
using promsqlite::test::Pushgateway;
using promsqlite::test::TempDir;

namespace {

// The gateway's exposition without its own and the Go runtime's metrics.
std::string Scrape(const Pushgateway& gateway) {
  auto answer = test::HttpGet(gateway.port, "/metrics");
  REQUIRE(answer.status == 200);
  std::istringstream in(answer.body);
  std::string out, line;
  while (std::getline(in, line)) {
    bool theirs = line.find("go_") != std::string::npos || line.find("process_") != std::string::npos ||
                  line.find("pushgateway_") != std::string::npos || line.find("push_time_seconds") != std::string::npos ||
                  line.find("push_failure_time_seconds") != std::string::npos;
    if (!theirs) out += line + "\n";
  }
  return out;
}

using promsqlite::test::Contains;

}  // namespace

TEST_CASE("push delivers every metric type with escaped labels and help, values unchanged") {
  TempDir dir;
  Pushgateway gateway(dir.path());
  test::WriteAllTypes(dir.File("m.db"));
  Reader reader(dir.File("m.db"));
  PushOptions options;
  options.url = gateway.url();
  options.job = "nightly/backup";                             // '/': @base64 form
  options.grouping = {{"instance", ""}, {"zone", "eu west"}};  // empty, and a space
  PushToGateway(reader, options);

  // Compared as parsed samples (labels sorted): the gateway orders labels
  // its own way.
  const std::string g = R"(instance="",job="nightly/backup",zone="eu west")";
  const std::string expected =
      "build_info{" + g + R"(,version="1.2.3"} 1)" "\n"
      "job_seconds_sum{" + g + "} 4\n"
      "job_seconds_count{" + g + "} 2\n"
      "latency_seconds_bucket{" + g + R"(,le="0.1"} 0)" "\n"
      "latency_seconds_bucket{" + g + R"(,le="1"} 2)" "\n"
      "latency_seconds_bucket{" + g + R"(,le="+Inf"} 3)" "\n"
      "latency_seconds_sum{" + g + "} 2.75\n"
      "latency_seconds_count{" + g + "} 3\n"
      "phase{" + g + R"(,phase="a"} 0)" "\n"
      "phase{" + g + R"(,phase="b"} 1)" "\n"
      "requests_total{" + g + R"(,path="a\"b\\c\nd",who="grüße→✓"} 3.5)" "\n"
      "temperature_celsius{" + g + "} -12.25\n";
  const std::string scraped = Scrape(gateway);
  CommandResult want = test::ParseWithPython(expected, false), got = test::ParseWithPython(scraped, false);
  REQUIRE_MESSAGE(want.exit_code == 0, want.output);
  REQUIRE_MESSAGE(got.exit_code == 0, got.output);
  CHECK(got.output == want.output);
  // Types and help (escaped as 0.0.4 escapes them) survive too.
  CHECK(Contains(scraped, "# HELP requests_total Requests\\nserved \\\\ ok\n# TYPE requests_total counter\n"));
  CHECK(Contains(scraped, "# TYPE latency_seconds histogram\n"));
  CHECK(Contains(scraped, "# TYPE job_seconds summary\n"));
}

TEST_CASE("grouping values with '/', '=' or nothing at all reach the gateway intact") {
  TempDir dir;
  Pushgateway gateway(dir.path());
  Registry(dir.File("m.db")).Register<Gauge>(test::Spec(MetricType::kGauge, "up_now")).WithLabelValues({}).Set(1);
  Reader reader(dir.File("m.db"));
  PushOptions options;
  options.url = gateway.url() + "/";  // a trailing slash is not doubled
  options.job = "a/b=c";
  options.grouping = {{"path", "/var/lib/x"}, {"dot", "."}, {"plain", "v-1.2_x"}};
  PushToGateway(reader, options);
  CHECK(Contains(Scrape(gateway), R"(up_now{dot=".",instance="",job="a/b=c",path="/var/lib/x",plain="v-1.2_x"} 1)"));
}

TEST_CASE("put replaces the group's metrics, post only the names pushed") {
  TempDir dir;
  Pushgateway gateway(dir.path());
  {
    Registry registry(dir.File("both.db"));
    registry.Register<Gauge>(test::Spec(MetricType::kGauge, "x")).WithLabelValues({}).Set(1);
    registry.Register<Gauge>(test::Spec(MetricType::kGauge, "y")).WithLabelValues({}).Set(2);
    Registry(dir.File("x.db")).Register<Gauge>(test::Spec(MetricType::kGauge, "x")).WithLabelValues({}).Set(10);
  }
  Reader both(dir.File("both.db")), only_x(dir.File("x.db"));
  PushOptions options;
  options.url = gateway.url();
  options.job = "j";
  PushToGateway(both, options);
  options.method = PushMethod::kPost;
  PushToGateway(only_x, options);
  std::string after_post = Scrape(gateway);
  CHECK(Contains(after_post, "x{instance=\"\",job=\"j\"} 10\n"));
  CHECK(Contains(after_post, "y{instance=\"\",job=\"j\"} 2\n"));
  options.method = PushMethod::kPut;
  PushToGateway(only_x, options);
  CHECK_FALSE(Contains(Scrape(gateway), "y{"));
}

TEST_CASE("a gzip-compressed push is accepted") {
  TempDir dir;
  Pushgateway gateway(dir.path());
  Registry(dir.File("m.db")).Register<Gauge>(test::Spec(MetricType::kGauge, "zipped")).WithLabelValues({}).Set(7);
  Reader reader(dir.File("m.db"));
  PushOptions options;
  options.url = gateway.url();
  options.job = "z";
  options.gzip = true;
  PushToGateway(reader, options);
  CHECK(Contains(Scrape(gateway), "zipped{instance=\"\",job=\"z\"} 7\n"));
}

TEST_CASE("a push the gateway refuses throws PushError with status 400 and its reason, without retrying") {
  TempDir dir;
  Pushgateway gateway(dir.path());
  Registry(dir.File("counter.db")).Register<Counter>(test::Spec(MetricType::kCounter, "jobs")).WithLabelValues({}).Increment();
  Registry(dir.File("gauge.db")).Register<Gauge>(test::Spec(MetricType::kGauge, "jobs_total")).WithLabelValues({}).Set(1);
  Reader counter(dir.File("counter.db")), gauge(dir.File("gauge.db"));
  PushOptions options;
  options.url = gateway.url();
  options.job = "a";
  PushToGateway(counter, options);
  options.job = "b";
  options.initial_backoff_seconds = 5;  // a retry would show in the time taken
  auto start = std::chrono::steady_clock::now();
  try {
    PushToGateway(gauge, options);
    FAIL("the gateway accepted a type clash");
  } catch (const PushError& e) {
    CHECK(e.status() == 400);
    CHECK(Contains(e.peer_message(), "inconsistent with existing metrics"));
    CHECK(Contains(e.what(), "HTTP 400"));
    CHECK(Contains(e.what(), "/metrics/job/b"));
  }
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(4));
}

TEST_CASE("CLI push: 0 on success, 4 and the gateway's reason on a refusal") {
  TempDir dir;
  Pushgateway gateway(dir.path());
  const std::string cli = test::Cli(), db1 = dir.File("one.db"), db2 = dir.File("two.db");
  REQUIRE(test::RunCommand({cli, "--db", db1, "inc", "jobs"}).exit_code == 0);
  REQUIRE(test::RunCommand({cli, "--db", db2, "set", "jobs_total", "5"}).exit_code == 0);
  CommandResult ok = test::RunCommand({cli, "--db", db1, "push", "--gateway", gateway.url(), "--job", "ci",
                                       "--grouping", "runner=r/1", "--grouping", "stage=", "--method", "post"});
  CHECK_MESSAGE(ok.exit_code == 0, ok.output);
  CHECK(Contains(Scrape(gateway), R"(jobs_total{instance="",job="ci",runner="r/1",stage=""} 1)"));

  CommandResult refused = test::RunCommand({cli, "--db", db2, "push", "--gateway", gateway.url(), "--job", "other"});
  INFO(refused.output);
  CHECK(refused.exit_code == 4);
  CHECK(Contains(refused.output, "HTTP 400"));
  // The gateway names whichever side of the clash it checks first.
  CHECK((Contains(refused.output, "is not a COUNTER") || Contains(refused.output, "is not a GAUGE")));
  CHECK(std::count(refused.output.begin(), refused.output.end(), '\n') == 1);  // one line
}

TEST_CASE("CLI push rejects malformed invocations with exit code 2") {
  TempDir dir;
  const std::string cli = test::Cli(), db = dir.File("m.db");
  CHECK(test::RunCommand({cli, "--db", db, "push", "--job", "x"}).exit_code == 2);
  CHECK(test::RunCommand({cli, "--db", db, "push", "--gateway", "http://127.0.0.1:1"}).exit_code == 2);
  CHECK(test::RunCommand({cli, "--db", db, "push", "--gateway", "http://h", "--job", "x", "--method", "patch"})
            .exit_code == 2);
  CHECK(test::RunCommand({cli, "--db", db, "push", "--gateway", "http://h", "--job", "x", "--grouping", "novalue"})
            .exit_code == 2);
  CHECK(test::RunCommand({cli, "--db", db, "push", "--gateway", "http://h", "--job", "x", "--timeout", "0"})
            .exit_code == 2);
  // Invalid URL or grouping label name: invalid input (3), nothing sent.
  CHECK(test::RunCommand({cli, "--db", db, "push", "--gateway", "ftp://h", "--job", "x"}).exit_code == 3);
  CHECK(test::RunCommand({cli, "--db", db, "push", "--gateway", "http://h", "--job", "x", "--grouping", "a-b=1"})
            .exit_code == 3);
}
