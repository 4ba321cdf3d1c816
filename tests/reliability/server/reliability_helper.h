// Shared by the server's reliability tests: raw TCP clients that misbehave
// on purpose, a server on a sample file, and the check that the server still
// answers a normal scrape. Everything talks to 127.0.0.1 only, and every
// wait is bounded.
#ifndef PROMSQLITE_TESTS_RELIABILITY_SERVER_RELIABILITY_HELPER_H_
#define PROMSQLITE_TESTS_RELIABILITY_SERVER_RELIABILITY_HELPER_H_

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "test_helper.h"

namespace reliability {

// The line WriteSampleFile writes that a normal scrape must show.
constexpr const char* kSampleLine = "sample_requests_total{code=\"200\",method=\"GET\"} 42\n";

using Clock = std::chrono::steady_clock;
double SecondsSince(Clock::time_point start);

// PROMSQLITE_LONG_TESTS=1 asks for the long variants.
bool LongTests();

// One TCP connection to 127.0.0.1:port, driven byte by byte.
class RawConnection {
 public:
  // receive_buffer > 0 shrinks SO_RCVBUF, so that a response stays in flight.
  // `source`: the loopback address to connect from (e.g. "127.0.0.2"), so
  // that one test can be several clients; default 127.0.0.1.
  explicit RawConnection(int port, int receive_buffer = 0, const std::string& source = "");
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return fd_ >= 0; }
  // False once the server closed or reset the connection.
  bool Send(const std::string& bytes);
  // Reads until the server closes the connection, `max_bytes` arrived or
  // `timeout_ms` passed; what arrived is appended to received().
  // True when the server closed (FIN or reset).
  bool ReadUntilClose(int timeout_ms, size_t max_bytes = static_cast<size_t>(-1));
  // Reads until `needle` has arrived (true), the server closes or
  // `timeout_ms` passes.
  bool ReadUntil(const std::string& needle, int timeout_ms);
  // True when the server has closed the connection, without waiting.
  bool ClosedByServer();
  // Closes our end; with `reset`, as an abort (RST) rather than a FIN.
  void Close(bool reset = false);

  const std::string& received() const { return received_; }
  bool closed_by_server() const { return closed_by_server_; }

 private:
  // One recv() of up to `max` bytes within `timeout_ms`: >0 bytes, 0 closed,
  // -1 nothing in time.
  int ReadSome(int timeout_ms, size_t max);

  int fd_ = -1;
  std::string received_;
  bool closed_by_server_ = false;
};

// The status code of the first response in `raw`, 0 when there is none.
int FirstStatus(const std::string& raw);
// How many responses (status lines at the start of a line) `raw` holds.
int CountResponses(const std::string& raw);
// The header block of the first response in `raw`.
std::string FirstHead(const std::string& raw);

// A promsqlite-server on a file written by WriteSampleFile.
struct SampleServer {
  server_test::TempDir dir;
  std::string db;
  std::unique_ptr<server_test::ServerProcess> server;
  explicit SampleServer(std::vector<std::string> extra_args = {});
  int port() const { return server->port(); }
};

// Checks (with doctest) that a normal GET /metrics answers 200 with the
// sample file's content and that the process still runs. With `ca_file`,
// over HTTPS, trusting that certificate.
void CheckServesSample(SampleServer& s, const std::string& ca_file = "");

// Writes a self-signed certificate for 127.0.0.1 (server.crt, server.key)
// and a web config serving HTTPS with it into `dir`; returns the config.
std::string WriteTlsConfig(const server_test::TempDir& dir);

}  // namespace reliability

#endif  // PROMSQLITE_TESTS_RELIABILITY_SERVER_RELIABILITY_HELPER_H_
