// Flag parsing, tested as plain functions. Content negotiation (Accept,
// Accept-Encoding) is the library's (tests/formats_test.cc);
// tests/server/http_test.cc checks the server answers with it.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
#include <unistd.h>

#include "options.h"

namespace {

// ParseFlags over `args` as a command line would give them.
promsqlite_server::ParseResult Parse(std::vector<std::string> args, promsqlite_server::ServerOptions* options,
                                     std::string* error) {
  std::vector<char*> argv = {const_cast<char*>("promsqlite-server")};
  for (auto& a : args) argv.push_back(&a[0]);
  return promsqlite_server::ParseFlags(static_cast<int>(argv.size()), argv.data(), options, error);
}

}  // namespace

TEST_CASE("listen addresses parse as HOST:PORT, [V6]:PORT and :PORT") {
  std::string host, error;
  int port = 0;
  REQUIRE(promsqlite_server::ParseListenAddress("127.0.0.1:9186", &host, &port, &error));
  CHECK(host == "127.0.0.1");
  CHECK(port == 9186);
  REQUIRE(promsqlite_server::ParseListenAddress("[::1]:80", &host, &port, &error));
  CHECK(host == "::1");
  REQUIRE(promsqlite_server::ParseListenAddress(":9100", &host, &port, &error));
  CHECK(host == "0.0.0.0");
  CHECK(port == 9100);
  CHECK_FALSE(promsqlite_server::ParseListenAddress("localhost", &host, &port, &error));
  CHECK_FALSE(promsqlite_server::ParseListenAddress("::1:80", &host, &port, &error));
  CHECK_FALSE(promsqlite_server::ParseListenAddress("host:65536", &host, &port, &error));
  CHECK_FALSE(promsqlite_server::ParseListenAddress("host:http", &host, &port, &error));
  CHECK(error.find("port") != std::string::npos);
}

TEST_CASE("a bare port as listen address is refused with the HOST:PORT spellings to use") {
  // Not taken as ":PORT": which interfaces to open is for the user to say.
  std::string host = "unchanged", error;
  int port = -1;
  CHECK_FALSE(promsqlite_server::ParseListenAddress("9186", &host, &port, &error));
  CHECK(error == "listen address \"9186\" is a port without a host: write \":9186\" (all IPv4 interfaces) or "
                 "\"127.0.0.1:9186\" (this host only)");
  CHECK(host == "unchanged");
  CHECK(port == -1);
  CHECK_FALSE(promsqlite_server::ParseListenAddress("99999", &host, &port, &error));
  CHECK(error == "listen address \"99999\" is not HOST:PORT");
}

TEST_CASE("--port and a bare port in --listen point at --web.listen-address") {
  auto parse = [](std::vector<std::string> args, std::string* error) {
    promsqlite_server::ServerOptions options;
    return Parse(std::move(args), &options, error);
  };
  using promsqlite_server::ParseResult;
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--db", "x", "--port", "9100"},
       "unknown flag --port: the server listens where --web.listen-address (or --listen) says, e.g. "
       "--web.listen-address=:9100 (see --help)"},
      {{"--port=9200", "--db", "x"},
       "unknown flag --port: the server listens where --web.listen-address (or --listen) says, e.g. "
       "--web.listen-address=:9200 (see --help)"},
      {{"--db", "x", "--port"},
       "unknown flag --port: the server listens where --web.listen-address (or --listen) says, e.g. "
       "--web.listen-address=:9186 (see --help)"},
      {{"--db", "x", "--listen", "9186"},
       "listen address \"9186\" is a port without a host: write \":9186\" (all IPv4 interfaces) or "
       "\"127.0.0.1:9186\" (this host only)"},
      {{"--db", "x", "--web.listen-address=9187"},
       "listen address \"9187\" is a port without a host: write \":9187\" (all IPv4 interfaces) or "
       "\"127.0.0.1:9187\" (this host only)"},
      {{"--db", "x", "--portal", "1"}, "unknown flag --portal (see --help)"},
  };
  for (const auto& [args, message] : cases) {
    CAPTURE(message);
    std::string error;
    CHECK(parse(args, &error) == ParseResult::kUsageError);
    CHECK(error == message);
  }
}

