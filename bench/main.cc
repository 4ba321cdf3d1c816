// promsqlite-bench SUBCOMMAND [--flag value]...: one benchmark per
// subcommand; bench/run calls them all and builds the report.
#include <cstdio>
#include <cstring>
#include <exception>

#include "benchmarks.h"

namespace {

struct Subcommand {
  const char* name;
  int (*run)(const bench::Flags&);
};

constexpr Subcommand kSubcommands[] = {
    {"immediate", bench::RunImmediate},
    {"inc-ns", bench::RunIncrementNs},
    {"flush", bench::RunFlush},
    {"writers", bench::RunWriters},
    {"populate", bench::RunPopulate},
    {"render", bench::RunRender},
    {"render-after-writers", bench::RunRenderAfterWriters},
    {"wal", bench::RunWal},
    {"pool", bench::RunPool},
    {"native", bench::RunNative},
    {"expiry", bench::RunExpiry},
    {"churn", bench::RunChurn},
    {"scrape-pending", bench::RunScrapePending},
    {"recovery", bench::RunRecovery},
    {"batched-kill", bench::RunBatchedKill},
    {"cli", bench::RunCli},
    {"lock-held", bench::RunLockHeld},
    {"server-slow-clients", bench::RunServerSlowClients},
};

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2) {
    for (const Subcommand& s : kSubcommands) {
      if (std::strcmp(argv[1], s.name) != 0) continue;
      try {
        return s.run(bench::Flags(argc - 2, argv + 2));
      } catch (const std::exception& e) {
        std::fprintf(stderr, "promsqlite-bench %s: %s\n", argv[1], e.what());
        return 1;
      }
    }
  }
  std::fprintf(stderr, "usage: promsqlite-bench SUBCOMMAND [--flag value]...\nsubcommands:");
  for (const Subcommand& s : kSubcommands) std::fprintf(stderr, " %s", s.name);
  std::fprintf(stderr, "\n(bench/run runs them all; see bench/README.md)\n");
  return 2;
}
