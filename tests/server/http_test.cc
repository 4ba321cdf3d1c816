// /metrics and the other endpoints of a live promsqlite-server, over HTTP.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
#include <signal.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <thread>

#include "promsqlite/promsqlite.h"
#include "promsqlite/version.h"
#include "test_util.h"
#include "test_helper.h"

using server_test::Client;
using server_test::ServerProcess;
using server_test::TempDir;

namespace {

constexpr const char* kText = "text/plain; version=0.0.4; charset=utf-8";
constexpr const char* kOpenMetrics = "application/openmetrics-text; version=1.0.0; charset=utf-8";
constexpr const char* kPrometheusAccept =
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

// A server on a sample file, for the tests that only read.
struct SampleServer {
  TempDir dir;
  std::string db = dir.File("metrics & more.db");
  std::unique_ptr<ServerProcess> server;
  SampleServer() {
    server_test::WriteSampleFile(db);
    server = std::make_unique<ServerProcess>(std::vector<std::string>{"--db", db});
    REQUIRE(server->Start());
  }
  httplib::Result Get(const std::string& path, httplib::Headers headers = {}) {
    auto client = Client(server->port());
    return client.Get(path.c_str(), headers);
  }
};

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("/metrics serves the file and the server's own metrics in the text format by default") {
  SampleServer s;
  auto res = s.Get("/metrics");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->get_header_value("Content-Type") == kText);
  CHECK(res->get_header_value("Transfer-Encoding") == "chunked");
  CHECK_FALSE(res->has_header("Content-Encoding"));
  CHECK(Contains(res->get_header_value("Vary"), "Accept-Encoding"));
  CHECK(Contains(res->get_header_value("Vary"), "Accept"));
  CHECK(Contains(res->body, "sample_requests_total{code=\"200\",method=\"GET\"} 42\n"));
  CHECK(Contains(res->body, "sample_queue_depth -7.5\n"));
  CHECK(Contains(res->body, "sample_latency_seconds_bucket{route=\"/api\",le=\"+Inf\"} 4\n"));
  CHECK(Contains(res->body, "note=\"quote\\\" backslash\\\\ newline\\n utf8 \xc3\xbc\xe2\x82\xac\""));
  CHECK_FALSE(Contains(res->body, "# EOF"));
}

TEST_CASE("the server's own metrics are present in the usual exporter style") {
  SampleServer s;
  s.Get("/metrics");  // so that the scrape counter has counted one
  // The server counts a scrape once its response is sent, so the next one
  // may be served before the count: ask again until it shows (bounded).
  auto res = s.Get("/metrics");
  for (int i = 0; i < 100 && res && Contains(res->body, "promsqlite_server_scrapes_total 0\n"); ++i) {
    usleep(20 * 1000);
    res = s.Get("/metrics");
  }
  REQUIRE(res);
  const std::string& body = res->body;
  CHECK(Contains(body, std::string("promsqlite_build_info{sqlite_version=\"") + promsqlite::SqliteVersion() +
                           "\",version=\"" + promsqlite::Version() + "\"} 1\n"));
  CHECK(Contains(body, "# TYPE promsqlite_server_scrapes_total counter\n"));
  CHECK_FALSE(Contains(body, "promsqlite_server_scrapes_total 0\n"));
  CHECK(Contains(body, "\npromsqlite_server_scrapes_total "));
  CHECK(Contains(body, "promsqlite_server_scrape_errors_total 0\n"));
  CHECK(Contains(body, "promsqlite_server_last_scrape_duration_seconds "));
  CHECK(Contains(body, "promsqlite_server_file_exists 1\n"));
  CHECK(Contains(body, "promsqlite_server_file_families 6\n"));
  CHECK(Contains(body, "promsqlite_server_file_series 7\n"));
  CHECK(Contains(body, "promsqlite_server_file_size_bytes "));
  CHECK(Contains(body, "promsqlite_server_wal_size_bytes "));
  for (const char* name : {"process_cpu_seconds_total ", "process_resident_memory_bytes ",
                           "process_virtual_memory_bytes ", "process_open_fds ", "process_max_fds ",
                           "process_start_time_seconds "}) {
    CAPTURE(name);
    CHECK(Contains(body, std::string("\n") + name));
  }
  // Plausible values: started within the last minute, a few fds open.
  size_t pos = body.find("\nprocess_start_time_seconds ");
  double start = std::stod(body.substr(pos + 28));
  CHECK(start > static_cast<double>(time(nullptr)) - 60);
  CHECK(start <= static_cast<double>(time(nullptr)) + 1);
  pos = body.find("\nprocess_open_fds ");
  CHECK(std::stod(body.substr(pos + 18)) >= 3);
}

