#include "write/writer.h"

#include <pthread.h>

#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <chrono>
#include <optional>
#include <set>
#include <vector>

#include "promsqlite/errors.h"
#include "declare/native_histogram.h"
#include "store/pending_record.h"
#include "write/family_state.h"

namespace promsqlite::detail {
namespace {

// Every live Writer, for the fork() and exit() hooks. Never destroyed: the
// hooks may run after static destructors.
struct LiveWriters {
  std::mutex mu;
  std::set<Writer*> writers;
};
LiveWriters& Live() {
  static auto* live = new LiveWriters;
  return *live;
}

// fork() while another thread is inside a write would leave its locks
// held forever in the child. So fork waits for every writer's locks; the
// child then resets what belonged to the parent.
void PrepareFork() {
  Live().mu.lock();
  for (Writer* w : Live().writers) w->LockForFork();
}
void ParentAfterFork() {
  for (Writer* w : Live().writers) w->UnlockAfterFork(false);
  Live().mu.unlock();
}
void ChildAfterFork() {
  for (Writer* w : Live().writers) w->UnlockAfterFork(true);
  Live().mu.unlock();
}
// A normal exit flushes what batched writers still hold. Not under the
// list's lock: a Writer may be destroyed meanwhile (and erase itself).
void FlushAllAtExit() {
  std::vector<std::shared_ptr<Writer>> writers;
  {
    std::lock_guard<std::mutex> lock(Live().mu);
    for (Writer* w : Live().writers) {
      if (auto alive = w->weak_from_this().lock()) writers.push_back(std::move(alive));
    }
  }
  for (const auto& w : writers) w->FlushAtExit();
}

void InstallProcessHooks() {
  static std::once_flag once;
  std::call_once(once, [] {
    pthread_atfork(&PrepareFork, &ParentAfterFork, &ChildAfterFork);
    std::atexit(&FlushAllAtExit);
  });
}

bool IsCounter(const SeriesState& s) { return s.family->spec.type == MetricType::kCounter; }

bool IsDistribution(const SeriesState& s) {
  return s.family->spec.type == MetricType::kHistogram || s.family->spec.type == MetricType::kSummary;
}

// What a series keeps in a region: counters their sum; histograms and
// summaries sum, count and buckets; every other type (gauges, info,
// state sets) a sum of adds or a value to set, as in PendingUpdates.
PendingKind KindOf(const SeriesState& s) {
  if (IsCounter(s)) return PendingKind::kCounter;
  return IsDistribution(s) ? PendingKind::kDistribution : PendingKind::kGauge;
}

// Native histograms, per-process gauges: their pending updates stay in
// process memory (the region has no place for native buckets, and a
// per-process series belongs to its process's row, which a recoverer must
// not write).
bool RegionCanHold(SeriesState& s) {
  return !s.family->native.enabled && !s.ref().per_process;
}

double WallNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// The update that makes a series' row when nothing else pending does: what
// Store::EnsureSeries would have inserted (0; an info's 1).
void RowOnly(const SeriesState& s, BatchUpdate* u) {
  const MetricType type = s.family->spec.type;
  u->value = 0;
  u->count = 0;
  if (type == MetricType::kHistogram || type == MetricType::kSummary) {
    u->kind = BatchUpdate::kObserve;
    u->bucket_deltas.assign(type == MetricType::kHistogram ? s.family->spec.buckets.size() : 0, 0);
  } else if (type == MetricType::kInfo) {
    u->kind = BatchUpdate::kSet;
    u->value = 1;
  } else {
    u->kind = BatchUpdate::kAdd;
  }
}


}  // namespace

Writer::Writer(const std::string& path, const Options& options)
    : options_(options),
      at_once_outside_regions_(options.write_mode == WriteMode::kBatched &&
                               options.pending_store == PendingStore::kSharedFile && options.immediate_outside_regions),
      store_(std::make_shared<Store>(path, options)) {
  InstallProcessHooks();
  std::lock_guard<std::mutex> lock(Live().mu);
  Live().writers.insert(this);
}

Writer::~Writer() {
  {
    std::lock_guard<std::mutex> lock(Live().mu);
    Live().writers.erase(this);
  }
  FlushAtExit();
}

void Writer::Track(const std::shared_ptr<FamilyState>& family) {
  std::lock_guard<std::mutex> lock(families_mu_);
  families_.push_back(family);
}

void Writer::Track(const std::shared_ptr<SeriesState>& series) {
  // Immediate mode too: an update kept for the lock may wait in memory.
  series->pending.bucket_deltas.assign(
      series->family->spec.type == MetricType::kHistogram ? series->family->spec.buckets.size() : 0, 0);
  series->in_region.store(
      batched() && options_.pending_store == PendingStore::kSharedFile && RegionCanHold(*series),
      std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(dirty_mu_);
  series_.push_back(series);
  if (series_.size() >= prune_series_at_) PruneSeries();
}

inline SlotHead* Writer::RegionSlot(SeriesState& series) {
  if (!series.in_region.load(std::memory_order_relaxed)) return nullptr;
  SlotHead* slot = series.slot.load(std::memory_order_acquire);
  return slot != nullptr ? slot : NewSlot(series);
}

PendingRegion* Writer::EnsureRegion(std::string* problem) {
  if (!region_ && !region_problem_) {
    try {
      region_ = PendingRegion::Create(store_->path(), options_.pending_region_bytes);
    } catch (const std::exception& e) {
      region_problem_ = true;
      *problem = std::string(e.what()) + (at_once_outside_regions_
                                              ? "; updates are written at once instead"
                                              : "; pending updates wait in process memory (lost if the process is killed)");
    }
  }
  return region_removed_ ? nullptr : region_.get();
}

SlotHead* Writer::NewSlot(SeriesState& series) {
  std::string problem;
  {
    std::lock_guard<std::mutex> lock(region_mu_);
    if (SlotHead* slot = series.slot.load(std::memory_order_acquire)) return slot;
    EnsureRegion(&problem);
    if (region_) {
      const FamilySpec& spec = series.family->spec;
      // One slot per series in this process, whichever handle updates it,
      // so that each handle's Value() sees the others' pending updates.
      // By the family's id, not its name: a family removed and declared
      // anew (another id) gets slots of its own, so that a flush of a
      // handle of the old one never writes to the new one's series.
      uint32_t buckets = spec.type == MetricType::kHistogram ? static_cast<uint32_t>(spec.buckets.size()) : 0;
      // A family whose declaration waits for the lock has no id yet: by name.
      std::string key = SlotKey(series.family->id.load(std::memory_order_acquire), spec.name, series.labels);
      if (auto found = slots_.find(key); found != slots_.end()) {
        ++found->second.refs;
        series.slot.store(found->second.slot, std::memory_order_release);
        return found->second.slot;
      }
      if (SlotHead* slot = region_->NewSlot(KindOf(series), spec.name, series.labels, buckets)) {
        slots_.emplace(std::move(key), SlotUse{slot, 1});
        live_slot_bytes_ += PendingRegion::Bytes(slot);
        series.slot.store(slot, std::memory_order_release);
        return slot;
      }
      if (!region_problem_) {
        region_problem_ = true;
        problem = region_->path() + " is full (Options::pending_region_bytes = " +
                  std::to_string(options_.pending_region_bytes) +
                  " or no disk space for more); the updates of further series " +
                  (at_once_outside_regions_ ? "are written at once" : "wait in process memory");
      }
    }
    series.in_region.store(false, std::memory_order_relaxed);
  }
  if (!problem.empty()) ReportLine(problem);
  return nullptr;
}

template <typename F>
inline bool Writer::RegionUpdate(SeriesState& series, F&& update) {
  for (;;) {
    SlotHead* slot = RegionSlot(series);
    if (slot == nullptr) return false;
    if (update(slot)) return true;
    // Its region was released: a rotation gave the series another slot.
  }
}

void Writer::MarkDirty(SeriesState& series) {
  // Set once per flush interval: the common case is one relaxed load.
  if (series.pending.dirty.load(std::memory_order_relaxed) || series.pending.dirty.exchange(true)) return;
  std::lock_guard<std::mutex> lock(dirty_mu_);
  dirty_.push_back(&series);
  if (!flusher_) StartFlusher();
}

// PendingStore::kSharedFile: an update goes to the region. What a region
// cannot hold (native histograms, per-process gauges, exemplars) and
// every update when the region cannot be had (not made, full, no disk
// space for it: reported once) is written at once, as in immediate mode
// (Options::immediate_outside_regions, the default), so that every update
// keeps both guarantees; or waits in process memory, as with
// kProcessMemory, so that batched mode stays nanoseconds for every kind
// (docs/pending-regions.md).
//
// An update written at once that cannot get the write lock within
// Options::update_lock_wait_ms is kept: a record in the region (it
// survives a SIGKILL; a recoverer writes it), or in process memory when
// the region has no room; the flush writes it once the lock is free.
void Writer::Add(SeriesState& series, double delta, const ExemplarWrite* exemplar) {
  if (batched()) {
    if (RegionUpdate(series, [&](SlotHead* slot) { return PendingRegion::Add(slot, delta); })) {
      if (exemplar) KeepOrWriteExemplar(series, *exemplar);
      return MarkDirty(series);
    }
    if (!at_once_outside_regions_) return AddInMemory(series, delta, exemplar);
  }
  if (TryAtOnce(series, [&] { store_->Add(series.ref(), delta, exemplar); })) return;
  BatchUpdate u;
  u.kind = BatchUpdate::kAdd;
  u.value = delta;
  if (exemplar) u.exemplars.push_back(*exemplar);
  Keep(series, u, [&] { AddInMemory(series, delta, exemplar); });
}

template <typename F>
void Writer::Keep(SeriesState& series, const BatchUpdate& update, F&& in_memory) {
  std::lock_guard<std::mutex> lock(kept_mu_);
  const bool recorded = KeepRecord(series, update);
  if (!recorded) in_memory();
  NoteKept(series, !recorded);
}

void Writer::AddInMemory(SeriesState& series, double delta, const ExemplarWrite* exemplar) {
  if (IsCounter(series)) {
    AtomicAdd(series.pending.counter_delta, delta);
    if (exemplar) {
      std::lock_guard<SpinLock> lock(series.pending.lock);
      series.pending.KeepExemplar(*exemplar);
    }
  } else {
    std::lock_guard<SpinLock> lock(series.pending.lock);
    series.pending.value += delta;  // onto a pending Set, or into the sum of adds
  }
  MarkDirty(series);
}

void Writer::Set(SeriesState& series, double value) {
  if (batched()) {
    if (RegionUpdate(series, [&](SlotHead* slot) { return PendingRegion::Set(slot, value); })) {
      return MarkDirty(series);
    }
    if (!at_once_outside_regions_) return SetInMemory(series, value);
  }
  if (TryAtOnce(series, [&] { store_->Set(series.ref(), value); })) return;
  BatchUpdate u;
  u.kind = BatchUpdate::kSet;
  u.value = value;
  Keep(series, u, [&] { SetInMemory(series, value); });
}

void Writer::SetInMemory(SeriesState& series, double value) {
  {
    std::lock_guard<SpinLock> lock(series.pending.lock);
    series.pending.has_set = true;
    series.pending.value = value;
  }
  MarkDirty(series);
}

void Writer::Observe(SeriesState& series, double value, int bucket, const ExemplarWrite* exemplar) {
  if (batched()) {
    if (RegionUpdate(series, [&](SlotHead* slot) { return PendingRegion::Observe(slot, value, bucket); })) {
      if (exemplar) KeepOrWriteExemplar(series, *exemplar);
      return MarkDirty(series);
    }
    if (!at_once_outside_regions_) return ObserveInMemory(series, value, bucket, exemplar);
  }
  if (TryAtOnce(series, [&] { store_->Observe(series.ref(), value, bucket, exemplar); })) return;
  BatchUpdate u;
  u.kind = BatchUpdate::kObserve;
  u.value = value;
  u.count = 1;
  if (bucket >= 0) {
    u.bucket_deltas.assign(series.family->spec.buckets.size(), 0);
    if (static_cast<size_t>(bucket) < u.bucket_deltas.size()) u.bucket_deltas[static_cast<size_t>(bucket)] = 1;
  }
  const NativeLayout& native = series.family->native;
  if (native.enabled) {
    // At the schema this process knows; the flush (or a recoverer) merges
    // it down when the file's is lower by then.
    u.native.schema = series.native_schema.load(std::memory_order_relaxed);
    int sign;
    int32_t index;
    if (NativeBucketOf(value, u.native.schema, native.zero_threshold, &sign, &index)) {
      if (sign == 0) u.native.zero = 1;
      else (sign > 0 ? u.native.positive : u.native.negative).emplace_back(index, 1);
    }
  }
  if (exemplar) u.exemplars.push_back(*exemplar);
  Keep(series, u, [&] { ObserveInMemory(series, value, bucket, exemplar); });
}

void Writer::ObserveInMemory(SeriesState& series, double value, int bucket, const ExemplarWrite* exemplar) {
  const NativeLayout& native = series.family->native;
  {
    PendingUpdates& p = series.pending;
    std::lock_guard<SpinLock> lock(p.lock);
    p.value += value;
    p.count += 1;
    if (bucket >= 0) p.bucket_deltas[static_cast<size_t>(bucket)] += 1;
    if (exemplar) p.KeepExemplar(*exemplar);
    if (native.enabled) {
      // Counted at the schema this process knows; a flush merges them down
      // when the file's is lower by then.
      if (!p.native_active) {
        p.native_active = true;
        p.native_schema = series.native_schema.load(std::memory_order_relaxed);
      }
      int sign;
      int32_t index;
      if (NativeBucketOf(value, p.native_schema, native.zero_threshold, &sign, &index)) {
        if (sign == 0) ++p.native_zero;
        else if (sign > 0) p.native_positive.Add(index);
        else p.native_negative.Add(index);
      }
    }
  }
  MarkDirty(series);
}

// An exemplar of an update that went to the region: written at once in
// its own transaction (Options::immediate_outside_regions), else kept for
// the flush (the latest per bucket).
void Writer::KeepOrWriteExemplar(SeriesState& series, const ExemplarWrite& exemplar) {
  if (at_once_outside_regions_) {
    BatchUpdate update;
    update.series = series.ref();
    PendingCell nothing;
    if (KindOf(series) == PendingKind::kDistribution) nothing.buckets.assign(series.pending.bucket_deltas.size(), 0);
    FillFromPending(KindOf(series), nothing, &update);
    update.exemplars.push_back(exemplar);
    if (TryAtOnce(series, [&] {
          update.series = series.ref();
          store_->ApplyBatch({update});
        }))
      return;
    std::lock_guard<std::mutex> lock(kept_mu_);
    if (KeepRecord(series, update)) return NoteKept(series, false);
  }
  std::lock_guard<SpinLock> lock(series.pending.lock);
  series.pending.KeepExemplar(exemplar);
}

bool Writer::MustKeep(const SeriesState& series) const {
  return series.family->id.load(std::memory_order_acquire) == 0 ||
         series.kept_until.load(std::memory_order_acquire) > flush_committed_.load(std::memory_order_acquire);
}

template <typename F>
bool Writer::TryAtOnce(SeriesState& series, F&& write) {
  if (MustKeep(series)) return false;
  return WriteAtOnce(std::forward<F>(write));
}

bool Writer::KeepRecord(SeriesState& series, const BatchUpdate& update) {
  std::string problem;
  SlotHead* record = nullptr;
  bool full = false;
  {
    std::lock_guard<std::mutex> lock(region_mu_);
    if (PendingRegion* region = EnsureRegion(&problem)) {
      // Readers show it at once where a slot's cells could hold it.
      const uint32_t shows_as = RegionCanHold(series) ? static_cast<uint32_t>(KindOf(series)) : 0;
      record = region->NewRecord(PendingKind::kRecord, series.name(), series.labels, EncodeKeptUpdate(update),
                                 shows_as);
      full = record == nullptr;
    }
  }
  if (!problem.empty()) ReportLine(problem);
  if (record == nullptr) {
    if (full && kept_in_memory_ == 0)
      ReportLine(region_->path() + " has no room for more updates kept for the write lock (Options::pending_region_bytes = " +
                 std::to_string(options_.pending_region_bytes) +
                 "); further ones wait in process memory (lost if the process is killed)");
    return false;
  }
  kept_.push_back(KeptRecord{record, WallNow()});
  return true;
}

bool Writer::ReadKept(const KeptRecord& kept, KeptWrite* write) {
  std::string_view family, labels, payload;
  PendingRegion::ReadRecord(kept.record, &family, &labels, &payload);
  write->family.assign(family);
  write->labels.assign(labels);
  write->update = BatchUpdate{};
  return DecodeKeptUpdate(payload, &write->update);
}

void Writer::NoteKept(SeriesState& series, bool in_memory) {
  kept_for_lock_.fetch_add(1, std::memory_order_relaxed);
  series.kept_until.store(flush_started_.load(std::memory_order_acquire) + 1, std::memory_order_release);
  if (in_memory && kept_in_memory_++ == 0) kept_in_memory_since_ = WallNow();
  UpdateWaitingAccount();
  std::lock_guard<std::mutex> lock(dirty_mu_);
  if (!flusher_) StartFlusher();
}

Writer::Waiting Writer::WaitingLocked() const {
  Waiting w;
  w.updates = static_cast<int64_t>(kept_.size()) + kept_in_memory_;
  if (!kept_.empty()) w.since = kept_.front().made;
  if (kept_in_memory_ > 0 && (w.since == 0 || kept_in_memory_since_ < w.since)) w.since = kept_in_memory_since_;
  return w;
}

void Writer::UpdateWaitingAccount() {
  const Waiting waiting = WaitingLocked();
  std::lock_guard<std::mutex> lock(region_mu_);
  if (region_ && !region_removed_) region_->SetKept(waiting.updates, static_cast<int64_t>(waiting.since * 1000));
}

Writer::Waiting Writer::WaitingForLock() {
  std::lock_guard<std::mutex> lock(kept_mu_);
  return WaitingLocked();
}

void Writer::DeclareOrKeep(const std::shared_ptr<FamilyInfo>& info) {
  if (WriteAtOnce([&] { info->id.store(store_->Declare(info->spec), std::memory_order_release); })) return;
  // The lock is held: checked by reading (a conflict throws here), then
  // kept for the flush. A family the file has keeps its id (only its help
  // waits).
  info->id.store(store_->CheckDeclared(info->spec), std::memory_order_release);
  std::lock_guard<std::mutex> lock(kept_mu_);
  for (KeptDeclaration& kept : declarations_) {
    if (kept.spec.name != info->spec.name) continue;
    if (!info->spec.help.empty()) kept.spec.help = info->spec.help;
    kept.infos.push_back(info);
    return;
  }
  KeptDeclaration& kept = declarations_.emplace_back();
  kept.spec = info->spec;
  kept.infos.push_back(info);
  if (info->id.load() == 0) {  // a new family: a recoverer must declare it before writing its slots
    std::string problem;
    {
      std::lock_guard<std::mutex> region_lock(region_mu_);
      if (PendingRegion* region = EnsureRegion(&problem))
        kept.record = region->NewRecord(PendingKind::kDeclaration, info->spec.name, "",
                                        EncodeKeptDeclaration(info->spec));
    }
    if (!problem.empty()) ReportLine(problem);
  }
  std::lock_guard<std::mutex> dirty(dirty_mu_);
  if (!flusher_) StartFlusher();
}

void Writer::MakeRow(SeriesState& series) {
  const double initial = series.family->spec.type == MetricType::kInfo ? 1 : 0;
  if (TryAtOnce(series, [&] {
        series.id = store_->EnsureSeries(series.family->id.load(std::memory_order_acquire), series.labels, initial,
                                         series.family->spec.gauge_mode != GaugeMode::kShared);
      }))
    return;
  series.needs_row.store(true, std::memory_order_release);
  std::lock_guard<std::mutex> lock(kept_mu_);
  series.kept_until.store(flush_started_.load(std::memory_order_acquire) + 1, std::memory_order_release);
  MarkDirty(series);
}

// An update written at once waits at most update_lock_wait_ms for the
// write lock; false when it did not get it (the caller then keeps the
// update for the flush, which writes it once the lock is free). Errors no
// waiting cures (a read-only file, a corrupt one) still throw.
//
// Once one update has waited its bound in vain, the next ones try the lock
// once without waiting until one gets it: a hold of seconds costs the
// caller one bound, not one per update.
template <typename F>
bool Writer::WriteAtOnce(F&& write) {
  if (options_.update_lock_wait_ms < 0) {  // wait busy_timeout_ms, then throw
    write();
    return true;
  }
  try {
    Store::BoundedWait bound(lock_busy_.load(std::memory_order_relaxed) ? 0 : options_.update_lock_wait_ms);
    write();
    if (lock_busy_.load(std::memory_order_relaxed)) ReportLockFree();
    return true;
  } catch (const LockBusy& e) {
    if (!lock_busy_.exchange(true, std::memory_order_relaxed))
      ReportLine(std::string(e.what()) + "; updates are kept for the flush until the lock is free");
    return false;
  }
}

// The first update written at once after some were kept: says how many.
void Writer::ReportLockFree() {
  if (!lock_busy_.exchange(false, std::memory_order_relaxed)) return;
  const int64_t kept = kept_for_lock_.exchange(0, std::memory_order_relaxed);
  if (kept > 0)
    ReportLine(store_->path() + ": the write lock is free again; " + std::to_string(kept) +
               " update(s) that could not wait for it were kept for the flush");
}

StoredSeries Writer::Read(SeriesState& series, size_t buckets) {
  std::lock_guard<std::mutex> no_flush_in_flight(flush_mu_);
  StoredSeries stored = store_->Read(series.ref(), buckets);
  {
    // Updates kept for the lock, in the order they were made (before what
    // waits in memory).
    std::lock_guard<std::mutex> lock(kept_mu_);
    BatchUpdate u;
    for (const KeptRecord& kept : kept_) {
      std::string_view family, labels, payload;
      PendingRegion::ReadRecord(kept.record, &family, &labels, &payload);
      u = BatchUpdate{};
      if (labels != series.labels || family != series.name() || !DecodeKeptUpdate(payload, &u)) continue;
      stored.value = u.kind == BatchUpdate::kSet ? u.value : stored.value + u.value;
      stored.count += u.count;
      for (size_t b = 0; b < buckets && b < u.bucket_deltas.size(); ++b) stored.bucket_counts[b] += u.bucket_deltas[b];
    }
  }
  if (SlotHead* slot = series.slot.load(std::memory_order_acquire)) {
    PendingCell cell = region_->Pending(slot);
    stored.value = cell.has_set ? cell.value : stored.value + cell.value;
    stored.count += cell.count;
    for (size_t b = 0; b < buckets && b < cell.buckets.size(); ++b) stored.bucket_counts[b] += cell.buckets[b];
    return stored;
  }
  PendingUpdates& p = series.pending;
  if (IsCounter(series)) {
    stored.value += p.counter_delta.load();
    return stored;
  }
  std::lock_guard<SpinLock> lock(p.lock);
  stored.value = p.has_set ? p.value : stored.value + p.value;
  stored.count += p.count;
  for (size_t b = 0; b < buckets && b < p.bucket_deltas.size(); ++b) stored.bucket_counts[b] += p.bucket_deltas[b];
  return stored;
}

bool Writer::TakePending(SeriesState& s, BatchUpdate* u, uint64_t generation, std::vector<SlotHead*>* staged) {
  if (TakeUpdates(s, u, generation, staged)) return true;
  if (!s.needs_row.load(std::memory_order_acquire)) return false;
  RowOnly(s, u);
  return true;
}

bool Writer::TakeUpdates(SeriesState& s, BatchUpdate* u, uint64_t generation, std::vector<SlotHead*>* staged) {
  PendingUpdates& p = s.pending;
  p.dirty.store(false);  // before taking: a later update marks it again
  u->series = s.ref();
  if (SlotHead* slot = s.slot.load(std::memory_order_acquire)) {
    PendingCell cell = StageOnce(slot, generation);
    {
      std::lock_guard<SpinLock> lock(p.lock);
      u->exemplars.swap(p.exemplars);
    }
    if (!cell.empty()) staged->push_back(slot);
    FillFromPending(KindOf(s), cell, u);
    return !cell.empty() || !u->exemplars.empty();
  }
  if (IsCounter(s)) {
    u->kind = BatchUpdate::kAdd;
    u->value = p.counter_delta.exchange(0);
    std::lock_guard<SpinLock> lock(p.lock);
    u->exemplars.swap(p.exemplars);
  } else {
    std::lock_guard<SpinLock> lock(p.lock);
    MetricType type = s.family->spec.type;
    if (type == MetricType::kHistogram || type == MetricType::kSummary) {
      u->kind = BatchUpdate::kObserve;
      u->count = p.count;
      u->bucket_deltas.swap(p.bucket_deltas);
      p.bucket_deltas.assign(u->bucket_deltas.size(), 0);
      if (p.native_active) {
        u->native.schema = p.native_schema;
        u->native.zero = p.native_zero;
        p.native_positive.TakeInto(&u->native.positive);
        p.native_negative.TakeInto(&u->native.negative);
        p.native_zero = 0;
        p.native_active = false;
      }
    } else {
      u->kind = p.has_set ? BatchUpdate::kSet : BatchUpdate::kAdd;
    }
    u->exemplars.swap(p.exemplars);
    u->value = p.value;
    p.value = 0;
    p.count = 0;
    p.has_set = false;
  }
  if (!u->exemplars.empty()) return true;
  return !((u->kind == BatchUpdate::kAdd && u->value == 0) || (u->kind == BatchUpdate::kObserve && u->count == 0));
}

// Native counts of a failed flush back into `p` (under its lock), both at
// the lower of their two schemas.
void Writer::RestoreNative(PendingUpdates& p, const NativeDeltas& failed) {
  NativeDeltas merged = failed;
  if (p.native_active) {
    NativeDeltas newer;
    newer.schema = p.native_schema;
    newer.zero = p.native_zero;
    p.native_positive.TakeInto(&newer.positive);
    p.native_negative.TakeInto(&newer.negative);
    int schema = std::min(merged.schema, newer.schema);
    auto lower = [schema](NativeDeltas& d) {
      for (auto* side : {&d.positive, &d.negative})
        for (auto& entry : *side) entry.first = ReduceNativeIndex(entry.first, d.schema - schema);
      d.schema = schema;
    };
    lower(merged);
    lower(newer);
    merged.zero += newer.zero;
    merged.positive.insert(merged.positive.end(), newer.positive.begin(), newer.positive.end());
    merged.negative.insert(merged.negative.end(), newer.negative.begin(), newer.negative.end());
  }
  p.native_active = true;
  p.native_schema = merged.schema;
  p.native_zero = merged.zero;
  for (const auto& [index, count] : merged.positive) p.native_positive.Add(index, count);
  for (const auto& [index, count] : merged.negative) p.native_negative.Add(index, count);
}

// Merges a failed update back with whatever arrived in the meantime.
void Writer::RestorePending(SeriesState& s, const BatchUpdate& u) {
  PendingUpdates& p = s.pending;
  if (s.slot.load(std::memory_order_acquire) != nullptr) {  // its values stay staged in the region
    std::lock_guard<SpinLock> lock(p.lock);
    for (const ExemplarWrite& e : u.exemplars) p.KeepExemplar(e);
    return;
  }
  if (IsCounter(s)) AtomicAdd(p.counter_delta, u.value);
  std::lock_guard<SpinLock> lock(p.lock);
  for (const ExemplarWrite& e : u.exemplars) p.KeepExemplar(e);  // unless a later one arrived meanwhile
  if (IsCounter(s)) return;
  if (u.kind == BatchUpdate::kObserve) {
    p.value += u.value;
    p.count += u.count;
    for (size_t b = 0; b < u.bucket_deltas.size(); ++b) p.bucket_deltas[b] += u.bucket_deltas[b];
    if (!u.native.empty()) RestoreNative(p, u.native);
  } else if (!p.has_set) {  // a newer Set replaces the failed one
    p.has_set = u.kind == BatchUpdate::kSet;
    p.value += u.value;
  }
}

void Writer::Forget(SeriesState& series) {
  forgotten_.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard<std::mutex> one_flush(flush_mu_);
  if (series.pending.dirty.load()) {  // else not in the list: no search through it
    std::lock_guard<std::mutex> lock(dirty_mu_);
    dirty_.erase(std::remove(dirty_.begin(), dirty_.end(), &series), dirty_.end());
  }
  // Latest: a rotation that ran while this series was dying moved its slot.
  if (SlotHead* slot = PendingRegion::Latest(series.slot.load(std::memory_order_acquire))) {
    // Its values stay in the region; each flush stages them until written.
    Orphan& orphan = orphans_.emplace_back();
    orphan.family = series.name();
    orphan.labels = series.labels;
    orphan.id = series.id.load();
    orphan.slot = slot;
    orphan.kind = KindOf(series);
    {
      std::lock_guard<SpinLock> lock(series.pending.lock);
      orphan.update.exemplars.swap(series.pending.exemplars);
    }
    orphan.update.series = SeriesRef{series.family->id.load(), orphan.labels, &orphan.id, false,
                                     series.family->native, &orphan.schema};
    return;
  }
  BatchUpdate update;
  if (!TakePending(series, &update, 0, nullptr)) return;
  Orphan& orphan = orphans_.emplace_back();
  orphan.family = series.name();
  orphan.labels = series.labels;
  orphan.id = series.id.load();
  orphan.schema = series.native_schema.load();
  orphan.update = std::move(update);
  orphan.update.series = SeriesRef{series.family->id.load(), orphan.labels, &orphan.id, series.ref().per_process,
                                   series.family->native, &orphan.schema};
}

// Takes every dirty series' pending updates and writes them in ONE
// transaction, with the updates kept in region records. On failure they
// are merged back and stay dirty (records stay): retried, never dropped,
// never doubled.
bool Writer::FlushPending(std::string* error, bool* busy) {
  std::lock_guard<std::mutex> one_flush(flush_mu_);
  if (!DeclareKept(error, busy)) return false;
  std::vector<SeriesState*> batch;
  {
    std::lock_guard<std::mutex> lock(dirty_mu_);
    batch.swap(dirty_);
  }
  // This flush's number and the records it carries: every update kept
  // before it (NoteKept asks for the flush after the one that started).
  uint64_t number;
  std::vector<KeptWrite> kept;
  std::vector<SlotHead*> records;
  int64_t kept_in_memory;
  {
    std::lock_guard<std::mutex> lock(kept_mu_);
    number = flush_started_.fetch_add(1, std::memory_order_acq_rel) + 1;
    records.reserve(kept_.size());
    for (const KeptRecord& k : kept_) records.push_back(k.record);
    kept_in_memory = kept_in_memory_;
  }
  // Read outside the lock (records never change once made): updates
  // that keep meanwhile do not wait for this.
  kept.reserve(records.size());
  for (SlotHead* record : records)
    if (!ReadKept(KeptRecord{record, 0}, &kept.emplace_back())) kept.pop_back();
  PendingRegion* region;
  {
    std::lock_guard<std::mutex> lock(region_mu_);
    region = region_.get();
  }
  // A writer that made a region recovers dead writers' regions once, at its
  // first flush: a pool whose workers are killed and replaced brings their
  // updates in without waiting for a housekeeping pass.
  if (region != nullptr && !recovered_regions_) {
    recovered_regions_ = true;
    try {
      RegionRecoveryReport recovery = store_->RecoverRegions();
      for (const std::string& problem : recovery.problems) ReportLine(problem);
    } catch (const std::exception& e) {
      ReportLine(std::string("recovery of pending regions failed: ") + e.what());
    }
  }
  // Staged at the generation after the last committed one; a failed flush
  // stages again at the same one, merged with what came since.
  const uint64_t generation = region != nullptr ? region->committed() + 1 : 0;
  staged_once_.clear();
  std::vector<SlotHead*> staged;
  std::vector<BatchUpdate> updates;
  std::vector<SeriesState*> owners;  // null for orphans
  std::vector<SeriesState*> undeclared;  // their family's declaration still waits
  updates.reserve(batch.size() + orphans_.size());
  for (SeriesState* s : batch) {
    if (s->family->id.load(std::memory_order_acquire) == 0) {
      undeclared.push_back(s);
      continue;
    }
    BatchUpdate u;
    if (!TakePending(*s, &u, generation, &staged)) continue;
    updates.push_back(std::move(u));
    owners.push_back(s);
  }
  std::vector<Orphan*> written_orphans;
  for (Orphan& orphan : orphans_) {
    if (orphan.update.series.family_id == 0) {  // made while its family's declaration waited
      auto declared = declared_late_.find(orphan.family);
      if (declared == declared_late_.end()) continue;
      orphan.update.series.family_id = declared->second;
    }
    written_orphans.push_back(&orphan);
    if (orphan.slot != nullptr) {
      PendingCell cell = StageOnce(orphan.slot, generation);
      if (!cell.empty()) staged.push_back(orphan.slot);
      FillFromPending(orphan.kind, cell, &orphan.update);
      if (cell.empty() && orphan.update.exemplars.empty()) continue;
    }
    updates.push_back(orphan.update);
    owners.push_back(nullptr);
  }
  auto done_with_orphans = [&] {
    for (Orphan* orphan : written_orphans) orphan->written = true;
    ClearOrphans();  // the written ones, with their slots
  };
  for (SeriesState* s : undeclared) MarkDirty(*s);
  if (updates.empty() && kept.empty()) {
    done_with_orphans();
    flush_committed_.store(number, std::memory_order_release);
    return true;
  }
  try {
    for (SlotHead* record : records) PendingRegion::StageRecord(record, generation);
    PendingFlush flush_record;
    const bool in_region = !staged.empty() || !records.empty();
    if (in_region) flush_record = PendingFlush{region->name(), generation};
    int64_t dropped = 0;
    store_->ApplyBatch(updates, in_region ? &flush_record : nullptr, &kept, &dropped);
    if (in_region) region->Committed(generation, staged);
    done_with_orphans();
    for (size_t i = 0; i < updates.size(); ++i)
      if (owners[i] != nullptr) owners[i]->needs_row.store(false, std::memory_order_release);
    {
      std::lock_guard<std::mutex> lock(kept_mu_);
      for (SlotHead* record : records) PendingRegion::RecordDone(record);
      kept_.erase(kept_.begin(), kept_.begin() + static_cast<ptrdiff_t>(records.size()));
      kept_in_memory_ -= kept_in_memory;
      if (kept_in_memory_ == 0) kept_in_memory_since_ = 0;
      UpdateWaitingAccount();
    }
    flush_committed_.store(number, std::memory_order_release);
    ReportLockFree();
    if (dropped > 0)
      ReportLine(std::to_string(dropped) + " update(s) kept for the write lock were dropped: their family was " +
                 "removed, or declared anew otherwise, before they could be written");
    return true;
  } catch (const std::exception& e) {
    for (size_t i = 0; i < updates.size(); ++i) {
      if (owners[i] == nullptr) continue;  // orphans stay where they are
      RestorePending(*owners[i], updates[i]);
      MarkDirty(*owners[i]);
    }
    *error = e.what();
    if (busy != nullptr) *busy = dynamic_cast<const LockBusy*>(&e) != nullptr;
    return false;
  }
}

void Writer::RekeySlots(const std::string& family, int64_t id) {
  std::lock_guard<std::mutex> lock(region_mu_);
  const std::string prefix = SlotKey(0, family, "");
  for (auto it = slots_.begin(); it != slots_.end();) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) {
      ++it;
      continue;
    }
    std::string key = SlotKey(id, family, std::string_view(it->first).substr(prefix.size()));
    // A handle made since the id was known has a slot of its own: this one
    // keeps its key (rotation finds the id by name).
    if (slots_.count(key) != 0) {
      ++it;
      continue;
    }
    auto node = slots_.extract(it++);
    node.key() = std::move(key);
    slots_.insert(std::move(node));
  }
}

