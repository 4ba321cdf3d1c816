// A family's cache of children (issue 30): bounded under label churn.
//
// Policy (a clock, "second chance"): an entry is marked used when it is
// made or looked up. When the cache grows past its sweep mark, entries
// that no handle outside the cache holds and that were not used since the
// previous sweep are evicted; every other entry loses its mark. An evicted
// series updated since the last flush is parked until a later sweep finds
// it flushed (its Writer::Forget would otherwise search the writer's dirty
// list; a lookup meanwhile takes it back). The next mark is what is left
// plus max(kMinSweep, the entries held elsewhere or looked up again since
// the last sweep), so a sweep's cost is spread over at least that many
// new children. Bound: the children held elsewhere, plus twice those
// looked up again within a sweep period, plus 2 x kMinSweep made since
// (and the parked ones: about kFlushParked, as Insert asks for a flush
// once that many wait): a writer that uses each of a million session
// labels once keeps about 2 000 plus those. An evicted series loses nothing: its
// SeriesState dies (Writer::Forget keeps anything pending for the flush)
// and a later lookup makes a new one (Store::EnsureSeries: a SELECT, or an
// INSERT when the row is gone). Removals by this process (RemoveSeries,
// ClearFamily, RemoveFamily, Wipe) evict the matching entries no handle
// holds at once.
//
// Thread safety: none of its own; FamilyState::mu guards it. Entries it
// evicts are handed to the caller, to be released after the caller's
// locks (~SeriesState takes the writer's flush mutex).
#ifndef PROMSQLITE_SRC_WRITE_SERIES_CACHE_H_
#define PROMSQLITE_SRC_WRITE_SERIES_CACHE_H_

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace promsqlite::detail {

struct SeriesState;

class SeriesCache {
 public:
  static constexpr size_t kMinSweep = 1024;
  static constexpr size_t kFlushParked = 2048;

  // The cached series for `labels` (marked used), or null. No allocation.
  std::shared_ptr<SeriesState> Find(std::string_view labels);
  // Caches `series` (marked used); may sweep first, moving what it evicts
  // into `evicted`. True when kFlushParked or more evicted series wait for
  // a flush: the caller asks for one (Writer::FlushSoon), so that what
  // label churn keeps is bounded by that count, not by the churn's rate
  // times the flush interval.
  bool Insert(std::shared_ptr<SeriesState> series, std::vector<std::shared_ptr<SeriesState>>* evicted);
  // Moves every entry no handle holds into `evicted`: all of them
  // (`labels` null) or the one with `labels`.
  void Drop(const std::string* labels, std::vector<std::shared_ptr<SeriesState>>* evicted);
  // Entries, and evicted ones parked until flushed.
  size_t size() const { return entries_.size() + parked_.size(); }

 private:
  struct Entry {
    std::shared_ptr<SeriesState> series;
    bool used = true;  // made or looked up since the last sweep
    bool hit = false;  // looked up since the last sweep
  };
  void Sweep(std::vector<std::shared_ptr<SeriesState>>* evicted);
  // Keyed by the tuple encoding; std::less<> finds by string_view, so a
  // known tuple is looked up without allocating.
  std::map<std::string, Entry, std::less<>> entries_;
  std::map<std::string, std::shared_ptr<SeriesState>, std::less<>> parked_;
  size_t sweep_at_ = kMinSweep;
};

}  // namespace promsqlite::detail

#endif  // PROMSQLITE_SRC_WRITE_SERIES_CACHE_H_
