// Rows of the file that a scrape left out because they cannot be read
// (promsqlite::UnreadableRow, ReaderOptions::unreadable_rows kSkip): the
// metric of each scrape, one log line per distinct problem per minute, and
// the last scrape's list for the landing page. node_exporter's textfile
// collector reports its unreadable files the same way.
//
// Thread safety: safe for concurrent use.
#ifndef PROMSQLITE_SERVER_READ_ERRORS_H_
#define PROMSQLITE_SERVER_READ_ERRORS_H_

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

#include "promsqlite/exposition.h"
#include "promsqlite/unreadable_row.h"

namespace promsqlite_server {

class ReadErrors {
 public:
  // The log lines of one scrape at most (the rest wait for a later scrape,
  // and a summary line says how many problems went unsaid): a file with a
  // thousand distinct problems must not flood the log.
  static constexpr size_t kMaxLinesPerScrape = 10;
  static constexpr std::chrono::seconds kLogInterval{60};

  // After each scrape: logs the problems of `skipped` not logged within the
  // last kLogInterval (before `at`), and keeps it as the last scrape's (at
  // Unix time `now`). Returns the number of lines logged.
  size_t Record(const promsqlite::SkippedRows& skipped, double now,
                std::chrono::steady_clock::time_point at = std::chrono::steady_clock::now());

  // What the last scrape left out, and when it ran (Unix seconds; 0 before
  // the first scrape).
  promsqlite::SkippedRows Last(double* when) const;

  // promsqlite_file_read_errors{family=...}: the rows of each family that
  // `skipped` left out (no sample for a scrape that left out nothing).
  static promsqlite::MemoryFamily Metric(const promsqlite::SkippedRows& skipped);

 private:
  using Problem = std::tuple<std::string, std::string, std::string>;  // table, family, problem
  mutable std::mutex mu_;
  promsqlite::SkippedRows last_;
  double last_time_ = 0;
  // When each problem was last logged; entries older than kLogInterval go.
  std::map<Problem, std::chrono::steady_clock::time_point> logged_;
  std::chrono::steady_clock::time_point summary_logged_{};
};

}  // namespace promsqlite_server

#endif  // PROMSQLITE_SERVER_READ_ERRORS_H_
