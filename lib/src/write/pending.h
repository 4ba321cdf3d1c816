// What a batched registry holds for one series between flushes.
#ifndef PROMSQLITE_SRC_WRITE_PENDING_H_
#define PROMSQLITE_SRC_WRITE_PENDING_H_

#include <algorithm>
#include <atomic>
#include <map>
#include <cstdint>
#include <thread>
#include <utility>
#include <vector>

#include "store/store.h"

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

// Counts per native bucket index between flushes: a dense window that
// grows to cover the indices seen (a few dozen for one latency
// distribution), with a map for the rare index far outside it.
class SparseCounts {
 public:
  void Add(int32_t index, int64_t count = 1) {
    uint64_t pos = static_cast<uint64_t>(static_cast<int64_t>(index) - offset_);
    if (pos < counts_.size()) {
      counts_[pos] += count;
      if (pos < low_) low_ = pos;
      if (pos >= high_) high_ = pos + 1;
      return;
    }
    AddOutside(index, count);
  }
  bool empty() const { return low_ >= high_ && far_.empty(); }
  // Appends the non-zero counts to `out` and clears them.
  void TakeInto(std::vector<std::pair<int32_t, int64_t>>* out) {
    for (uint64_t i = low_; i < high_; ++i) {
      if (counts_[i] != 0) out->emplace_back(static_cast<int32_t>(offset_ + static_cast<int64_t>(i)), counts_[i]);
      counts_[i] = 0;
    }
    for (const auto& entry : far_) out->push_back(entry);
    far_.clear();
    low_ = counts_.size();
    high_ = 0;
  }

 private:
  static constexpr int64_t kMaxWindow = 4096;
  void AddOutside(int32_t index, int64_t count) {
    int64_t lo = offset_, hi = offset_ + static_cast<int64_t>(counts_.size());
    if (counts_.empty()) lo = hi = index;
    int64_t new_lo = std::min<int64_t>(lo, index - 8), new_hi = std::max<int64_t>(hi, index + 9);
    if (new_hi - new_lo > kMaxWindow) {
      far_[index] += count;
      return;
    }
    std::vector<int64_t> grown(static_cast<size_t>(new_hi - new_lo), 0);
    for (uint64_t i = low_; i < high_; ++i) grown[static_cast<size_t>(offset_ + static_cast<int64_t>(i) - new_lo)] = counts_[i];
    int64_t shift = offset_ - new_lo;
    if (low_ < high_) {
      low_ += static_cast<uint64_t>(shift);
      high_ += static_cast<uint64_t>(shift);
    } else {
      low_ = grown.size();
      high_ = 0;
    }
    counts_.swap(grown);
    offset_ = new_lo;
    Add(index, count);
  }

  int64_t offset_ = 0;            // index of counts_[0]
  std::vector<int64_t> counts_;
  uint64_t low_ = 1, high_ = 0;   // the non-zero part of counts_ lies in [low_, high_)
  std::map<int32_t, int64_t> far_;
};

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
  // Native histograms: observations per bucket at native_schema (the
  // series' schema when the first of them was made).
  bool native_active = false;
  int native_schema = 0;
  int64_t native_zero = 0;
  SparseCounts native_positive, native_negative;
  // Counters and histograms: the latest exemplar per bucket (counters: 0).
  std::vector<ExemplarWrite> exemplars;

  // Keeps `e` unless an exemplar of its bucket with a later timestamp is
  // here already.
  void KeepExemplar(const ExemplarWrite& e) {
    for (ExemplarWrite& held : exemplars) {
      if (held.bucket != e.bucket) continue;
      if (e.timestamp >= held.timestamp) held = e;
      return;
    }
    exemplars.push_back(e);
  }

  // In the writer's dirty list (set by the updater, cleared by the flusher).
  std::atomic<bool> dirty{false};
};

}  // namespace promsqlite::detail

#endif  // PROMSQLITE_SRC_WRITE_PENDING_H_
