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

// "15s", "1m", "500ms", "1h" or plain seconds; > 0.
bool ParseDuration(const std::string& text, double* seconds) {
  size_t digits = 0;
  while (digits < text.size() && ((text[digits] >= '0' && text[digits] <= '9') || text[digits] == '.')) ++digits;
  if (digits == 0 || digits > 12) return false;
  char* end = nullptr;
  std::string number = text.substr(0, digits);
  double value = std::strtod(number.c_str(), &end);
  if (end != number.c_str() + number.size()) return false;
  std::string unit = text.substr(digits);
  double scale = unit.empty() || unit == "s" ? 1 : unit == "ms" ? 0.001 : unit == "m" ? 60 : unit == "h" ? 3600 : 0;
  if (scale == 0 || !(value * scale > 0) || value * scale > 86400) return false;
  *seconds = value * scale;
  return true;
}

// A secret from the file given by `flag` (promsqlite::ReadSecretFile:
// trailing newlines stripped, as Prometheus reads password_file).
std::string ReadSecret(const std::string& flag, const std::string& path, std::string* error) {
#ifdef PROMSQLITE_HAVE_PUSH
  try {
    return promsqlite::ReadSecretFile(path);
  } catch (const promsqlite::InvalidArgument& e) {
    *error = flag + ": " + e.what();
    return "";
  }
#else
  (void)path;
  *error = flag + ": this promsqlite-server was built without push support";
  return "";
#endif
}

bool IsRemoteWriteFlag(const std::string& name) {
  return name == "--remote-write.url" || name == "--remote-write.interval" || name == "--remote-write.label" ||
         name == "--remote-write.timeout" || name == "--remote-write.retries" ||
         name == "--remote-write.basic-auth" || name == "--remote-write.basic-auth-user" ||
         name == "--remote-write.basic-auth-password-file" || name == "--remote-write.bearer-token-file" ||
         name == "--remote-write.ca-file" || name == "--remote-write.send-native-histograms";
}

// An unknown flag; one that other servers use for the port points at ours.
std::string UnknownFlag(const std::string& name, const std::string& value) {
  if (name != "--port") return "unknown flag " + name + " (see --help)";
  long port = 0;
  std::string example = ParseInt(value, 0, 65535, &port) ? value : std::to_string(kDefaultPort);
  return "unknown flag --port: the server listens where --web.listen-address (or --listen) says, e.g. "
         "--web.listen-address=:" + example + " (see --help)";
}

}  // namespace