TEST_CASE("the Accept header picks the format; q=0 is honoured") {
  SampleServer s;
  struct Row {
    const char* accept;
    int status;
    const char* content_type;
  } table[] = {
      {kPrometheusAccept, 200, kOpenMetrics},
      {"text/plain", 200, kText},
      {"text/plain;version=0.0.4", 200, kText},
      {"*/*", 200, kText},
      {"application/openmetrics-text; version=1.0.0", 200, kOpenMetrics},
      {"application/openmetrics-text;q=0, text/plain;q=0.5", 200, kText},
      {"application/openmetrics-text;version=1.0.0, text/plain;q=0", 200, kOpenMetrics},
      {"text/plain;q=0, */*;q=0.1", 200, kOpenMetrics},
      {"application/json", 200, kText},
      {"text/plain;q=0", 406, "text/plain; charset=utf-8"},
  };
  for (const Row& row : table) {
    CAPTURE(row.accept);
    auto res = s.Get("/metrics", {{"Accept", row.accept}});
    REQUIRE(res);
    CHECK(res->status == row.status);
    CHECK(res->get_header_value("Content-Type") == row.content_type);
    if (row.status == 406) {  // names what it could have sent
      CHECK(Contains(res->body, kText));
      CHECK(Contains(res->body, kOpenMetrics));
      CHECK(Contains(res->body, "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily"));
    }
    if (std::string(row.content_type) == kOpenMetrics) {
      CHECK(res->body.size() > 6);
      CHECK(res->body.substr(res->body.size() - 6) == "# EOF\n");
      CHECK(Contains(res->body, "sample_requests_total{code=\"200\",method=\"GET\"} 42\n"));
    }
  }
}

TEST_CASE("gzip is used when Accept-Encoding allows it, for both formats") {
  SampleServer s;
  struct Row {
    const char* encoding;
    bool gzipped;
  } table[] = {
      {"gzip", true},
      {"gzip, deflate, br", true},
      {"*", true},
      {"br;q=1, gzip;q=0.5", true},
      {"gzip;q=0", false},
      {"gzip;q=0, deflate", false},
      {"identity", false},
      {"br", false},
      {"gzip;q=0.5, identity", false},
  };
  for (const char* accept : {"text/plain", kPrometheusAccept}) {
    for (const Row& row : table) {
      CAPTURE(accept);
      CAPTURE(row.encoding);
      auto res = s.Get("/metrics", {{"Accept", accept}, {"Accept-Encoding", row.encoding}});
      REQUIRE(res);
      CHECK(res->status == 200);
      CHECK(res->get_header_value("Content-Encoding") == (row.gzipped ? "gzip" : ""));
      std::string body = row.gzipped ? server_test::Gunzip(res->body) : res->body;
      CHECK(Contains(body, "sample_queue_depth -7.5"));
      CHECK(Contains(body, "process_open_fds"));
    }
  }
}

TEST_CASE("HEAD /metrics answers the headers of GET without a body") {
  SampleServer s;
  auto client = Client(s.server->port());
  auto res = client.Head("/metrics", {{"Accept", kPrometheusAccept}, {"Accept-Encoding", "gzip"}});
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->get_header_value("Content-Type") == kOpenMetrics);
  CHECK(res->get_header_value("Content-Encoding") == "gzip");
  CHECK(res->body.empty());
  // The connection stays usable and GET still works.
  auto get = client.Get("/metrics");
  REQUIRE(get);
  CHECK(get->status == 200);
}

