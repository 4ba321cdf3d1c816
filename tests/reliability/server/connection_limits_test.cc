// Crowds of slow clients beside normal scrapes (issue 27): connections that
// trickle a partial request, that read their response a byte a second, or
// that stall in the TLS handshake hold no render thread, are bounded by
// --web.max-connections and --web.max-connections-per-address, and each
// limit logs once. The crowds connect from other loopback addresses
// (127.0.0.2, 127.0.0.3) than the scraper (127.0.0.1), as they would from
// other hosts. The figures for 1000 such connections are bench/run's
// server_slowloris_* and server_slowread_* keys.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <thread>
#include <vector>

#include "reliability_helper.h"
#include "test_helper.h"

using reliability::Clock;
using reliability::RawConnection;
using reliability::SampleServer;
using reliability::SecondsSince;

namespace {

// Keeps `count` misbehaving connections from `source` open on a thread of
// its own until destroyed, opening a new one whenever the server closes one.
class Crowd {
 public:
  enum Kind {
    kTrickle,    // "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: " and then a byte every 2 s
    kSlowRead,   // a whole request, then its response read a byte a second
    kHandshake,  // a TLS record header, then nothing
  };

  Crowd(int port, Kind kind, int count, std::string source)
      : port_(port), kind_(kind), source_(std::move(source)), slots_(static_cast<size_t>(count)) {
    thread_ = std::thread([this] { Run(); });
  }
  ~Crowd() {
    stop_ = true;
    thread_.join();
  }
  bool opened() const { return opened_; }
  int reconnects() const { return reconnects_; }

 private:
  struct Slot {
    std::unique_ptr<RawConnection> c;
    Clock::time_point next;
  };

  void Open(Slot& s) {
    if (s.c) ++reconnects_;
    s.c = std::make_unique<RawConnection>(port_, kind_ == kSlowRead ? 4096 : 0, source_);
    s.next = Clock::now() + std::chrono::seconds(kind_ == kTrickle ? 2 : 1);
    if (!s.c->connected()) return;
    switch (kind_) {
      case kTrickle: s.c->Send("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: "); break;
      case kSlowRead: s.c->Send("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"); break;
      case kHandshake: s.c->Send(std::string("\x16\x03\x01\x02\x00", 5)); break;
    }
  }

  void Step(Slot& s) {
    if (!s.c || !s.c->connected() || s.c->closed_by_server()) {
      Open(s);
      return;
    }
    if (Clock::now() < s.next) return;
    if (kind_ == kTrickle && !s.c->Send("a")) s.c->Close();
    if (kind_ == kSlowRead) s.c->ReadUntilClose(1, 1);
    if (kind_ == kHandshake) s.c->ClosedByServer();
    s.next = Clock::now() + std::chrono::seconds(kind_ == kTrickle ? 2 : 1);
  }

