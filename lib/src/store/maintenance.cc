#include "store/maintenance.h"

#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <exception>
#include <mutex>
#include <utility>

#include "base/clock.h"
#include "promsqlite/errors.h"
#include "store/checkpointer.h"
#include "store/database.h"
#include "store/write_gate.h"

namespace promsqlite::detail {

struct Maintenance::Housekeeper {
  std::mutex mu;  // the three flags below
  std::condition_variable wake;
  bool requested = false;
  bool stopping = false;
  std::atomic<bool> stop{false};  // read by the pass between batches
  std::mutex pass;                // one pass at a time: the thread's or HousekeepNow's
};

Maintenance::Maintenance(std::string path, const Options& options, Pass pass)
    : path_(std::move(path)),
      options_(options),
      pass_(std::move(pass)),
      owner_(getpid()),
      next_housekeeping_(NowSeconds(options_.clock) + options_.housekeeping_interval_ms / 1000.0),
      housekeeper_(std::make_shared<Housekeeper>()) {}

Maintenance::~Maintenance() { Stop(); }

void Maintenance::Stop() noexcept {
  StopHousekeeping();
  checkpointer_.reset();  // joins its thread; after the pass's, whose batches may ask it for checkpoints
}

void Maintenance::Close(int wal_pages, const WriteGate* gate) noexcept {
  if (getpid() == owner_ && options_.checkpoint_wal_pages > 0 && wal_pages >= kCloseCheckpointPages &&
      !OthersHaveItOpen(path_)) {
    try {
      if (!checkpointer_)
        checkpointer_ = std::make_unique<Checkpointer>(path_, options_,
                                                       [this](const std::string& message) { Report(message); });
      checkpointer_->Request(wal_pages, gate != nullptr, gate ? gate->Checkpoints() : 0, /*truncate=*/true);
    } catch (const std::exception& e) {
      Report(path_ + ": cannot start checkpoint: " + e.what());
    }
  }
  Stop();
}

void Maintenance::StopHousekeeping() noexcept {
  if (thread_) {
    {
      std::lock_guard<std::mutex> lock(housekeeper_->mu);
      housekeeper_->stopping = true;
    }
    housekeeper_->stop.store(true, std::memory_order_relaxed);
    housekeeper_->wake.notify_all();
    thread_->join();
    thread_.reset();
  }
}

void Maintenance::AbandonAfterFork() noexcept {
  const pid_t self = getpid();
  if (self == owner_) return;
  owner_ = self;
  checkpoint_due_ = false;  // the parent's commit's
  if (checkpointer_) {
    checkpointer_->AbandonAfterFork();
    checkpointer_.release();  // its thread is the parent's: never join or stop it
  }
  thread_.release();  // that thread does not exist here
  housekeeper_ = std::make_shared<Housekeeper>();  // the parent's may be locked
}

void Maintenance::Report(const std::string& message) const noexcept {
  try {
    if (options_.on_background_error) options_.on_background_error(message);
    else std::fprintf(stderr, "promsqlite: %s\n", message.c_str());
  } catch (...) {
    // A reporting hook must not take the writer down.
  }
}

// Due when this connection's commit left the WAL at the threshold, or past
// it by the checkpointer's backoff (store/checkpointer.cc has the policy).
int Maintenance::DueWalPages() const {
  return std::max(options_.checkpoint_wal_pages, checkpointer_ ? checkpointer_->DuePages() : 0);
}

void Maintenance::AfterCommit(int wal_pages, const WriteGate* gate) noexcept {
  if (options_.checkpoint_wal_pages > 0 && wal_pages >= DueWalPages()) {
    checkpoint_due_ = true;  // RunDueCheckpoint, once the gate is released
    due_wal_pages_ = wal_pages;
    if (gate) checkpoints_seen_ = gate->Checkpoints();
  }
  if (options_.housekeeping_interval_ms <= 0) return;
  try {
    const double now = NowSeconds(options_.clock);
    if (now < next_housekeeping_) return;
    next_housekeeping_ = now + options_.housekeeping_interval_ms / 1000.0;
    RequestHousekeeping();
  } catch (const std::exception& e) {
    Report(path_ + ": cannot start housekeeping: " + e.what());
  }
}

// Hands the checkpoint that AfterCommit found due to this process's
// checkpointer thread (store/checkpointer.h), once the update's turn at the
// gate is over.
void Maintenance::RunDueCheckpoint(WriteGate* gate) noexcept {
  if (!checkpoint_due_) return;
  checkpoint_due_ = false;
  // Several writers' commits can find the same WAL due; one checkpoint
  // after our commit is enough, and one writer's: the first to claim it.
  // Concurrent pre-syncs of the same WAL by every writer whose commit found
  // it due made each one, and the checkpoint's syncs under the lock, slower.
  // Past twice the due length, the claimer is late (killed, or readers keep
  // it from finishing): checkpoint regardless.
  if (gate && gate->Checkpoints() != checkpoints_seen_) return;
  if (gate && due_wal_pages_ < 2 * DueWalPages() && !gate->ClaimCheckpoint(checkpoints_seen_)) return;
  try {
    if (!checkpointer_)
      checkpointer_ = std::make_unique<Checkpointer>(path_, options_,
                                                     [this](const std::string& message) { Report(message); });
    checkpointer_->Request(due_wal_pages_, gate != nullptr, checkpoints_seen_);
    // Back-pressure: a writer that outpaces the checkpoints (a slow disk, a
    // tight loop) waits for the one it asked for once the WAL is eight times
    // as long as due, so the WAL stays bounded.
    if (due_wal_pages_ >= 8 * DueWalPages()) checkpointer_->Drain();
  } catch (const std::exception& e) {
    Report(path_ + ": cannot start checkpoint: " + e.what());
  }
}

// Passes asked for while one runs are merged into the next.
void Maintenance::RequestHousekeeping() {
  {
    std::lock_guard<std::mutex> lock(housekeeper_->mu);
    if (housekeeper_->stopping) return;
    housekeeper_->requested = true;
  }
  if (!thread_) thread_ = std::make_unique<std::thread>(&Maintenance::HousekeepLoop, this, housekeeper_);
  housekeeper_->wake.notify_all();
}

// The housekeeping thread. Holds the state it shares with this object, not
// the object's copy of it, which a forked child replaces.
void Maintenance::HousekeepLoop(std::shared_ptr<Housekeeper> housekeeper) {
  std::unique_lock<std::mutex> lock(housekeeper->mu);
  for (;;) {
    housekeeper->wake.wait(lock, [&] { return housekeeper->requested || housekeeper->stopping; });
    if (housekeeper->stopping) return;
    housekeeper->requested = false;
    lock.unlock();
    {
      std::lock_guard<std::mutex> one_pass(housekeeper->pass);
      try {
        pass_(housekeeper->stop);
      } catch (const Error& e) {
        Report(e.what());  // "PATH: cannot housekeep: why"
      } catch (const std::exception& e) {
        Report(path_ + ": housekeeping failed: " + e.what());
      }
    }
    lock.lock();
  }
}

HousekeepingReport Maintenance::HousekeepNow() {
  const std::shared_ptr<Housekeeper> housekeeper = housekeeper_;
  std::lock_guard<std::mutex> one_pass(housekeeper->pass);
  static const std::atomic<bool> kNever{false};
  return pass_(kNever);
}

}  // namespace promsqlite::detail
