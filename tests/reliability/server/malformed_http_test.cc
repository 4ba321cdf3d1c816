// Malformed HTTP against a live promsqlite-server, from raw TCP sockets:
// every hostile request gets a 4xx or a closed connection, never a 2xx it
// should not get, a 5xx or a crash, and a normal scrape works afterwards.
// The slow clients (timeouts) are in slow_clients_test.cc.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
#include <signal.h>

#include <random>
#include <thread>

#include "reliability_helper.h"
#include "test_helper.h"

using reliability::CheckServesSample;
using reliability::Clock;
using reliability::CountResponses;
using reliability::FirstHead;
using reliability::FirstStatus;
using reliability::RawConnection;
using reliability::SampleServer;

namespace {

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Sends `request` on a fresh connection and reads until the server closes
// it (up to `timeout_ms`). *closed says whether it did.
std::string Exchange(int port, const std::string& request, bool* closed = nullptr, int timeout_ms = 8000) {
  RawConnection c(port);
  REQUIRE(c.connected());
  c.Send(request);
  bool was_closed = c.ReadUntilClose(timeout_ms);
  if (closed) *closed = was_closed;
  return c.received();
}

// A hostile request must get a 4xx, or no answer at all, and then the
// connection must be closed promptly: after an error the server cannot know
// where the next request would start. A normal scrape must work after it.
void CheckRefused(SampleServer& s, const std::string& request, const std::string& what) {
  CAPTURE(what);
  auto start = Clock::now();
  bool closed = false;
  std::string answer = Exchange(s.port(), request, &closed);
  CAPTURE(FirstHead(answer));
  if (!answer.empty()) {
    int status = FirstStatus(answer);
    CHECK(status >= 400);
    CHECK(status < 500);
    CHECK(CountResponses(answer) == 1);
  }
  CHECK(closed);
  CHECK(reliability::SecondsSince(start) < 3.0);
  CheckServesSample(s);
}

std::string RandomBytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(rng() & 0xff);
  return out;
}

}  // namespace

TEST_CASE("garbage bytes get 400 and a closed connection, and scrapes go on") {
  SampleServer s;
  std::string all_bytes;
  for (int i = 0; i < 256; ++i) all_bytes += static_cast<char>(i);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"a word", "GARBAGE\r\n\r\n"},
      {"blank lines", "\r\n\r\n\r\n"},
      {"every byte value", all_bytes + "\r\n\r\n"},
      {"random bytes", RandomBytes(4096, 1) + "\r\n\r\n"},
      {"more random bytes", RandomBytes(100000, 2)},
      {"a NUL byte in the path", std::string("GET /met\0rics HTTP/1.1\r\nHost: x\r\n\r\n", 35)},
      {"a bare LF request", "GET /metrics HTTP/1.1\nHost: x\n\n"},
  };
  for (const auto& [what, bytes] : cases) CheckRefused(s, bytes, what);
  CheckServesSample(s);
}

TEST_CASE("a request line without an HTTP version, or with an unknown one, gets 400") {
  SampleServer s;
  CheckRefused(s, "GET /metrics\r\n\r\n", "no version");
  CheckRefused(s, "GET\r\n\r\n", "method only");
  CheckRefused(s, "GET /metrics HTTP/2.0\r\nHost: x\r\n\r\n", "HTTP/2.0");
  CheckRefused(s, "GET /metrics HTTP/9.9\r\nHost: x\r\n\r\n", "HTTP/9.9");
  CheckRefused(s, "GET /metrics FTP/1.1\r\nHost: x\r\n\r\n", "not HTTP");
  CheckServesSample(s);
}

TEST_CASE("headers over 64 KiB in total get 431 and a closed connection") {
  SampleServer s;
  std::string request = "GET /metrics HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 20; ++i) request += "X-Big-" + std::to_string(i) + ": " + std::string(4000, 'v') + "\r\n";
  std::string answer = Exchange(s.port(), request + "\r\n");
  CHECK(FirstStatus(answer) == 431);
  CheckRefused(s, request + "\r\n", "80 KB of headers");
  CheckServesSample(s);
}

TEST_CASE("thousands of small headers get 431 and a closed connection") {
  SampleServer s;
  std::string request = "GET /metrics HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 5000; ++i) request += "X-H" + std::to_string(i) + ": v\r\n";
  std::string answer = Exchange(s.port(), request + "\r\n");
  CHECK(FirstStatus(answer) == 431);
  CheckRefused(s, request + "\r\n", "5000 headers");
  CheckServesSample(s);
}

TEST_CASE("one header line over 8 KiB gets 400 and a closed connection") {
  SampleServer s;
  CheckRefused(s, "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Long: " + std::string(9000, 'b') + "\r\n\r\n",
               "a 9000-byte header");
  CheckServesSample(s);
}

