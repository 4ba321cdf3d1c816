#include "base/process_identity.h"

#include <pthread.h>
#include <unistd.h>

#include <atomic>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace promsqlite::detail {
namespace {

// Field 22 of /proc/PID/stat; 0 when the process does not exist or is a
// zombie (dead, not yet reaped). The command name (field 2) may hold spaces
// and parentheses: parse after the last ')'.
int64_t StartTime(int64_t pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%lld/stat", static_cast<long long>(pid));
  FILE* f = std::fopen(path, "r");
  if (f == nullptr) return 0;
  char buf[1024];
  size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  const char* p = std::strrchr(buf, ')');
  if (p == nullptr || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X') return 0;
  // After ") " come fields 3, 4, ...: skip to field 22.
  ++p;
  for (int field = 3; field < 22 && *p; ++field) {
    while (*p == ' ') ++p;
    while (*p && *p != ' ') ++p;
  }
  return std::strtoll(p, nullptr, 10);
}

std::string BootId() {
  static const std::string boot_id = [] {
    std::string id;
    if (FILE* f = std::fopen("/proc/sys/kernel/random/boot_id", "r")) {
      char buf[64] = {0};
      if (std::fgets(buf, sizeof buf, f)) id = buf;
      std::fclose(f);
    }
    while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
    return id;
  }();
  return boot_id;
}

std::atomic<uint64_t> fork_generation{0};

void OnForkChild() { fork_generation.fetch_add(1, std::memory_order_relaxed); }

}  // namespace

uint64_t ForkGeneration() {
  // If the handler cannot be installed (out of memory), every call reads
  // the pid instead: slower, never wrong.
  static const bool installed = pthread_atfork(nullptr, nullptr, &OnForkChild) == 0;
  if (!installed) return static_cast<uint64_t>(getpid()) << 32;
  return fork_generation.load(std::memory_order_relaxed);
}

ProcessIdentity SelfIdentity() {
  ProcessIdentity self;
  self.pid = getpid();
  self.start_time = StartTime(self.pid);
  self.boot_id = BootId();
  return self;
}

bool IsAlive(const ProcessIdentity& process) {
  if (process.boot_id != BootId()) return false;
  int64_t start = StartTime(process.pid);
  return start != 0 && start == process.start_time;
}

}  // namespace promsqlite::detail
