// Bounded memory under label churn (issue 30): what a writer keeps per
// series is given back once the series is no longer used.
//
// - Children caches evict unused children (series_cache.h); a SeriesState
//   that dies hands what it has pending to an orphan (Writer::Forget).
// - series_, the weak list for fork(), forgets dead entries once it doubled.
// - A region slot is counted by the series states and orphans that use it;
//   one nobody uses leaves slots_ (its bytes in the region stay, dead).
// - Rotation: a region of at least kRotateBytes (or full) whose slots are
//   more than half dead is replaced by a fresh one holding slots for the
//   live series only. Each live slot is retired (PendingRegion::Retire):
//   pointed at its successor, its last updates staged, locked for good;
//   series states and orphans move to the successors. The retired region's
//   staged cells are written in one transaction with its flush record, as
//   any flush of it (exactly once, also if the process dies meanwhile: a
//   recoverer finds the file as any region), then its file and record go.
//   Then its pages are replaced by zero pages that take no memory and that
//   an updater still holding one of its slots (loaded just before the
//   move) recognises as released (it then takes its series' current
//   slot); the address range is unmapped kUnmapAfter later.
//
// Bound: a region's pages in memory are at most max(kRotateBytes, 2 x the
// live slots' bytes), plus the successors made by a rotation.
#include <algorithm>
#include <chrono>
#include <unordered_map>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "write/family_state.h"
#include "write/writer.h"

