// Failures of delivery, against in-process httplib servers: unreachable,
// 5xx, slow and refusing endpoints; bounded retries with backoff; clear
// errors; CLI exit code 4; authentication headers and TLS verification.
#include <doctest/doctest.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <chrono>
#include <thread>

#include "promsqlite/promsqlite.h"
#include "promsqlite/push.h"
#include "push_test_util.h"
#include "test_util.h"

using namespace promsqlite;
using promsqlite::test::CommandResult;
using promsqlite::test::FakeEndpoint;
using promsqlite::test::TempDir;

namespace {

using promsqlite::test::Contains;

std::string MakeFile(const TempDir& dir) {
  std::string path = dir.File("m.db");
  Registry(path).Register<Gauge>(test::Spec(MetricType::kGauge, "g")).WithLabelValues({}).Set(1);
  return path;
}

PushOptions QuickOptions(const std::string& url) {
  PushOptions options;
  options.url = url;
  options.job = "j";
  options.initial_backoff_seconds = 0.05;
  return options;
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

TEST_CASE("an unreachable endpoint: retries, then exit code 4 and a one-line reason") {
  TempDir dir;
  std::string db = MakeFile(dir);
  std::string url = "http://127.0.0.1:" + std::to_string(test::FreePort());
  auto start = std::chrono::steady_clock::now();
  CommandResult r = test::RunCommand(
      {test::Cli(), "--db", db, "push", "--gateway", url, "--job", "j", "--retries", "2", "--timeout", "1"});
  CHECK(r.exit_code == 4);
  CHECK(Contains(r.output, "cannot connect"));
  CHECK(Contains(r.output, "after 3 attempts"));
  CHECK(Contains(r.output, url + "/metrics/job/j"));
  CHECK(SecondsSince(start) < 10);
}

TEST_CASE("a 5xx answer is retried a bounded number of times, then PushError carries status and body") {
  TempDir dir;
  FakeEndpoint endpoint([](const httplib::Request&, httplib::Response& res) {
    res.status = 503;
    res.set_content("overloaded, try later\n", "text/plain");
  });
  Reader reader(MakeFile(dir));
  PushOptions options = QuickOptions(endpoint.url());
  options.retries = 3;
  try {
    PushToGateway(reader, options);
    FAIL("no error");
  } catch (const PushError& e) {
    CHECK(e.status() == 503);
    CHECK(e.peer_message() == "overloaded, try later");
    CHECK(Contains(e.what(), "after 4 attempts"));
    CHECK(Contains(e.what(), "HTTP 503: overloaded, try later"));
  }
  CHECK(endpoint.requests() == 4);
}

TEST_CASE("a 4xx answer is not retried") {
  TempDir dir;
  FakeEndpoint endpoint([](const httplib::Request&, httplib::Response& res) {
    res.status = 400;
    res.set_content("out of order sample", "text/plain");
  });
  Reader reader(MakeFile(dir));
  RemoteWriteOptions options;
  options.url = endpoint.url() + "/api/v1/write";
  CHECK_THROWS_WITH_AS(RemoteWrite(reader, options),
                       ("remote-write to " + endpoint.url() + "/api/v1/write failed: HTTP 400: out of order sample "
                        "(the receiver already has newer or different samples of these series: give each sending "
                        "host a label of its own (e.g. instance=HOST) so their series differ, and do not send "
                        "older timestamps)")
                           .c_str(),
                       PushError);
  CHECK(endpoint.requests() == 1);
}

TEST_CASE("a slow endpoint times out per attempt; the backoff doubles up to its cap") {
  TempDir dir;
  FakeEndpoint endpoint([](const httplib::Request&, httplib::Response& res) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    res.set_content("late", "text/plain");
  });
  Reader reader(MakeFile(dir));
  PushOptions options = QuickOptions(endpoint.url());
  options.timeout_seconds = 0.3;
  options.retries = 3;
  options.initial_backoff_seconds = 0.1;
  options.max_backoff_seconds = 0.2;  // sleeps 0.1, 0.2, 0.2
  auto start = std::chrono::steady_clock::now();
  try {
    PushToGateway(reader, options);
    FAIL("no error");
  } catch (const PushError& e) {
    CHECK(e.status() == 0);
    CHECK(Contains(e.what(), "timeout"));
    CHECK(Contains(e.what(), "after 4 attempts"));
  }
  double seconds = SecondsSince(start);
  CHECK(seconds >= 4 * 0.3 + 0.5 - 0.05);
  CHECK(seconds < 4);
  CHECK(endpoint.requests() == 4);
}

TEST_CASE("CLI: a 5xx endpoint gives exit code 4 with the status and the peer's message") {
  TempDir dir;
  FakeEndpoint endpoint([](const httplib::Request&, httplib::Response& res) {
    res.status = 500;
    res.set_content("disk full", "text/plain");
  });
  CommandResult r = test::RunCommand({test::Cli(), "--db", MakeFile(dir), "remote-write", "--url",
                                      endpoint.url() + "/api/v1/write", "--retries", "1"});
  CHECK(r.exit_code == 4);
  CHECK(Contains(r.output, "HTTP 500: disk full"));
  CHECK(endpoint.requests() == 2);
}

TEST_CASE("basic auth and a bearer token file are sent as Authorization headers") {
  TempDir dir;
  FakeEndpoint endpoint([](const httplib::Request&, httplib::Response&) {});
  std::string db = MakeFile(dir);
  CommandResult basic = test::RunCommand(
      {test::Cli(), "--db", db, "push", "--gateway", endpoint.url(), "--job", "j", "--basic-auth", "user:pa:ss"});
  CHECK_MESSAGE(basic.exit_code == 0, basic.output);
  CHECK(endpoint.last_authorization() == "Basic dXNlcjpwYTpzcw==");  // base64("user:pa:ss")
  test::WriteFile(dir.File("token"), "s3cr3t\n");
  CommandResult bearer = test::RunCommand({test::Cli(), "--db", db, "remote-write", "--url", endpoint.url(),
                                           "--bearer-token-file", dir.File("token")});
  CHECK_MESSAGE(bearer.exit_code == 0, bearer.output);
  CHECK(endpoint.last_authorization() == "Bearer s3cr3t");
  CHECK(test::RunCommand({test::Cli(), "--db", db, "remote-write", "--url", endpoint.url(), "--bearer-token-file",
                          dir.File("missing")})
            .exit_code == 2);
}

TEST_CASE("basic auth from a password file: trailing newline stripped, clear errors for misuse") {
  TempDir dir;
  FakeEndpoint endpoint([](const httplib::Request&, httplib::Response&) {});
  std::string db = MakeFile(dir);
  test::WriteFile(dir.File("pass"), "pa:ss w\r\n");  // as `echo` or an editor leaves it
  CommandResult push = test::RunCommand({test::Cli(), "--db", db, "push", "--gateway", endpoint.url(), "--job", "j",
                                         "--basic-auth-user", "user", "--basic-auth-password-file", dir.File("pass")});
  CHECK_MESSAGE(push.exit_code == 0, push.output);
  CHECK(endpoint.last_authorization() == "Basic dXNlcjpwYTpzcyB3");  // base64("user:pa:ss w")
  CHECK(endpoint.requests() == 1);
  test::WriteFile(dir.File("pass2"), "other");  // no newline at all
  CommandResult write = test::RunCommand({test::Cli(), "--db", db, "remote-write", "--url", endpoint.url(),
                                          "--basic-auth-user", "u2", "--basic-auth-password-file", dir.File("pass2")});
  CHECK_MESSAGE(write.exit_code == 0, write.output);
  CHECK(endpoint.last_authorization() == "Basic dTI6b3RoZXI=");  // base64("u2:other")
  CHECK(endpoint.requests() == 2);

  // Misuse: exit code 2, one line naming the problem, nothing sent.
  test::WriteFile(dir.File("empty"), "\n");
  test::WriteFile(dir.File("token"), "t");
  const std::vector<std::pair<std::vector<std::string>, std::string>> misuse = {
      {{"--basic-auth-user", "user"}, "go together"},
      {{"--basic-auth-password-file", dir.File("pass")}, "go together"},
      {{"--basic-auth-user", "user", "--basic-auth-password-file", dir.File("missing")}, "cannot read"},
      {{"--basic-auth-user", "user", "--basic-auth-password-file", dir.File("empty")}, "is empty"},
      {{"--basic-auth-user", "a:b", "--basic-auth-password-file", dir.File("pass")}, "without ':'"},
      {{"--basic-auth-user", "user", "--basic-auth-password-file", dir.File("pass"), "--basic-auth", "u:p"}, "not both"},
      {{"--basic-auth-user", "user", "--basic-auth-password-file", dir.File("pass"), "--bearer-token-file",
        dir.File("token")}, "not both"},
  };
  for (const auto& [extra, reason] : misuse) {
    std::vector<std::string> argv = {test::Cli(), "--db", db, "push", "--gateway", endpoint.url(), "--job", "j"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    CommandResult r = test::RunCommand(argv);
    INFO(r.output);
    CHECK(r.exit_code == 2);
    CHECK(Contains(r.output, reason));
    CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
  }
  CHECK(endpoint.requests() == 2);
}

TEST_CASE("https: the server certificate is verified against --ca-file") {
  TempDir dir;
  std::string cert = dir.File("cert.pem"), key = dir.File("key.pem");
  CommandResult made = test::RunCommand({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                                         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                                         "-keyout", key, "-out", cert});
  REQUIRE_MESSAGE(made.exit_code == 0, made.output);
  FakeEndpoint endpoint([](const httplib::Request&, httplib::Response&) {}, cert, key);
  std::string db = MakeFile(dir);
  CommandResult trusted = test::RunCommand(
      {test::Cli(), "--db", db, "push", "--gateway", endpoint.url("https"), "--job", "j", "--ca-file", cert});
  CHECK_MESSAGE(trusted.exit_code == 0, trusted.output);
  CHECK(endpoint.requests() == 1);
  CommandResult untrusted = test::RunCommand(
      {test::Cli(), "--db", db, "push", "--gateway", endpoint.url("https"), "--job", "j", "--retries", "0"});
  CHECK(untrusted.exit_code == 4);
  CHECK(Contains(untrusted.output, "not trusted"));
  CHECK(endpoint.requests() == 1);
}

TEST_CASE("gzip sends the exposition compressed, with Content-Encoding: gzip") {
  TempDir dir;
  std::mutex mutex;
  std::string encoding, body;
  FakeEndpoint endpoint([&](const httplib::Request& req, httplib::Response&) {
    std::lock_guard<std::mutex> lock(mutex);
    encoding = req.get_header_value("Content-Encoding");
    body = req.body;  // httplib's server inflates it
  });
  Reader reader(MakeFile(dir));
  PushOptions options = QuickOptions(endpoint.url());
  options.gzip = true;
  PushToGateway(reader, options);
  std::lock_guard<std::mutex> lock(mutex);
  CHECK(encoding == "gzip");
  CHECK(body == "# HELP g \n# TYPE g gauge\ng 1\n");
}