TEST_CASE("an endless stream of header lines is cut off early and does not grow the server's memory") {
  SampleServer s;
  long before = server_test::PeakRssKib(s.server->pid());
  RawConnection c(s.port());
  REQUIRE(c.connected());
  c.Send("GET /metrics HTTP/1.1\r\nHost: x\r\n");
  // Short lines cost httplib far more memory than their size (a map node
  // each): 16 MiB of them grew the server by some 350 MB.
  std::string lines;
  for (int i = 0; i < 20000; ++i) lines += "a:b\r\n";
  size_t sent = 0;
  auto start = Clock::now();
  while (sent < 16u * 1024 * 1024 && reliability::SecondsSince(start) < 20) {
    if (!c.Send(lines)) break;
    sent += lines.size();
  }
  c.Send("\r\n");
  c.ReadUntilClose(8000);
  MESSAGE("sent " << sent / 1024 << " KiB of header lines before the server stopped reading");
  CHECK(sent < 16u * 1024 * 1024);  // the server stopped reading long before
  if (!c.received().empty()) CHECK(FirstStatus(c.received()) / 100 == 4);
  CHECK(c.closed_by_server());
  long growth = server_test::PeakRssKib(s.server->pid()) - before;
  MESSAGE("peak RSS growth: " << growth << " KiB");
  CHECK(growth < 32 * 1024);
  CheckServesSample(s);
}

