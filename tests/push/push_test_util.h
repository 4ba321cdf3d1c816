// Helpers for the push tests: the real Pushgateway and Prometheus as child
// processes on free ports, a fake endpoint in this process, and small HTTP
// look-ups.
#ifndef PROMSQLITE_TESTS_PUSH_PUSH_TEST_UTIL_H_
#define PROMSQLITE_TESTS_PUSH_PUSH_TEST_UTIL_H_

#include <doctest/doctest.h>
#include <httplib.h>
#include <sys/types.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "promsqlite/family.h"

namespace promsqlite::test {

// An endpoint whose behaviour each test sets; counts the requests it got.
class FakeEndpoint {
 public:
  explicit FakeEndpoint(httplib::Server::Handler handler) : server_(std::make_unique<httplib::Server>()) {
    Start(std::move(handler));
  }
  FakeEndpoint(httplib::Server::Handler handler, const std::string& cert, const std::string& key)
      : server_(std::make_unique<httplib::SSLServer>(cert.c_str(), key.c_str())) {
    REQUIRE(server_->is_valid());
    Start(std::move(handler));
  }
  ~FakeEndpoint() {
    server_->stop();
    thread_.join();
  }
  std::string url(const std::string& scheme = "http") const {
    return scheme + "://127.0.0.1:" + std::to_string(port_);
  }
  int requests() const { return requests_; }
  std::string last_authorization() {
    std::lock_guard<std::mutex> lock(mutex_);
    return authorization_;
  }

 private:
  void Start(httplib::Server::Handler handler) {
    auto counted = [this, handler](const httplib::Request& req, httplib::Response& res) {
      ++requests_;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        authorization_ = req.get_header_value("Authorization");
      }
      handler(req, res);
    };
    server_->Put(".*", counted);
    server_->Post(".*", counted);
    port_ = server_->bind_to_any_port("127.0.0.1");
    // Bound and listening already: connections queue until the loop runs.
    thread_ = std::thread([this] { server_->listen_after_bind(); });
  }
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<int> requests_{0};
  std::mutex mutex_;
  std::string authorization_;
};


// A port nothing listens on right now (bound, then released).
int FreePort();

// A child process, killed (SIGKILL to its process group) and reaped when
// destroyed, so a failing test never leaves a daemon behind.
class ChildProcess {
 public:
  // Starts argv; its stdout and stderr go to `log_path`.
  ChildProcess(const std::vector<std::string>& argv, const std::string& log_path);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  bool Running();
  // Sends `signal` and waits for the process to exit: its exit status
  // (128 + signal number when a signal ended it), or -1 when it has not
  // ended within `seconds` (it is then killed when destroyed).
  int Stop(int signal, double seconds);

 private:
  pid_t pid_ = -1;
};

// GET http://127.0.0.1:port<path>: the status (0 if no answer) and body.
struct HttpAnswer {
  int status = 0;
  std::string body;
};
HttpAnswer HttpGet(int port, const std::string& path);

// Polls /-/ready until it answers 200 or `seconds` pass.
bool WaitReady(int port, double seconds);

// prometheus-pushgateway on a free port; skips nothing: fails the test
// when it cannot start.
struct Pushgateway {
  explicit Pushgateway(const std::string& dir);
  int port;
  ChildProcess process;
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
};

// prometheus with the remote-write receiver, TSDB in `dir`, and `flags`
// (e.g. {"--enable-feature=native-histograms"}); scraping
// `scrape_target` ("127.0.0.1:PORT") every second when one is given.
struct Prometheus {
  explicit Prometheus(const std::string& dir, const std::vector<std::string>& flags = {},
                      const std::string& scrape_target = "");
  int port;
  ChildProcess process;
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
  // /api/v1/query?query=..: the JSON answer.
  std::string Query(const std::string& promql) const;
  // /api/v1/query_exemplars for the last hour: the JSON answer.
  std::string QueryExemplars(const std::string& promql) const;
};

// A promsqlite file at `path` with every metric type, label values and
// help that need escaping (quotes, backslashes, newlines, UTF-8):
//   requests_total{path="a\"b\\c\nd",who="grüße→✓"} 3.5 (help "Requests\nserved \\ ok")
//   temperature_celsius -12.25
//   latency_seconds buckets 0.1, 1 with observations 0.25, 0.5, 2
//   job_seconds (summary) observations 1.5, 2.5
//   build_info{version="1.2.3"} 1, phase (enum a,b) = b
void WriteAllTypes(const std::string& path);

// A declaration with only a type and a name.
promsqlite::FamilySpec Spec(promsqlite::MetricType type, const std::string& name);

// The CLI under test (PROMSQLITE_CLI, set by meson).
std::string Cli();
// promsqlite-server under test (PROMSQLITE_SERVER, set by meson).
std::string Server();

}  // namespace promsqlite::test

#endif  // PROMSQLITE_TESTS_PUSH_PUSH_TEST_UTIL_H_
