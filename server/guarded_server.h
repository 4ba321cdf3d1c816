// An httplib::Server, plain or HTTPS, whose connections are handled by a
// ConnectionFront (connection_front.h) instead of httplib's thread per
// connection: httplib accepts and parses, the front does the rest. What
// httplib 0.11's own loop lacked, and the front provides:
//  - it reads header lines without limit on their number or total size
//    (16 MiB of short lines grew the server by 350 MB); here a request may
//    take FrontOptions::max_request_bytes at most;
//  - its read timeout applies to each read, and a connection holds a
//    thread while it waits, so a client trickling a byte every few seconds
//    held a thread forever, and a few dozen of them every thread; here a
//    request (and the TLS handshake) must arrive within the request
//    timeout, and waiting holds no thread;
//  - its read buffer lives for one request, so pipelined requests were
//    dropped; here it lives as long as the connection;
//  - it keeps the connection after a response that says "Connection:
//    close" (our 400s, 405s, 431s), reading whatever follows as a request;
//    here such a response ends the connection;
//  - a thread serves a keep-alive connection for up to 100 requests while
//    new connections wait; here a thread serves one request, then the
//    connection waits with the others.
//
// Thread safety: as httplib::Server; requests are served on the front's
// render threads.
#ifndef PROMSQLITE_SERVER_GUARDED_SERVER_H_
#define PROMSQLITE_SERVER_GUARDED_SERVER_H_

#include <httplib.h>
#include <openssl/ssl.h>

#include <atomic>
#include <functional>

#include "connection_front.h"

namespace promsqlite_server {

class GuardedServer : public httplib::Server {
 public:
  // Plain HTTP.
  GuardedServer();
  // HTTPS: `setup` configures a fresh TLS context; is_valid() is false when
  // it returns false.
  explicit GuardedServer(const std::function<bool(SSL_CTX&)>& setup);
  ~GuardedServer() override;
  GuardedServer(const GuardedServer&) = delete;
  GuardedServer& operator=(const GuardedServer&) = delete;

  bool is_valid() const override { return valid_; }

  // Threads, limits and timeouts of the connections. Set before listening;
  // httplib's read and write timeouts are not used.
  void set_front_options(const FrontOptions& options) { options_ = options; }

  // Lets the kernel queue `backlog` connections not yet accepted; httplib
  // 0.11 listens with 5, beyond which clients' SYNs are dropped and their
  // connects retried seconds later. Call after binding.
  void SetListenBacklog(int backlog);

  // The front's connections while listening; zeros otherwise.
  ConnectionStats Connections() const;

 private:
  class FrontQueue;

  // Called by httplib's accept loop for each accepted socket: hands it to
  // the front and returns at once.
  bool process_and_close_socket(socket_t sock) override;
  bool Serve(httplib::Stream& stream, bool close_connection, bool& connection_closed, SSL* ssl);

  SSL_CTX* tls_ = nullptr;
  bool valid_ = true;
  FrontOptions options_;
  std::atomic<ConnectionFront*> front_{nullptr};  // owned by the task queue httplib made while listening
};

}  // namespace promsqlite_server

#endif  // PROMSQLITE_SERVER_GUARDED_SERVER_H_
