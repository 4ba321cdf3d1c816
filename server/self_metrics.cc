#include "self_metrics.h"

#include <sys/time.h>

#include <algorithm>
#include <string>

#include "log.h"
#include "process_stats.h"
#include "promsqlite/version.h"

namespace promsqlite_server {

namespace {

using promsqlite::MemoryFamily;
using promsqlite::MetricType;

double Now() {
  timeval tv;
  gettimeofday(&tv, nullptr);
  return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
}

MemoryFamily Family(MetricType type, std::string name, std::string help, std::string unit,
                    double value, double created = 0) {
  MemoryFamily family;
  family.spec.type = type;
  family.spec.name = std::move(name);
  family.spec.help = std::move(help);
  family.spec.unit = std::move(unit);
  family.samples.push_back({{}, value, created});
  return family;
}

}  // namespace

SelfMetrics::SelfMetrics() : start_time_(Now()) {}

void SelfMetrics::RecordScrape(double seconds, bool failed) {
  std::lock_guard<std::mutex> lock(mu_);
  scrapes_ += 1;
  if (failed) errors_ += 1;
  last_duration_ = seconds;
}

void SelfMetrics::EnableRemoteWrite() {
  std::lock_guard<std::mutex> lock(mu_);
  remote_write_ = true;
}

void SelfMetrics::RecordRemoteWrite(int64_t samples, int64_t histograms, bool ok, double now) {
  std::lock_guard<std::mutex> lock(mu_);
  rw_samples_ += static_cast<double>(samples);
  rw_histograms_ += static_cast<double>(histograms);
  if (ok) rw_last_success_ = now;
  else rw_failures_ += 1;
}

std::vector<MemoryFamily> SelfMetrics::Families(const promsqlite::FileStats& stats,
                                                const promsqlite::SkippedRows* skipped) const {
  const auto kCounter = MetricType::kCounter;
  const auto kGauge = MetricType::kGauge;
  std::vector<MemoryFamily> out;

  MemoryFamily build;
  build.spec.type = kGauge;
  build.spec.name = "promsqlite_build_info";
  build.spec.help = "A metric with a constant '1' value labeled by the promsqlite and SQLite versions.";
  build.spec.label_names = {"version", "sqlite_version"};
  build.samples.push_back({{promsqlite::Version(), promsqlite::SqliteVersion()}, 1, 0});
  out.push_back(std::move(build));

  {
    std::lock_guard<std::mutex> lock(mu_);
    // This scrape is counted once it ends; these describe the ones before.
    out.push_back(Family(kCounter, "promsqlite_server_scrapes_total",
                         "Scrapes of /metrics answered since the server started.", "", scrapes_,
                         start_time_));
    out.push_back(Family(kCounter, "promsqlite_server_scrape_errors_total",
                         "Scrapes of /metrics that failed because the file could not be read.", "",
                         errors_, start_time_));
    out.push_back(Family(kGauge, "promsqlite_server_last_scrape_duration_seconds",
                         "Seconds the previous scrape of /metrics took, sending included.",
                         "seconds", last_duration_));
    if (remote_write_) {
      out.push_back(Family(kCounter, "promsqlite_remote_write_samples_sent_total",
                           "Float samples the remote-write agent delivered.", "", rw_samples_, start_time_));
      out.push_back(Family(kCounter, "promsqlite_remote_write_histograms_sent_total",
                           "Native histogram samples the remote-write agent delivered.", "", rw_histograms_,
                           start_time_));
      out.push_back(Family(kCounter, "promsqlite_remote_write_failures_total",
                           "Sends of the remote-write agent that failed after their retries.", "", rw_failures_,
                           start_time_));
      out.push_back(Family(kGauge, "promsqlite_remote_write_last_success_timestamp_seconds",
                           "Unix time of the agent's last delivered send; 0 before the first.", "seconds",
                           rw_last_success_));
    }
  }
  if (connections_) {
    const ConnectionStats c = connections_();
    out.push_back(Family(kGauge, "promsqlite_server_connections", "Open HTTP connections.", "",
                         static_cast<double>(c.open)));
    out.push_back(Family(kGauge, "promsqlite_server_waiting_response_bytes",
                         "Bytes of responses waiting in memory for clients that have not taken them yet.", "bytes",
                         static_cast<double>(c.response_bytes_waiting)));
    MemoryFamily closed;
    closed.spec.type = kCounter;
    closed.spec.name = "promsqlite_server_connections_closed_total";
    closed.spec.help =
        "Connections the server closed before their client did: beyond a connection limit, for a memory "
        "budget, a response its client was too slow to take, or a wait that timed out.";
    closed.spec.label_names = {"reason"};
    for (const auto& [reason, count] : std::initializer_list<std::pair<const char*, uint64_t>>{
             {"per_address_limit", c.closed_per_address_limit},
             {"total_limit", c.closed_total_limit},
             {"request_memory", c.closed_request_memory},
             {"response_memory", c.closed_response_memory},
             {"slow_response", c.closed_slow_response},
             {"timeout", c.closed_timeout}})
      closed.samples.push_back({{reason}, static_cast<double>(count), start_time_});
    out.push_back(std::move(closed));
  }
  out.push_back(Family(kGauge, "promsqlite_server_file_exists",
                       "1 when the promsqlite file exists, 0 while no writer has created it.", "",
                       stats.exists ? 1 : 0));
  out.push_back(Family(kGauge, "promsqlite_server_file_families", "Metric families in the file.",
                       "", static_cast<double>(stats.families)));
  out.push_back(Family(kGauge, "promsqlite_server_file_series", "Series in the file.", "",
                       static_cast<double>(stats.series)));
  out.push_back(Family(kGauge, "promsqlite_server_file_size_bytes",
                       "Size of the promsqlite file in bytes.", "bytes",
                       static_cast<double>(stats.db_bytes)));
  out.push_back(Family(kGauge, "promsqlite_server_wal_size_bytes",
                       "Size of the file's write-ahead log in bytes (0 when absent).", "bytes",
                       static_cast<double>(stats.wal_bytes)));
  if (!stats.waiting.empty()) {
    // Writers whose updates wait for the write lock another process holds
    // (Options::update_lock_wait_ms): none while nothing waits.
    MemoryFamily waiting, age;
    waiting.spec.type = age.spec.type = kGauge;
    waiting.spec.name = "promsqlite_writer_updates_waiting";
    waiting.spec.help =
        "Updates of a writer process that found the file's write lock held by another process and wait, "
        "kept in its pending region, to be written once it is free.";
    age.spec.name = "promsqlite_writer_updates_waiting_seconds";
    age.spec.help = "Seconds the oldest of a writer process's updates waiting for the write lock has waited.";
    age.spec.unit = "seconds";
    waiting.spec.label_names = age.spec.label_names = {"pid"};
    const double now = Now();
    for (const promsqlite::WaitingWriter& w : stats.waiting) {
      waiting.samples.push_back({{std::to_string(w.pid)}, static_cast<double>(w.updates), 0});
      age.samples.push_back({{std::to_string(w.pid)}, w.since > 0 ? std::max(0.0, now - w.since) : 0, 0});
    }
    out.push_back(std::move(waiting));
    out.push_back(std::move(age));
  }
  if (skipped) out.push_back(ReadErrors::Metric(*skipped));

  ProcessStats process;
  std::string error;
  if (!ReadProcessStats(&process, &error)) {
    Log(LogLevel::kWarn, "cannot read process metrics", {{"err", error}});
    return out;
  }
  out.push_back(Family(kCounter, "process_cpu_seconds_total",
                       "Total user and system CPU time spent in seconds.", "seconds",
                       process.cpu_seconds));
  out.push_back(Family(kGauge, "process_max_fds", "Maximum number of open file descriptors.", "",
                       process.max_fds));
  out.push_back(Family(kGauge, "process_open_fds", "Number of open file descriptors.", "",
                       process.open_fds));
  out.push_back(Family(kGauge, "process_resident_memory_bytes", "Resident memory size in bytes.",
                       "bytes", process.resident_bytes));
  out.push_back(Family(kGauge, "process_start_time_seconds",
                       "Start time of the process since unix epoch in seconds.", "seconds",
                       process.start_time_seconds));
  out.push_back(Family(kGauge, "process_virtual_memory_bytes", "Virtual memory size in bytes.",
                       "bytes", process.virtual_bytes));
  return out;
}

}  // namespace promsqlite_server