TEST_CASE("other methods on /metrics answer 405 with Allow; unknown paths 404") {
  SampleServer s;
  auto client = Client(s.server->port());
  auto post = client.Post("/metrics", "x=1", "application/x-www-form-urlencoded");
  REQUIRE(post);
  CHECK(post->status == 405);
  CHECK(post->get_header_value("Allow") == "GET, HEAD");
  CHECK(Contains(post->body, "Method Not Allowed"));
  for (const char* method : {"PUT", "DELETE", "PATCH", "OPTIONS"}) {
    CAPTURE(method);
    std::string raw = server_test::RawRequest(
        s.server->port(), std::string(method) + " /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    CHECK(raw.rfind("HTTP/1.1 405 ", 0) == 0);
    CHECK(Contains(raw, "Allow: GET, HEAD\r\n"));
  }
  auto missing = client.Get("/nope");
  REQUIRE(missing);
  CHECK(missing->status == 404);
  CHECK(missing->body == "404 page not found\n");
  auto metrics_sub = client.Get("/metrics/extra");
  REQUIRE(metrics_sub);
  CHECK(metrics_sub->status == 404);
  auto with_query = client.Get("/metrics?name[]=x");
  REQUIRE(with_query);
  CHECK(with_query->status == 200);
}

TEST_CASE("the landing page says what this is, links /metrics and describes the file") {
  SampleServer s;
  auto res = s.Get("/");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->get_header_value("Content-Type") == "text/html; charset=utf-8");
  const std::string& page = res->body;
  CHECK(Contains(page, "<title>promsqlite-server</title>"));
  CHECK(Contains(page, "<a href=\"metrics\">"));
  CHECK(Contains(page, "metrics &amp; more.db"));  // the path, HTML-escaped
  CHECK(Contains(page, "<th>Families</th><td>6</td>"));
  CHECK(Contains(page, "<th>Series</th><td>7</td>"));
  CHECK(Contains(page, "<th>File size</th><td>"));
  CHECK(Contains(page, "<th>WAL size</th><td>"));
  CHECK(Contains(page, "overwritten from the start, not grown"));  // a big WAL beside a small file is explained
  CHECK(Contains(page, std::string("<th>SQLite version</th><td>") + promsqlite::SqliteVersion()));
  CHECK(Contains(page, std::string("<th>promsqlite version</th><td>") + promsqlite::Version()));
}

TEST_CASE("health and readiness endpoints answer 200") {
  SampleServer s;
  auto healthy = s.Get("/-/healthy");
  REQUIRE(healthy);
  CHECK(healthy->status == 200);
  CHECK(healthy->body == "promsqlite-server is Healthy.\n");
  auto ready = s.Get("/-/ready");
  REQUIRE(ready);
  CHECK(ready->status == 200);
  CHECK(ready->body == "promsqlite-server is Ready.\n");
}

TEST_CASE("a missing file is served as empty until a writer creates it") {
  TempDir dir;
  std::string db = dir.File("later.db");
  ServerProcess server({"--db", db});
  REQUIRE(server.Start());
  CHECK(Contains(server.Log(), "does not exist yet"));
  auto client = Client(server.port());
  auto res = client.Get("/metrics");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(Contains(res->body, "promsqlite_server_file_exists 0\n"));
  CHECK(Contains(res->body, "promsqlite_build_info{"));
  CHECK_FALSE(Contains(res->body, "sample_"));
  auto ready = client.Get("/-/ready");
  REQUIRE(ready);
  CHECK(ready->status == 200);
  CHECK(access(db.c_str(), F_OK) != 0);  // read-only: the server created nothing

  server_test::WriteSampleFile(db);
  res = client.Get("/metrics");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(Contains(res->body, "sample_requests_total{code=\"200\",method=\"GET\"} 42\n"));
  CHECK(Contains(res->body, "promsqlite_server_file_exists 1\n"));
}

