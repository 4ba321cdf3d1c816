#include "store/write_gate.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <cstddef>
#include <thread>

#include "base/cpu_relax.h"

#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#endif

namespace promsqlite::detail {

namespace {

// Tickets map onto this many slots (a futex word and a lock byte each): up
// to this many processes can wait at once before two share a slot (which is
// still correct, only less prompt).
constexpr uint32_t kSlots = 1024;
// More tickets than this between "now serving" and a fresh ticket can only
// come from a damaged sidecar.
constexpr uint32_t kMaxWaiters = 1 << 20;
// The next in line spins this long before it sleeps.
constexpr auto kSpin = std::chrono::microseconds(50);
// How often sleeping waiters look for a dead ticket owner.
constexpr auto kLivenessCheck = std::chrono::milliseconds(1);
// Writers outside the queue step aside for a holder whose turn is at least
// kHolderPatience old (a holder polling SQLite's lock every 10-30 us gets it
// within a few polls unless others keep retaking it first; stepping aside
// after 250 us cost 8 back-to-back writers ~12% of their throughput, after
// 1 ms ~5%, with the same worst case), and no longer
// once the turn is kHolderGiveUp old (a stopped holder, or a checkpoint that
// holds SQLite's lock while it waits for readers: stepping aside no longer
// helps anyone).
constexpr auto kHolderPatience = std::chrono::milliseconds(1);
constexpr auto kHolderGiveUp = std::chrono::milliseconds(10);

// The lock bytes live past the shared state so they never overlap it.
constexpr off_t kSlotLockBase = 1 << 20;

}  // namespace

// The sidecar's shared state. All zeros (a new sidecar) is a valid, empty
// queue, so creating it needs no initialisation protocol.
struct GateShared {
  alignas(64) std::atomic<uint32_t> next_ticket;
  alignas(64) std::atomic<uint32_t> now_serving;
  alignas(64) std::atomic<uint32_t> seq[kSlots];  // futex words, bumped on each wake
  alignas(64) std::atomic<uint32_t> checkpoints;   // checkpoints completed (any writer)
  // Waiters inside FUTEX_WAIT: without any, a release makes no wake-up
  // system calls (the next in line spins). A killed sleeper leaves it too
  // high, which costs only needless wake-ups.
  alignas(64) std::atomic<uint32_t> sleepers;
  // Bumped on every release while writers outside the queue wait for one
  // (WaitForRelease): they retry the moment the queue lets go.
  alignas(64) std::atomic<uint32_t> releases;
  alignas(64) std::atomic<uint32_t> release_waiters;
  // 1 + the value of `checkpoints` whose successor a writer has claimed
  // (ClaimCheckpoint): the other writers leave that checkpoint, its sync of
  // the WAL included, to the claimer.
  alignas(64) std::atomic<uint32_t> checkpoint_claim;
  // When the serving ticket's turn began (CLOCK_MONOTONIC nanoseconds):
  // writers outside the queue step aside while that turn is old enough to
  // mean its holder is losing every race for SQLite's lock (StepAside).
  alignas(64) std::atomic<int64_t> served_since;
};
static_assert(std::atomic<uint32_t>::is_always_lock_free, "futex words must be plain 32-bit words");
static_assert(std::atomic<int64_t>::is_always_lock_free, "shared 64-bit words must be lock-free");
static_assert(offsetof(GateShared, now_serving) == 64 && offsetof(GateShared, seq) == 128 &&
                  offsetof(GateShared, checkpoints) == 4224 && offsetof(GateShared, sleepers) == 4288 &&
                  offsetof(GateShared, releases) == 4352 && offsetof(GateShared, release_waiters) == 4416 &&
                  offsetof(GateShared, checkpoint_claim) == 4480 && offsetof(GateShared, served_since) == 4544,
              "the layout is documented in docs/schema.md");

std::string WriteGate::SidecarPath(const std::string& db_path) { return db_path + "-lock"; }

#ifdef __linux__

namespace {

int64_t Nanos(WriteGate::Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

void FutexWait(std::atomic<uint32_t>* word, uint32_t expected, std::chrono::nanoseconds timeout) {
  if (timeout.count() <= 0) return;
  struct timespec ts;
  ts.tv_sec = static_cast<time_t>(timeout.count() / 1000000000);
  ts.tv_nsec = static_cast<long>(timeout.count() % 1000000000);
  // Not FUTEX_PRIVATE: the word is shared between processes.
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT, expected, &ts, nullptr, 0);
}

void FutexWakeAll(std::atomic<uint32_t>* word) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
}

}  // namespace

std::unique_ptr<WriteGate> WriteGate::Open(const std::string& db_path) {
  struct stat db;
  if (stat(db_path.c_str(), &db) != 0) return nullptr;
  const std::string path = SidecarPath(db_path);
  const mode_t mode = db.st_mode & 0666;
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd >= 0) {
    // The umask must not make it narrower than the database: group members
    // who may write the database must be able to queue too.
    if (fchmod(fd, mode) != 0) { /* a narrower sidecar still works for us */ }
  } else if (errno == EEXIST) {
    fd = open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
  }
  if (fd < 0) return nullptr;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return nullptr;
  }
  // Growing it is idempotent: several processes may do so at once, and the
  // new bytes are zeros, the empty queue.
  if (st.st_size < static_cast<off_t>(sizeof(GateShared)) && ftruncate(fd, sizeof(GateShared)) != 0) {
    close(fd);
    return nullptr;
  }
  void* map = mmap(nullptr, sizeof(GateShared), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) {
    close(fd);
    return nullptr;
  }
  return std::unique_ptr<WriteGate>(new WriteGate(fd, static_cast<GateShared*>(map)));
}