TEST_CASE("flags parse in both spellings and reject mistakes with a reason") {
  using promsqlite_server::ParseResult;
  promsqlite_server::ServerOptions options;
  std::string error;
  CHECK(options.listen_host == "127.0.0.1");
  CHECK(options.listen_port == 9186);
  REQUIRE(Parse({"--db", "/x.db", "--web.listen-address=:9999", "--log.level=debug",
                 "--web.max-requests", "3"}, &options, &error) == ParseResult::kRun);
  CHECK(options.db_path == "/x.db");
  CHECK(options.listen_port == 9999);
  CHECK(options.max_requests == 3);
  CHECK(options.log_level == promsqlite_server::LogLevel::kDebug);
  CHECK(Parse({"--help"}, &options, &error) == ParseResult::kHelp);
  CHECK(Parse({"--version"}, &options, &error) == ParseResult::kVersion);

  promsqlite_server::ServerOptions fresh;
  CHECK(Parse({}, &fresh, &error) == ParseResult::kUsageError);
  CHECK(error.find("--db") != std::string::npos);
  CHECK(Parse({"--db", "x", "--bogus"}, &fresh, &error) == ParseResult::kUsageError);
  CHECK(error.find("--bogus") != std::string::npos);
  CHECK(Parse({"--db"}, &fresh, &error) == ParseResult::kUsageError);
  CHECK(Parse({"--db", "x", "--log.level=loud"}, &fresh, &error) == ParseResult::kUsageError);
  CHECK(Parse({"--db", "x", "--web.max-requests=0"}, &fresh, &error) == ParseResult::kUsageError);
  CHECK(Parse({"--db", "x", "stray"}, &fresh, &error) == ParseResult::kUsageError);
}

TEST_CASE("connection limits and the request timeout parse, with defaults, and refuse bad values by name") {
  using promsqlite_server::ParseResult;
  promsqlite_server::ServerOptions options;
  CHECK(options.max_connections == 1024);
  CHECK(options.max_connections_per_address == 256);
  CHECK(options.read_header_timeout_s == 10);
  std::string error;
  REQUIRE(Parse({"--db", "x", "--web.max-connections", "5000", "--web.max-connections-per-address=10",
                 "--web.read-header-timeout", "2500ms"}, &options, &error) == ParseResult::kRun);
  CHECK(options.max_connections == 5000);
  CHECK(options.max_connections_per_address == 10);
  CHECK(options.read_header_timeout_s == doctest::Approx(2.5));
  const std::vector<std::pair<std::vector<std::string>, std::string>> bad = {
      {{"--db", "x", "--web.max-connections", "0"}, "--web.max-connections must be a number from 1 to 1000000"},
      {{"--db", "x", "--web.max-connections-per-address=many"},
       "--web.max-connections-per-address must be a number from 1 to 1000000"},
      {{"--db", "x", "--web.read-header-timeout", "2h"},
       "--web.read-header-timeout must be a duration such as 10s or 500ms, up to 1h, not \"2h\""},
      {{"--db", "x", "--web.read-header-timeout=0s"},
       "--web.read-header-timeout must be a duration such as 10s or 500ms, up to 1h, not \"0s\""},
  };
  for (const auto& [args, message] : bad) {
    promsqlite_server::ServerOptions fresh;
    CHECK(Parse(args, &fresh, &error) == ParseResult::kUsageError);
    CHECK(error == message);
  }
}

