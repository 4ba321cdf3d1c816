#include "web_config.h"

#include <yaml-cpp/yaml.h>

#include <set>

#include "basic_auth.h"

namespace promsqlite_server {

namespace {

[[noreturn]] void Fail(const std::string& path, const std::string& what) {
  throw WebConfigError(path + ": " + what);
}

std::string Scalar(const std::string& path, const YAML::Node& node, const std::string& key) {
  if (!node.IsScalar()) Fail(path, key + " must be a string");
  return node.as<std::string>();
}

// exporter-toolkit resolves file names against the config file's folder.
std::string Resolve(const std::string& config_path, const std::string& file) {
  if (file.empty() || file[0] == '/') return file;
  size_t slash = config_path.rfind('/');
  if (slash == std::string::npos) return file;
  return config_path.substr(0, slash + 1) + file;
}

void CheckKeys(const std::string& path, const YAML::Node& map, const std::string& where,
               const std::set<std::string>& supported, const std::set<std::string>& unsupported) {
  for (const auto& item : map) {
    std::string key = item.first.as<std::string>();
    if (supported.count(key)) continue;
    if (unsupported.count(key))
      Fail(path, where + key + " is not supported by promsqlite-server");
    Fail(path, "unknown key " + where + key);
  }
}

TlsConfig ParseTls(const std::string& path, const YAML::Node& node) {
  TlsConfig tls;
  if (node.IsNull()) return tls;
  if (!node.IsMap()) Fail(path, "tls_server_config must be a mapping");
  CheckKeys(path, node, "tls_server_config.",
            {"cert_file", "key_file", "client_ca_file", "client_auth_type", "min_version",
             "max_version"},
            {"cert", "key", "cipher_suites", "curve_preferences", "prefer_server_cipher_suites",
             "client_allowed_sans"});
  for (const auto& item : node) {
    std::string key = item.first.as<std::string>();
    std::string value = item.second.IsNull() ? "" : Scalar(path, item.second, key);
    if (key == "cert_file") tls.cert_file = Resolve(path, value);
    if (key == "key_file") tls.key_file = Resolve(path, value);
    if (key == "client_ca_file") tls.client_ca_file = Resolve(path, value);
    if (key == "client_auth_type" && !value.empty()) tls.client_auth_type = value;
    if (key == "min_version" && !value.empty()) tls.min_version = value;
    if (key == "max_version") tls.max_version = value;
  }
  if (tls.cert_file.empty() && tls.key_file.empty()) {
    if (!tls.client_ca_file.empty()) Fail(path, "tls_server_config has client_ca_file but no cert_file");
    return tls;
  }
  if (tls.cert_file.empty()) Fail(path, "tls_server_config.cert_file is missing");
  if (tls.key_file.empty()) Fail(path, "tls_server_config.key_file is missing");
  tls.enabled = true;
  const std::set<std::string> auth_types = {"NoClientCert", "VerifyClientCertIfGiven",
                                            "RequireAndVerifyClientCert"};
  if (!auth_types.count(tls.client_auth_type))
    Fail(path, "tls_server_config.client_auth_type \"" + tls.client_auth_type +
                   "\" is not one of NoClientCert, VerifyClientCertIfGiven, "
                   "RequireAndVerifyClientCert");
  if (tls.client_auth_type != "NoClientCert" && tls.client_ca_file.empty())
    Fail(path, "client_auth_type " + tls.client_auth_type + " needs tls_server_config.client_ca_file");
  const std::set<std::string> versions = {"TLS10", "TLS11", "TLS12", "TLS13"};
  if (!versions.count(tls.min_version))
    Fail(path, "tls_server_config.min_version must be TLS10, TLS11, TLS12 or TLS13");
  if (!tls.max_version.empty() && !versions.count(tls.max_version))
    Fail(path, "tls_server_config.max_version must be TLS10, TLS11, TLS12 or TLS13");
  return tls;
}

}  // namespace

WebConfig LoadWebConfig(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    Fail(path, "cannot read the file");
  } catch (const YAML::Exception& e) {
    Fail(path, "not valid YAML: " + e.msg + " (line " + std::to_string(e.mark.line + 1) + ")");
  }
  WebConfig config;
  if (root.IsNull()) return config;  // an empty file: plain HTTP, no auth
  if (!root.IsMap()) Fail(path, "the top level must be a mapping");
  CheckKeys(path, root, "", {"tls_server_config", "basic_auth_users"}, {"http_server_config"});
  if (root["tls_server_config"]) config.tls = ParseTls(path, root["tls_server_config"]);
  YAML::Node users = root["basic_auth_users"];
  if (users && !users.IsNull()) {
    if (!users.IsMap()) Fail(path, "basic_auth_users must be a mapping of user to bcrypt hash");
    for (const auto& item : users) {
      std::string user = item.first.as<std::string>();
      std::string hash = item.second.IsNull() ? "" : Scalar(path, item.second, "basic_auth_users." + user);
      if (user.empty() || user.find(':') != std::string::npos)
        Fail(path, "basic_auth_users: user name \"" + user + "\" is empty or has a ':'");
      std::string why;
      if (!IsUsableBcryptHash(hash, &why))
        Fail(path, "basic_auth_users." + user + ": " + why);
      config.basic_auth_users[user] = hash;
    }
  }
  return config;
}

}  // namespace promsqlite_server