namespace promsqlite::detail {
namespace {

constexpr uint64_t kRotateBytes = uint64_t{4} << 20;
constexpr std::chrono::minutes kUnmapAfter{10};
constexpr int64_t kTrimAfterForgotten = 1000;

}  // namespace

std::string Writer::SlotKey(int64_t family_id, std::string_view family, std::string_view labels) {
  std::string key = std::to_string(family_id) + ":";
  if (family_id == 0) key.append(family).push_back('\0');
  key.append(labels);
  return key;
}

void Writer::PruneSeries() {
  series_.erase(std::remove_if(series_.begin(), series_.end(),
                               [](const std::weak_ptr<SeriesState>& weak) { return weak.expired(); }),
                series_.end());
  prune_series_at_ = std::max<size_t>(1024, 2 * series_.size());
}

void Writer::EvictCached(const std::string& family, const std::string* labels,
                         std::vector<std::shared_ptr<FamilyState>>* families,
                         std::vector<std::shared_ptr<SeriesState>>* evicted) {
  std::lock_guard<std::mutex> lock(families_mu_);
  for (const std::weak_ptr<FamilyState>& weak : families_) {
    auto state = weak.lock();
    if (!state || !(family.empty() || state->info->spec.name == family)) continue;
    state->Evict(labels, evicted);
    families->push_back(std::move(state));  // its last reference, maybe: dropped after flush_mu_
  }
}

void Writer::FlushSoon() {
  if (!batched()) return;
  std::shared_ptr<FlusherControl> control;
  {
    std::lock_guard<std::mutex> lock(dirty_mu_);
    if (!flusher_) return;
    control = control_;
  }
  {
    std::lock_guard<std::mutex> lock(control->mu);
    control->flush_now = true;
  }
  control->wake.notify_all();
}

void Writer::ClearOrphans() {
  {
    std::lock_guard<std::mutex> lock(region_mu_);
    for (const Orphan& orphan : orphans_)
      if (orphan.written && orphan.slot != nullptr)
        ReleaseSlot(orphan.update.series.family_id, orphan.family, orphan.labels);
  }
  orphans_.remove_if([](const Orphan& orphan) { return orphan.written; });
}

void Writer::ReleaseSlot(int64_t family_id, const std::string& family, const std::string& labels) {
  auto found = slots_.find(SlotKey(family_id, family, labels));
  if (found == slots_.end() || --found->second.refs > 0) return;
  live_slot_bytes_ -= PendingRegion::Bytes(found->second.slot);
  slots_.erase(found);
}

void Writer::MaintainRegion() {
  if (!batched()) return;
  {
    std::vector<std::shared_ptr<SeriesState>> moved;  // released after flush_mu_ (~SeriesState takes it)
    std::lock_guard<std::mutex> one_flush(flush_mu_);
    MaintainRegionLocked(&moved);
  }
#ifdef __GLIBC__
  // The series states, orphans and flush batches of churned series are
  // freed in the middle of the heap, which glibc keeps (17 MiB in use of a
  // 70 MiB heap after 300 000 churned series): given back after a flush
  // once kTrimAfterForgotten series died since the last time, outside the
  // writer's locks.
  if (forgotten_.load(std::memory_order_relaxed) >= kTrimAfterForgotten) {
    forgotten_.store(0, std::memory_order_relaxed);
    malloc_trim(0);
  }
#endif
}

void Writer::MaintainRegionLocked(std::vector<std::shared_ptr<SeriesState>>* moved) {
  const auto now = std::chrono::steady_clock::now();
  bool draining = false;
  for (auto it = retired_.begin(); it != retired_.end();) {
    RetiredRegion& retired = *it;
    if (!retired.drained) {
      draining = !DrainRetired(retired);
    } else if (now - retired.drained_at >= kUnmapAfter) {
      it = retired_.erase(it);
      continue;
    }
    ++it;
  }
  if (!draining) RotateRegion(moved);
}

void Writer::RotateRegion(std::vector<std::shared_ptr<SeriesState>>* moved_series) {
  // Records of updates and declarations kept for the lock live in this
  // region until written: no rotation while any waits, and none may be
  // made in it until region_ is the fresh one (kept_mu_ held until then).
  std::unique_lock<std::mutex> no_keeping(kept_mu_);
  if (!kept_.empty() || !declarations_.empty()) return;
  {
    std::lock_guard<std::mutex> lock(region_mu_);
    if (!region_ || region_removed_) return;
    const uint64_t used = region_->used();
    // region_problem_ with a region: it is full.
    if (used < kRotateBytes && !region_problem_) return;
    if (live_slot_bytes_ * 2 > used) return;
  }
  std::unique_ptr<PendingRegion> fresh;
  try {
    fresh = PendingRegion::Create(store_->path(), options_.pending_region_bytes);
  } catch (const std::exception& e) {
    ReportLine(std::string("cannot rotate the region of pending updates (it keeps its dead slots): ") + e.what());
    return;
  }
  RetiredRegion& retired = retired_.emplace_back();
  {
    // Series states hold their slots: moved under dirty_mu_ (series_) and
    // region_mu_ (slots_), in that order.
    std::lock_guard<std::mutex> series_lock(dirty_mu_);
    std::lock_guard<std::mutex> lock(region_mu_);
    std::unordered_map<SlotHead*, SlotHead*> moved;
    moved.reserve(slots_.size());
    uint64_t live_bytes = 0;
    for (const auto& entry : slots_) {
      SlotHead* old = entry.second.slot;
      SlotHead* successor = fresh->NewSlot(PendingRegion::Kind(old), PendingRegion::Family(old),
                                           PendingRegion::Labels(old), PendingRegion::Buckets(old));
      if (successor == nullptr) {  // no disk space: nothing moved yet
        fresh->Remove();
        retired_.pop_back();
        ReportLine("cannot rotate the region of pending updates: " + fresh->path() + " has no room");
        return;
      }
      moved.emplace(old, successor);
      live_bytes += PendingRegion::Bytes(successor);
    }
    for (const std::weak_ptr<SeriesState>& weak : series_) {
      auto series = weak.lock();
      if (!series) continue;  // a dying one: its Forget follows the successor
      if (auto it = moved.find(series->slot.load(std::memory_order_acquire)); it != moved.end())
        series->slot.store(it->second, std::memory_order_release);
      moved_series->push_back(std::move(series));
    }
    for (Orphan& orphan : orphans_)
      if (auto it = moved.find(orphan.slot); it != moved.end()) orphan.slot = it->second;
    retired.generation = region_->committed() + 1;
    for (auto& entry : slots_) {
      SlotHead* old = entry.second.slot;
      SlotHead* successor = moved[old];
      PendingCell cell = region_->Retire(old, successor, retired.generation);
      entry.second.slot = successor;
      if (cell.empty()) continue;
      Orphan& last = retired.drain.emplace_back();
      last.family = std::string(PendingRegion::Family(old));
      last.labels = std::string(PendingRegion::Labels(old));
      last.kind = PendingRegion::Kind(old);
      last.slot = old;
      int64_t family_id = std::stoll(entry.first.substr(0, entry.first.find(':')));
      if (family_id == 0) {  // made while its family's declaration was kept: declared since (none is kept now)
        auto declared = declared_late_.find(last.family);
        if (declared != declared_late_.end()) family_id = declared->second;
      }
      FillFromPending(last.kind, cell, &last.update);
      last.update.series = SeriesRef{family_id, last.labels, &last.id, false, NativeLayout{}, &last.schema};
    }
    live_slot_bytes_ = live_bytes;
    retired.region = std::move(region_);
    region_ = std::move(fresh);
    region_problem_ = false;  // a full region's successor takes new series again
  }
  no_keeping.unlock();
  DrainRetired(retired);
}

bool Writer::DrainRetired(RetiredRegion& retired) {
  try {
    if (!retired.drain.empty()) {
      std::vector<BatchUpdate> updates;
      std::vector<SlotHead*> staged;
      updates.reserve(retired.drain.size());
      for (const Orphan& last : retired.drain) {
        updates.push_back(last.update);
        staged.push_back(last.slot);
      }
      PendingFlush record{retired.region->name(), retired.generation};
      store_->ApplyBatch(updates, &record);
      // Cleared before the file goes and long before the owner's lock is
      // given up (Release): a recoverer that opened the file before its
      // removal and finds its record deleted reads nothing staged.
      retired.region->Committed(retired.generation, staged);
    }
  } catch (const std::exception& e) {
    Report(e.what());  // retried after the next flush; a recoverer takes it if this process dies
    return false;
  }
  retired.region->Remove();
  retired.drain.clear();
  retired.drained = true;
  retired.drained_at = std::chrono::steady_clock::now();
  // Its pages go at once: an updater that still holds one of its slots
  // finds it released and takes its series' current slot; a series that
  // died meanwhile (Forget) finds an empty slot there, its updates drained.
  retired.region->Release();
  try {
    store_->ForgetPendingRegion(retired.region->name());
  } catch (const std::exception& e) {
    ReportLine("cannot remove the flush record of " + retired.region->name() + ": " + e.what());
  }
  return true;
}

size_t Writer::HeldSlotsForTest() {
  std::lock_guard<std::mutex> lock(region_mu_);
  return slots_.size();
}

size_t Writer::RetiredRegionsForTest() {
  std::lock_guard<std::mutex> lock(flush_mu_);
  return retired_.size();
}

}  // namespace promsqlite::detail
