// A row another program wrote wrongly costs a scrape that row only: the
// server serves everything else exactly, reports it in
// promsqlite_file_read_errors{family=...} and on its landing page, and logs
// it once per minute (docs/reliability.md, "Rows that cannot be read").
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <string>

#include "landing_page.h"
#include "log.h"
#include "read_errors.h"
#include "promsqlite/promsqlite.h"
#include "test_helper.h"
#include "unreadable_cases.h"

namespace {

using promsqlite::test::Contains;

// Lines of `log` that contain `part`.
std::vector<std::string> LinesWith(const std::string& log, const std::string& part) {
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t end; (end = log.find('\n', start)) != std::string::npos; start = end + 1)
    if (Contains(log.substr(start, end - start), part)) lines.push_back(log.substr(start, end - start));
  return lines;
}

// `value` as the server's log writes it (logfmt).
std::string Logfmt(const std::string& value) {
  if (value.find_first_of(" \"=\\") == std::string::npos) return value;
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

TEST_CASE("each kind of unreadable row: the rest served exactly, the error metric per scrape, one log line per "
          "minute, the landing page lists it") {
  for (const promsqlite::test::UnreadableCase& c : promsqlite::test::UnreadableCases()) {
    if (!c.core) continue;
    CAPTURE(c.name);
    server_test::TempDir dir;
    const std::string db = dir.File("m.db"), served = dir.File("served.db");
    promsqlite::test::WriteSoundFile(db);
    promsqlite::test::ExecSql(db, c.mistake);
    promsqlite::test::WriteSoundFile(served);
    if (!c.served_as.empty()) promsqlite::test::ExecSql(served, c.served_as);

    server_test::ServerProcess server({"--db", db});
    REQUIRE(server.Start());
    auto client = server_test::Client(server.port());
    const std::string metric = "promsqlite_file_read_errors{family=\"" + c.row.family + "\"} 1\n";
    for (bool openmetrics : {false, true, false}) {
      CAPTURE(openmetrics);
      httplib::Headers accept;
      if (openmetrics) accept.emplace("Accept", "application/openmetrics-text; version=1.0.0");
      auto res = client.Get("/metrics", accept);
      REQUIRE(res);
      CHECK(res->status == 200);
      // The file's part first, exactly as a sound file without the row
      // renders (OpenMetrics: up to its # EOF), then the server's own.
      std::string file = promsqlite::Reader(served).Render(openmetrics ? promsqlite::Format::kOpenMetrics
                                                                        : promsqlite::Format::kText);
      if (openmetrics) file.resize(file.size() - std::string("# EOF\n").size());
      CHECK(res->body.compare(0, file.size(), file) == 0);
      const std::string own = openmetrics ? "# TYPE promsqlite_build_info gauge\n" : "# HELP promsqlite_build_info ";
      CHECK(res->body.compare(file.size(), own.size(), own) == 0);
      CHECK(Contains(res->body, "\n" + metric));
      promsqlite::test::CommandResult valid = promsqlite::test::CheckExposition(res->body, openmetrics);
      CHECK_MESSAGE(valid.exit_code == 0, valid.output);
    }
    // Three scrapes within the minute: one line, naming the row's problem.
    const std::vector<std::string> lines =
        LinesWith(server.Log(), "msg=\"rows of the file cannot be read: left out of the scrape\"");
    REQUIRE(lines.size() == 1);
    CHECK(Contains(lines[0], " level=warn "));
    CHECK(Contains(lines[0], " family=" + Logfmt(c.row.family) + " table=" + c.row.table +
                                 " problem=" + Logfmt(c.row.problem) + " rows=1 first=" + Logfmt(c.row.key) +
                                 " fix=\"promsqlite check --repair\""));
    auto page = client.Get("/");
    REQUIRE(page);
    CHECK(Contains(page->body, "1 row left out of the last scrape ("));
    CHECK(Contains(page->body, "<tr><td>" + c.row.table + "</td><td>" + c.row.key + "</td><td>" + c.row.family +
                                   "</td><td>" + promsqlite_server::HtmlEscape(c.row.problem) + "</td></tr>"));

    // Repaired, the next scrape has no such metric, and the page says none.
    promsqlite::Registry(db).DeleteUnreadableRows();
    auto res = client.Get("/metrics");
    REQUIRE(res);
    CHECK_FALSE(Contains(res->body, "promsqlite_file_read_errors{"));
    CHECK(Contains(client.Get("/")->body, "<tr><th>Unreadable rows</th><td>none in the last scrape ("));
  }
}

TEST_CASE("the landing page before any scrape says the unreadable rows are not known yet") {
  server_test::TempDir dir;
  const std::string db = dir.File("m.db");
  promsqlite::test::WriteSoundFile(db);
  server_test::ServerProcess server({"--db", db});
  REQUIRE(server.Start());
  auto page = server_test::Client(server.port()).Get("/");
  REQUIRE(page);
  CHECK(Contains(page->body, "<tr><th>Unreadable rows</th><td>not known until the first scrape of "));
}

TEST_CASE("read errors are logged once per distinct problem per minute, at most 10 lines a scrape and a summary") {
  using std::chrono::seconds;
  promsqlite_server::SetLogLevel(promsqlite_server::LogLevel::kError);  // counted, not shown
  promsqlite_server::ReadErrors errors;
  promsqlite::SkippedRows skipped;
  skipped.listed = {{"series", "id=7", "jobs", "labels are not a tuple encoding"},
                    {"series", "id=8", "jobs", "labels are not a tuple encoding"},
                    {"series", "id=3", "temperature_celsius", "value holds TEXT 'abc', not a number or NULL"}};
  skipped.per_family = {{"jobs", 2}, {"temperature_celsius", 1}};
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(errors.Record(skipped, 1700000000, t0) == 2);  // two distinct problems, two rows of the first
  CHECK(errors.Record(skipped, 1700000015, t0 + seconds(15)) == 0);
  CHECK(errors.Record(skipped, 1700000059, t0 + seconds(59)) == 0);
  CHECK(errors.Record(skipped, 1700000060, t0 + seconds(60)) == 2);  // a minute later, again
  double when = 0;
  CHECK(errors.Last(&when).listed == skipped.listed);
  CHECK(when == 1700000060);
  CHECK(errors.Record({}, 1700000061, t0 + seconds(61)) == 0);
  CHECK(errors.Last(&when).empty());

  // A thousand distinct problems: ten lines and a summary, the next ten a
  // scrape later.
  promsqlite_server::ReadErrors many;
  promsqlite::SkippedRows flood;
  for (int i = 0; i < 1000; ++i) {
    flood.listed.push_back({"series", "id=" + std::to_string(i), "f" + std::to_string(i), "labels are not a tuple encoding"});
    flood.per_family["f" + std::to_string(i)] = 1;
  }
  CHECK(many.Record(flood, 1700000000, t0) == 11);
  CHECK(many.Record(flood, 1700000001, t0 + seconds(1)) == 10);  // the summary waits a minute
}