// Declarations kept for the lock, each in its own transaction (waiting as
// a flush does); false with `error` when one could not be written.
bool Writer::DeclareKept(std::string* error, bool* busy) {
  std::vector<KeptDeclaration> todo;
  {
    std::lock_guard<std::mutex> lock(kept_mu_);
    if (declarations_.empty()) return true;
    todo = declarations_;
  }
  for (KeptDeclaration& kept : todo) {
    int64_t id = 0;
    std::string conflict;
    try {
      id = store_->Declare(kept.spec);
    } catch (const DeclarationConflict& e) {
      conflict = e.what();
    } catch (const std::exception& e) {
      *error = e.what();
      if (busy != nullptr) *busy = dynamic_cast<const LockBusy*>(&e) != nullptr;
      return false;
    }
    std::lock_guard<std::mutex> lock(kept_mu_);
    for (auto it = declarations_.begin(); it != declarations_.end(); ++it) {
      if (it->spec.name != kept.spec.name) continue;
      if (it->record != nullptr) PendingRegion::RecordDone(it->record);
      if (conflict.empty()) {
        for (const std::weak_ptr<const FamilyInfo>& weak : it->infos)
          if (auto info = weak.lock()) info->id.store(id, std::memory_order_release);
        declared_late_[kept.spec.name] = id;
        RekeySlots(kept.spec.name, id);
      }
      declarations_.erase(it);
      break;
    }
    if (!conflict.empty())
      ReportLine("a declaration kept for the write lock cannot be written, and the updates of its family "
                 "are not written either: " + conflict);
  }
  return true;
}

