// When the store's background work is due, and where it runs: checkpoints
// and housekeeping passes, asked for by commits and run off the thread that
// committed, so that no update pays for either (docs/write-lock.md, points
// 3 and 4 and its bounds).
//
// Checkpoints: a commit that leaves the WAL at the due length marks one due;
// once the update's turn at the write gate is over, it goes to this
// process's checkpointer thread (store/checkpointer.h; the policy is
// docs/checkpoints.md). Housekeeping: the first commit after
// Options::housekeeping_interval_ms asks this process's housekeeping thread
// (started then) for a pass. The pass (the store's, store/housekeeping.cc)
// runs batch by batch, each batch one short write transaction under the
// store's mutex, taken per batch and left to others for a moment after it
// (Store::RunPassBatch): an update of this process waits for at most one
// batch, as other processes' updates do for SQLite's lock.
// Registry::Housekeep runs a pass on its caller's thread, never at the same
// time as the thread's.
//
// Thread safety: AfterCommit and RunDueCheckpoint with the store's mutex
// held (the store's commit path); HousekeepNow and Stop from any thread
// without it. Fork: the threads exist only in the process that started them;
// a child calls AbandonAfterFork and never touches the parent's threads,
// connections or locks, and starts its own when its work falls due. Cost:
// per commit, a comparison and a read of the clock; per writing Registry, up
// to two threads, each started at its first task, asleep in between.
// Exit: Stop (and the destructor) stops a pass after its batch in progress.
#ifndef PROMSQLITE_SRC_STORE_MAINTENANCE_H_
#define PROMSQLITE_SRC_STORE_MAINTENANCE_H_

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "promsqlite/housekeeping.h"
#include "promsqlite/options.h"

namespace promsqlite::detail {

class Checkpointer;
class WriteGate;

class Maintenance {
 public:
  // One housekeeping pass, batch by batch, that stops between two batches
  // once `stop` is true (Store::HousekeepPass).
  using Pass = std::function<HousekeepingReport(const std::atomic<bool>& stop)>;

  Maintenance(std::string path, const Options& options, Pass pass);
  ~Maintenance();  // Stop()
  Maintenance(const Maintenance&) = delete;
  Maintenance& operator=(const Maintenance&) = delete;

  // After a commit of the store's connection that left the WAL `wal_pages`
  // long: marks a checkpoint due (for RunDueCheckpoint) and, once the
  // housekeeping interval is over, asks the housekeeping thread for a pass.
  // Never throws: the update is committed. Requires the store's mutex.
  void AfterCommit(int wal_pages, const WriteGate* gate) noexcept;

  // After the update's turn at the write gate: hands a checkpoint that its
  // commit made due to the checkpointer thread. Never throws. Requires the
  // store's mutex.
  void RunDueCheckpoint(WriteGate* gate) noexcept;

  // Registry::Housekeep: one pass on the caller's thread, after the pass
  // the housekeeping thread may be running.
  HousekeepingReport HousekeepNow();

  // Stops the housekeeping thread (a pass in progress ends after its
  // current batch) and joins it. The store calls it first when it closes
  // its connection, which the pass uses.
  void StopHousekeeping() noexcept;

  // Before the store's connection closes, after StopHousekeeping, its last
  // commit having left the WAL `wal_pages` long: when no other process has
  // the file open and the WAL holds at least kCloseCheckpointPages, has it
  // checkpointed and cut to nothing (TRUNCATE), for the next process to
  // open the file would otherwise read the whole WAL to rebuild its index
  // (each run of the CLI). Then Stop(). Never throws.
  void Close(int wal_pages, const WriteGate* gate) noexcept;

  // The WAL length from which a writer that closes the file as its last
  // user checkpoints it (Close). Rebuilding the WAL's index at open costs
  // about half a microsecond a page; a checkpoint and the new WAL after it,
  // six device flushes (the WAL twice, the database, the new WAL's header,
  // the folder twice): 256 pages keep both small for processes that each
  // open the file for one update (an increment appends one page).
  static constexpr int kCloseCheckpointPages = 256;

  // Stops the housekeeping thread (a pass in progress ends after its
  // current batch) and the checkpointer's (a checkpoint asked for or in
  // progress finishes), and joins them. The store calls it before it
  // closes its connection, which the pass uses.
  void Stop() noexcept;

  // In a forked child, before anything else: forgets the parent's threads
  // and their state without touching them. Does nothing in the process that
  // made this object, so it may be called more than once.
  void AbandonAfterFork() noexcept;

  // Background work's failures: Options::on_background_error, or a line on
  // stderr. Never throws.
  void Report(const std::string& message) const noexcept;

 private:
  struct Housekeeper;  // shared with the housekeeping thread
  void RequestHousekeeping();
  void HousekeepLoop(std::shared_ptr<Housekeeper> housekeeper);
  // The WAL length (pages) at which a checkpoint is due: the threshold, or
  // more while the checkpointer backs off.
  int DueWalPages() const;

  const std::string path_;
  const Options options_;
  const Pass pass_;
  pid_t owner_;  // the process whose threads these are

  // Checkpoints; under the store's mutex.
  std::unique_ptr<Checkpointer> checkpointer_;  // started at the first due checkpoint
  bool checkpoint_due_ = false;  // set by AfterCommit, run by RunDueCheckpoint
  int due_wal_pages_ = 0;        // the WAL's length at that commit
  uint32_t checkpoints_seen_ = 0;  // WriteGate::Checkpoints() when it became due

  // Housekeeping.
  double next_housekeeping_ = 0;  // Unix seconds after which a commit asks for a pass; store's mutex
  std::shared_ptr<Housekeeper> housekeeper_;
  std::unique_ptr<std::thread> thread_;  // started at the first pass asked for; store's mutex
};

}  // namespace promsqlite::detail

#endif  // PROMSQLITE_SRC_STORE_MAINTENANCE_H_
