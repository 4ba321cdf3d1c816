// Checkpoints in the background: a writer whose commit fills the WAL asks
// for one and returns; a thread of its process syncs the WAL without any
// lock, queues at the write gate, and runs the RESTART checkpoint on a
// connection of its own (docs/checkpoints.md, docs/write-lock.md). So no
// update waits for a checkpoint it did not run into, and none pays for one
// it triggered.
//
// Thread safety: Request and DuePages from any thread. Process safety: the
// checkpoint holds SQLite's write lock, as every checkpoint of ours does.
// Fork: the thread exists only in the process that started it; a child
// calls AbandonAfterFork and never touches the parent's thread, connection
// or gate. Cost: one thread per writing Registry, started at its first
// checkpoint, asleep in between.
#ifndef PROMSQLITE_SRC_STORE_CHECKPOINTER_H_
#define PROMSQLITE_SRC_STORE_CHECKPOINTER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "promsqlite/options.h"

namespace SQLite {
class Database;
}

namespace promsqlite::detail {

class WriteGate;

class Checkpointer {
 public:
  Checkpointer(std::string path, const Options& options, std::function<void(const std::string&)> report);
  ~Checkpointer();  // stops and joins the thread (a checkpoint asked for or in progress finishes first)
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  // The WAL length (pages) from which a checkpoint is due: the threshold, or
  // more after checkpoints that readers kept from finishing (backoff).
  int DuePages() const { return due_pages_.load(std::memory_order_relaxed); }

  // Asks for a checkpoint of the WAL that a commit left `wal_pages` long.
  // With `gate_count` (the write gate's count of completed checkpoints at
  // that commit), it is skipped when another writer completed one since.
  // Requests made while one runs are merged into the next. `truncate`: a
  // TRUNCATE checkpoint, which also cuts the WAL to nothing, for a writer
  // that closes the file as its last user (Maintenance::Close): the next
  // process to open it rebuilds the WAL's index from the WAL, which then
  // holds nothing, while a RESTART checkpoint's WAL would be read whole and
  // taken for frames still to copy.
  void Request(int wal_pages, bool have_gate_count, uint32_t gate_count, bool truncate = false);

  // Tests and orderly shutdown: waits until no request is pending or running.
  void Drain();

  // In a forked child, instead of the destructor: forgets the parent's
  // thread, connection and lock state without touching them.
  void AbandonAfterFork() noexcept;

 private:
  struct State;
  void Loop(std::shared_ptr<State> state);
  void CheckpointOnce(int wal_pages, bool have_gate_count, uint32_t gate_count, bool truncate);

  const std::string path_;
  const Options options_;
  const std::function<void(const std::string&)> report_;
  std::shared_ptr<State> state_;
  std::unique_ptr<std::thread> thread_;
  // Used by the thread only (and the destructor after joining it).
  std::unique_ptr<SQLite::Database> db_;
  std::unique_ptr<WriteGate> gate_;
  bool gate_tried_ = false;
  int backoff_ = 1;
  std::atomic<int> due_pages_;
};

}  // namespace promsqlite::detail

#endif  // PROMSQLITE_SRC_STORE_CHECKPOINTER_H_
