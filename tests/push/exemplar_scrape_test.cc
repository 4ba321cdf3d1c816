// Exemplars written by several processes, served by promsqlite-server and
// scraped by the real Prometheus 2.42 with exemplar storage: in OpenMetrics,
// and in protobuf (which Prometheus asks for first with native histograms).
#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

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

// Polls query_exemplars until its answer contains `part` (Prometheus
// scrapes every second); returns the last answer.
std::string WaitForExemplar(const Prometheus& prometheus, const std::string& promql, const std::string& part) {
  std::string json;
  for (int i = 0; i < 300 && !Contains(json, part); ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    json = prometheus.QueryExemplars(promql);
  }
  return json;
}

}  // namespace

TEST_CASE("Prometheus 2.42 with exemplar storage stores the exemplars of counters and buckets") {
  for (bool protobuf : {false, true}) {
    CAPTURE(protobuf);
    TempDir dir;
    const std::string db = dir.File("m.db");
    // Two writer processes: the later exemplar of each series and bucket is the one served.
    for (int w = 0; w < 2; ++w) {
      REQUIRE(test::RunInChildren(1, [&](int) {
                Registry registry(db);
                auto requests = BuildCounter().Name("exemplar_requests").Help("Requests.").LabelNames({"code"})
                                    .Register(registry);
                requests.WithLabelValues({"200"}).Increment(2, {{"trace_id", "trace-" + std::to_string(w)}});
                auto latency = BuildHistogram().Name("exemplar_latency_seconds").Help("Latency.")
                                   .Buckets({0.1, 1}).Register(registry).WithLabelValues({});
                latency.Observe(0.05 * (w + 1), {{"trace_id", "fast-" + std::to_string(w)}});
                latency.Observe(5, {{"trace_id", "slow-" + std::to_string(w)}});
              }) == 0);
    }
    const int port = test::FreePort();
    ChildProcess server({Server(), "--db", db, "--listen", "127.0.0.1:" + std::to_string(port)},
                        dir.File("server.log"));
    std::vector<std::string> flags = {"--enable-feature=exemplar-storage"};
    if (protobuf) flags.push_back("--enable-feature=native-histograms");
    Prometheus prometheus(dir.path(), flags, "127.0.0.1:" + std::to_string(port));

    std::string json = WaitForExemplar(prometheus, "exemplar_requests_total", "trace-1");
    INFO(json);
    CHECK(Contains(json, R"("trace_id":"trace-1")"));
    CHECK(Contains(json, R"("value":"2")"));
    CHECK(Contains(json, R"("code":"200")"));
    CHECK_FALSE(Contains(json, "trace-0"));  // replaced by the later one

    json = WaitForExemplar(prometheus, "exemplar_latency_seconds_bucket", "slow-1");
    INFO(json);
    CHECK(Contains(json, R"("le":"0.1")"));
    CHECK(Contains(json, R"("trace_id":"fast-1")"));
    CHECK(Contains(json, R"("value":"0.1")"));
    CHECK(Contains(json, R"("le":"+Inf")"));
    CHECK(Contains(json, R"("trace_id":"slow-1")"));
    CHECK(Contains(json, R"("value":"5")"));
    CHECK(prometheus.Query("up").find(R"("value":[)") != std::string::npos);
    CHECK(Contains(prometheus.Query("up"), R"(,"1"])"));
  }
}
