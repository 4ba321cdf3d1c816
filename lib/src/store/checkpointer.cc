#include "store/checkpointer.h"

#include <SQLiteCpp/Database.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>

#include "store/database.h"
#include "store/write_gate.h"

namespace promsqlite::detail {

namespace {

struct CheckpointWait {
  std::chrono::steady_clock::time_point deadline;
};

// Readers between two renders leave gaps of microseconds: poll for one
// every 50 us (SQLite's own busy handler sleeps 1, 2, 5... ms and misses
// them), until the deadline.
int PollForReaders(void* context, int) {
  auto* wait = static_cast<CheckpointWait*>(context);
  if (std::chrono::steady_clock::now() >= wait->deadline) return 0;
  std::this_thread::sleep_for(std::chrono::microseconds(50));
  return 1;
}

}  // namespace

struct Checkpointer::State {
  std::mutex mu;
  std::condition_variable cv;
  bool requested = false;
  bool running = false;
  bool stop = false;
  int wal_pages = 0;
  bool truncate = false;
  bool have_gate_count = false;
  uint32_t gate_count = 0;
};

Checkpointer::Checkpointer(std::string path, const Options& options, std::function<void(const std::string&)> report)
    : path_(std::move(path)),
      options_(options),
      report_(std::move(report)),
      state_(std::make_shared<State>()),
      due_pages_(options.checkpoint_wal_pages) {}

Checkpointer::~Checkpointer() {
  if (thread_) {
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      state_->stop = true;
    }
    state_->cv.notify_all();
    thread_->join();
  }
}

void Checkpointer::AbandonAfterFork() noexcept {
  thread_.release();  // that thread does not exist in the child
  db_.release();      // nor may the child close the parent's connection
  state_ = std::make_shared<State>();  // the parent's may be locked
  gate_.reset();  // closing our copy of its descriptor drops none of the parent's locks
}

void Checkpointer::Request(int wal_pages, bool have_gate_count, uint32_t gate_count, bool truncate) {
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->truncate = state_->truncate || truncate;
    state_->requested = true;
    state_->wal_pages = wal_pages;
    state_->have_gate_count = have_gate_count;
    state_->gate_count = gate_count;
  }
  if (!thread_) thread_ = std::make_unique<std::thread>(&Checkpointer::Loop, this, state_);
  state_->cv.notify_all();
}

void Checkpointer::Drain() {
  std::unique_lock<std::mutex> lock(state_->mu);
  state_->cv.wait(lock, [&] { return !state_->requested && !state_->running; });
}

void Checkpointer::Loop(std::shared_ptr<State> state) {
  std::unique_lock<std::mutex> lock(state->mu);
  for (;;) {
    state->cv.wait(lock, [&] { return state->requested || state->stop; });
    // A checkpoint asked for runs even when the stop came first: a process
    // that exits right after its commit (the CLI) would otherwise never
    // checkpoint, and the WAL would grow until the back-pressure.
    if (!state->requested) return;
    state->requested = false;
    state->running = true;
    const int wal_pages = state->wal_pages;
    const bool truncate = state->truncate;
    state->truncate = false;
    const bool have_gate_count = state->have_gate_count;
    const uint32_t gate_count = state->gate_count;
    lock.unlock();
    try {
      CheckpointOnce(wal_pages, have_gate_count, gate_count, truncate);
    } catch (const std::exception& e) {
      report_(path_ + ": checkpoint failed: " + e.what());
    }
    lock.lock();
    state->running = false;
    state->cv.notify_all();
  }
}

// The checkpoint policy (docs/checkpoints.md): only writers checkpoint (this
// thread of a writing process, asked by its commits), only in RESTART mode,
// which takes the write lock for its whole duration. So no checkpoint ever
// runs concurrently with a writer resetting the WAL, nor with another
// checkpoint: the interleaving behind SQLite's WAL-reset bug (fixed in
// 3.51.3) cannot arise from us. (RESTART, not TRUNCATE: truncating and
// regrowing the -wal costs a third of the write rate; journal_size_limit
// bounds the file instead. TRUNCATE, which takes the write lock in the same
// way, only for a writer that closes the file as its last user.) Readers
// are waited for by PollForReaders for at
// most checkpoint_busy_timeout_ms; a checkpoint that they still keep from
// finishing has copied what it could, and the next one waits until the WAL
// has grown by twice as much again (up to 16 times the threshold), so that a
// reader that never pauses cannot make every commit hold the write lock.
void Checkpointer::CheckpointOnce(int wal_pages, bool have_gate_count, uint32_t gate_count, bool truncate) {
  if (!gate_tried_) {
    gate_tried_ = true;
    if (options_.lock_wait == LockWait::kFairQueue) gate_ = WriteGate::Open(path_);
  }
  // Another writer checkpointed the same WAL since that commit.
  auto done_since = [&] { return have_gate_count && gate_ && gate_->Checkpoints() != gate_count; };
  if (done_since()) return;
  // The checkpoint must sync the WAL before it copies it; most of that sync
  // is done here, holding no lock.
  int wal = open((path_ + "-wal").c_str(), O_RDONLY | O_CLOEXEC);
  if (wal >= 0) {
    fdatasync(wal);
    close(wal);
  }
  GuardSqlite(path_, "cannot checkpoint", [&] {
    if (!db_) {
      db_ = OpenDatabase(path_, true, false, options_.busy_timeout_ms);
      ConfigureWriter(*db_, options_);  // as the writers' connection
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.busy_timeout_ms);
    GateHold hold;
    if (gate_ && hold.Enter(gate_.get(), deadline) == WriteGate::Entry::kTimedOut) return;  // due again later
    if (done_since()) return;
    sqlite3* h = db_->getHandle();
    CheckpointWait wait{std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(options_.checkpoint_busy_timeout_ms)};
    sqlite3_busy_handler(h, &PollForReaders, &wait);
    int log_frames = 0, copied_frames = 0;
    int rc = sqlite3_wal_checkpoint_v2(h, nullptr, truncate ? SQLITE_CHECKPOINT_TRUNCATE : SQLITE_CHECKPOINT_RESTART,
                                       &log_frames, &copied_frames);
    const int threshold = options_.checkpoint_wal_pages;
    if (rc == SQLITE_OK) {
      if (gate_) gate_->CheckpointDone();
      backoff_ = 1;
      due_pages_.store(threshold, std::memory_order_relaxed);
    } else {
      // Readers kept it from finishing (it copied what it could): wait until
      // the WAL has grown by twice as much again, up to 16 times.
      backoff_ = std::min(backoff_ * 2, 16);
      if (gate_ && have_gate_count) gate_->ReleaseCheckpointClaim(gate_count);
      due_pages_.store(std::max(wal_pages, log_frames) + threshold * backoff_, std::memory_order_relaxed);
    }
  });
}

}  // namespace promsqlite::detail