// A slot shared by several handles of one series (and by the orphan of a
// handle that died) is staged once per flush: staging it again at the same
// generation would hand the flush its staged cell a second time.
PendingCell Writer::StageOnce(SlotHead* slot, uint64_t generation) {
  if (generation == 0 || !staged_once_.insert(slot).second) return PendingCell{};
  return region_->Stage(slot, generation);
}

void Writer::DropPending(const std::string& family, const std::string* labels,
                         std::vector<std::shared_ptr<SeriesState>>* held) {
  auto matches = [&](std::string_view name, std::string_view series_labels) {
    return (family.empty() || name == family) && (labels == nullptr || series_labels == *labels);
  };
  std::vector<std::shared_ptr<SeriesState>> series;
  {
    std::lock_guard<std::mutex> lock(dirty_mu_);
    for (const std::weak_ptr<SeriesState>& weak : series_)
      if (auto s = weak.lock(); s && matches(s->name(), s->labels)) series.push_back(std::move(s));
  }
  for (const std::shared_ptr<SeriesState>& s : series) {
    if (SlotHead* slot = s->slot.load(std::memory_order_acquire)) {
      region_->Discard(slot);
      std::lock_guard<SpinLock> lock(s->pending.lock);
      s->pending.exemplars.clear();
    } else {
      BatchUpdate dropped;
      TakePending(*s, &dropped, 0, nullptr);
    }
  }
  {
    // Updates kept for the lock: removed with their series (the removal
    // came after them).
    std::lock_guard<std::mutex> lock(kept_mu_);
    for (auto it = kept_.begin(); it != kept_.end();) {
      std::string_view family, labels, payload;
      PendingRegion::ReadRecord(it->record, &family, &labels, &payload);
      if (!matches(family, labels)) {
        ++it;
        continue;
      }
      PendingRegion::RecordDone(it->record);
      it = kept_.erase(it);
    }
    UpdateWaitingAccount();
  }
  for (auto it = orphans_.begin(); it != orphans_.end();) {
    if (!matches(it->family, it->labels)) {
      ++it;
      continue;
    }
    if (it->slot != nullptr) {
      region_->Discard(it->slot);
      std::lock_guard<std::mutex> lock(region_mu_);
      ReleaseSlot(it->update.series.family_id, it->family, it->labels);
    }
    it = orphans_.erase(it);
  }
  held->insert(held->end(), std::make_move_iterator(series.begin()), std::make_move_iterator(series.end()));
}

