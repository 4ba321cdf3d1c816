#include "options.h"

#include <cerrno>
#include <cstdlib>
#include <string_view>

namespace promsqlite_server {

namespace {

bool ParseInt(const std::string& text, long min, long max, long* value) {
  if (text.empty() || text.size() > 9) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  long v = std::strtol(text.c_str(), nullptr, 10);
  if (v < min || v > max) return false;
  *value = v;
  return true;
}

}  // namespace

bool ParseListenAddress(const std::string& address, std::string* host, int* port,
                        std::string* error) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos) {
    *error = "listen address \"" + address + "\" is not HOST:PORT";
    return false;
  }
  std::string h = address.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') {
    h = h.substr(1, h.size() - 2);
  } else if (h.find(':') != std::string::npos) {
    *error = "listen address \"" + address + "\": put an IPv6 host in brackets, [::1]:PORT";
    return false;
  }
  if (h.empty()) h = "0.0.0.0";
  long p = 0;
  if (!ParseInt(address.substr(colon + 1), 0, 65535, &p)) {
    *error = "listen address \"" + address + "\": port must be a number from 0 to 65535";
    return false;
  }
  *host = h;
  *port = static_cast<int>(p);
  return true;
}

ParseResult ParseFlags(int argc, char** argv, ServerOptions* options, std::string* error) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") return ParseResult::kHelp;
    if (arg == "--version") return ParseResult::kVersion;
    if (arg.rfind("--", 0) != 0) {
      *error = "unexpected argument \"" + arg + "\" (see --help)";
      return ParseResult::kUsageError;
    }
    std::string name = arg;
    std::string value;
    size_t eq = arg.find('=');
    if (eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    } else {
      bool known = name == "--db" || name == "--listen" || name == "--web.listen-address" ||
                   name == "--web.config.file" || name == "--web.max-requests" ||
                   name == "--log.level" || name == "--housekeeping.interval";
      if (!known) {
        *error = "unknown flag " + name + " (see --help)";
        return ParseResult::kUsageError;
      }
      if (i + 1 >= argc) {
        *error = "flag " + name + " needs a value";
        return ParseResult::kUsageError;
      }
      value = argv[++i];
    }

    if (name == "--db") {
      if (value.empty()) {
        *error = "--db needs a file name";
        return ParseResult::kUsageError;
      }
      options->db_path = value;
    } else if (name == "--listen" || name == "--web.listen-address") {
      if (!ParseListenAddress(value, &options->listen_host, &options->listen_port, error))
        return ParseResult::kUsageError;
    } else if (name == "--web.config.file") {
      options->web_config_file = value;
    } else if (name == "--web.max-requests") {
      long n = 0;
      if (!ParseInt(value, 1, 1024, &n)) {
        *error = "--web.max-requests must be a number from 1 to 1024";
        return ParseResult::kUsageError;
      }
      options->max_requests = static_cast<int>(n);
    } else if (name == "--housekeeping.interval") {
      long n = 0;
      if (!ParseInt(value, 0, 86400, &n)) {
        *error = "--housekeeping.interval must be a number of seconds from 0 to 86400";
        return ParseResult::kUsageError;
      }
      options->housekeeping_interval_s = static_cast<int>(n);
    } else if (name == "--log.level") {
      if (!ParseLogLevel(value, &options->log_level)) {
        *error = "--log.level must be debug, info, warn or error, not \"" + value + "\"";
        return ParseResult::kUsageError;
      }
    } else {
      *error = "unknown flag " + name + " (see --help)";
      return ParseResult::kUsageError;
    }
  }
  if (options->db_path.empty()) {
    *error = "missing --db FILE (see --help)";
    return ParseResult::kUsageError;
  }
  return ParseResult::kRun;
}

std::string Usage() {
  return "Usage: promsqlite-server --db FILE [flags]\n"
         "\n"
         "Serves every metric in a promsqlite file on /metrics, in the Prometheus\n"
         "text format or OpenMetrics, as Prometheus exporters do. The file is opened\n"
         "read-only; a file that does not exist yet is served as empty.\n"
         "\n"
         "Flags:\n"
         "  --db FILE                    the promsqlite file to serve (required)\n"
         "  --listen HOST:PORT           address to listen on; also spelled\n"
         "  --web.listen-address HOST:PORT\n"
         "                               \":PORT\" listens on all IPv4 interfaces,\n"
         "                               \"[::]:PORT\" on IPv6 (default 127.0.0.1:9186)\n"
         "  --web.config.file FILE       TLS and basic auth, in the Prometheus\n"
         "                               exporter-toolkit web config format\n"
         "  --web.max-requests N         requests served at once (default 16)\n"
         "  --housekeeping.interval S    seconds between housekeeping passes: expired series\n"
         "                               (TTL) and dead processes' live gauges are deleted\n"
         "                               (default 60; 0 disables)\n"
         "  --log.level LEVEL            debug, info, warn or error (default info);\n"
         "                               debug logs every request\n"
         "  --help                       show this help\n"
         "  --version                    show versions\n"
         "\n"
         "Endpoints: /metrics, / (landing page), /-/healthy, /-/ready.\n"
         "Exit status: 0 after SIGTERM/SIGINT, --help or --version; 1 when the server\n"
         "cannot start (web config, TLS files, address in use); 2 on bad flags.\n";
}

}  // namespace promsqlite_server
