#include "reliability_helper.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

namespace reliability {

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

bool LongTests() {
  const char* value = std::getenv("PROMSQLITE_LONG_TESTS");
  return value && std::string(value) == "1";
}

RawConnection::RawConnection(int port, int receive_buffer, const std::string& source) {
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return;
  if (receive_buffer > 0) setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof(receive_buffer));
  if (!source.empty()) {
    sockaddr_in from{};
    from.sin_family = AF_INET;
    if (inet_pton(AF_INET, source.c_str(), &from.sin_addr) != 1 ||
        bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof(from)) != 0) {
      close(fd_);
      fd_ = -1;
      return;
    }
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd_);
    fd_ = -1;
  }
}

RawConnection::~RawConnection() { Close(); }

bool RawConnection::Send(const std::string& bytes) {
  if (fd_ < 0) return false;
  size_t sent = 0;
  auto deadline = Clock::now() + std::chrono::seconds(30);
  while (sent < bytes.size()) {
    pollfd p{fd_, POLLOUT, 0};
    if (poll(&p, 1, 1000) <= 0) {
      if (Clock::now() > deadline) return false;
      continue;
    }
    ssize_t n = send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

int RawConnection::ReadSome(int timeout_ms, size_t max) {
  if (fd_ < 0 || closed_by_server_) return 0;
  pollfd p{fd_, POLLIN, 0};
  int r = poll(&p, 1, std::max(timeout_ms, 0));
  if (r <= 0) return -1;
  char buf[65536];
  ssize_t n = recv(fd_, buf, std::min(sizeof(buf), max), MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return -1;
  if (n <= 0) {  // FIN or reset
    closed_by_server_ = true;
    return 0;
  }
  received_.append(buf, static_cast<size_t>(n));
  return static_cast<int>(n);
}

bool RawConnection::ReadUntilClose(int timeout_ms, size_t max_bytes) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  size_t start = received_.size();
  while (!closed_by_server_ && received_.size() - start < max_bytes) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) break;
    ReadSome(static_cast<int>(std::min<long long>(left, 200)), max_bytes - (received_.size() - start));
  }
  return closed_by_server_;
}

bool RawConnection::ReadUntil(const std::string& needle, int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (received_.find(needle) == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0 || closed_by_server_) return false;
    ReadSome(static_cast<int>(std::min<long long>(left, 200)), 65536);
  }
  return true;
}

bool RawConnection::ClosedByServer() {
  while (!closed_by_server_ && ReadSome(0, 65536) > 0) {
  }
  return closed_by_server_;
}

void RawConnection::Close(bool reset) {
  if (fd_ < 0) return;
  if (reset) {
    linger l{1, 0};
    setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
  }
  close(fd_);
  fd_ = -1;
}

int FirstStatus(const std::string& raw) {
  if (raw.rfind("HTTP/1.", 0) != 0 || raw.size() < 12) return 0;
  return std::atoi(raw.substr(9, 3).c_str());
}

int CountResponses(const std::string& raw) {
  int n = raw.rfind("HTTP/1.", 0) == 0 ? 1 : 0;
  for (size_t pos = 0; (pos = raw.find("\nHTTP/1.", pos)) != std::string::npos; ++pos) ++n;
  return n;
}

std::string FirstHead(const std::string& raw) {
  size_t end = raw.find("\r\n\r\n");
  return end == std::string::npos ? raw : raw.substr(0, end + 2);
}

SampleServer::SampleServer(std::vector<std::string> extra_args) : db(dir.File("sample.db")) {
  server_test::WriteSampleFile(db);
  std::vector<std::string> args = {"--db", db};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  server = std::make_unique<server_test::ServerProcess>(args);
  REQUIRE(server->Start());
}

void CheckServesSample(SampleServer& s, const std::string& ca_file) {
  REQUIRE(s.server->Running());
  std::unique_ptr<httplib::ClientImpl> client;
  if (ca_file.empty()) {
    client = std::make_unique<httplib::ClientImpl>("127.0.0.1", s.port());
  } else {
    auto tls = std::make_unique<httplib::SSLClient>("127.0.0.1", s.port());
    tls->set_ca_cert_path(ca_file.c_str());
    tls->enable_server_certificate_verification(true);
    client = std::move(tls);
  }
  client->set_decompress(false);
  client->set_connection_timeout(5, 0);
  client->set_read_timeout(15, 0);
  auto res = client->Get("/metrics");
  REQUIRE_MESSAGE(res, "no answer to a normal scrape: " << httplib::to_string(res.error()));
  CHECK(res->status == 200);
  CHECK(res->body.find(kSampleLine) != std::string::npos);
}

std::string WriteTlsConfig(const server_test::TempDir& dir) {
  std::string out;
  int rc = server_test::RunCommand(
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1"
      " -addext subjectAltName=IP:127.0.0.1 -keyout " + server_test::Quote(dir.File("server.key")) +
      " -out " + server_test::Quote(dir.File("server.crt")), &out);
  REQUIRE_MESSAGE(rc == 0, out);
  std::string config = dir.File("web.yml");
  std::ofstream(config) << "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n";
  return config;
}

}  // namespace reliability
