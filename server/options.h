// Command-line flags of promsqlite-server, named as Prometheus exporters
// name theirs (--web.listen-address, --web.config.file, --log.level).
#ifndef PROMSQLITE_SERVER_OPTIONS_H_
#define PROMSQLITE_SERVER_OPTIONS_H_

#include <string>
#include <utility>
#include <vector>

#include "log.h"
#include "promsqlite/push.h"

namespace promsqlite_server {

// The port in the default listen address; registered for no other exporter
// in Prometheus' default-port allocations wiki page at the time of writing.
constexpr int kDefaultPort = 9186;

struct ServerOptions {
  // The promsqlite file to serve (--db). Required.
  std::string db_path;

  // Where to listen (--listen or --web.listen-address HOST:PORT, "[V6]:PORT",
  // or ":PORT" for all IPv4 interfaces). Port 0 picks a free port and logs
  // it. Default: 127.0.0.1:9186.
  std::string listen_host = "127.0.0.1";
  int listen_port = kDefaultPort;

  // Prometheus exporter-toolkit web config: TLS and basic auth
  // (--web.config.file). Default: empty, plain HTTP without auth.
  std::string web_config_file;

  // Requests handled at once (--web.max-requests); more connections wait in
  // a queue of the same length, then in the kernel's backlog. Default: 16.
  int max_requests = 16;

  // Open connections in all (--web.max-connections) and from one client
  // address (--web.max-connections-per-address). A connection beyond either
  // closes one from that address (for the total: from the address holding
  // the most) that waits for its request, else one whose response waits for
  // its client; complete requests are served (docs/server.md). At start the
  // server raises its open-file limit to the hard limit, and uses a lower
  // max_connections when that limit allows no more. Default: 1024, 256.
  int max_connections = 1024;
  int max_connections_per_address = 256;

  // Seconds a client may take to send a request (line, headers, body), from
  // its first byte; over TLS, also the handshake, from the connect, as Go's
  // ReadHeaderTimeout (--web.read-header-timeout). Default: 10.
  double read_header_timeout_s = 10;
  // Seconds a response may go without the client taking a byte, and a
  // connection may wait for a request to begin. Default: 10, 5 (fixed).
  int write_timeout_s = 10;
  int idle_timeout_s = 5;

  // Seconds between housekeeping passes on the file (TTL expiry, dead
  // processes' live-mode gauges; promsqlite::Registry::Housekeep), made
  // through the library's writer path; 0 disables them
  // (--housekeeping.interval). Default: 60.
  int housekeeping_interval_s = 60;

  // The remote-write agent, for hosts nobody can scrape: while serving, send
  // the whole file to remote_write.url (e.g.
  // http://prometheus:9090/api/v1/write) every remote_write_interval_s. The
  // --remote-write.* flags fill these fields (url, extra_labels,
  // timeout_seconds, retries, basic auth, bearer_token read from its file,
  // ca_file, send_native_histograms), with the library's defaults; url ""
  // (the default): off.
  promsqlite::RemoteWriteOptions remote_write;
  // --remote-write.interval, e.g. 15s, 1m, 500ms. Default: 15.
  double remote_write_interval_s = 15;

  // --log.level. Default: info (problems and startup only).
  LogLevel log_level = LogLevel::kInfo;
};

enum class ParseResult {
  kRun,         // options are complete
  kHelp,        // --help: print Usage() to stdout, exit 0
  kVersion,     // --version: print the version, exit 0
  kUsageError,  // *error says why; exit 2
};

// Accepts "--flag value" and "--flag=value".
ParseResult ParseFlags(int argc, char** argv, ServerOptions* options, std::string* error);

// Splits HOST:PORT as described for ServerOptions::listen_host. A bare
// PORT is refused; *error then suggests ":PORT" and "127.0.0.1:PORT".
bool ParseListenAddress(const std::string& address, std::string* host, int* port,
                        std::string* error);

// The --help text.
std::string Usage();

}  // namespace promsqlite_server

#endif  // PROMSQLITE_SERVER_OPTIONS_H_
