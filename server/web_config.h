// The Prometheus exporter-toolkit web config file (--web.config.file):
//
//   tls_server_config:
//     cert_file: server.crt          # relative paths: to the config's folder
//     key_file: server.key
//     client_ca_file: ca.crt         # optional
//     client_auth_type: RequireAndVerifyClientCert   # optional
//     min_version: TLS12             # optional, default TLS12
//   basic_auth_users:
//     alice: $2y$10$...              # bcrypt hashes only
//
// Read once at startup. Keys the toolkit knows but this server does not
// implement are refused rather than ignored: a security setting that is
// silently dropped is worse than a server that does not start.
#ifndef PROMSQLITE_SERVER_WEB_CONFIG_H_
#define PROMSQLITE_SERVER_WEB_CONFIG_H_

#include <map>
#include <stdexcept>
#include <string>

namespace promsqlite_server {

struct TlsConfig {
  bool enabled = false;
  std::string cert_file;
  std::string key_file;
  std::string client_ca_file;                        // "" for none
  std::string client_auth_type = "NoClientCert";     // or VerifyClientCertIfGiven,
                                                     // RequireAndVerifyClientCert
  std::string min_version = "TLS12";                 // TLS10..TLS13
  std::string max_version;                           // "" for the newest
};

struct WebConfig {
  TlsConfig tls;
  std::map<std::string, std::string> basic_auth_users;  // user -> bcrypt hash
};

// A config file that cannot be used; the message names the file and the key.
class WebConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Reads and checks `path`. Throws WebConfigError.
WebConfig LoadWebConfig(const std::string& path);

}  // namespace promsqlite_server

#endif  // PROMSQLITE_SERVER_WEB_CONFIG_H_
