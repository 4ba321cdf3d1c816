#include "guarded_server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <memory>

namespace promsqlite_server {

// httplib's accept loop hands each accepted socket to its task queue and
// calls shutdown() once it stops accepting. This one runs the task at once
// (the socket goes to the front) and owns the front while listening.
class GuardedServer::FrontQueue : public httplib::TaskQueue {
 public:
  explicit FrontQueue(GuardedServer& server)
      : server_(server),
        front_(server.options_, server.tls_,
               [&server](httplib::Stream& stream, bool close_connection, bool& connection_closed, SSL* ssl) {
                 return server.Serve(stream, close_connection, connection_closed, ssl);
               }) {
    server_.front_ = &front_;
  }
  ~FrontQueue() override {
    front_.Shutdown();
    server_.front_ = nullptr;
  }

  void enqueue(std::function<void()> fn) override { fn(); }
  void shutdown() override { front_.Shutdown(); }

 private:
  GuardedServer& server_;
  ConnectionFront front_;
};

GuardedServer::GuardedServer() {
  new_task_queue = [this] { return new FrontQueue(*this); };
}

GuardedServer::GuardedServer(const std::function<bool(SSL_CTX&)>& setup) : GuardedServer() {
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
  if (ConnectionFront* front = front_.load()) {
    front->Adopt(sock);
  } else {
    close(sock);
  }
  return true;
}

ConnectionStats GuardedServer::Connections() const {
  ConnectionFront* front = front_.load();
  return front ? front->Stats() : ConnectionStats{};
}

bool GuardedServer::Serve(httplib::Stream& stream, bool close_connection, bool& connection_closed, SSL* ssl) {
  return process_request(stream, close_connection, connection_closed, [ssl](httplib::Request& req) { req.ssl = ssl; });
}

}  // namespace promsqlite_server
