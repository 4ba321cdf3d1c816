#include "write/series_cache.h"

#include <algorithm>

#include "write/family_state.h"

namespace promsqlite::detail {
namespace {

bool Dirty(const std::shared_ptr<SeriesState>& s) { return s->pending.dirty.load(std::memory_order_relaxed); }

}  // namespace

std::shared_ptr<SeriesState> SeriesCache::Find(std::string_view labels) {
  auto it = entries_.find(labels);
  if (it != entries_.end()) {
    it->second.used = it->second.hit = true;
    return it->second.series;
  }
  // Parked: taken back, so that a series never has two states here.
  auto parked = parked_.find(labels);
  if (parked == parked_.end()) return nullptr;
  std::shared_ptr<SeriesState> series = std::move(parked->second);
  parked_.erase(parked);
  entries_.emplace(series->labels, Entry{series, true, true});
  return series;
}

bool SeriesCache::Insert(std::shared_ptr<SeriesState> series, std::vector<std::shared_ptr<SeriesState>>* evicted) {
  bool flush = false;
  if (entries_.size() >= sweep_at_) {
    Sweep(evicted);
    flush = parked_.size() >= kFlushParked;
  }
  std::string key = series->labels;
  entries_.emplace(std::move(key), Entry{std::move(series), true, false});
  return flush;
}

void SeriesCache::Sweep(std::vector<std::shared_ptr<SeriesState>>* evicted) {
  for (auto it = parked_.begin(); it != parked_.end();) {  // flushed since: released
    if (Dirty(it->second)) {
      ++it;
    } else {
      evicted->push_back(std::move(it->second));
      it = parked_.erase(it);
    }
  }
  size_t keep = 0;  // held elsewhere, or looked up again since the last sweep
  for (auto it = entries_.begin(); it != entries_.end();) {
    const bool held = it->second.series.use_count() > 1;
    if (!it->second.used && !held) {
      if (Dirty(it->second.series)) parked_.emplace(it->first, std::move(it->second.series));
      else evicted->push_back(std::move(it->second.series));
      it = entries_.erase(it);
    } else {
      if (held || it->second.hit) ++keep;
      it->second.used = it->second.hit = false;
      ++it;
    }
  }
  sweep_at_ = entries_.size() + std::max(kMinSweep, keep);
}

void SeriesCache::Drop(const std::string* labels, std::vector<std::shared_ptr<SeriesState>>* evicted) {
  auto drop = [&](std::map<std::string, Entry, std::less<>>::iterator it) {
    if (it->second.series.use_count() != 1) return std::next(it);
    evicted->push_back(std::move(it->second.series));
    return entries_.erase(it);
  };
  if (labels != nullptr) {
    if (auto it = entries_.find(*labels); it != entries_.end()) drop(it);
    if (auto it = parked_.find(*labels); it != parked_.end()) {
      evicted->push_back(std::move(it->second));
      parked_.erase(it);
    }
    return;
  }
  for (auto it = entries_.begin(); it != entries_.end();) it = drop(it);
  for (auto& [key, series] : parked_) evicted->push_back(std::move(series));
  parked_.clear();
}

}  // namespace promsqlite::detail
