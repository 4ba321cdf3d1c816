// The server's own metrics, rendered after the file's families through the
// library's MemoryFamily (never formatted here): build info, scrape counts
// and duration, the file's size and counts, and the process_* metrics.
//
// Thread safety: safe for concurrent use.
#ifndef PROMSQLITE_SERVER_SELF_METRICS_H_
#define PROMSQLITE_SERVER_SELF_METRICS_H_

#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

#include "connection_front.h"

#include "promsqlite/exposition.h"
#include "promsqlite/reader.h"
#include "read_errors.h"

namespace promsqlite_server {

class SelfMetrics {
 public:
  SelfMetrics();

  // Counts one finished scrape of /metrics.
  void RecordScrape(double seconds, bool failed);

  // Adds the promsqlite_remote_write_* families (the agent is running).
  void EnableRemoteWrite();
  // Counts one send of the remote-write agent; `now` (Unix seconds) is the
  // last success time when `ok`.
  void RecordRemoteWrite(int64_t samples, int64_t histograms, bool ok, double now);

  // Adds the connection families (promsqlite_server_connections...), read
  // from `source` at each scrape. Set before serving.
  void SetConnectionStats(std::function<ConnectionStats()> source) { connections_ = std::move(source); }

  // The families for a scrape of a file with `stats`; with `skipped` (the
  // rows the scrape left out), promsqlite_file_read_errors too.
  std::vector<promsqlite::MemoryFamily> Families(const promsqlite::FileStats& stats,
                                                 const promsqlite::SkippedRows* skipped = nullptr) const;

  // The rows each scrape left out: logged, kept for the landing page.
  ReadErrors& read_errors() { return read_errors_; }

 private:
  const double start_time_;
  mutable std::mutex mu_;
  double scrapes_ = 0;
  double errors_ = 0;
  double last_duration_ = 0;
  bool remote_write_ = false;
  double rw_samples_ = 0, rw_histograms_ = 0, rw_failures_ = 0, rw_last_success_ = 0;
  ReadErrors read_errors_;
  std::function<ConnectionStats()> connections_;
};

}  // namespace promsqlite_server

#endif  // PROMSQLITE_SERVER_SELF_METRICS_H_