void Writer::Flush() {
  DrainGraveyard();  // evicted children's pending updates become orphans, flushed now
  std::string error;
  if (!FlushPending(&error)) throw DatabaseError(error + " (the updates stay pending)");
  MaintainRegion();
}

void Writer::StartFlusher() {
  flusher_ = std::make_unique<std::thread>(&Writer::RunFlusher, this, control_,
                                           std::chrono::milliseconds(options_.flush_interval_ms));
}

// Holds no reference to the Writer: ~Writer stops and joins this thread
// before anything is destroyed, on the thread that dropped the last
// reference, and then flushes what is left there. (A flusher that kept the
// Writer alive while flushing made ~Writer, with the final flush, run later
// on this thread: a process calling _exit() right after destroying its last
// Registry lost the last interval.) Nothing the flusher touches holds a
// reference either: the dirty list and the orphans keep raw pointers and
// copies.
void Writer::RunFlusher(Writer* writer, std::shared_ptr<FlusherControl> control,
                        std::chrono::milliseconds interval) {
  bool busy_reported = false;
  std::unique_lock<std::mutex> lock(control->mu);
  while (!control->stopping) {
    control->wake.wait_for(lock, interval, [&] { return control->stopping || control->flush_now; });
    if (control->stopping) break;
    control->flush_now = false;
    lock.unlock();
    std::string error;
    bool busy = false;
    // The flusher holds flush_mu_ while it waits for the lock, and Value(),
    // removals and a series' last handle going wait for flush_mu_: while
    // updates find the lock held past their bound (a stuck holder, or
    // contention that long), it waits no longer than they do (the next
    // interval tries again; what it carries stays pending, in the region).
    // Otherwise it waits busy_timeout_ms, keeping its place in the queue.
    std::optional<Store::BoundedWait> bound;
    if (writer->lock_busy_.load(std::memory_order_relaxed) && writer->options_.update_lock_wait_ms >= 0)
      bound.emplace(writer->options_.update_lock_wait_ms);
    // The drain may drop the Writer's last reference (an evicted child's
    // family info): ~Writer then runs here, detaches this thread and sets
    // `stopping`, and nothing of the writer may be touched after it.
    writer->DrainGraveyard();
    {
      std::lock_guard<std::mutex> stop(control->mu);
      if (control->stopping) return;
    }
    if (writer->FlushPending(&error, &busy)) {
      busy_reported = false;
      bound.reset();
      writer->MaintainRegion();
    } else if (!busy || !busy_reported) {  // a held lock: said once per hold
      writer->Report(error);
      busy_reported = busy_reported || busy;
    }
    lock.lock();
  }
}