TEST_CASE("remote-write agent flags parse durations, labels and auth, and need --remote-write.url") {
  using promsqlite_server::ParseResult;
  promsqlite_server::ServerOptions options;
  std::string error;
  CHECK(options.remote_write_interval_s == 15);
  REQUIRE(Parse({"--db", "x", "--remote-write.url", "http://p:9090/api/v1/write", "--remote-write.interval=1m",
                 "--remote-write.label", "instance=a", "--remote-write.label=zone=b=c", "--remote-write.timeout",
                 "500ms", "--remote-write.retries", "0", "--remote-write.basic-auth", "u:p:w"},
                &options, &error) == ParseResult::kRun);
  CHECK(options.remote_write_interval_s == 60);
  CHECK(options.remote_write.extra_labels ==
        std::vector<std::pair<std::string, std::string>>{{"instance", "a"}, {"zone", "b=c"}});
  CHECK(options.remote_write.timeout_seconds == 0.5);
  CHECK(options.remote_write.retries == 0);
  CHECK(options.remote_write.basic_auth_user == "u");
  CHECK(options.remote_write.basic_auth_password == "p:w");
  CHECK_FALSE(options.remote_write.send_native_histograms);  // off unless asked, as Prometheus' send_native_histograms
  for (const char* flag : {"--remote-write.send-native-histograms", "--remote-write.send-native-histograms=true"}) {
    promsqlite_server::ServerOptions native;
    REQUIRE(Parse({"--db", "x", "--remote-write.url", "http://p", flag}, &native, &error) == ParseResult::kRun);
    CHECK(native.remote_write.send_native_histograms);
  }
  const std::vector<std::pair<std::vector<std::string>, std::string>> bad = {
      {{"--db", "x", "--remote-write.url", "http://p", "--remote-write.send-native-histograms=yes"},
       "--remote-write.send-native-histograms takes no value, or =true / =false, not \"yes\""},
      {{"--db", "x", "--remote-write.send-native-histograms"},
       "--remote-write.send-native-histograms needs --remote-write.url"},
      {{"--db", "x", "--remote-write.interval", "15s"}, "--remote-write.interval needs --remote-write.url"},
      {{"--db", "x", "--remote-write.url", "http://p", "--remote-write.interval", "0s"},
       "--remote-write.interval must be a duration such as 15s, 1m or 500ms, up to 24h, not \"0s\""},
      {{"--db", "x", "--remote-write.url", "http://p", "--remote-write.interval", "5 minutes"},
       "--remote-write.interval must be a duration such as 15s, 1m or 500ms, up to 24h, not \"5 minutes\""},
      {{"--db", "x", "--remote-write.url", "http://p", "--remote-write.label", "novalue"},
       "--remote-write.label needs KEY=VALUE, got \"novalue\""},
      {{"--db", "x", "--remote-write.url", "http://p", "--remote-write.retries", "-1"},
       "--remote-write.retries must be a number from 0 to 100"},
      {{"--db", "x", "--remote-write.url", "http://p", "--remote-write.bearer-token-file", "/nonexistent/token"},
       "--remote-write.bearer-token-file: cannot read \"/nonexistent/token\""},
      {{"--db", "x", "--remote-write.url", "http://p", "--remote-write.basic-auth-user", "u"},
       "--remote-write.basic-auth-user and --remote-write.basic-auth-password-file go together"},
      {{"--db", "x", "--remote-write.url", "http://p", "--remote-write.basic-auth-user", "u:v"},
       "--remote-write.basic-auth-user needs a user name without ':'"},
      {{"--db", "x", "--remote-write.url", "http://p", "--remote-write.basic-auth-password-file", "/nonexistent/pw"},
       "--remote-write.basic-auth-password-file: cannot read \"/nonexistent/pw\""},
  };
  for (const auto& [args, message] : bad) {
    promsqlite_server::ServerOptions fresh;
    CAPTURE(message);
    CHECK(Parse(args, &fresh, &error) == ParseResult::kUsageError);
    CHECK(error == message);
  }
  // The password from a file, not the command line (visible in ps).
  char path[] = "/tmp/promsqlite-pw-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  REQUIRE(write(fd, "s3cret:x\n", 9) == 9);
  close(fd);
  promsqlite_server::ServerOptions from_file;
  REQUIRE(Parse({"--db", "x", "--remote-write.url", "http://p", "--remote-write.basic-auth-user", "u",
                 "--remote-write.basic-auth-password-file", path},
                &from_file, &error) == ParseResult::kRun);
  CHECK(from_file.remote_write.basic_auth_user == "u");
  CHECK(from_file.remote_write.basic_auth_password == "s3cret:x");
  promsqlite_server::ServerOptions both;
  CHECK(Parse({"--db", "x", "--remote-write.url", "http://p", "--remote-write.basic-auth", "u:p",
               "--remote-write.basic-auth-user", "u", "--remote-write.basic-auth-password-file", path},
              &both, &error) == ParseResult::kUsageError);
  CHECK(error.find("not both") != std::string::npos);
  unlink(path);
}
