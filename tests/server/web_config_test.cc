// The web config file and basic auth, tested as plain functions.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <fstream>

#include "basic_auth.h"
#include "test_helper.h"
#include "web_config.h"

using promsqlite_server::BasicAuth;
using promsqlite_server::LoadWebConfig;
using promsqlite_server::WebConfigError;
using server_test::TempDir;

namespace {

std::string WriteConfig(const TempDir& dir, const std::string& yaml) {
  std::string path = dir.File("web.yml");
  std::ofstream(path) << yaml;
  return path;
}

// The message LoadWebConfig throws, or "" when it accepts the file.
std::string ErrorOf(const std::string& path) {
  try {
    LoadWebConfig(path);
  } catch (const WebConfigError& e) {
    return e.what();
  }
  return "";
}

std::string Basic(const std::string& credentials) {
  static const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < credentials.size(); i += 3) {
    unsigned n = (unsigned char)credentials[i] << 16 | (unsigned char)credentials[i + 1] << 8 |
                 (unsigned char)credentials[i + 2];
    for (int s = 18; s >= 0; s -= 6) out += table[(n >> s) & 63];
  }
  if (i + 1 == credentials.size()) {
    unsigned n = (unsigned char)credentials[i] << 16;
    out += table[(n >> 18) & 63];
    out += table[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == credentials.size()) {
    unsigned n = (unsigned char)credentials[i] << 16 | (unsigned char)credentials[i + 1] << 8;
    out += table[(n >> 18) & 63];
    out += table[(n >> 12) & 63];
    out += table[(n >> 6) & 63];
    out += '=';
  }
  return "Basic " + out;
}

}  // namespace

TEST_CASE("a complete web config is read, with paths relative to its folder") {
  TempDir dir;
  std::string hash = server_test::BcryptHash("secret");
  auto config = LoadWebConfig(WriteConfig(dir,
      "tls_server_config:\n  cert_file: server.crt\n  key_file: /abs/server.key\n"
      "  client_ca_file: ca.crt\n  client_auth_type: RequireAndVerifyClientCert\n"
      "  min_version: TLS13\nbasic_auth_users:\n  alice: '" + hash + "'\n"));
  CHECK(config.tls.enabled);
  CHECK(config.tls.cert_file == dir.File("server.crt"));
  CHECK(config.tls.key_file == "/abs/server.key");
  CHECK(config.tls.client_ca_file == dir.File("ca.crt"));
  CHECK(config.tls.min_version == "TLS13");
  CHECK(config.basic_auth_users.at("alice") == hash);
}

TEST_CASE("an empty web config means plain HTTP without auth") {
  TempDir dir;
  auto config = LoadWebConfig(WriteConfig(dir, ""));
  CHECK_FALSE(config.tls.enabled);
  CHECK(config.basic_auth_users.empty());
}

TEST_CASE("bad web configs are refused with a message naming the file and the key") {
  TempDir dir;
  struct Row {
    std::string yaml;
    std::string message;
  } table[] = {
      {"tls_server_config: [\n", "not valid YAML"},
      {"- a\n- b\n", "top level must be a mapping"},
      {"tls_server_confg: {}\n", "unknown key tls_server_confg"},
      {"http_server_config: {http2: false}\n", "http_server_config is not supported"},
      {"tls_server_config: {cert_file: a.crt}\n", "key_file is missing"},
      {"tls_server_config: {key_file: a.key}\n", "cert_file is missing"},
      {"tls_server_config: {cert_file: a, key_file: b, cipher_suites: [x]}\n",
       "tls_server_config.cipher_suites is not supported"},
      {"tls_server_config: {cert_file: a, key_file: b, client_auth_type: RequireAnyClientCert}\n",
       "client_auth_type \"RequireAnyClientCert\""},
      {"tls_server_config: {cert_file: a, key_file: b, client_auth_type: RequireAndVerifyClientCert}\n",
       "needs tls_server_config.client_ca_file"},
      {"tls_server_config: {cert_file: a, key_file: b, min_version: SSL3}\n", "min_version"},
      {"basic_auth_users: {alice: plaintext}\n", "basic_auth_users.alice: not a bcrypt hash"},
      {"basic_auth_users: [alice]\n", "basic_auth_users must be a mapping"},
  };
  for (const Row& row : table) {
    CAPTURE(row.yaml);
    std::string path = WriteConfig(dir, row.yaml);
    std::string error = ErrorOf(path);
    CHECK(error.find(path) == 0);
    CHECK(error.find(row.message) != std::string::npos);
  }
  CHECK(ErrorOf(dir.File("missing.yml")).find("cannot read") != std::string::npos);
}

TEST_CASE("basic auth accepts the right password and nothing else") {
  BasicAuth auth({{"alice", server_test::BcryptHash("s3cret:with colon")}});
  REQUIRE(auth.enabled());
  CHECK(auth.Check(Basic("alice:s3cret:with colon")));
  CHECK(auth.Check(Basic("alice:s3cret:with colon")));  // again, from the cache
  CHECK(auth.Check("basic " + Basic("alice:s3cret:with colon").substr(6)));
  CHECK_FALSE(auth.Check(Basic("alice:wrong")));
  CHECK_FALSE(auth.Check(Basic("bob:s3cret:with colon")));
  CHECK_FALSE(auth.Check(Basic("alice")));
  CHECK_FALSE(auth.Check(""));
  CHECK_FALSE(auth.Check("Bearer abc"));
  CHECK_FALSE(auth.Check("Basic !!!not-base64!!!"));
}

TEST_CASE("without users basic auth lets every request in") {
  BasicAuth auth({});
  CHECK_FALSE(auth.enabled());
  CHECK(auth.Check(""));
}