void Writer::Release(std::vector<std::shared_ptr<SeriesState>>&& dead) {
  bool flusher;
  {
    std::lock_guard<std::mutex> lock(dirty_mu_);
    flusher = flusher_ != nullptr;
  }
  if (!flusher) {
    // None to hand them to (no batched update yet): dropped here, no lock
    // held. A flusher started meanwhile drains the graveyard anyway.
    std::vector<std::shared_ptr<SeriesState>> now = std::move(dead);
    return;
  }
  std::lock_guard<std::mutex> lock(graveyard_mu_);
  graveyard_.insert(graveyard_.end(), std::make_move_iterator(dead.begin()), std::make_move_iterator(dead.end()));
}

void Writer::DrainGraveyard() {
  std::vector<std::shared_ptr<SeriesState>> dead;
  {
    std::lock_guard<std::mutex> lock(graveyard_mu_);
    dead.swap(graveyard_);
  }
}  // dropped here, on the flusher's (or the exiting) thread, no lock held

void Writer::StopFlusher() {
  std::unique_ptr<std::thread> flusher;
  {
    std::lock_guard<std::mutex> lock(dirty_mu_);
    flusher.swap(flusher_);
  }
  if (!flusher) return;
  {
    std::lock_guard<std::mutex> lock(control_->mu);
    control_->stopping = true;
  }
  control_->wake.notify_all();
  if (flusher->get_id() == std::this_thread::get_id()) {
    // ~Writer on the flusher itself, which dropped the last reference
    // while releasing evicted children: it returns without touching the
    // writer (RunFlusher).
    flusher->detach();
  } else {
    flusher->join();
  }
  control_ = std::make_shared<FlusherControl>();  // for a flusher started later
}

