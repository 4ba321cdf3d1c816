// Who a writer process is, and whether it still runs: pid + start time
// (pids are reused) + boot id (start times restart at boot). Liveness is
// decided from /proc, so it holds for processes of this host and pid
// namespace only (the file is single-host by design).
#ifndef PROMSQLITE_SRC_BASE_PROCESS_IDENTITY_H_
#define PROMSQLITE_SRC_BASE_PROCESS_IDENTITY_H_

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

// A number that differs in every child of fork() from its parent's (a
// pthread_atfork child handler bumps it): how a connection or lock state
// opened before a fork is recognised in the child. Costs one atomic load,
// against a system call for getpid() (~1 us on some VMs) on every update.
// The handler is installed by the first call, so a value read before a
// fork always differs from the one read after it in the child. A child made
// with a raw clone() system call (which runs no fork handlers) is not
// recognised: use fork(), or exec.
uint64_t ForkGeneration();

}  // namespace promsqlite::detail

#endif  // PROMSQLITE_SRC_BASE_PROCESS_IDENTITY_H_
