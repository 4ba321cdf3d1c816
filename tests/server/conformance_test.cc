// Both formats from a live server, gzipped or not, validated by the shared
// independent parsers (../shared/tools/check-exposition).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "test_helper.h"

using server_test::ServerProcess;
using server_test::TempDir;

namespace {

constexpr const char* kPrometheusAccept =
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

int CheckUrl(const std::string& args, int port, std::string* out) {
  return server_test::RunCommand(server_test::Quote(server_test::SharedTool("check-exposition")) + " " + args +
                                     " http://127.0.0.1:" + std::to_string(port) + "/metrics",
                                 out);
}

int CheckBody(const std::string& format, const std::string& body, std::string* out) {
  return server_test::RunCommand(
      server_test::Quote(server_test::SharedTool("check-exposition")) + " --format " + format + " -", out, body);
}

}  // namespace

TEST_CASE("check-exposition accepts both formats served from a file with every metric type") {
  TempDir dir;
  server_test::WriteSampleFile(dir.File("m.db"));
  ServerProcess server({"--db", dir.File("m.db")});
  REQUIRE(server.Start());
  std::string out;
  for (const char* args : {"--format text", "--format openmetrics", "--format auto"}) {
    CAPTURE(args);
    CHECK_MESSAGE(CheckUrl(args, server.port(), &out) == 0, out);
  }
}

TEST_CASE("check-exposition accepts the gzipped bodies of both formats") {
  TempDir dir;
  server_test::WriteSampleFile(dir.File("m.db"));
  ServerProcess server({"--db", dir.File("m.db")});
  REQUIRE(server.Start());
  auto client = server_test::Client(server.port());
  struct Row {
    const char* accept;
    const char* format;
  } table[] = {{"text/plain;version=0.0.4", "text"}, {kPrometheusAccept, "openmetrics"}};
  for (const Row& row : table) {
    CAPTURE(row.format);
    auto res = client.Get("/metrics", {{"Accept", row.accept}, {"Accept-Encoding", "gzip"}});
    REQUIRE(res);
    REQUIRE(res->get_header_value("Content-Encoding") == "gzip");
    std::string out;
    CHECK_MESSAGE(CheckBody(row.format, server_test::Gunzip(res->body), &out) == 0, out);
  }
}

TEST_CASE("the server's own metrics pass promtool's naming lints") {
  TempDir dir;
  ServerProcess server({"--db", dir.File("not-yet.db")});
  REQUIRE(server.Start());
  std::string out;
  CHECK_MESSAGE(CheckUrl("--format text --lint", server.port(), &out) == 0, out);
  CHECK_MESSAGE(CheckUrl("--format openmetrics", server.port(), &out) == 0, out);
}

TEST_CASE("a large streamed exposition is valid in both formats") {
  TempDir dir;
  server_test::WriteLargeFile(dir.File("large.db"), 8, 3000);
  ServerProcess server({"--db", dir.File("large.db")});
  REQUIRE(server.Start());
  std::string out;
  CHECK_MESSAGE(CheckUrl("--format text", server.port(), &out) == 0, out);
  CHECK_MESSAGE(CheckUrl("--format openmetrics", server.port(), &out) == 0, out);
}