bool ParseListenAddress(const std::string& address, std::string* host, int* port,
                        std::string* error) {
  size_t colon = address.rfind(':');
  long bare = 0;
  if (colon == std::string::npos && ParseInt(address, 0, 65535, &bare)) {
    // A port alone is not taken as one: which interfaces to listen on is
    // for the user to say, and exporters spell "all of them" ":PORT".
    *error = "listen address \"" + address + "\" is a port without a host: write \":" + address +
             "\" (all IPv4 interfaces) or \"127.0.0.1:" + address + "\" (this host only)";
    return false;
  }
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
  bool inline_auth = false, file_auth_user = false, file_auth_password = false;
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
    } else if (name == "--remote-write.send-native-histograms") {
      value = "true";  // a switch, as Prometheus' boolean flags
    } else {
      bool known = name == "--db" || name == "--listen" || name == "--web.listen-address" ||
                   name == "--web.config.file" || name == "--web.max-requests" ||
                   name == "--web.max-connections" || name == "--web.max-connections-per-address" ||
                   name == "--web.read-header-timeout" ||
                   name == "--log.level" || name == "--housekeeping.interval" || IsRemoteWriteFlag(name);
      if (!known) {
        *error = UnknownFlag(name, i + 1 < argc ? argv[i + 1] : "");
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
    } else if (name == "--web.max-connections" || name == "--web.max-connections-per-address") {
      long n = 0;
      if (!ParseInt(value, 1, 1000000, &n)) {
        *error = name + " must be a number from 1 to 1000000";
        return ParseResult::kUsageError;
      }
      (name == "--web.max-connections" ? options->max_connections : options->max_connections_per_address) =
          static_cast<int>(n);
    } else if (name == "--web.read-header-timeout") {
      if (!ParseDuration(value, &options->read_header_timeout_s) || options->read_header_timeout_s > 3600) {
        *error = "--web.read-header-timeout must be a duration such as 10s or 500ms, up to 1h, not \"" + value + "\"";
        return ParseResult::kUsageError;
      }
    } else if (name == "--housekeeping.interval") {
      long n = 0;
      if (!ParseInt(value, 0, 86400, &n)) {
        *error = "--housekeeping.interval must be a number of seconds from 0 to 86400";
        return ParseResult::kUsageError;
      }
      options->housekeeping_interval_s = static_cast<int>(n);
    } else if (name == "--remote-write.send-native-histograms") {
      if (value != "true" && value != "false") {
        *error = "--remote-write.send-native-histograms takes no value, or =true / =false, not \"" + value + "\"";
        return ParseResult::kUsageError;
      }
      options->remote_write.send_native_histograms = value == "true";
    } else if (name == "--remote-write.url") {
      options->remote_write.url = value;
    } else if (name == "--remote-write.interval") {
      if (!ParseDuration(value, &options->remote_write_interval_s)) {
        *error = "--remote-write.interval must be a duration such as 15s, 1m or 500ms, up to 24h, not \"" + value + "\"";
        return ParseResult::kUsageError;
      }
    } else if (name == "--remote-write.label") {
      size_t sep = value.find('=');
      if (sep == std::string::npos || sep == 0) {
        *error = "--remote-write.label needs KEY=VALUE, got \"" + value + "\"";
        return ParseResult::kUsageError;
      }
      options->remote_write.extra_labels.emplace_back(value.substr(0, sep), value.substr(sep + 1));
    } else if (name == "--remote-write.timeout") {
      if (!ParseDuration(value, &options->remote_write.timeout_seconds) || options->remote_write.timeout_seconds > 3600) {
        *error = "--remote-write.timeout must be a duration up to 1h, not \"" + value + "\"";
        return ParseResult::kUsageError;
      }
    } else if (name == "--remote-write.retries") {
      long n = 0;
      if (!ParseInt(value, 0, 100, &n)) {
        *error = "--remote-write.retries must be a number from 0 to 100";
        return ParseResult::kUsageError;
      }
      options->remote_write.retries = static_cast<int>(n);
    } else if (name == "--remote-write.basic-auth") {
      size_t colon = value.find(':');
      if (colon == std::string::npos || colon == 0) {
        *error = "--remote-write.basic-auth needs USER:PASSWORD";
        return ParseResult::kUsageError;
      }
      inline_auth = true;
      options->remote_write.basic_auth_user = value.substr(0, colon);
      options->remote_write.basic_auth_password = value.substr(colon + 1);
    } else if (name == "--remote-write.basic-auth-user") {
      if (value.empty() || value.find(':') != std::string::npos) {
        *error = "--remote-write.basic-auth-user needs a user name without ':'";
        return ParseResult::kUsageError;
      }
      file_auth_user = true;
      options->remote_write.basic_auth_user = value;
    } else if (name == "--remote-write.basic-auth-password-file") {
      std::string secret_error;
      file_auth_password = true;
      options->remote_write.basic_auth_password = ReadSecret(name, value, &secret_error);
      if (!secret_error.empty()) {
        *error = secret_error;
        return ParseResult::kUsageError;
      }
    } else if (name == "--remote-write.bearer-token-file") {
      std::string token_error;
      options->remote_write.bearer_token = ReadSecret(name, value, &token_error);
      if (!token_error.empty()) {
        *error = token_error;
        return ParseResult::kUsageError;
      }
    } else if (name == "--remote-write.ca-file") {
      options->remote_write.ca_file = value;
    } else if (name == "--log.level") {
      if (!ParseLogLevel(value, &options->log_level)) {
        *error = "--log.level must be debug, info, warn or error, not \"" + value + "\"";
        return ParseResult::kUsageError;
      }
    } else {
      *error = UnknownFlag(name, value);
      return ParseResult::kUsageError;
    }
  }
  if (options->db_path.empty()) {
    *error = "missing --db FILE (see --help)";
    return ParseResult::kUsageError;
  }
  if (inline_auth && (file_auth_user || file_auth_password)) {
    *error = "give --remote-write.basic-auth or --remote-write.basic-auth-user with "
             "--remote-write.basic-auth-password-file, not both";
    return ParseResult::kUsageError;
  }
  if (file_auth_user != file_auth_password) {
    *error = "--remote-write.basic-auth-user and --remote-write.basic-auth-password-file go together";
    return ParseResult::kUsageError;
  }
  if (options->remote_write.url.empty()) {
    for (int i = 1; i < argc; ++i) {
      std::string arg = argv[i];
      if (IsRemoteWriteFlag(arg.substr(0, arg.find('=')))) {
        *error = arg.substr(0, arg.find('=')) + " needs --remote-write.url";
        return ParseResult::kUsageError;
      }
    }
  } else {
#ifndef PROMSQLITE_HAVE_PUSH
    *error = "--remote-write.url: this promsqlite-server was built without push support (protobuf, snappy or "
             "cpp-httplib missing)";
    return ParseResult::kUsageError;
#endif
    if (!options->remote_write.basic_auth_user.empty() && !options->remote_write.bearer_token.empty()) {
      *error = "give --remote-write.basic-auth or --remote-write.bearer-token-file, not both";
      return ParseResult::kUsageError;
    }
  }
  return ParseResult::kRun;
}

