// TLS and basic auth from --web.config.file, against a live server.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <memory>

#include "test_helper.h"

using server_test::Client;
using server_test::ServerProcess;
using server_test::TempDir;

namespace {

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// A self-signed certificate for 127.0.0.1, made with Debian's openssl.
void MakeCertificate(const TempDir& dir, const std::string& name) {
  std::string out;
  int rc = server_test::RunCommand(
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1"
      " -addext subjectAltName=IP:127.0.0.1 -keyout " + server_test::Quote(dir.File(name + ".key")) +
      " -out " + server_test::Quote(dir.File(name + ".crt")), &out);
  REQUIRE_MESSAGE(rc == 0, out);
}

std::string WriteConfig(const TempDir& dir, const std::string& yaml) {
  std::string path = dir.File("web.yml");
  std::ofstream(path) << yaml;
  return path;
}

std::unique_ptr<httplib::SSLClient> TlsClient(int port, const std::string& ca_file) {
  auto client = std::make_unique<httplib::SSLClient>("127.0.0.1", port);
  client->set_ca_cert_path(ca_file.c_str());
  client->enable_server_certificate_verification(true);
  client->set_decompress(false);
  client->set_read_timeout(20, 0);
  return client;
}

}  // namespace

TEST_CASE("basic auth: no or wrong credentials get 401 with WWW-Authenticate, right ones 200") {
  TempDir dir;
  server_test::WriteSampleFile(dir.File("m.db"));
  std::string config = WriteConfig(dir, "basic_auth_users:\n  alice: " + server_test::BcryptHash("wonderland") +
                                            "\n  bob: " + server_test::BcryptHash("builder") + "\n");
  ServerProcess server({"--db", dir.File("m.db"), "--web.config.file", config});
  REQUIRE(server.Start());
  CHECK(Contains(server.Log(), "basic_auth=true"));
  for (const char* path : {"/metrics", "/", "/-/healthy", "/-/ready", "/nope"}) {
    CAPTURE(path);
    auto client = Client(server.port());
    auto anonymous = client.Get(path, {{"Accept-Encoding", "gzip"}});
    REQUIRE(anonymous);
    CHECK(anonymous->status == 401);
    CHECK(Contains(anonymous->get_header_value("WWW-Authenticate"), "Basic realm="));
    CHECK_FALSE(anonymous->has_header("Content-Encoding"));
    CHECK_FALSE(Contains(anonymous->body, "sample_"));
    client.set_basic_auth("alice", "wrong");
    auto wrong = client.Get(path);
    REQUIRE(wrong);
    CHECK(wrong->status == 401);
    client.set_basic_auth("mallory", "wonderland");
    auto unknown = client.Get(path);
    REQUIRE(unknown);
    CHECK(unknown->status == 401);
  }
  auto client = Client(server.port());
  client.set_basic_auth("alice", "wonderland");
  auto ok = client.Get("/metrics");
  REQUIRE(ok);
  CHECK(ok->status == 200);
  CHECK(Contains(ok->body, "sample_queue_depth -7.5"));
  client.set_basic_auth("bob", "builder");
  auto also_ok = client.Get("/metrics");
  REQUIRE(also_ok);
  CHECK(also_ok->status == 200);
  CHECK(Contains(server.Log(), "level=warn msg=\"wrong basic auth credentials\""));
}

TEST_CASE("TLS: the handshake succeeds with the configured certificate and serves /metrics") {
  TempDir dir;
  MakeCertificate(dir, "server");
  server_test::WriteSampleFile(dir.File("m.db"));
  std::string config = WriteConfig(dir, "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n");
  ServerProcess server({"--db", dir.File("m.db"), "--web.config.file", config});
  REQUIRE(server.Start());
  CHECK(Contains(server.Log(), "tls=true"));

  auto client = TlsClient(server.port(), dir.File("server.crt"));
  auto res = client->Get("/metrics", {{"Accept", "application/openmetrics-text;version=1.0.0"},
                                     {"Accept-Encoding", "gzip"}});
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->get_header_value("Content-Encoding") == "gzip");
  std::string body = server_test::Gunzip(res->body);
  CHECK(Contains(body, "sample_queue_depth -7.5"));
  CHECK(body.substr(body.size() - 6) == "# EOF\n");

  // The same check with an independent client: openssl s_client.
  std::string out;
  CHECK(server_test::RunCommand("openssl s_client -connect 127.0.0.1:" + std::to_string(server.port()) +
                                    " -CAfile " + server_test::Quote(dir.File("server.crt")) +
                                    " -verify_return_error -brief", &out, "") == 0);
  CHECK(Contains(out, "Verification: OK"));

  // Plain HTTP to the TLS port does not get the metrics.
  auto plain = Client(server.port()).Get("/metrics");
  CHECK((!plain || plain->status != 200));
  // A client that does not trust the certificate fails the handshake.
  MakeCertificate(dir, "other");
  auto untrusting = TlsClient(server.port(), dir.File("other.crt"));
  CHECK_FALSE(untrusting->Get("/metrics"));
  CHECK(server.Running());
}

TEST_CASE("TLS and basic auth together") {
  TempDir dir;
  MakeCertificate(dir, "server");
  server_test::WriteSampleFile(dir.File("m.db"));
  std::string config = WriteConfig(dir, "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
                                        "basic_auth_users:\n  prometheus: " +
                                            server_test::BcryptHash("scrape-me") + "\n");
  ServerProcess server({"--db", dir.File("m.db"), "--web.config.file", config});
  REQUIRE(server.Start());
  auto client = TlsClient(server.port(), dir.File("server.crt"));
  auto denied = client->Get("/metrics");
  REQUIRE(denied);
  CHECK(denied->status == 401);
  client->set_basic_auth("prometheus", "scrape-me");
  auto ok = client->Get("/metrics");
  REQUIRE(ok);
  CHECK(ok->status == 200);
}

TEST_CASE("a bad web config file stops the server from starting, with exit 1 and a clear line") {
  TempDir dir;
  MakeCertificate(dir, "server");
  struct Row {
    std::string yaml;
    std::string message;
  } table[] = {
      {"tls_server_config: {cert_file: server.crt\n", "not valid YAML"},
      {"basic_auth_users: {alice: hunter2}\n", "not a bcrypt hash"},
      {"tls_server_config: {cert_file: missing.crt, key_file: server.key}\n", "cannot load cert_file"},
      {"tls_server_config: {cert_file: server.crt, key_file: missing.key}\n", "cannot load key_file"},
      {"tls_server_config: {cert_file: server.crt, key_file: server.crt}\n", "key_file"},
      {"unknown_section: {}\n", "unknown key unknown_section"},
  };
  for (const Row& row : table) {
    CAPTURE(row.yaml);
    std::string config = WriteConfig(dir, row.yaml);
    ServerProcess server({"--db", dir.File("m.db"), "--web.config.file", config});
    CHECK_FALSE(server.Start());
    CHECK(server.Wait() == 1);
    std::string log = server.Log();
    CHECK(Contains(log, "level=error"));
    CHECK(Contains(log, row.message));
    CHECK(std::count(log.begin(), log.end(), '\n') == 1);
  }
  ServerProcess missing({"--db", dir.File("m.db"), "--web.config.file", dir.File("nope.yml")});
  CHECK_FALSE(missing.Start());
  CHECK(missing.Wait() == 1);
  CHECK(Contains(missing.Log(), "cannot read the file"));
}
