// What Family and child handles share. A child holds its family's immutable
// FamilyInfo (not the FamilyState with its cache), so handles never form a
// reference cycle and never dangle.
#ifndef PROMSQLITE_SRC_WRITE_FAMILY_STATE_H_
#define PROMSQLITE_SRC_WRITE_FAMILY_STATE_H_

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "promsqlite/family.h"
#include "store/pending_region.h"
#include "store/store.h"
#include "write/pending.h"
#include "write/series_cache.h"
#include "write/writer.h"

namespace promsqlite::detail {

struct FamilyInfo {
  std::shared_ptr<Writer> writer;
  FamilySpec spec;  // normalized; label names in declared order
  // The family's row; 0 while its declaration waits for the write lock
  // (Writer::DeclareOrKeep), set by the flush that writes it.
  mutable std::atomic<int64_t> id{0};
  // Label names sorted (the stored, canonical order) and, for each sorted
  // slot, the index of that label in declared order.
  std::vector<std::string> sorted_label_names;
  std::vector<size_t> declared_index;
  NativeLayout native;  // histograms with a native histogram
};

struct SeriesState {
  ~SeriesState() { family->writer->Forget(*this); }
  std::shared_ptr<const FamilyInfo> family;
  std::string labels;  // tuple encoding of the values, in sorted-name order
  std::atomic<int64_t> id{0};
  std::atomic<int32_t> native_schema{0};  // set from the family's at creation
  PendingUpdates pending;  // batched mode only
  // Batched mode with PendingStore::kSharedFile: whether this series' updates
  // go to the process's region (set by Writer::Track; cleared when the
  // region cannot take it), and its slot there, made on its first update.
  std::atomic<bool> in_region{false};
  std::atomic<SlotHead*> slot{nullptr};
  // Updates written at once that found the write lock held are kept
  // (Writer::Keep): until the flush that started after the last of them
  // commits (Writer's flush numbers), later ones are kept too, so that
  // they are written in the order they were made.
  std::atomic<uint64_t> kept_until{0};
  // Its row could not be made when it was created (the lock was held, or
  // its family's declaration waits): the next flush makes it.
  std::atomic<bool> needs_row{false};
  SeriesRef ref() {
    return SeriesRef{family->id.load(std::memory_order_acquire), labels, &id, family->spec.gauge_mode != GaugeMode::kShared, family->native,
                     &native_schema};
  }
  const std::string& name() const { return family->spec.name; }
};

struct FamilyState {
  std::shared_ptr<const FamilyInfo> info;
  std::mutex mu;
  SeriesCache children;  // bounded: see series_cache.h

  // The cached child for `labels`, or null.
  std::shared_ptr<SeriesState> Find(std::string_view labels);
  // The child for already validated `labels`, created in the file and the
  // cache unless another thread was first.
  std::shared_ptr<SeriesState> Create(std::string_view labels);
  // Moves the cached children no handle holds into `evicted` (all, or the
  // one with `labels`): after a removal by this process.
  void Evict(const std::string* labels, std::vector<std::shared_ptr<SeriesState>>* evicted);
  size_t CachedChildren();
};

}  // namespace promsqlite::detail

#endif  // PROMSQLITE_SRC_WRITE_FAMILY_STATE_H_