void Writer::Report(const std::string& message) noexcept {
  try {
    ReportLine("flush of " + store_->path() + " failed, will retry: " + message);
  } catch (...) {
  }
}

void Writer::ReportLine(const std::string& line) noexcept {
  try {
    if (options_.on_background_error) options_.on_background_error(line);
    else std::fprintf(stderr, "promsqlite: %s\n", line.c_str());
  } catch (...) {
    // A reporting hook must not take the flusher down.
  }
}

void Writer::FlushAtExit() noexcept {
  StopFlusher();
  try {
    DrainGraveyard();  // their pending updates become orphans, flushed below
    // Waits busy_timeout_ms for the lock, as Flush() does: what it cannot
    // write stays in the region, for a recoverer.
    std::string error;
    if (!FlushPending(&error)) {
      // What the region holds is written by the next writer or
      // housekeeping pass (docs/pending-regions.md, "Recovery").
      std::string kept;
      {
        std::lock_guard<std::mutex> lock(region_mu_);
        if (region_ && !region_removed_)
          kept = "; what this process kept waits in " + region_->path() +
                 " for the next writer's or housekeeping pass's recovery";
      }
      ReportLine("not everything was written at exit: " + error + kept);
    }
    else RemoveRegion();
  } catch (...) {
  }
}