  void Run() {
    for (auto& s : slots_) Open(s);
    opened_ = true;
    while (!stop_) {
      for (auto& s : slots_) Step(s);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  const int port_;
  const Kind kind_;
  const std::string source_;
  std::vector<Slot> slots_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> opened_{false};
  std::atomic<int> reconnects_{0};
  std::thread thread_;
};

void AwaitOpened(const Crowd& crowd) {
  auto start = Clock::now();
  while (!crowd.opened() && SecondsSince(start) < 30) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  REQUIRE(crowd.opened());
}

size_t Count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) ++n;
  return n;
}

// The value of the sample `series` (its name and labels); -1 if none.
double Sample(const std::string& exposition, const std::string& series) {
  const std::string line = "\n" + series + " ";
  size_t pos = exposition.find(line);
  return pos == std::string::npos ? -1 : std::atof(exposition.c_str() + pos + line.size());
}

std::string Scrape(int port) {
  auto client = server_test::Client(port);
  client.set_read_timeout(30, 0);
  auto res = client.Get("/metrics");
  REQUIRE_MESSAGE(res, "no answer to a normal scrape: " << httplib::to_string(res.error()));
  REQUIRE(res->status == 200);
  return res->body;
}

// WriteLargeFile's lines are about this long.
constexpr long kLineBytes = 70;

// The most the kernel buffers for sending on one TCP socket (tcp_wmem's
// maximum); 4 MiB when unknown.
long KernelSendBufferMax() {
  std::ifstream in("/proc/sys/net/ipv4/tcp_wmem");
  long low = 0, initial = 0, max = 0;
  return in >> low >> initial >> max && max > 0 ? std::min<long>(max, 16 << 20) : 4 << 20;
}

// A server with one render thread on a file whose exposition takes about
// `bytes`, and a client that asks for it and never reads.
struct OneThreadAndAStalledReader {
  explicit OneThreadAndAStalledReader(long bytes) {
    server_test::WriteLargeFile(db, 10, static_cast<int>(bytes / kLineBytes / 10));
    server = std::make_unique<server_test::ServerProcess>(std::vector<std::string>{"--db", db, "--web.max-requests", "1"});
    REQUIRE(server->Start());
    reader = std::make_unique<RawConnection>(server->port(), 4096);
    REQUIRE(reader->connected());
    reader->Send("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  }
  int port() const { return server->port(); }

  server_test::TempDir dir;
  const std::string db = dir.File("large.db");
  std::unique_ptr<server_test::ServerProcess> server;
  std::unique_ptr<RawConnection> reader;
};

const char* const kPerAddressLine = "msg=\"connections from one address reached their limit";
const char* const kTotalLine = "msg=\"connections reached their limit";

}  // namespace

TEST_CASE("scrapes are answered beside 100 trickling and 100 slow-reading connections; each limit logs once") {
  // Each crowd's address may hold 80 connections, and everyone 150: both
  // crowds go beyond their own limit, and together beyond the total.
  // One crowd after the other: opened together, the total limit could come
  // first (75 + 75) and keep both addresses under their own.
  SampleServer s({"--web.max-connections-per-address", "80", "--web.max-connections", "150"});
  Crowd trickle(s.port(), Crowd::kTrickle, 100, "127.0.0.2");
  AwaitOpened(trickle);
  Crowd slow(s.port(), Crowd::kSlowRead, 100, "127.0.0.3");
  AwaitOpened(slow);
  int answered = 0;
  std::string last;
  for (int i = 0; i < 60; ++i) {
    last = Scrape(s.port());
    CHECK(last.find(reliability::kSampleLine) != std::string::npos);
    ++answered;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(answered == 60);
  MESSAGE("reconnects: trickling " << trickle.reconnects() << ", slow reading " << slow.reconnects());
  const double open = Sample(last, "promsqlite_server_connections");
  MESSAGE("open connections at the last scrape: " << open);
  CHECK(open <= 150);
  CHECK(Sample(last, "promsqlite_server_connections_closed_total{reason=\"per_address_limit\"}") > 0);
  CHECK(Sample(last, "promsqlite_server_connections_closed_total{reason=\"total_limit\"}") > 0);
  const std::string log = s.server->Log();
  CAPTURE(log.substr(0, 3000));
  CHECK(Count(log, kPerAddressLine) == 1);
  CHECK(Count(log, kTotalLine) == 1);
  CHECK(Count(log, "flag=--web.max-connections-per-address") == 1);
  CHECK(Count(log, "flag=--web.max-connections ") == 1);
}

TEST_CASE("one address beyond its limit loses its own longest-waiting connections, not another address's") {
  // A long read timeout: only the limit may close a connection here.
  SampleServer s({"--web.max-connections-per-address", "50", "--web.read-header-timeout", "10m"});
  // A client of another address connects first and sends half a request:
  // it must outlive the flood from 127.0.0.2.
  RawConnection patient(s.port(), 0, "127.0.0.3");
  REQUIRE(patient.connected());
  patient.Send("GET /metrics HTTP/1.1\r\nHost: x\r\n");
  {
    Crowd flood(s.port(), Crowd::kTrickle, 120, "127.0.0.2");
    AwaitOpened(flood);
    for (int i = 0; i < 10; ++i) {
      CHECK(Scrape(s.port()).find(reliability::kSampleLine) != std::string::npos);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  // Still open after the flood: it may finish its request and is served.
  CHECK_FALSE(patient.ClosedByServer());
  patient.Send("\r\n");
  CHECK(patient.ReadUntil(reliability::kSampleLine, 20000));
  CHECK(Count(s.server->Log(), kPerAddressLine) == 1);
}

TEST_CASE("over TLS, scrapes are answered beside 100 connections stalled in the handshake; the limit logs once") {
  server_test::TempDir tls;
  SampleServer s({"--web.config.file", reliability::WriteTlsConfig(tls), "--web.max-connections-per-address", "60"});
  Crowd stalled(s.port(), Crowd::kHandshake, 100, "127.0.0.2");
  AwaitOpened(stalled);
  for (int i = 0; i < 20; ++i) {
    reliability::CheckServesSample(s, tls.File("server.crt"));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(Count(s.server->Log(), kPerAddressLine) == 1);
}

TEST_CASE("a response larger than the socket buffers waits in memory for its slow reader, not in a render thread") {
  // Larger than what the kernel takes for one connection (at most
  // tcp_wmem's maximum, 4 MiB by default), but within the 4 MiB a response
  // may keep in the server, so that the rest waits there.
  // One render thread: had it to wait for the slow reader, nothing else
  // would be served until that response was cut off.
  OneThreadAndAStalledReader server(KernelSendBufferMax() + (3 << 19));

  double waiting = 0;
  std::string exposition;
  auto start = Clock::now();
  while (waiting <= 0 && SecondsSince(start) < 30) {
    exposition = Scrape(server.port());
    waiting = Sample(exposition, "promsqlite_server_waiting_response_bytes");
  }
  MESSAGE("response bytes waiting for the slow reader: " << waiting << " (exposition: " << exposition.size()
                                                          << " bytes)");
  CHECK(waiting > 0);
  CHECK(Sample(exposition, "promsqlite_server_connections_closed_total{reason=\"slow_response\"}") == 0);
  auto health = server_test::Client(server.port()).Get("/-/healthy");
  REQUIRE(health);
  CHECK(health->status == 200);

  // Gone, the reader's response leaves the server's memory.
  server.reader->Close(/*reset=*/true);
  start = Clock::now();
  while (waiting > 0 && SecondsSince(start) < 30) {
    waiting = Sample(Scrape(server.port()), "promsqlite_server_waiting_response_bytes");
    if (waiting > 0) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  CHECK(waiting == 0);
}

TEST_CASE("a client that stalls on a response too large for memory is cut off and frees the render thread") {
  // Beyond what the kernel and the server's 4 MiB share hold together: the
  // only render thread waits for the client, which takes nothing for 2 s.
  OneThreadAndAStalledReader server(KernelSendBufferMax() + (8 << 20));
  // Served by the same thread once it is free.
  auto health = server_test::Client(server.port()).Get("/-/healthy");
  REQUIRE(health);
  CHECK(health->status == 200);
  const std::string exposition = Scrape(server.port());
  CHECK(Sample(exposition, "promsqlite_server_connections_closed_total{reason=\"slow_response\"}") == 1);
  CHECK(Count(server.server->Log(), "msg=\"a response outgrew its memory share and its client took it too slowly") == 1);
}