TEST_CASE("a corrupt file answers 500 with the reason, and the server keeps running") {
  TempDir dir;
  std::string db = dir.File("broken.db");
  std::ofstream(db) << std::string(8192, 'x');
  ServerProcess server({"--db", db});
  REQUIRE(server.Start());
  CHECK(Contains(server.Log(), "level=error"));
  CHECK(Contains(server.Log(), "broken.db"));
  auto client = Client(server.port());
  for (const char* accept : {"text/plain", kPrometheusAccept}) {
    CAPTURE(accept);
    auto res = client.Get("/metrics", {{"Accept", accept}, {"Accept-Encoding", "gzip"}});
    REQUIRE(res);
    CHECK(res->status == 500);
    CHECK_FALSE(res->has_header("Content-Encoding"));
    CHECK(Contains(res->body, "broken.db"));
    CHECK(Contains(res->body, "not a database"));
  }
  auto head = client.Head("/metrics");
  REQUIRE(head);
  CHECK(head->status == 500);
  auto healthy = client.Get("/-/healthy");
  REQUIRE(healthy);
  CHECK(healthy->status == 200);
  auto ready = client.Get("/-/ready");
  REQUIRE(ready);
  CHECK(ready->status == 503);
  CHECK(Contains(ready->body, "not a database"));
  auto landing = client.Get("/");
  REQUIRE(landing);
  CHECK(Contains(landing->body, "cannot be read"));
  CHECK(server.Running());

  // Repaired in place: the next scrape succeeds and counts the failures.
  unlink(db.c_str());
  server_test::WriteSampleFile(db);
  auto res = client.Get("/metrics");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(Contains(res->body, "promsqlite_server_scrape_errors_total 3\n"));
  std::string log = server.Log();
  CHECK(Contains(log, "msg=\"scrape failed\""));
  CHECK(server.Stop(SIGTERM) == 0);
}

// Peak RSS growth of a fresh server over six scrapes (text, then
// OpenMetrics gzipped) of a file with `series` series; *body gets the size
// of the text exposition.
long ScrapeGrowthKib(int series, size_t* body_size) {
  TempDir dir;
  std::string db = dir.File("large.db");
  server_test::WriteLargeFile(db, 10, series / 10);
  ServerProcess server({"--db", db});
  REQUIRE(server.Start());
  long before = server_test::PeakRssKib(server.pid());
  auto client = Client(server.port());
  auto first = client.Get("/metrics");
  REQUIRE(first);
  REQUIRE(first->status == 200);
  CHECK(first->get_header_value("Transfer-Encoding") == "chunked");
  std::string last = "large_gauge_9{instance=\"host-" + std::to_string(series / 10 - 1) + ".example.org:9100\"";
  CHECK(Contains(first->body, last));
  *body_size = first->body.size();
  for (int i = 0; i < 5; ++i) {
    auto res = client.Get("/metrics", {{"Accept", kPrometheusAccept}, {"Accept-Encoding", "gzip"}});
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(Contains(server_test::Gunzip(res->body), last));
  }
  return server_test::PeakRssKib(server.pid()) - before;
}

TEST_CASE("a large file streams in chunks and the server's memory stays flat as series grow") {
  size_t small_body = 0, large_body = 0;
  long small = ScrapeGrowthKib(5000, &small_body);
  long large = ScrapeGrowthKib(150000, &large_body);
  MESSAGE("peak RSS growth: " << small << " KiB for a " << small_body / 1024 << " KiB exposition, " << large
                              << " KiB for " << large_body / 1024 << " KiB");
  // Thirty times the series must not cost a multiple of the exposition's
  // size: only SQLite's bounded page cache (2 MiB per connection) and fixed
  // buffers may grow.
  CHECK(large_body > 9 * 1024 * 1024);
  CHECK(large - small < static_cast<long>((large_body - small_body) / 1024 / 2));
}

