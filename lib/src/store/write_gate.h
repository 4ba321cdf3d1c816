// A fair, prompt queue in front of SQLite's write lock, shared by every
// promsqlite writer of one file through a sidecar file "FILE-lock".
//
// SQLite's lock stays the one that guarantees correctness: the gate only
// decides who asks for it next. A writer that does not know the gate
// (another language, an old version, a process whose sidecar could not be
// opened) still gets SQLite's lock through the busy handler; it just does not
// queue.
//
// When: a writer first polls SQLite's lock promptly (Store, 10-30 us
// sleeps) and queues only when that has not got it within kQueuePatience
// (2 ms); so without contention the gate costs nothing, and when the lock
// changes hands in microseconds nobody waits for a sleeping process to be
// scheduled. While anyone is queued, writers outside the queue poll less
// often and wake on each release (Busy, WaitForRelease), leaving the gaps
// between transactions to the queued ones, in order; and when the holder's
// turn has lasted 1 ms without it getting SQLite's lock, they step aside
// before trying it at all (StepAside), so that a writer in a tight loop,
// which retakes the lock microseconds after its commit without ever
// polling, cannot keep the holder from it.
//
// How (docs/write-lock.md): a ticket lock in a shared mapping of the sidecar.
// A writer draws a ticket, waits until "now serving" reaches it, runs its
// transaction (and checkpoint), then serves the next ticket and wakes its
// owner with a futex. The next in line spins for a short while instead of
// sleeping, so a handoff costs about a microsecond, not a scheduler wakeup.
// Death: each ticket owner holds an open-file-description lock on the byte
// of its ticket's slot while it waits or holds the gate; the kernel drops it
// when the process dies, and waiters that see the serving ticket's slot
// unlocked twice, 1 ms apart, skip that ticket. A dead holder or waiter thus
// delays the others by at most about 3 ms.
//
// Thread safety: none; the Store's mutex serialises its use. Process
// safety: that is its purpose. Fork: a child must open its own gate (the
// parent's open file description would share its locks); Store does.
// Cost: per queued transaction, two fcntl() calls and a few atomics; a
// writer that never queues only reads Busy() while it polls.
#ifndef PROMSQLITE_SRC_STORE_WRITE_GATE_H_
#define PROMSQLITE_SRC_STORE_WRITE_GATE_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace promsqlite::detail {

struct GateShared;

class WriteGate {
 public:
  using Clock = std::chrono::steady_clock;

  // The gate of the database at `db_path`, its sidecar created with the
  // database's permission bits when missing. nullptr when the sidecar cannot
  // be created, opened read-write or mapped (read-only directory, another
  // user's file, not Linux): callers then rely on SQLite's lock alone.
  static std::unique_ptr<WriteGate> Open(const std::string& db_path);

  // The sidecar's path for a database path.
  static std::string SidecarPath(const std::string& db_path);

  ~WriteGate();
  WriteGate(const WriteGate&) = delete;
  WriteGate& operator=(const WriteGate&) = delete;

  enum class Entry {
    kOwned,     // this process is served: call Release() when done
    kBypass,    // the queue looks corrupt: go straight to SQLite's lock
    kTimedOut,  // `deadline` passed first: nothing is held
  };
  Entry Acquire(Clock::time_point deadline);
  void Release();

  // True while someone holds or waits for the gate: a writer that would
  // otherwise go straight to SQLite's lock queues behind them instead.
  bool Busy() const;

  // Sleeps until the gate's holder releases it, or `timeout`: how a writer
  // outside the queue waits while others are queued.
  void WaitForRelease(std::chrono::nanoseconds timeout);

  // While Busy(): skips the serving ticket when its owner died or gave up,
  // as queued waiters do (at most one look per millisecond; a ticket is
  // skipped after two looks 1 ms apart). Writers outside the queue call it
  // while they yield, so tickets that a killed process left behind do not
  // keep everyone yielding until some writer queues.
  void SkipDeadServing();

  // True while the gate's holder has been served for a while (1 ms to
  // 10 ms) without finishing: it is polling SQLite's lock and losing the
  // races to writers outside the queue that retake the lock the moment it
  // frees (a tight loop does so forever).
  bool HolderStarving(Clock::time_point now) const;
  // How a writer outside the queue steps aside for such a holder before it
  // tries SQLite's lock: waits for the gate's release (skipping dead
  // tickets) while HolderStarving, until `deadline`. Costs two atomic loads
  // when nobody is queued.
  void StepAside(Clock::time_point deadline);

  // Checkpoints completed by any writer of the file: a writer whose commit
  // made a checkpoint due skips it when one completed since.
  uint32_t Checkpoints() const;
  void CheckpointDone();

  // Claims the checkpoint due after `checkpoints` (Checkpoints() when the
  // WAL became due): true for the first writer that asks, false for the
  // others, who leave it (and its sync of the WAL, which would compete for
  // the disk) to that one. A claim is only advice: a writer whose WAL has
  // grown well past due checkpoints anyway (Store::RunDueCheckpoint), so a
  // claimer that died or gave up delays checkpoints, never stops them.
  bool ClaimCheckpoint(uint32_t checkpoints);
  // Gives a claim back: the claimer's checkpoint did not finish (readers
  // kept it), so others may try theirs, each with its own backoff.
  void ReleaseCheckpointClaim(uint32_t checkpoints);

  // Tests: the ticket counters (next to draw, now serving).
  std::pair<uint32_t, uint32_t> Counters() const;

 private:
  WriteGate(int fd, GateShared* shared);
  enum class Wait { kOwned, kSkipped, kTimedOut };
  Wait WaitFor(uint32_t ticket, Clock::time_point deadline);
  bool LockSlot(uint32_t ticket, bool lock);
  bool SlotAlive(uint32_t ticket);
  void CheckServing(Clock::time_point now);
  void Wake(uint32_t ticket);

  int fd_;
  GateShared* shared_;
  uint32_t ticket_ = 0;
  // CheckServing's suspicion: the serving ticket whose slot was unlocked,
  // and when that was seen.
  uint32_t suspect_ = 0;
  bool suspected_ = false;
  Clock::time_point suspected_at_{};
  Clock::time_point next_liveness_check_{};  // SkipDeadServing's pace
};

// Holds the gate for a scope once entered.
class GateHold {
 public:
  GateHold() = default;
  ~GateHold() {
    if (owned_) gate_->Release();
  }
  GateHold(const GateHold&) = delete;
  GateHold& operator=(const GateHold&) = delete;
  WriteGate::Entry Enter(WriteGate* gate, WriteGate::Clock::time_point deadline) {
    gate_ = gate;
    WriteGate::Entry entry = gate->Acquire(deadline);
    owned_ = entry == WriteGate::Entry::kOwned;
    return entry;
  }

 private:
  WriteGate* gate_ = nullptr;
  bool owned_ = false;
};

}  // namespace promsqlite::detail

#endif  // PROMSQLITE_SRC_STORE_WRITE_GATE_H_
