// What a batched registry holds for one series between flushes.
#ifndef PROMSQLITE_SRC_WRITE_PENDING_H_
#define PROMSQLITE_SRC_WRITE_PENDING_H_

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace promsqlite::detail {

// A lock for a few nanoseconds of work on one series; only threads
// updating the same series ever meet on it.
class SpinLock {
 public:
  void lock() {
    for (int spins = 0; flag_.test_and_set(std::memory_order_acquire); ++spins) {
      if (spins > 64) std::this_thread::yield();
    }
  }
  void unlock() { flag_.clear(std::memory_order_release); }
  // After fork(): no other thread exists any more to release it.
  void reset() { flag_.clear(std::memory_order_relaxed); }

 private:
  std::atomic_flag flag_ = ATOMIC_FLAG_INIT;
};

// Lock-free addition to a double (std::atomic<double>::fetch_add is C++20).
inline void AtomicAdd(std::atomic<double>& target, double delta) {
  double current = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(current, current + delta, std::memory_order_relaxed)) {
  }
}

struct PendingUpdates {
  // Counters: the increments since the last flush, added without a lock.
  std::atomic<double> counter_delta{0};

  // Everything else, under `lock`.
  SpinLock lock;
  // Gauges and enums: has_set -> `value` is the value to set (later adds
  // already applied to it); otherwise `value` is the sum of adds.
  // Distributions: `value` is the sum of observations.
  bool has_set = false;
  double value = 0;
  int64_t count = 0;                   // distributions: observations
  std::vector<int64_t> bucket_deltas;  // histograms: observations per bucket

  // In the writer's dirty list (set by the updater, cleared by the flusher).
  std::atomic<bool> dirty{false};
};

}  // namespace promsqlite::detail

#endif  // PROMSQLITE_SRC_WRITE_PENDING_H_
