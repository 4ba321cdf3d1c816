// The connection front of promsqlite-server. One event thread (epoll) owns
// every connection while it waits on its client: for the TLS handshake,
// for a request's bytes, between requests, and for the client to take what
// is left of a response. A render thread gets a connection only once a
// whole request is buffered, serves it without waiting for the client, and
// gives it back. (httplib 0.11 serves a connection on one thread from
// accept to close: a client sending its request a byte at a time, or
// reading its response a byte at a time, held a thread, and 60 of them
// kept every scrape waiting.)
//
// What one client can cost (FrontOptions; docs/server.md):
//  - time: a request (its line, headers and body; over TLS the handshake
//    before it) must arrive within request_timeout of its first byte, as
//    Go's ReadHeaderTimeout; a connection waits idle_timeout at most for a
//    request to begin; a response not taken for write_timeout is dropped.
//  - connections: at most max_connections in all and
//    max_connections_per_address from one address. A connection beyond
//    either limit is taken in by closing another from that address (for
//    the total: from the address that holds the most): the one waiting
//    longest for its request, else the one whose response has been in
//    flight longest. Requests already complete are never closed for it;
//    when only those are left, the new connection is closed at once. Each
//    limit logs when first hit, then once a minute at most.
//  - memory: a request buffers max_request_bytes at most, all requests
//    request_budget; a response that the client does not take at once
//    waits in memory, up to parked_per_connection per connection and
//    parked_budget in all (beyond it, the responses waiting longest are
//    dropped). A response larger than its share makes its render thread
//    wait for the client, while the client takes bytes at least every 2 s:
//    up to write_timeout in all for half the render threads (at least one),
//    1 s for the others; then the response is cut off.
//
// Thread safety: Adopt() and Shutdown() may be called from any thread;
// requests are served on the render threads, a connection on one thread at
// a time.
#ifndef PROMSQLITE_SERVER_CONNECTION_FRONT_H_
#define PROMSQLITE_SERVER_CONNECTION_FRONT_H_

#include <httplib.h>
#include <openssl/ssl.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

namespace promsqlite_server {

struct FrontOptions {
  // Threads that serve (render) requests (--web.max-requests). Default: 16.
  size_t render_threads = 16;
  // Open connections in all (--web.max-connections). Default: 1024.
  size_t max_connections = 1024;
  // Open connections from one client address (--web.max-connections-per-
  // address). Default: 256.
  size_t max_connections_per_address = 256;
  // A request's line, headers and body, from its first byte; for a new TLS
  // connection, also the handshake, from accept (--web.read-header-timeout).
  // Default: 10 s.
  std::chrono::milliseconds request_timeout{10000};
  // How long a connection may wait for a request to begin. Default: 5 s.
  std::chrono::milliseconds idle_timeout{5000};
  // How long a response may go without the client taking a byte. Default: 10 s.
  std::chrono::milliseconds write_timeout{10000};
  // Requests served on one connection before it closes. Default: 100.
  size_t max_requests_per_connection = 100;
  // Bytes one request may take: its line (8 KiB), headers (the handlers
  // answer 431 above 64 KiB) and body (64 KiB), with room. Default: 160 KiB.
  size_t max_request_bytes = 160 * 1024;
  // Largest body httplib reads (set_payload_max_length). Default: 64 KiB.
  size_t max_body_bytes = 64 * 1024;
  // Request bytes buffered over all connections. Default: 16 MiB.
  size_t request_budget = 16 << 20;
  // Response bytes waiting for one client, and for all. Default: 4, 16 MiB.
  size_t parked_per_connection = 4 << 20;
  size_t parked_budget = 16 << 20;
};

// What the front holds and has closed, for the server's own metrics.
struct ConnectionStats {
  size_t open = 0;                  // connections
  size_t response_bytes_waiting = 0;  // response bytes waiting for their clients
  // Connections the server closed: beyond max_connections_per_address or
  // max_connections, for the request or response memory budget, responses
  // cut off because their client was too slow, and waits that timed out.
  uint64_t closed_per_address_limit = 0;
  uint64_t closed_total_limit = 0;
  uint64_t closed_request_memory = 0;
  uint64_t closed_response_memory = 0;
  uint64_t closed_slow_response = 0;
  uint64_t closed_timeout = 0;
};

class ConnectionFront {
 public:
  // Serves one buffered request from `stream` and writes its response to it
  // (httplib's Server::process_request); false when the connection must end.
  using ServeRequest =
      std::function<bool(httplib::Stream& stream, bool close_connection, bool& connection_closed, SSL* ssl)>;

  // `tls` (may be null: plain HTTP) must outlive the front. Starts the event
  // thread and the render threads.
  ConnectionFront(const FrontOptions& options, SSL_CTX* tls, ServeRequest serve);
  ~ConnectionFront();  // Shutdown()
  ConnectionFront(const ConnectionFront&) = delete;
  ConnectionFront& operator=(const ConnectionFront&) = delete;

  // Takes an accepted socket; returns at once.
  void Adopt(int fd);

  // Closes the connections that wait for a request (and those adopted
  // later), lets requests being served finish and their responses be taken
  // (each within write_timeout), then stops the threads.
  void Shutdown();

  ConnectionStats Stats() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace promsqlite_server

#endif  // PROMSQLITE_SERVER_CONNECTION_FRONT_H_
