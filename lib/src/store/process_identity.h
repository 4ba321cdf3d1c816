// Who a writer process is, and whether it still runs: pid + start time
// (pids are reused) + boot id (start times restart at boot). Liveness is
// decided from /proc, so it holds for processes of this host and pid
// namespace only (the file is single-host by design).
#ifndef PROMSQLITE_SRC_STORE_PROCESS_IDENTITY_H_
#define PROMSQLITE_SRC_STORE_PROCESS_IDENTITY_H_

#include <cstdint>
#include <string>

namespace promsqlite::detail {

struct ProcessIdentity {
  int64_t pid = 0;
  int64_t start_time = 0;  // /proc/PID/stat field 22, clock ticks after boot
  std::string boot_id;     // /proc/sys/kernel/random/boot_id
};

ProcessIdentity SelfIdentity();

// True when a process with exactly this identity runs now.
bool IsAlive(const ProcessIdentity& process);

}  // namespace promsqlite::detail

#endif  // PROMSQLITE_SRC_STORE_PROCESS_IDENTITY_H_