// Everything was written: the region's file and its flush record go. The
// mapping stays (a thread still updating during exit() must not fault);
// what it adds is lost as it was without a region. A reader that opened
// the file before and takes its snapshot after the record went sees the
// region's committed generation ahead of the record's (none) and reads
// again (docs/pending-regions.md).
void Writer::RemoveRegion() noexcept {
  std::string name;
  {
    std::lock_guard<std::mutex> lock(region_mu_);
    // Also a full region: it is this process's, flushed, and must go (left
    // behind, every snapshot read it until a recoverer came).
    if (!region_ || region_removed_) return;
    region_removed_ = true;
    region_problem_ = true;  // no new slots in a removed region: the rest waits in memory
    region_->Remove();
    name = region_->name();
  }
  try {
    store_->ForgetPendingRegion(name);
  } catch (const std::exception& e) {
    ReportLine("cannot remove the flush record of " + name + ": " + e.what());
  }
}

void Writer::LockForFork() {
  flush_mu_.lock();
  families_mu_.lock();
  for (const std::weak_ptr<FamilyState>& weak : families_) {
    if (auto family = weak.lock()) {
      family->mu.lock();
      locked_families_.push_back(std::move(family));
    }
  }
  kept_mu_.lock();
  dirty_mu_.lock();
  region_mu_.lock();
  store_->mutex().lock();
  control_->mu.lock();
  graveyard_mu_.lock();
}

