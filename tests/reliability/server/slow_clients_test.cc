// Slow and silent clients against a live promsqlite-server: the server's
// fixed timeouts (idle 5 s, read 10 s: ServerOptions) must cut them off,
// and normal scrapes must go on meanwhile, over HTTP and HTTPS. Each case
// waits for a timeout, so this program takes about 50 s.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "reliability_helper.h"
#include "test_helper.h"

using reliability::CheckServesSample;
using reliability::Clock;
using reliability::FirstStatus;
using reliability::RawConnection;
using reliability::SampleServer;
using reliability::SecondsSince;

namespace {

constexpr double kIdleTimeout = 5;
constexpr double kReadTimeout = 10;

// Scrapes every 500 ms on another thread until destroyed; counts failures.
class BackgroundScrapes {
 public:
  explicit BackgroundScrapes(int port) : thread_([this, port] { Run(port); }) {}
  ~BackgroundScrapes() {
    stop_ = true;
    thread_.join();
  }
  int ok() const { return ok_; }
  int failed() const { return failed_; }

 private:
  void Run(int port) {
    for (int i = 0; i < 200 && !stop_; ++i) {
      auto client = server_test::Client(port);
      client.set_read_timeout(5, 0);
      auto res = client.Get("/metrics");
      if (res && res->status == 200 && res->body.find(reliability::kSampleLine) != std::string::npos) ++ok_;
      else ++failed_;
      for (int w = 0; w < 5 && !stop_; ++w) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  std::atomic<bool> stop_{false};
  std::atomic<int> ok_{0};
  std::atomic<int> failed_{0};
  std::thread thread_;
};

// Waits (up to `limit_s`) for the server to close `c`; the seconds it took
// since `start`, or -1 when it did not.
double SecondsUntilClosed(RawConnection& c, Clock::time_point start, double limit_s) {
  while (SecondsSince(start) < limit_s) {
    if (c.ReadUntilClose(200)) return SecondsSince(start);
  }
  return -1;
}

}  // namespace

TEST_CASE("a client that connects and sends nothing is closed after the idle timeout while scrapes go on") {
  SampleServer s;
  BackgroundScrapes scrapes(s.port());
  RawConnection c(s.port());
  REQUIRE(c.connected());
  double closed_after = SecondsUntilClosed(c, Clock::now(), kIdleTimeout + 5);
  MESSAGE("closed after " << closed_after << " s");
  CHECK(closed_after >= kIdleTimeout - 1);
  CHECK(closed_after <= kIdleTimeout + 3);
  CHECK(c.received().empty());
  CHECK(scrapes.ok() >= 5);
  CHECK(scrapes.failed() == 0);
  CheckServesSample(s);
}

TEST_CASE("a client that sends a partial request and then pauses beyond the read timeout is closed") {
  SampleServer s;
  BackgroundScrapes scrapes(s.port());
  // Slower than the read timeout: the next byte would come after 12 s.
  // The second is a client speaking TLS to plain HTTP: a ClientHello has
  // no line end, and the client waits for the server's answer.
  const std::vector<std::string> partial = {
      "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: a",
      std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11) + std::string(200, '\x11'),
  };
  std::vector<std::unique_ptr<RawConnection>> clients;
  for (const auto& bytes : partial) {
    clients.push_back(std::make_unique<RawConnection>(s.port()));
    REQUIRE(clients.back()->connected());
    clients.back()->Send(bytes);
  }
  auto last_byte = Clock::now();
  for (auto& c : clients) {
    double closed_after = SecondsUntilClosed(*c, last_byte, kReadTimeout + 5);
    MESSAGE("closed " << closed_after << " s after the last byte");
    CHECK(closed_after >= kReadTimeout - 1);
    CHECK(closed_after <= kReadTimeout + 3);
    if (!c->received().empty()) CHECK(FirstStatus(c->received()) / 100 == 4);
  }
  CHECK(scrapes.ok() >= 10);
  CHECK(scrapes.failed() == 0);
  CheckServesSample(s);
}

TEST_CASE("a client trickling a request faster than the read timeout is still cut off after it") {
  SampleServer s;
  BackgroundScrapes scrapes(s.port());
  RawConnection c(s.port());
  REQUIRE(c.connected());
  // Slowloris: a byte a second, never finishing the headers. The read
  // timeout bounds the whole request, not each read.
  const std::string request = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: " + std::string(100, 'a');
  auto start = Clock::now();
  double closed_after = -1;
  for (size_t i = 0; i < request.size() && SecondsSince(start) < kReadTimeout + 6; ++i) {
    c.Send(request.substr(i, 1));
    if (c.ReadUntilClose(1000)) {
      closed_after = SecondsSince(start);
      break;
    }
  }
  MESSAGE("closed after " << closed_after << " s");
  CHECK(closed_after > 0);
  CHECK(closed_after <= kReadTimeout + 3);
  if (!c.received().empty()) CHECK(FirstStatus(c.received()) / 100 == 4);
  CHECK(scrapes.failed() == 0);
  CheckServesSample(s);
}

TEST_CASE("more trickling clients than --web.max-requests delay a scrape by at most the read timeout") {
  SampleServer s({"--web.max-requests", "4"});
  std::atomic<bool> stop{false};
  std::vector<std::thread> slow;
  for (int i = 0; i < 6; ++i) {
    slow.emplace_back([&] {
      RawConnection c(s.port());
      const std::string request = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: " + std::string(100, 'a');
      auto start = Clock::now();
      for (size_t b = 0; b < request.size() && !stop && SecondsSince(start) < 25; ++b) {
        if (!c.Send(request.substr(b, 1)) || c.ReadUntilClose(500)) break;
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));  // the slow ones are in
  auto start = Clock::now();
  auto client = server_test::Client(s.port());
  client.set_read_timeout(25, 0);
  client.set_write_timeout(25, 0);
  auto res = client.Get("/metrics");
  double took = SecondsSince(start);
  stop = true;
  for (auto& t : slow) t.join();
  MESSAGE("the scrape took " << took << " s");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(took <= kReadTimeout + 3);
  CheckServesSample(s);
}

TEST_CASE("over TLS, a client stalled in the handshake or in its request is cut off after the read timeout") {
  server_test::TempDir tls;
  SampleServer s({"--web.config.file", reliability::WriteTlsConfig(tls)});
  const std::string ca = tls.File("server.crt");
  auto start = Clock::now();
  // A TLS record header, then nothing: SSL_accept waits for the rest.
  RawConnection handshake(s.port());
  REQUIRE(handshake.connected());
  handshake.Send(std::string("\x16\x03\x01\x02\x00", 5));
  // A complete handshake, then half a request (-ign_eof: keep reading
  // after stdin ends, until the server closes).
  double request_closed_after = -1;
  std::thread request([&] {
    std::string out;
    server_test::RunCommand("timeout 30 openssl s_client -quiet -ign_eof -connect 127.0.0.1:" +
                                std::to_string(s.port()) + " 2>/dev/null",
                            &out, "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: a");
    request_closed_after = SecondsSince(start);
  });
  std::this_thread::sleep_for(std::chrono::seconds(2));
  CheckServesSample(s, ca);  // meanwhile
  double handshake_closed_after = SecondsUntilClosed(handshake, start, kReadTimeout + 5);
  request.join();
  MESSAGE("handshake closed after " << handshake_closed_after << " s, request after " << request_closed_after << " s");
  CHECK(handshake_closed_after >= kReadTimeout - 1);
  CHECK(handshake_closed_after <= kReadTimeout + 3);
  CHECK(request_closed_after >= kReadTimeout - 1);
  CHECK(request_closed_after <= kReadTimeout + 3);
  CheckServesSample(s, ca);
}
