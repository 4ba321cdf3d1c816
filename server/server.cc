#include "server.h"

#include <httplib.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <thread>

#include "basic_auth.h"
#include "guarded_server.h"
#include "handlers.h"
#include "housekeeper.h"
#include "log.h"
#include "promsqlite/errors.h"
#include "promsqlite/reader.h"
#include "promsqlite/version.h"
#include "reader_pool.h"
#include "remote_write_agent.h"
#include "self_metrics.h"
#include "tls.h"
#include "web_config.h"

namespace promsqlite_server {

namespace {

constexpr size_t kMaxRequestBodyBytes = 64 * 1024;  // nothing we serve takes a body

std::string HostPort(const std::string& host, int port) {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

// Waits for SIGTERM/SIGINT on its own thread (the signals are blocked in
// every other thread) and stops the server from there, where stopping is
// allowed, unlike in a signal handler.
class SignalWatcher {
 public:
  SignalWatcher(httplib::Server* server, sigset_t signals)
      : server_(server), signals_(signals), thread_([this] { Watch(); }) {}
  ~SignalWatcher() {
    done_ = true;
    thread_.join();
  }

 private:
  void Watch() {
    bool stopping = false;
    while (!done_) {
      timespec timeout = {0, 100 * 1000 * 1000};
      int sig = sigtimedwait(&signals_, nullptr, &timeout);
      if (sig > 0 && !stopping) {
        stopping = true;
        Log(LogLevel::kInfo, "shutting down", {{"signal", strsignal(sig)}});
      }
      // Repeated: a signal that lands between bind and listen would find
      // the server not yet running, and stop() would do nothing.
      if (stopping) server_->stop();
    }
  }

  httplib::Server* server_;
  sigset_t signals_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

// Raises the open-file limit to the hard limit (a connection is a file
// descriptor) and returns how many connections it leaves room for, beside
// the files the readers, the log and the listening socket use.
size_t ConnectionsTheFileLimitAllows(int max_requests) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return SIZE_MAX;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  if (limit.rlim_cur == RLIM_INFINITY) return SIZE_MAX;
  // Each pooled reader holds the database, its WAL, its shared memory and
  // the write gate's sidecar; 64 more for everything else.
  const rlim_t reserved = 64 + 4 * static_cast<rlim_t>(max_requests);
  return limit.rlim_cur > reserved ? static_cast<size_t>(limit.rlim_cur - reserved) : 1;
}

}  // namespace

int RunServer(const ServerOptions& options) {
  // A path that can never hold the file (a directory, in a folder that does
  // not exist or is a file) is a startup error: a server that starts and
  // answers 500 forever looks healthy to systemd. A missing file is fine.
  try {
    promsqlite::Reader(options.db_path).CheckPath();
  } catch (const promsqlite::Error& e) {
    Log(LogLevel::kError, "cannot serve this --db path", {{"err", e.what()}});
    return 1;
  }

  WebConfig web;
  if (!options.web_config_file.empty()) {
    try {
      web = LoadWebConfig(options.web_config_file);
    } catch (const WebConfigError& e) {
      Log(LogLevel::kError, "cannot use the web config file", {{"err", e.what()}});
      return 1;
    }
  }

  // Block the shutdown signals before any thread starts, so that every
  // thread inherits the mask and only the watcher receives them. A peer
  // that closes its socket must not kill us with SIGPIPE either.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  std::unique_ptr<GuardedServer> server;
  if (web.tls.enabled) {
    std::string tls_error;
    auto tls_server = std::make_unique<GuardedServer>(
        [&](SSL_CTX& ctx) { return ConfigureTls(ctx, web.tls, &tls_error); });
    if (!tls_server->is_valid()) {
      Log(LogLevel::kError, "cannot set up TLS",
          {{"err", options.web_config_file + ": " + (tls_error.empty() ? "cannot create the TLS context" : tls_error)}});
      return 1;
    }
    server = std::move(tls_server);
  } else {
    server = std::make_unique<GuardedServer>();
  }

  ReaderPool readers(options.db_path, options.max_requests);
  SelfMetrics metrics;
  BasicAuth auth(web.basic_auth_users);
  ServerContext context{&readers, &metrics, &auth};
  InstallHandlers(*server, &context);

  FrontOptions front;
  front.render_threads = static_cast<size_t>(options.max_requests);
  front.max_connections = static_cast<size_t>(options.max_connections);
  front.max_connections_per_address = static_cast<size_t>(options.max_connections_per_address);
  front.request_timeout = std::chrono::milliseconds(static_cast<long long>(options.read_header_timeout_s * 1000));
  front.idle_timeout = std::chrono::seconds(options.idle_timeout_s);
  front.write_timeout = std::chrono::seconds(options.write_timeout_s);
  front.max_requests_per_connection = 100;
  front.max_body_bytes = kMaxRequestBodyBytes;
  const size_t allowed = ConnectionsTheFileLimitAllows(options.max_requests);
  if (front.max_connections > allowed) {
    Log(LogLevel::kWarn, "the open-file limit allows fewer connections than --web.max-connections; using fewer "
        "(raise the hard limit, e.g. LimitNOFILE= in the systemd unit)",
        {{"max_connections", std::to_string(allowed)},
         {"requested", std::to_string(front.max_connections)}});
    front.max_connections = allowed;
  }
  server->set_front_options(front);
  metrics.SetConnectionStats([guarded = server.get()] { return guarded->Connections(); });
  // Only for the Keep-Alive header httplib writes: the front enforces them.
  server->set_keep_alive_timeout(options.idle_timeout_s);
  server->set_keep_alive_max_count(front.max_requests_per_connection);
  server->set_payload_max_length(kMaxRequestBodyBytes);
  // httplib's default sets SO_REUSEPORT, which lets a second instance bind
  // the same port and silently take half the scrapes. SO_REUSEADDR alone
  // still allows a quick restart over TIME_WAIT connections.
  server->set_socket_options([](int sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });

  int port = options.listen_port;
  errno = 0;
  bool bound = port == 0 ? (port = server->bind_to_any_port(options.listen_host)) > 0
                         : server->bind_to_port(options.listen_host.c_str(), port);
  if (!bound) {
    std::string why = errno ? std::strerror(errno) : "address not available";
    Log(LogLevel::kError, "cannot listen",
        {{"address", HostPort(options.listen_host, options.listen_port)}, {"err", why}});
    return 1;
  }
  server->SetListenBacklog(SOMAXCONN);

  // Say early, once, when the file cannot be served; scrapes then answer
  // 500 with the same message until it is fixed.
  try {
    promsqlite::FileStats stats = readers.Acquire()->Stats();
    std::string folder = std::filesystem::path(options.db_path).parent_path().string();
    if (!stats.exists && !folder.empty() && !std::filesystem::exists(folder))
      Log(LogLevel::kWarn,
          "the promsqlite file's folder does not exist yet; serving an empty exposition until it is created "
          "(mkdir -p FOLDER) and a writer creates the file",
          {{"db", options.db_path}, {"folder", folder}});
    else if (!stats.exists)
      Log(LogLevel::kInfo, "the promsqlite file does not exist yet; serving an empty exposition until a writer creates it",
          {{"db", options.db_path}});
  } catch (const std::exception& e) {
    Log(LogLevel::kError, "cannot read the promsqlite file; /metrics answers 500 until it is fixed",
        {{"err", e.what()}});
  }

  Log(LogLevel::kInfo, "listening",
      {{"address", HostPort(options.listen_host, port)}, {"tls", web.tls.enabled ? "true" : "false"},
       {"basic_auth", auth.enabled() ? "true" : "false"}, {"db", options.db_path},
       {"version", promsqlite::Version()}, {"sqlite_version", promsqlite::SqliteVersion()}});
  bool listened = false;
  {
    Housekeeper housekeeper(options.db_path, options.housekeeping_interval_s);
    RemoteWriteAgent remote_write(options, &metrics);
    SignalWatcher watcher(server.get(), signals);
    // Returns once stopped and every in-flight request has been answered;
    // false when accepting failed instead.
    listened = server->listen_after_bind();
  }
  if (!listened) {
    Log(LogLevel::kError, "stopped: accepting connections failed", {{"err", std::strerror(errno)}});
    return 1;
  }
  Log(LogLevel::kInfo, "stopped");
  return 0;
}

}  // namespace promsqlite_server