void Writer::UnlockAfterFork(bool child) {
  graveyard_mu_.unlock();
  if (child) {
    // The parent flushes its own pending updates; the child starts clean.
    for (const std::weak_ptr<SeriesState>& weak : series_) {
      if (auto s = weak.lock()) {
        s->pending.lock.reset();
        s->pending.counter_delta.store(0);
        s->pending.has_set = false;
        s->pending.value = 0;
        s->pending.count = 0;
        std::fill(s->pending.bucket_deltas.begin(), s->pending.bucket_deltas.end(), 0);
        std::vector<std::pair<int32_t, int64_t>> dropped;
        s->pending.native_positive.TakeInto(&dropped);
        s->pending.native_negative.TakeInto(&dropped);
        s->pending.native_zero = 0;
        s->pending.native_active = false;
        s->pending.exemplars.clear();
        s->pending.dirty.store(false);
        // The parent's region is the parent's: the child makes its own.
        s->slot.store(nullptr);
        s->in_region.store(batched() && options_.pending_store == PendingStore::kSharedFile && RegionCanHold(*s));
        s->kept_until.store(0);
      }
    }
    // The parent's kept records are the parent's; the child's declarations
    // still wait (without the parent's records).
    kept_.clear();
    kept_in_memory_ = 0;
    kept_in_memory_since_ = 0;
    kept_for_lock_.store(0);
    lock_busy_.store(false);
    for (KeptDeclaration& kept : declarations_) kept.record = nullptr;
    if (region_) region_->AbandonInChild();
    region_.reset();
    for (RetiredRegion& retired : retired_) retired.region->AbandonInChild();
    retired_.clear();
    slots_.clear();
    live_slot_bytes_ = 0;
    region_problem_ = false;
    region_removed_ = false;
    recovered_regions_ = false;
    store_->AbandonInherited();
    dirty_.clear();
    orphans_.clear();
    flusher_.release();  // that thread does not exist in the child; started again on demand
    std::shared_ptr<FlusherControl> parents = control_;
    control_ = std::make_shared<FlusherControl>();
    parents->mu.unlock();
  } else {
    control_->mu.unlock();
  }
  store_->mutex().unlock();
  region_mu_.unlock();
  dirty_mu_.unlock();
  kept_mu_.unlock();
  for (const std::shared_ptr<FamilyState>& family : locked_families_) family->mu.unlock();
  locked_families_.clear();
  families_mu_.unlock();
  flush_mu_.unlock();
}

}  // namespace promsqlite::detail