WriteGate::WriteGate(int fd, GateShared* shared) : fd_(fd), shared_(shared) {}

WriteGate::~WriteGate() {
  munmap(shared_, sizeof(GateShared));
  close(fd_);  // in a forked child this drops nothing the parent holds
}

bool WriteGate::LockSlot(uint32_t ticket, bool lock) {
  struct flock fl = {};
  fl.l_type = lock ? F_WRLCK : F_UNLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = kSlotLockBase + ticket % kSlots;
  fl.l_len = 1;
  return fcntl(fd_, F_OFD_SETLK, &fl) == 0;
}

bool WriteGate::SlotAlive(uint32_t ticket) {
  struct flock fl = {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = kSlotLockBase + ticket % kSlots;
  fl.l_len = 1;
  if (fcntl(fd_, F_OFD_GETLK, &fl) != 0) return true;  // cannot tell: assume alive
  return fl.l_type != F_UNLCK;
}

void WriteGate::Wake(uint32_t ticket) {
  std::atomic<uint32_t>* word = &shared_->seq[ticket % kSlots];
  word->fetch_add(1, std::memory_order_seq_cst);
  if (shared_->sleepers.load(std::memory_order_seq_cst) != 0) FutexWakeAll(word);
}

// The serving ticket's owner died (or gave up): its slot is unlocked. Seen
// twice, at least kLivenessCheck apart, with no progress in between, so that
// a writer that has drawn its ticket but not yet locked its slot is not
// mistaken for a dead one; then the ticket is skipped.
void WriteGate::CheckServing(Clock::time_point now) {
  const uint32_t serving = shared_->now_serving.load(std::memory_order_seq_cst);
  if (SlotAlive(serving)) {
    suspected_ = false;
  } else if (suspected_ && suspect_ == serving) {
    if (now - suspected_at_ < kLivenessCheck) return;
    uint32_t expected = serving;
    if (shared_->now_serving.compare_exchange_strong(expected, serving + 1)) {
      Wake(serving + 1);
      Wake(serving + 2);
    }
    suspected_ = false;
  } else {
    suspected_ = true;
    suspect_ = serving;
    suspected_at_ = now;
  }
}

void WriteGate::SkipDeadServing() {
  const Clock::time_point now = Clock::now();
  if (now < next_liveness_check_ || !Busy()) return;
  next_liveness_check_ = now + kLivenessCheck;
  CheckServing(now);
}

WriteGate::Wait WriteGate::WaitFor(uint32_t ticket, Clock::time_point deadline) {
  std::atomic<uint32_t>* word = &shared_->seq[ticket % kSlots];
  Clock::time_point now = Clock::now();
  Clock::time_point next_check = now + kLivenessCheck;
  Clock::time_point spin_until = now;
  uint32_t head_seen = ticket;  // the ticket that was one ahead of us when we started spinning
  for (int polls = 0;; ++polls) {
    uint32_t seen_seq = word->load(std::memory_order_seq_cst);
    uint32_t serving = shared_->now_serving.load(std::memory_order_seq_cst);
    if (serving == ticket) return Wait::kOwned;
    uint32_t ahead = ticket - serving;
    if (ahead > kMaxWaiters) return Wait::kSkipped;  // served past us (we looked dead) or damaged
    if (ahead == 1 && head_seen != serving) {  // we just became next in line
      head_seen = serving;
      spin_until = Clock::now() + kSpin;
    }
    if ((polls & 63) == 0 || ahead != 1) now = Clock::now();
    if (now >= deadline) return Wait::kTimedOut;
    if (now >= next_check) {
      next_check = now + kLivenessCheck;
      CheckServing(now);
      continue;
    }
    if (ahead == 1 && now < spin_until) {
      for (int i = 0; i < 16; ++i) CpuRelax();
      if ((polls & 15) == 15) std::this_thread::yield();
      continue;
    }
    auto sleep = std::min(deadline, next_check) - now;
    shared_->sleepers.fetch_add(1, std::memory_order_seq_cst);
    // A wake between our reading seq and this point changed seq: FutexWait
    // then returns at once.
    FutexWait(word, seen_seq, std::chrono::duration_cast<std::chrono::nanoseconds>(sleep));
    shared_->sleepers.fetch_sub(1, std::memory_order_seq_cst);
    now = Clock::now();
  }
}

WriteGate::Entry WriteGate::Acquire(Clock::time_point deadline) {
  for (int attempt = 0; attempt < 4; ++attempt) {
    uint32_t ticket = shared_->next_ticket.fetch_add(1, std::memory_order_seq_cst);
    // Fails only when more than kSlots processes wait and another holds this
    // slot; it then vouches for us too.
    bool locked = LockSlot(ticket, true);
    Wait w = WaitFor(ticket, deadline);
    if (w == Wait::kOwned) {
      if (!locked) LockSlot(ticket, true);
      ticket_ = ticket;
      // Release() stamped the handoff already; this covers a turn that
      // began at once (an empty queue) and only ever makes it look younger.
      shared_->served_since.store(Nanos(Clock::now()), std::memory_order_release);
      return Entry::kOwned;
    }
    if (locked) LockSlot(ticket, false);
    if (w == Wait::kTimedOut) {
      // Served just now after all: pass the turn on.
      uint32_t expected = ticket;
      if (shared_->now_serving.compare_exchange_strong(expected, ticket + 1)) {
        Wake(ticket + 1);
        Wake(ticket + 2);
      }
      return Entry::kTimedOut;
    }
    // Skipped: our slot looked dead at the wrong moment. Draw again.
  }
  return Entry::kBypass;
}

void WriteGate::Release() {
  const uint32_t next = ticket_ + 1;
  shared_->served_since.store(Nanos(Clock::now()), std::memory_order_release);
  shared_->now_serving.store(next, std::memory_order_seq_cst);
  if (shared_->next_ticket.load(std::memory_order_seq_cst) != next) {
    Wake(next);      // its owner may be asleep
    Wake(next + 1);  // the new next in line starts spinning
  }
  LockSlot(ticket_, false);
  if (shared_->release_waiters.load(std::memory_order_seq_cst) != 0) {
    shared_->releases.fetch_add(1, std::memory_order_seq_cst);
    FutexWakeAll(&shared_->releases);
  }
}

void WriteGate::WaitForRelease(std::chrono::nanoseconds timeout) {
  uint32_t seen = shared_->releases.load(std::memory_order_seq_cst);
  shared_->release_waiters.fetch_add(1, std::memory_order_seq_cst);
  if (Busy()) FutexWait(&shared_->releases, seen, timeout);
  shared_->release_waiters.fetch_sub(1, std::memory_order_seq_cst);
}

bool WriteGate::HolderStarving(Clock::time_point now) const {
  if (!Busy()) return false;
  const auto age = std::chrono::nanoseconds(Nanos(now) - shared_->served_since.load(std::memory_order_acquire));
  return age >= kHolderPatience && age < kHolderGiveUp;
}

void WriteGate::StepAside(Clock::time_point deadline) {
  if (!Busy()) return;  // every update comes here: no clock read when nobody is queued
  for (Clock::time_point now = Clock::now(); now < deadline && HolderStarving(now); now = Clock::now()) {
    SkipDeadServing();
    WaitForRelease(std::min<Clock::duration>(deadline - now, kLivenessCheck));
  }
}

std::pair<uint32_t, uint32_t> WriteGate::Counters() const {
  return {shared_->next_ticket.load(), shared_->now_serving.load()};
}

uint32_t WriteGate::Checkpoints() const { return shared_->checkpoints.load(std::memory_order_acquire); }

void WriteGate::CheckpointDone() { shared_->checkpoints.fetch_add(1, std::memory_order_acq_rel); }

bool WriteGate::ClaimCheckpoint(uint32_t checkpoints) {
  const uint32_t claim = checkpoints + 1;
  uint32_t current = shared_->checkpoint_claim.load(std::memory_order_acquire);
  return current != claim && shared_->checkpoint_claim.compare_exchange_strong(current, claim);
}

void WriteGate::ReleaseCheckpointClaim(uint32_t checkpoints) {
  uint32_t claim = checkpoints + 1;
  shared_->checkpoint_claim.compare_exchange_strong(claim, checkpoints);
}

bool WriteGate::Busy() const {
  return shared_->next_ticket.load(std::memory_order_acquire) != shared_->now_serving.load(std::memory_order_acquire);
}

#else  // !__linux__: no futexes or OFD locks; SQLite's lock alone.

std::unique_ptr<WriteGate> WriteGate::Open(const std::string&) { return nullptr; }
WriteGate::WriteGate(int fd, GateShared* shared) : fd_(fd), shared_(shared) {}
WriteGate::~WriteGate() {}
WriteGate::Entry WriteGate::Acquire(Clock::time_point) { return Entry::kBypass; }
void WriteGate::Release() {}
std::pair<uint32_t, uint32_t> WriteGate::Counters() const { return {0, 0}; }
bool WriteGate::Busy() const { return false; }
bool WriteGate::HolderStarving(Clock::time_point) const { return false; }
void WriteGate::StepAside(Clock::time_point) {}
void WriteGate::SkipDeadServing() {}
bool WriteGate::ClaimCheckpoint(uint32_t) { return true; }
void WriteGate::ReleaseCheckpointClaim(uint32_t) {}
void WriteGate::WaitForRelease(std::chrono::nanoseconds timeout) { std::this_thread::sleep_for(timeout); }
uint32_t WriteGate::Checkpoints() const { return 0; }
void WriteGate::CheckpointDone() {}

#endif

}  // namespace promsqlite::detail
