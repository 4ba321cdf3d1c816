// The standard process_* figures of Prometheus clients, read from /proc.
#ifndef PROMSQLITE_SERVER_PROCESS_STATS_H_
#define PROMSQLITE_SERVER_PROCESS_STATS_H_

#include <string>

namespace promsqlite_server {

struct ProcessStats {
  double cpu_seconds = 0;         // user + system
  double resident_bytes = 0;
  double virtual_bytes = 0;
  double open_fds = 0;
  double max_fds = 0;             // the soft RLIMIT_NOFILE
  double start_time_seconds = 0;  // Unix time
};

// Reads /proc/self/stat, /proc/self/fd, /proc/self/limits and /proc/stat.
// False with *error when /proc cannot be read (then *stats is partial).
bool ReadProcessStats(ProcessStats* stats, std::string* error);

}  // namespace promsqlite_server

#endif  // PROMSQLITE_SERVER_PROCESS_STATS_H_
