#include "landing_page.h"

#include <cstdio>
#include <ctime>

#include "promsqlite/version.h"

namespace promsqlite_server {

namespace {

// "12345 bytes (12.1 KiB)": exact for scripts, readable for people.
std::string Bytes(int64_t n) {
  std::string out = std::to_string(n) + " bytes";
  if (n >= 1024) {
    const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
    double v = static_cast<double>(n);
    int u = -1;
    while (v >= 1024 && u < 3) {
      v /= 1024;
      ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof(buf), " (%.1f %s)", v, units[u]);
    out += buf;
  }
  return out;
}

void Row(std::string& out, const char* name, const std::string& value) {
  out += "<tr><th>";
  out += name;
  out += "</th><td>";
  out += value;
  out += "</td></tr>\n";
}

// "2024-05-01 12:00:00 UTC".
std::string UtcTime(double unix_seconds) {
  const time_t t = static_cast<time_t>(unix_seconds);
  tm parts;
  gmtime_r(&t, &parts);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &parts);
  return buf;
}

}  // namespace

std::string HtmlEscape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string LandingPage(const std::string& db_path, const promsqlite::FileStats& stats,
                        const std::string& error, const promsqlite::SkippedRows& skipped, double scraped) {
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<title>promsqlite-server</title>\n"
      "<style>body{font-family:sans-serif;margin:2em}th{text-align:left;padding-right:1em}"
      ".error{color:#b00}</style>\n</head>\n<body>\n<h1>promsqlite-server</h1>\n"
      "<p>Serves the Prometheus metrics that processes of this host write to a shared "
      "promsqlite (SQLite) file, plus this server's own metrics.</p>\n"
      "<p><a href=\"metrics\"><code>/metrics</code></a>: the exposition, in the Prometheus text format, OpenMetrics or protobuf.</p>\n<table>\n";
  Row(out, "Database", "<code>" + HtmlEscape(db_path) + "</code>");
  if (!error.empty()) {
    Row(out, "Status", "<span class=\"error\">cannot be read: " + HtmlEscape(error) + "</span>");
  } else if (!stats.exists) {
    Row(out, "Status", "does not exist yet (served as empty until a writer creates it)");
  } else {
    Row(out, "Status", "readable");
  }
  Row(out, "File size", Bytes(stats.db_bytes));
  // Next to a small file, a WAL of several MiB looks like a leak: it is
  // reused in place and bounded (docs/checkpoints.md).
  Row(out, "WAL size",
      Bytes(stats.wal_bytes) +
          " <small>(the write-ahead log: updates land here first and are copied into the file every few "
          "MiB; it is then overwritten from the start, not grown, so it normally stays under about 8 MiB with the "
          "default settings, whatever the file's size)</small>");
  Row(out, "Families", std::to_string(stats.families));
  Row(out, "Series", std::to_string(stats.series));
  const int64_t left_out = skipped.total();
  if (scraped == 0) {
    Row(out, "Unreadable rows", "not known until the first scrape of <code>/metrics</code>");
  } else if (left_out == 0) {
    Row(out, "Unreadable rows", "none in the last scrape (" + UtcTime(scraped) + ")");
  } else {
    Row(out, "Unreadable rows",
        "<span class=\"error\">" + std::to_string(left_out) + (left_out == 1 ? " row" : " rows") +
            " left out of the last scrape (" + UtcTime(scraped) +
            ")</span>: written wrongly by another program, they cannot be read; everything else is served "
            "(<code>promsqlite check</code> lists them, <code>promsqlite check --repair</code> deletes them)");
  }
  Row(out, "promsqlite version", HtmlEscape(promsqlite::Version()));
  Row(out, "SQLite version", HtmlEscape(promsqlite::SqliteVersion()));
  out += "</table>\n";
  if (left_out > 0) {
    out += "<h2>Rows left out of the last scrape</h2>\n<table>\n"
           "<tr><th>table</th><th>key</th><th>family</th><th>problem</th></tr>\n";
    for (const promsqlite::UnreadableRow& row : skipped.listed)
      out += "<tr><td>" + HtmlEscape(row.table) + "</td><td>" + HtmlEscape(row.key) + "</td><td>" +
             HtmlEscape(row.family) + "</td><td>" + HtmlEscape(row.problem) + "</td></tr>\n";
    out += "</table>\n";
    const int64_t unlisted = left_out - static_cast<int64_t>(skipped.listed.size());
    if (unlisted > 0) out += "<p>and " + std::to_string(unlisted) + " more.</p>\n";
  }
  out += "</body>\n</html>\n";
  return out;
}

}  // namespace promsqlite_server
