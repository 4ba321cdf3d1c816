// The subcommands of promsqlite-bench, one per concern (one file each).
// Each prints "key: value" lines for bench/run and "# ..." notes, and
// returns the process exit status. Temp files go under --dir.
#ifndef PROMSQLITE_BENCH_BENCHMARKS_H_
#define PROMSQLITE_BENCH_BENCHMARKS_H_

#include "common.h"

namespace bench {

int RunImmediate(const Flags& flags);       // immediate.cc
int RunIncrementNs(const Flags& flags);     // batched.cc: batched vs prometheus-cpp
int RunFlush(const Flags& flags);           // flush.cc
int RunWriters(const Flags& flags);         // writers.cc
int RunPopulate(const Flags& flags);        // populate.cc
int RunRender(const Flags& flags);          // render.cc
int RunRenderAfterWriters(const Flags& flags);  // render_after_writers.cc
int RunWal(const Flags& flags);             // wal.cc
int RunPool(const Flags& flags);            // pool.cc
int RunNative(const Flags& flags);          // native.cc: native vs classic histograms
int RunExpiry(const Flags& flags);          // expiry.cc: increments while housekeeping deletes
int RunChurn(const Flags& flags);           // churn.cc: memory of one writer over 1M short-lived series
int RunScrapePending(const Flags& flags);   // scrape_pending.cc: renders beside 64 writers' pending regions
int RunRecovery(const Flags& flags);        // recovery.cc: Housekeep() recovering 1000 dead writers' regions
int RunBatchedKill(const Flags& flags);     // batched_kill.cc: batched writers SIGKILLed at random
int RunLockHeld(const Flags& flags);        // lock_held.cc: updates while another connection holds the lock
int RunCli(const Flags& flags);             // cli.cc: the promsqlite tool per call, as a shell loop runs it
int RunServerSlowClients(const Flags& flags);  // server_slow_clients.cc: scrapes beside 1000 slow connections

}  // namespace bench

#endif  // PROMSQLITE_BENCH_BENCHMARKS_H_
