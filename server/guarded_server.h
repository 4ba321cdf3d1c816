// An httplib::Server, plain or HTTPS, that serves each connection with its
// own loop, because httplib 0.11's loop lacks what a server facing any
// client needs:
//  - it reads header lines without limit on their number or total size
//    (16 MiB of short lines grew the server by 350 MB); here a request may
//    take kMaxRequestBytes at most;
//  - its read timeout applies to each read, so a client trickling a byte
//    every few seconds holds a worker forever; here the whole request (and
//    the TLS handshake) must arrive within the read timeout;
//  - its read buffer lives for one request, so pipelined requests were
//    dropped; here it lives as long as the connection;
//  - it keeps the connection after a response that says "Connection:
//    close" (our 400s, 405s, 431s), reading whatever follows as a request;
//    here such a response ends the connection;
//  - a worker serves a keep-alive connection for up to 100 requests while
//    new connections wait: a few busy clients starved the others for 30 s;
//    here a response says "Connection: close" when connections wait.
//
// Thread safety: as httplib::Server; connections are served on the workers
// of its task queue.
#ifndef PROMSQLITE_SERVER_GUARDED_SERVER_H_
#define PROMSQLITE_SERVER_GUARDED_SERVER_H_

#include <httplib.h>
#include <openssl/ssl.h>

#include <functional>

namespace promsqlite_server {

class GuardedServer : public httplib::Server {
 public:
  // Bytes one request may take: its line (8 KiB), headers (handlers answer
  // 431 above 64 KiB) and body (64 KiB: set_payload_max_length), with room.
  static constexpr size_t kMaxRequestBytes = 160 * 1024;

  // Plain HTTP.
  GuardedServer() = default;
  // HTTPS: `setup` configures a fresh TLS context; is_valid() is false when
  // it returns false.
  explicit GuardedServer(const std::function<bool(SSL_CTX&)>& setup);
  ~GuardedServer() override;
  GuardedServer(const GuardedServer&) = delete;
  GuardedServer& operator=(const GuardedServer&) = delete;

  bool is_valid() const override { return valid_; }

  // Tells whether accepted connections wait for a worker; a kept-alive
  // connection then closes after its current response. Set before listening.
  void set_connections_waiting(std::function<bool()> waiting) { connections_waiting_ = std::move(waiting); }

  // Lets the kernel queue `backlog` connections not yet accepted; httplib
  // 0.11 listens with 5, beyond which clients' SYNs are dropped and their
  // connects retried seconds later. Call after binding.
  void SetListenBacklog(int backlog);

 private:
  bool process_and_close_socket(socket_t sock) override;

  SSL_CTX* tls_ = nullptr;
  bool valid_ = true;
  std::function<bool()> connections_waiting_;
};

}  // namespace promsqlite_server

#endif  // PROMSQLITE_SERVER_GUARDED_SERVER_H_