std::string Usage() {
  return "Usage: promsqlite-server --db FILE [flags]\n"
         "\n"
         "Serves every metric in a promsqlite file on /metrics, in the Prometheus\n"
         "text format, OpenMetrics or the protobuf format (with native histograms), as\n"
         "Prometheus exporters do. The file is opened read-only; a file that does not\n"
         "exist yet is served as empty.\n"
         "\n"
         "Flags:\n"
         "  --db FILE                    the promsqlite file to serve (required)\n"
         "  --listen HOST:PORT           address to listen on; also spelled\n"
         "  --web.listen-address HOST:PORT\n"
         "                               \":PORT\" listens on all IPv4 interfaces,\n"
         "                               \"[::]:PORT\" on IPv6 (default 127.0.0.1:9186)\n"
         "  --web.config.file FILE       TLS and basic auth, in the Prometheus\n"
         "                               exporter-toolkit web config format\n"
         "  --web.max-requests N         requests served at once (default 16); complete\n"
         "                               requests wait their turn, connections waiting on\n"
         "                               their client hold no thread\n"
         "  --web.max-connections N      open connections in all (default 1024; at most what\n"
         "                               the open-file limit allows, which the server raises\n"
         "                               to its hard limit at start)\n"
         "  --web.max-connections-per-address N\n"
         "                               open connections from one client address (default\n"
         "                               256). Beyond either limit a new connection closes\n"
         "                               one from that address (or, for the total, from the\n"
         "                               address holding the most) that has waited longest\n"
         "                               for its request, else for its client to take its\n"
         "                               response; complete requests are always served. Each\n"
         "                               limit logs a warning when hit (once a minute at most)\n"
         "  --web.read-header-timeout D  time a client has to send a whole request from its\n"
         "                               first byte, and over TLS the handshake (default 10s).\n"
         "                               Fixed: 5s for a request to begin, 10s for a response\n"
         "                               to progress\n"
         "  --housekeeping.interval S    seconds between housekeeping passes: expired series\n"
         "                               (TTL) and dead processes' live gauges are deleted\n"
         "                               (default 60; 0 disables)\n"
         "  --remote-write.url URL       also send the whole file to this remote-write 1.0\n"
         "                               receiver (e.g. http://prometheus:9090/api/v1/write)\n"
         "                               periodically, for hosts nobody can scrape\n"
         "  --remote-write.interval D    how often: 15s (default), 1m, 500ms...\n"
         "  --remote-write.label K=V     a label added to every series (repeat for more);\n"
         "                               give each host its own, e.g. instance=HOST\n"
         "  --remote-write.timeout D     per attempt (default 10s)\n"
         "  --remote-write.retries N     further attempts of a send after no answer, 429\n"
         "                               or 5xx, with exponential backoff (default 2); another\n"
         "                               4xx drops that send at once (the next interval sends\n"
         "                               the file again)\n"
         "  --remote-write.basic-auth-user USER --remote-write.basic-auth-password-file FILE\n"
         "                               basic auth, the password read from FILE\n"
         "  --remote-write.basic-auth USER:PASSWORD\n"
         "                               the same inline: unsafe, it shows in ps\n"
         "  --remote-write.bearer-token-file FILE\n"
         "  --remote-write.ca-file PEM   CA for an https receiver (default: system CAs)\n"
         "  --remote-write.send-native-histograms\n"
         "                               send native histograms as such (the receiver must\n"
         "                               accept them: Prometheus --enable-feature=\n"
         "                               native-histograms); default off, as Prometheus'\n"
         "                               send_native_histograms: classic buckets are sent,\n"
         "                               or a native-only histogram's +Inf bucket, sum, count\n"
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
