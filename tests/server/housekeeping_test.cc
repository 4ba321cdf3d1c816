// The server's housekeeping timer: dead workers' live gauges and expired
// series leave the file, and the exposition shows only live workers.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "promsqlite/promsqlite.h"
#include "test_helper.h"

namespace {

// A worker that sets its live gauge and waits to be killed.
pid_t StartWorker(const std::string& db, double value) {
  return promsqlite::test::StartGaugeWorker(db, "worker_inflight", promsqlite::GaugeMode::kLiveSum, value);
}

}  // namespace

TEST_CASE("the server's housekeeping deletes dead workers' live gauges; scrapes show only live workers") {
  server_test::TempDir dir;
  const std::string db = dir.File("workers.db");
  std::vector<pid_t> workers;
  for (double v : {1, 2, 4, 8}) workers.push_back(StartWorker(db, v));
  server_test::ServerProcess server({"--db", db, "--housekeeping.interval", "1", "--log.level", "debug"});
  REQUIRE(server.Start());
  for (int i : {0, 2}) {  // the workers holding 1 and 4
    kill(workers[i], SIGKILL);
    waitpid(workers[i], nullptr, 0);
  }
  auto client = server_test::Client(server.port());
  auto res = client.Get("/metrics");
  REQUIRE(res);
  CHECK(res->body.find("\nworker_inflight 10\n") != std::string::npos);  // at once: 2 + 8
  promsqlite::Reader reader(db);
  bool cleaned = false;
  for (int i = 0; i < 100 && !cleaned; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    cleaned = reader.Stats().series == 2;
  }
  CHECK(cleaned);
  // The pass logs once it has committed: the line may follow the rows' going.
  bool logged = false;
  for (int i = 0; i < 100 && !logged; ++i) {
    logged = server.Log().find("msg=housekeeping") != std::string::npos;
    if (!logged) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(logged);
  res = client.Get("/metrics");
  REQUIRE(res);
  CHECK(res->body.find("\nworker_inflight 10\n") != std::string::npos);
  for (int i : {1, 3}) {
    kill(workers[i], SIGKILL);
    waitpid(workers[i], nullptr, 0);
  }
  res = client.Get("/metrics");
  REQUIRE(res);
  CHECK(res->body.find("worker_inflight ") == std::string::npos);
  CHECK(server.Stop(SIGTERM) == 0);
}

TEST_CASE("--housekeeping.interval 0 disables it, a bad value is a usage error") {
  server_test::TempDir dir;
  server_test::ServerProcess bad({"--db", dir.File("x.db"), "--housekeeping.interval", "soon"});
  CHECK_FALSE(bad.Start());
  CHECK(bad.exit_status() == 2);
  server_test::ServerProcess off({"--db", dir.File("x.db"), "--housekeeping.interval", "0"});
  CHECK(off.Start());
  CHECK(off.Stop(SIGTERM) == 0);
}