TEST_CASE("SIGTERM lets an in-flight scrape finish, then exits 0") {
  TempDir dir;
  std::string db = dir.File("large.db");
  server_test::WriteLargeFile(db, 10, 2000);
  ServerProcess server({"--db", db});
  REQUIRE(server.Start());
  std::string response;
  std::thread scrape([&] {
    // Starts reading only after the signal: the response is in flight.
    response = server_test::RawRequest(
        server.port(), "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 20, 1000);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(server.Stop(SIGTERM) == 0);
  scrape.join();
  CHECK(response.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(Contains(response, "large_gauge_9{instance=\"host-1999.example.org:9100\",shard=\"10\"} 2998.5\n"));
  CHECK(response.size() > 5);
  CHECK(response.substr(response.size() - 5) == "0\r\n\r\n");  // the last chunk: complete
  CHECK(Contains(server.Log(), "msg=\"shutting down\""));
  CHECK(Contains(server.Log(), "msg=stopped"));
}

TEST_CASE("SIGINT exits 0 too") {
  TempDir dir;
  ServerProcess server({"--db", dir.File("x.db")});
  REQUIRE(server.Start());
  CHECK(server.Stop(SIGINT) == 0);
}

TEST_CASE("malformed and oversized requests get an error and never crash the server") {
  SampleServer s;
  int port = s.server->port();
  CHECK(server_test::RawRequest(port, "GARBAGE\r\n\r\n", 2).rfind("HTTP/1.1 400 ", 0) == 0);
  CHECK(server_test::RawRequest(port, "FOO /metrics HTTP/1.1\r\n\r\n", 2).rfind("HTTP/1.1 400 ", 0) == 0);
  std::string long_uri = "GET /" + std::string(10000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n";
  CHECK(server_test::RawRequest(port, long_uri, 2).rfind("HTTP/1.1 414 ", 0) == 0);
  std::string long_header = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(9000, 'b') + "\r\n\r\n";
  std::string answer = server_test::RawRequest(port, long_header, 2);
  CHECK((answer.empty() || answer.rfind("HTTP/1.1 400 ", 0) == 0));
  std::string many = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n";
  for (int i = 0; i < 300; ++i) many += "X-H" + std::to_string(i) + ": v\r\n";
  CHECK(server_test::RawRequest(port, many + "\r\n").rfind("HTTP/1.1 431 ", 0) == 0);
  std::string big_body = "POST /nope HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n";
  // httplib waits (up to the read timeout) for the body it then discards.
  CHECK(server_test::RawRequest(port, big_body, 30).rfind("HTTP/1.1 413 ", 0) == 0);
  CHECK(server_test::RawRequest(port, "GET /metrics HTTP/1.1\r\nHost: x\r\nRange: bytes=5-1\r\nConnection: close\r\n\r\n")
            .rfind("HTTP/1.1 416 ", 0) == 0);
  // Bodies are refused before they are read, with or without a length.
  CHECK(server_test::RawRequest(port, "DELETE /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", 2)
            .rfind("HTTP/1.1 405 ", 0) == 0);
  CHECK(server_test::RawRequest(port, "PUT /elsewhere HTTP/1.1\r\nHost: x\r\n\r\n", 2).rfind("HTTP/1.1 404 ", 0) == 0);
  // A half-sent request is cut off by the read timeout, not kept forever.
  std::string half = server_test::RawRequest(port, "GET /metrics HTTP/1.1\r\nHost:", 30);
  CHECK(half.find("200 OK") == std::string::npos);
  CHECK(s.server->Running());
  auto res = s.Get("/-/healthy");
  REQUIRE(res);
  CHECK(res->status == 200);
}

TEST_CASE("--help, --version and flag errors follow the documented exit codes") {
  std::string out;
  CHECK(server_test::RunCommand(server_test::Quote(server_test::ServerBinary()) + " --help", &out) == 0);
  CHECK(Contains(out, "Usage: promsqlite-server --db FILE"));
  CHECK(Contains(out, "9186"));
  CHECK(server_test::RunCommand(server_test::Quote(server_test::ServerBinary()) + " --version", &out) == 0);
  CHECK(out == std::string("promsqlite-server ") + promsqlite::Version() + " (SQLite " +
                   promsqlite::SqliteVersion() + ")\n");
  CHECK(server_test::RunCommand(server_test::Quote(server_test::ServerBinary()) + " --db x --nope", &out) == 2);
  CHECK(out == "promsqlite-server: unknown flag --nope (see --help)\n");
  CHECK(server_test::RunCommand(server_test::Quote(server_test::ServerBinary()), &out) == 2);
  CHECK(out == "promsqlite-server: missing --db FILE (see --help)\n");
}

TEST_CASE("a listen address in use makes the server exit 1 with a clear line") {
  TempDir dir;
  ServerProcess first({"--db", dir.File("x.db")});
  REQUIRE(first.Start());
  ServerProcess second({"--db", dir.File("x.db"), "--listen", "127.0.0.1:" + std::to_string(first.port())});
  CHECK_FALSE(second.Start());
  CHECK(second.Wait() == 1);
  CHECK(Contains(second.Log(), "level=error msg=\"cannot listen\""));
  CHECK(Contains(second.Log(), "Address already in use"));
}

TEST_CASE("a --db that cannot hold the file makes the server exit 1 with one line; a missing file does not") {
  TempDir dir;
  server_test::WriteSampleFile(dir.File("plain.txt"));
  const std::pair<std::string, std::string> cases[] = {
      {dir.path(), "is a directory, not a promsqlite database: give the path of a file in it"},
      {dir.File("plain.txt/m.db"), dir.File("plain.txt") + " is a file, not a folder"},
      {"/dev/null", "is not a regular file (a device, pipe or socket)"},
  };
  for (const auto& [db, reason] : cases) {
    CAPTURE(db);
    ServerProcess server({"--db", db});
    CHECK_FALSE(server.Start());
    CHECK(server.Wait() == 1);
    std::string log = server.Log();
    CHECK(Contains(log, "level=error msg=\"cannot serve this --db path\""));
    CHECK(Contains(log, reason));
    CHECK(std::count(log.begin(), log.end(), '\n') == 1);
  }
  // A folder that does not exist yet may still appear: served empty, and said so.
  ServerProcess server({"--db", dir.File("later/m.db")});
  REQUIRE(server.Start());
  CHECK(Contains(server.Log(), "level=warn msg=\"the promsqlite file's folder does not exist yet"));
  CHECK(Contains(server.Log(), "folder=" + dir.File("later")));
}

TEST_CASE("--log.level=debug logs each request; info logs none") {
  SampleServer quiet;
  quiet.Get("/metrics");
  CHECK_FALSE(Contains(quiet.server->Log(), "msg=request"));
  TempDir dir;
  server_test::WriteSampleFile(dir.File("m.db"));
  ServerProcess debug({"--db", dir.File("m.db"), "--log.level=debug"});
  REQUIRE(debug.Start());
  auto res = Client(debug.port()).Get("/metrics");
  REQUIRE(res);
  // The server logs a request after it has sent the answer: wait for the
  // line (a bound, not a timing check).
  const std::string line = "level=debug msg=request method=GET path=/metrics status=200";
  for (int i = 0; i < 100 && !Contains(debug.Log(), line); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(Contains(debug.Log(), line));
}

TEST_CASE("a writer whose updates wait for a lock another process holds shows in the server's own metrics") {
  TempDir dir;
  const std::string db = dir.File("held.db");
  { promsqlite::Registry registry(db); promsqlite::BuildCounter().Name("jobs").Help("Jobs.").Register(registry); }
  // Another process holds SQLite's write lock until killed.
  pid_t holder = promsqlite::test::StartPausedChild([&] {
    sqlite3* raw = nullptr;  // left open: the lock stays until the kill
    if (sqlite3_open(db.c_str(), &raw) != SQLITE_OK ||
        sqlite3_exec(raw, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK)
      throw std::runtime_error("cannot take SQLite's write lock");
  });
  promsqlite::test::KilledAtScopeEnd holder_at_end{holder};
  promsqlite::Options options;
  options.write_mode = promsqlite::WriteMode::kImmediate;
  options.update_lock_wait_ms = 20;
  options.on_background_error = [](const std::string&) {};
  promsqlite::Registry registry(db, options);
  auto jobs = promsqlite::BuildCounter().Name("jobs").Register(registry).WithLabelValues({});
  for (int i = 0; i < 3; ++i) jobs.Increment();  // each kept: no wait past the bound, no error
  ServerProcess server({"--db", db});
  REQUIRE(server.Start());
  auto res = Client(server.port()).Get("/metrics");
  REQUIRE(res);
  const std::string pid = std::to_string(getpid());
  CHECK(Contains(res->body, "promsqlite_writer_updates_waiting{pid=\"" + pid + "\"} 3\n"));
  CHECK(Contains(res->body, "promsqlite_writer_updates_waiting_seconds{pid=\"" + pid + "\"} "));
  CHECK(Contains(res->body, "\njobs_total 3\n"));  // kept, and shown at once
  CHECK(promsqlite::test::CheckExposition(res->body, false).exit_code == 0);
  holder_at_end.pid = 0;
  promsqlite::test::KillAndReap(holder);
  registry.Flush();
  res = Client(server.port()).Get("/metrics");
  REQUIRE(res);
  CHECK_FALSE(Contains(res->body, "promsqlite_writer_updates_waiting"));
  CHECK(Contains(res->body, "jobs_total 3\n"));
}
