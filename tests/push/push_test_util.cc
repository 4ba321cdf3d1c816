#include "push_test_util.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "promsqlite/promsqlite.h"
#include "test_util.h"

namespace promsqlite::test {

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

ChildProcess::ChildProcess(const std::vector<std::string>& argv, const std::string& log_path) {
  pid_ = fork();
  REQUIRE(pid_ >= 0);
  if (pid_ == 0) {
    setpgid(0, 0);
    int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(log, 1);
    dup2(log, 2);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
}

ChildProcess::~ChildProcess() {
  if (pid_ <= 0) return;
  kill(-pid_, SIGKILL);
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
}

bool ChildProcess::Running() { return waitpid(pid_, nullptr, WNOHANG) == 0; }

int ChildProcess::Stop(int signal, double seconds) {
  if (pid_ <= 0) return -1;
  kill(pid_, signal);
  const int code = WaitForExit(pid_, seconds);
  if (code >= 0) {
    kill(-pid_, SIGKILL);  // whatever it left in its process group
    pid_ = -1;
  }
  return code;
}

HttpAnswer HttpGet(int port, const std::string& path) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(2);
  client.set_read_timeout(10);
  auto result = client.Get(path.c_str());
  if (!result) return {};
  return {result->status, result->body};
}

bool WaitReady(int port, double seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (HttpGet(port, "/-/ready").status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

Pushgateway::Pushgateway(const std::string& dir)
    : port(FreePort()),
      // Debian's default persistence file would carry groups from one run
      // (and one test) to the next: keep them in memory only.
      process({"prometheus-pushgateway", "--web.listen-address=127.0.0.1:" + std::to_string(port),
               "--persistence.file="},
              dir + "/pushgateway.log") {
  REQUIRE_MESSAGE(WaitReady(port, 15), "pushgateway did not start: " << ReadFile(dir + "/pushgateway.log"));
}

namespace {
std::string WriteConfig(const std::string& dir, const std::string& scrape_target) {
  // Without a scrape target, every sample in the TSDB came from remote-write.
  std::string config = "global:\n  scrape_interval: 1h\n";
  if (!scrape_target.empty())
    config += "scrape_configs:\n  - job_name: promsqlite\n    scrape_interval: 1s\n    static_configs:\n"
              "      - targets: ['" + scrape_target + "']\n";
  WriteFile(dir + "/prometheus.yml", config);
  return dir + "/prometheus.yml";
}
}  // namespace

namespace {
std::vector<std::string> PrometheusArgv(const std::string& dir, int port, const std::vector<std::string>& flags,
                                        const std::string& scrape_target) {
  std::vector<std::string> argv = {"prometheus", "--web.listen-address=127.0.0.1:" + std::to_string(port),
                                   "--storage.tsdb.path=" + dir + "/tsdb",
                                   "--config.file=" + WriteConfig(dir, scrape_target)};
  // The receiver is on unless the test turns it off (it may not be given twice).
  if (std::find(flags.begin(), flags.end(), "--no-web.enable-remote-write-receiver") == flags.end())
    argv.push_back("--web.enable-remote-write-receiver");
  argv.insert(argv.end(), flags.begin(), flags.end());
  return argv;
}
}  // namespace

Prometheus::Prometheus(const std::string& dir, const std::vector<std::string>& flags,
                       const std::string& scrape_target)
    : port(FreePort()), process(PrometheusArgv(dir, port, flags, scrape_target), dir + "/prometheus.log") {
  REQUIRE_MESSAGE(WaitReady(port, 30), "prometheus did not start: " << ReadFile(dir + "/prometheus.log"));
}

std::string Prometheus::Query(const std::string& promql) const {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(10);
  auto result = client.Post("/api/v1/query", httplib::Params{{"query", promql}});
  REQUIRE(result);
  return result->body;
}

std::string Prometheus::QueryExemplars(const std::string& promql) const {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(10);
  const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  auto result = client.Post("/api/v1/query_exemplars",
                            httplib::Params{{"query", promql},
                                            {"start", std::to_string(now - 3600)},
                                            {"end", std::to_string(now + 60)}});
  REQUIRE(result);
  return result->body;
}

void WriteAllTypes(const std::string& path) {
  promsqlite::Registry registry(path);
  promsqlite::BuildCounter()
      .Name("requests")
      .Help("Requests\nserved \\ ok")
      .LabelNames({"path", "who"})
      .Register(registry)
      .WithLabelValues({"a\"b\\c\nd", "grüße→✓"})
      .Increment(3.5);
  promsqlite::BuildGauge().Name("temperature_celsius").Register(registry).WithLabelValues({}).Set(-12.25);
  auto latency = promsqlite::BuildHistogram().Name("latency_seconds").Buckets({0.1, 1}).Register(registry).WithLabelValues({});
  for (double v : {0.25, 0.5, 2.0}) latency.Observe(v);
  auto job = promsqlite::BuildSummary().Name("job_seconds").Register(registry).WithLabelValues({});
  job.Observe(1.5);
  job.Observe(2.5);
  promsqlite::BuildInfo().Name("build").LabelNames({"version"}).Register(registry).WithLabelValues({"1.2.3"});
  promsqlite::BuildEnum().Name("phase").States({"a", "b"}).Register(registry).WithLabelValues({}).Set("b");
}

promsqlite::FamilySpec Spec(promsqlite::MetricType type, const std::string& name) {
  promsqlite::FamilySpec spec;
  spec.type = type;
  spec.name = name;
  return spec;
}

std::string Cli() {
  const char* path = std::getenv("PROMSQLITE_CLI");
  REQUIRE_MESSAGE(path != nullptr, "PROMSQLITE_CLI is set by meson");
  return path;
}

std::string Server() {
  const char* path = std::getenv("PROMSQLITE_SERVER");
  REQUIRE_MESSAGE(path != nullptr, "PROMSQLITE_SERVER is set by meson");
  return path;
}

}  // namespace promsqlite::test
