#include "guarded_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <string_view>

namespace promsqlite_server {

namespace {

using SteadyClock = std::chrono::steady_clock;

int MillisecondsUntil(SteadyClock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t - SteadyClock::now()).count();
  return ms <= 0 ? 0 : static_cast<int>(std::min<long long>(ms, INT_MAX));
}

// Waits up to `timeout_ms` for `events` on `fd`; false on timeout or error.
bool WaitFor(int fd, short events, int timeout_ms) {
  pollfd p{fd, events, 0};
  int r;
  do {
    r = poll(&p, 1, timeout_ms);
  } while (r < 0 && errno == EINTR);
  return r > 0;  // includes POLLHUP and POLLERR: the next call reports them
}

void Describe(const sockaddr_storage& addr, std::string& ip, int& port) {
  char buf[INET6_ADDRSTRLEN] = "";
  if (addr.ss_family == AF_INET) {
    const auto& a = reinterpret_cast<const sockaddr_in&>(addr);
    inet_ntop(AF_INET, &a.sin_addr, buf, sizeof(buf));
    port = ntohs(a.sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6&>(addr);
    inet_ntop(AF_INET6, &a.sin6_addr, buf, sizeof(buf));
    port = ntohs(a.sin6_port);
  }
  ip = buf;
}

// One accepted connection (non-blocking socket, optionally TLS) as the
// Stream httplib reads requests from and writes responses to, enforcing a
// deadline and a byte budget on each request.
class Connection : public httplib::Stream {
 public:
  Connection(int sock, SSL* ssl, time_t read_timeout_s, time_t write_timeout_s)
      : sock_(sock),
        ssl_(ssl),
        read_timeout_(std::chrono::seconds(read_timeout_s)),
        write_timeout_ms_(static_cast<int>(write_timeout_s * 1000)) {}

  // The TLS handshake, within the read timeout.
  bool Handshake() {
    const auto deadline = SteadyClock::now() + read_timeout_;
    for (;;) {
      ERR_clear_error();
      int r = SSL_accept(ssl_);
      if (r == 1) return true;
      int err = SSL_get_error(ssl_, r);
      short event = err == SSL_ERROR_WANT_READ ? POLLIN : err == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
      if (event == 0 || !WaitFor(sock_, event, MillisecondsUntil(deadline))) {
        broken_ = true;
        return false;
      }
    }
  }

  // Waits up to `idle_s` for the next request to begin; false when none
  // comes, the peer closed, or `stopping()` says the server stops.
  template <typename F>
  bool WaitForRequest(time_t idle_s, F stopping) {
    if (begin_ < end_ || (ssl_ && SSL_pending(ssl_) > 0)) return true;  // pipelined
    const auto until = SteadyClock::now() + std::chrono::seconds(idle_s);
    while (!stopping()) {
      int left = MillisecondsUntil(until);
      if (left == 0) return false;
      // In slices, so that a stopping server does not wait for idle clients.
      if (WaitFor(sock_, POLLIN, std::min(left, 100))) return true;
    }
    return false;
  }

  // Starts the limits of one request.
  void BeginRequest() {
    deadline_ = SteadyClock::now() + read_timeout_;
    budget_ = GuardedServer::kMaxRequestBytes;
    head_pending_ = true;
    close_after_ = false;
  }

  // After a request: whether the connection must end (a limit was hit, or
  // the response said "Connection: close").
  bool ShouldClose() const { return limit_hit_ || close_after_ || broken_; }
  // Whether the transport failed, so that TLS must not shut down cleanly.
  bool broken() const { return broken_; }

  bool is_readable() const override {
    return begin_ < end_ || (ssl_ && SSL_pending(ssl_) > 0) ||
           WaitFor(sock_, POLLIN, MillisecondsUntil(deadline_));
  }

  bool is_writable() const override {
    if (!WaitFor(sock_, POLLOUT, write_timeout_ms_)) return false;
    // Alive unless the peer closed: readable with no byte to peek.
    pollfd p{sock_, POLLIN, 0};
    if (poll(&p, 1, 0) <= 0) return true;
    char c;
    return recv(sock_, &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
  }

  ssize_t read(char* ptr, size_t size) override {
    if (size == 0) return 0;
    if (budget_ == 0) {
      limit_hit_ = true;
      return -1;
    }
    if (begin_ == end_) {
      ssize_t n = Fill();
      if (n <= 0) return n;
    }
    size_t n = std::min({size, end_ - begin_, budget_});
    std::memcpy(ptr, buffer_ + begin_, n);
    begin_ += n;
    budget_ -= n;
    return static_cast<ssize_t>(n);
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (size == 0) return 0;
    if (head_pending_) NoteResponseHead(std::string_view(ptr, size));
    for (;;) {
      ERR_clear_error();
      ssize_t n = ssl_ ? SSL_write(ssl_, ptr, static_cast<int>(std::min<size_t>(size, INT_MAX)))
                       : send(sock_, ptr, size, MSG_NOSIGNAL);
      if (n > 0) return n;
      short event = POLLOUT;
      if (ssl_) {
        int err = SSL_get_error(ssl_, static_cast<int>(n));
        if (err == SSL_ERROR_WANT_READ) event = POLLIN;
        else if (err != SSL_ERROR_WANT_WRITE) return Broken();
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
        return Broken();
      }
      if (!WaitFor(sock_, event, write_timeout_ms_)) return Broken();
    }
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    if (getpeername(sock_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) Describe(addr, ip, port);
  }

  void get_local_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    if (getsockname(sock_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) Describe(addr, ip, port);
  }

  socket_t socket() const override { return sock_; }

 private:
  ssize_t Broken() {
    broken_ = true;
    return -1;
  }

  // Refills the buffer, waiting until the request's deadline at most.
  // >0 bytes, 0 the peer closed, -1 error or deadline.
  ssize_t Fill() {
    begin_ = end_ = 0;
    for (;;) {
      ERR_clear_error();
      ssize_t n = ssl_ ? SSL_read(ssl_, buffer_, sizeof(buffer_)) : recv(sock_, buffer_, sizeof(buffer_), 0);
      if (n > 0) {
        end_ = static_cast<size_t>(n);
        return n;
      }
      short event = POLLIN;
      if (ssl_) {
        int err = SSL_get_error(ssl_, static_cast<int>(n));
        if (err == SSL_ERROR_ZERO_RETURN) return 0;
        if (err == SSL_ERROR_WANT_WRITE) event = POLLOUT;
        else if (err != SSL_ERROR_WANT_READ) return Broken();
      } else if (n == 0) {
        return 0;
      } else if (errno == EINTR) {
        continue;
      } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
        return Broken();
      }
      if (!WaitFor(sock_, event, MillisecondsUntil(deadline_))) {
        limit_hit_ = true;  // the request took longer than the read timeout
        return -1;
      }
    }
  }

  // httplib writes a response's status line and headers in one write.
  void NoteResponseHead(std::string_view data) {
    if (data.rfind("HTTP/1.", 0) != 0) return;
    if (data.size() > 9 && data[9] == '1') return;  // "100 Continue": the real head follows
    head_pending_ = false;
    size_t end = data.find("\r\n\r\n");
    std::string_view head = data.substr(0, end == std::string_view::npos ? data.size() : end + 2);
    close_after_ = head.find("\r\nConnection: close\r\n") != std::string_view::npos;
  }

  const int sock_;
  SSL* const ssl_;
  const std::chrono::seconds read_timeout_;
  const int write_timeout_ms_;
  SteadyClock::time_point deadline_ = SteadyClock::now();
  size_t budget_ = 0;
  bool head_pending_ = false;
  bool close_after_ = false;
  bool limit_hit_ = false;
  bool broken_ = false;
  char buffer_[16 * 1024];
  size_t begin_ = 0, end_ = 0;  // unread bytes of buffer_
};

}  // namespace

GuardedServer::GuardedServer(const std::function<bool(SSL_CTX&)>& setup) {
  tls_ = SSL_CTX_new(TLS_method());
  valid_ = tls_ != nullptr && setup(*tls_);
}

GuardedServer::~GuardedServer() {
  if (tls_) SSL_CTX_free(tls_);
}

void GuardedServer::SetListenBacklog(int backlog) {
  socket_t sock = svr_sock_;
  if (sock != INVALID_SOCKET) ::listen(sock, backlog);  // on Linux, changes a listening socket's backlog
}

bool GuardedServer::process_and_close_socket(socket_t sock) {
  // Non-blocking: every wait is a poll() bounded by our timeouts.
  int flags = fcntl(sock, F_GETFL);
  if (flags >= 0) fcntl(sock, F_SETFL, flags | O_NONBLOCK);
  SSL* ssl = nullptr;
  if (tls_) {
    ssl = SSL_new(tls_);
    if (ssl) SSL_set_fd(ssl, sock);
  }
  bool ok = false;
  {
    Connection connection(sock, ssl, read_timeout_sec_, write_timeout_sec_);
    if (!tls_ || (ssl && connection.Handshake())) {
      auto stopping = [this] { return svr_sock_ == INVALID_SOCKET; };
      for (size_t left = keep_alive_max_count_; left > 0 && !stopping(); --left) {
        if (!connection.WaitForRequest(keep_alive_timeout_sec_, stopping)) break;
        connection.BeginRequest();
        bool closed = false;
        const bool last = left == 1 || (connections_waiting_ && connections_waiting_());
        ok = process_request(connection, last, closed, [ssl](httplib::Request& req) { req.ssl = ssl; });
        if (!ok || closed || connection.ShouldClose()) break;
      }
    }
    if (ssl) {
      if (!connection.broken()) SSL_shutdown(ssl);  // close_notify, best effort
      SSL_free(ssl);
    }
  }
  shutdown(sock, SHUT_RDWR);
  close(sock);
  return ok;
}

}  // namespace promsqlite_server