TEST_CASE("bodies on GET, HEAD and other body-less requests get 400 and a closed connection") {
  SampleServer s;
  const std::string get = "GET /metrics HTTP/1.1\r\nHost: x\r\n";
  CheckRefused(s, get + "Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n", "an invalid chunk size");
  CheckRefused(s, get + "Transfer-Encoding: chunked\r\n\r\nfffffffffffffffffffffff\r\nx\r\n", "an overflowing chunk size");
  CheckRefused(s, get + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "a valid chunked body");
  CheckRefused(s, get + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", "an unknown transfer coding");
  CheckRefused(s, get + "Content-Length: 5\r\n\r\nhello", "a body with a length");
  CheckRefused(s, get + "Content-Length: -1\r\n\r\n", "a negative length");
  CheckRefused(s, get + "Content-Length: 99999999999999999999999\r\n\r\n", "an overflowing length");
  CheckRefused(s, "HEAD /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", "HEAD with a body");
  CheckRefused(s, "OPTIONS /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", "OPTIONS with a body");
  // Body methods are refused too (405 on our paths), before a body is read.
  CheckRefused(s, "POST /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "POST, bad chunk");
  CheckRefused(s, "PUT /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n",
               "PUT, overflowing length");
  // An empty body is no body: GET with "Content-Length: 0" is served.
  auto client = server_test::Client(s.port());
  auto res = client.Get("/metrics", {{"Content-Length", "0"}});
  REQUIRE(res);
  CHECK(res->status == 200);
  CheckServesSample(s);
}

TEST_CASE("a GET whose body arrives later cannot smuggle a second request") {
  SampleServer s;
  RawConnection c(s.port());
  REQUIRE(c.connected());
  const std::string smuggled = "GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n";
  c.Send("GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(smuggled.size()) + "\r\n\r\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // its own TCP segment
  c.Send(smuggled);
  c.ReadUntilClose(8000);
  CAPTURE(c.received());
  CHECK(FirstStatus(c.received()) == 400);
  CHECK(CountResponses(c.received()) == 1);
  CHECK_FALSE(Contains(c.received(), "Healthy"));
  CHECK(c.closed_by_server());
  CheckServesSample(s);
}

TEST_CASE("pipelined requests are all answered, in order") {
  SampleServer s;
  RawConnection c(s.port());
  REQUIRE(c.connected());
  c.Send(
      "GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /-/ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  auto start = Clock::now();
  CHECK(c.ReadUntilClose(8000));
  CHECK(reliability::SecondsSince(start) < 3.0);
  const std::string& all = c.received();
  CAPTURE(all.substr(0, 2000));
  CHECK(CountResponses(all) == 4);
  size_t healthy = all.find("promsqlite-server is Healthy.");
  size_t not_found = all.find("HTTP/1.1 404 ");
  size_t metrics = all.find(reliability::kSampleLine);
  size_t ready = all.find("promsqlite-server is Ready.");
  CHECK(healthy != std::string::npos);
  CHECK(not_found != std::string::npos);
  CHECK(metrics != std::string::npos);
  CHECK(ready != std::string::npos);
  CHECK(healthy < not_found);
  CHECK(not_found < metrics);
  CHECK(metrics < ready);
  CheckServesSample(s);
}

TEST_CASE("an HTTP/1.0 scrape gets the whole exposition without chunked encoding, then a close") {
  SampleServer s;
  for (const char* connection : {"", "Connection: Keep-Alive\r\n"}) {
    CAPTURE(connection);
    auto start = Clock::now();
    bool closed = false;
    std::string answer = Exchange(s.port(), std::string("GET /metrics HTTP/1.0\r\n") + connection + "\r\n", &closed);
    std::string head = FirstHead(answer);
    CAPTURE(head);
    CHECK(FirstStatus(answer) == 200);
    // RFC 9112 6.1: no Transfer-Encoding in a response to HTTP/1.0.
    CHECK_FALSE(Contains(head, "Transfer-Encoding"));
    CHECK(closed);
    CHECK(reliability::SecondsSince(start) < 3.0);
    std::string body = answer.substr(std::min(answer.size(), head.size() + 2));
    CHECK(Contains(body, reliability::kSampleLine));
    std::string out;
    int rc = server_test::RunCommand(
        server_test::Quote(server_test::SharedTool("check-exposition")) + " --format text -", &out, body);
    CHECK_MESSAGE(rc == 0, out);
  }
  CheckServesSample(s);
}

TEST_CASE("absurd methods get 4xx") {
  SampleServer s;
  const std::vector<std::string> request_lines = {
      "FOO /metrics HTTP/1.1",
      std::string(300, 'X') + " /metrics HTTP/1.1",
      "get /metrics HTTP/1.1",
      "G\x01T /metrics HTTP/1.1",
      "CONNECT 127.0.0.1:22 HTTP/1.1",
      "TRACE /metrics HTTP/1.1",
      "OPTIONS * HTTP/1.1",
      "PRI * HTTP/2.0",
      "DELETE /metrics HTTP/1.1",
      "PATCH /-/healthy HTTP/1.1",
  };
  for (const auto& line : request_lines)
    CheckRefused(s, line + "\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", line);
  CheckServesSample(s);
}

TEST_CASE("paths with %00 and ../ get 404 and never reach a file") {
  SampleServer s;
  const std::vector<std::string> paths = {
      "/metrics%00",
      "/metrics%00.html",
      "/%00",
      "/../../../../../../etc/passwd",
      "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
      "/..%2f..%2f..%2fetc%2fpasswd",
      "/-/../metrics",
      "/metrics/..",
      "/metrics/../../sample.db",
      "/sample.db",
      "//etc/passwd",
  };
  for (const auto& path : paths) {
    CAPTURE(path);
    std::string answer =
        Exchange(s.port(), "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    CHECK(FirstStatus(answer) == 404);
    CHECK_FALSE(Contains(answer, "root:"));
    CHECK_FALSE(Contains(answer, "SQLite format"));
  }
  CheckServesSample(s);
}

TEST_CASE("clients that abort a large scrape part way leave the server serving") {
  server_test::TempDir dir;
  std::string db = dir.File("large.db");
  server_test::WriteLargeFile(db, 10, 3000);
  server_test::ServerProcess server({"--db", db, "--web.max-requests", "4"});
  REQUIRE(server.Start());
  const std::string last = "large_gauge_9{instance=\"host-2999.example.org:9100\",shard=\"7\"} 4498.5\n";
  // Four times as many aborted scrapes as there are readers: a reader that
  // was not given back would block the scrapes after them.
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&, t] {
      for (int i = 0; i < 4; ++i) {
        RawConnection c(server.port(), 4096);
        if (!c.connected()) continue;
        c.Send(std::string("GET /metrics HTTP/1.1\r\nHost: x\r\n") +
               ((t + i) % 2 ? "Accept-Encoding: gzip\r\n" : "") + "\r\n");
        c.ReadUntilClose(5000, 32 * 1024);
        c.Close(/*reset=*/(t + i) % 3 == 0);
      }
    });
  }
  for (auto& t : clients) t.join();
  CHECK(server.Running());
  for (int i = 0; i < 8; ++i) {
    auto client = server_test::Client(server.port());
    auto res = client.Get("/metrics");
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(Contains(res->body, last));
  }
  CHECK(server.Stop(SIGTERM) == 0);
}

TEST_CASE("over TLS, pipelined requests are answered and an endless header stream is cut off") {
  server_test::TempDir tls;
  SampleServer s({"--web.config.file", reliability::WriteTlsConfig(tls)});
  // openssl s_client sends stdin, then (-ign_eof) reads until the server closes.
  const std::string s_client = "(timeout 30 openssl s_client -quiet -ign_eof -connect 127.0.0.1:" +
                               std::to_string(s.port()) + " 2>/dev/null)";
  std::string out;
  server_test::RunCommand(s_client, &out,
                          "GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n"
                          "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  CAPTURE(out.substr(0, 1000));
  CHECK(CountResponses(out) == 2);
  CHECK(Contains(out, "promsqlite-server is Healthy."));
  CHECK(Contains(out, reliability::kSampleLine));

  long before = server_test::PeakRssKib(s.server->pid());
  std::string flood = "GET /metrics HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 800000; ++i) flood += "a:b\r\n";  // 4 MB of short header lines
  auto start = Clock::now();
  server_test::RunCommand(s_client, &out, flood + "\r\n");
  CHECK(reliability::SecondsSince(start) < 20);
  if (!out.empty()) CHECK(FirstStatus(out) / 100 == 4);
  long growth = server_test::PeakRssKib(s.server->pid()) - before;
  MESSAGE("peak RSS growth: " << growth << " KiB");
  CHECK(growth < 32 * 1024);
  CheckServesSample(s, tls.File("server.crt"));
}
