// Where child handles send their updates: straight to the store (immediate
// mode) or into per-series pending updates that a background thread
// flushes in one transaction (batched mode).
//
// Thread safety: safe for concurrent use. Process safety: see fork() and
// exit handling in writer.cc: a child starts with nothing pending and its
// own connection; pending updates are flushed at normal exit.
#ifndef PROMSQLITE_SRC_WRITE_WRITER_H_
#define PROMSQLITE_SRC_WRITE_WRITER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "promsqlite/options.h"
#include "store/pending_region.h"
#include "store/store.h"

namespace promsqlite::detail {

struct SeriesState;
struct FamilyState;
struct FamilyInfo;
struct PendingUpdates;

// Shared by a Writer and its flusher thread (and replaced in a forked
// child, where the parent's thread does not exist).
struct FlusherControl {
  std::mutex mu;
  std::condition_variable wake;
  bool stopping = false;
  bool flush_now = false;  // FlushSoon(): flush before the interval ends
};

class Writer : public std::enable_shared_from_this<Writer> {
 public:
  Writer(const std::string& path, const Options& options);
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  Store& store() { return *store_; }
  bool batched() const { return options_.write_mode == WriteMode::kBatched; }

  // Every family and series made through this writer, so that a forked
  // child can reset their locks and pending updates.
  void Track(const std::shared_ptr<FamilyState>& family);
  void Track(const std::shared_ptr<SeriesState>& series);
  // Called by ~SeriesState: its pending updates move into the writer, to be
  // flushed with the rest.
  void Forget(SeriesState& series);

  // Declares `info`'s family and sets its id. A family the file has as
  // declared costs a read; one to write (new, or new help) waits at most
  // Options::update_lock_wait_ms for the write lock and is then kept (in
  // the region, so that a recoverer declares it if this process dies) and
  // written by the next flush that gets the lock; until then its id is 0.
  // A conflicting declaration throws DeclarationConflict either way.
  void DeclareOrKeep(const std::shared_ptr<FamilyInfo>& info);
  // Makes a new child's row (value 0, an info's 1) unless the file has it,
  // waiting for the lock as an update does; when it cannot, the next flush
  // makes it.
  void MakeRow(SeriesState& series);

  // Updates kept for the write lock and not yet written (in the region's
  // records, or in memory when it has no room), and the Unix time of the
  // oldest (0 when none).
  struct Waiting {
    int64_t updates = 0;
    double since = 0;
  };
  Waiting WaitingForLock();

  // `exemplar` (may be null): kept with the update (Store::Add, Observe).
  void Add(SeriesState& series, double delta, const ExemplarWrite* exemplar = nullptr);
  void Set(SeriesState& series, double value);
  void Observe(SeriesState& series, double value, int bucket, const ExemplarWrite* exemplar = nullptr);
  // This process's view: the file plus what is still pending here.
  StoredSeries Read(SeriesState& series, size_t buckets);

  // Writes everything pending in one transaction. Throws DatabaseError when
  // that fails; the updates then stay pending for the next flush.
  void Flush();

  // Runs `remove` (a removal in the file) with this process's pending
  // updates of the removed series dropped first, no flush in between: of
  // family `family` (empty: every family), with `labels` when given. So a
  // series this process removes does not come back from its own pending
  // updates; another process's pending updates of it still do, at their
  // flush (docs/pending-regions.md).
  // The removed series' cached children that no handle holds are evicted
  // too (released after the lock: ~SeriesState takes flush_mu_).
  template <typename F>
  auto RemoveWithPending(const std::string& family, const std::string* labels, F&& remove) {
    // Released after flush_mu_, in this order (locals die in reverse).
    std::vector<std::shared_ptr<FamilyState>> families;
    std::vector<std::shared_ptr<SeriesState>> evicted, held;
    std::lock_guard<std::mutex> one_flush(flush_mu_);
    // Evicted first: a child held only by DropPending's references would
    // look held to the cache.
    EvictCached(family, labels, &families, &evicted);
    DropPending(family, labels, &held);
    return remove();
  }

  // Tests: the region of pending updates, once made (null otherwise).
  const PendingRegion* region() const { return region_.get(); }
  // Tests: slots this process's series and orphans hold in its region, and
  // regions retired by rotation not yet unmapped.
  size_t HeldSlotsForTest();
  size_t RetiredRegionsForTest();

  // fork() and exit() hooks (writer.cc).
  void LockForFork();
  void UnlockAfterFork(bool child);
  void FlushAtExit() noexcept;

 private:
  // `busy` (may be null): set when it failed for want of the write lock.
  bool FlushPending(std::string* error, bool* busy = nullptr);
  // `held`: the series it looked at, released by the caller after
  // flush_mu_ (a last reference dropped under it would run Forget, which
  // takes it).
  void DropPending(const std::string& family, const std::string* labels,
                   std::vector<std::shared_ptr<SeriesState>>* held);  // requires flush_mu_
  // Moves a series' pending updates into `update`; false when there are none.
  // A series in the region has them staged at `generation` (its slot is
  // added to `staged`).
  bool TakePending(SeriesState& series, BatchUpdate* update, uint64_t generation,
                   std::vector<SlotHead*>* staged);
  // TakePending without the row a new series may need.
  bool TakeUpdates(SeriesState& series, BatchUpdate* update, uint64_t generation,
                   std::vector<SlotHead*>* staged);
  // The in-memory paths of Add, Set, Observe (kProcessMemory, and updates
  // kept for the lock that the region has no room for).
  void AddInMemory(SeriesState& series, double delta, const ExemplarWrite* exemplar);
  void SetInMemory(SeriesState& series, double value);
  void ObserveInMemory(SeriesState& series, double value, int bucket, const ExemplarWrite* exemplar);
  // The series' slot in the region, made on first use; null when its
  // updates wait in process memory.
  SlotHead* RegionSlot(SeriesState& series);  // inline in writer.cc, its only user
  SlotHead* NewSlot(SeriesState& series);
  // Stages a slot for this flush unless it was staged already (requires
  // flush_mu_); empty without a region.
  PendingCell StageOnce(SlotHead* slot, uint64_t generation);
  // An update of the series' region slot (retried on its current slot when
  // a rotation released the one it had); false when it has none.
  template <typename F>
  bool RegionUpdate(SeriesState& series, F&& update);
  void KeepOrWriteExemplar(SeriesState& series, const ExemplarWrite& exemplar);
  // An update written at once (immediate mode; in batched mode what a
  // region cannot hold): tried with a bounded wait unless earlier updates
  // of its series wait to be written; false when it must be kept.
  template <typename F>
  bool TryAtOnce(SeriesState& series, F&& write);
  template <typename F>
  bool WriteAtOnce(F&& write);
  // Keeps an update that TryAtOnce could not write: a record in the region
  // (true), or false when the region cannot take it (the caller then keeps
  // it in the series' pending updates). Requires kept_mu_.
  bool KeepRecord(SeriesState& series, const BatchUpdate& update);
  // After an update of `series` was kept: later ones follow it (requires
  // kept_mu_), and the flusher runs.
  void NoteKept(SeriesState& series, bool in_memory);
  // Whether `series`' updates must be kept (earlier ones wait, or its
  // family is not declared yet).
  bool MustKeep(const SeriesState& series) const;
  // The region, made on first use; null when it cannot be (reported once).
  PendingRegion* EnsureRegion(std::string* problem);  // requires region_mu_
  // Flush: writes kept declarations first; false when one could not be.
  bool DeclareKept(std::string* error, bool* busy);  // requires flush_mu_
  void UpdateWaitingAccount();  // requires kept_mu_
  Waiting WaitingLocked() const;  // requires kept_mu_
  // Keeps `update` (a record, else `in_memory()`) and notes it.
  template <typename F>
  void Keep(SeriesState& series, const BatchUpdate& update, F&& in_memory);
  void ReportLockFree();
  // After a normal exit's flush left nothing pending: the region's file goes.
  void RemoveRegion() noexcept;
  static void RestorePending(SeriesState& series, const BatchUpdate& update);
  static void RestoreNative(PendingUpdates& pending, const NativeDeltas& failed);
  void MarkDirty(SeriesState& series);
 public:
  // Children caches under label churn hold many evicted series until their
  // updates are flushed: the flusher runs now instead of at the end of its
  // interval (series_lifecycle.cc).
  void FlushSoon();
  // Series evicted on an updating thread: released (their pending updates
  // moved to orphans by ~SeriesState) by the flusher between flushes, so
  // that the updating thread never waits for flush_mu_; at once when no
  // flusher runs.
  void Release(std::vector<std::shared_ptr<SeriesState>>&& dead);
 private:

  // Bounded memory under label churn (series_lifecycle.cc, issue 30).
  // Forgets expired entries of series_ once it doubled (requires dirty_mu_).
  void PruneSeries();
  // See RemoveWithPending.
  // `families`: those it looked at, kept alive until the caller's lock is
  // released, as `evicted`.
  void EvictCached(const std::string& family, const std::string* labels,
                   std::vector<std::shared_ptr<FamilyState>>* families,
                   std::vector<std::shared_ptr<SeriesState>>* evicted);
  // Clears the orphans the last flush wrote, giving back their slots
  // (requires flush_mu_).
  void ClearOrphans();
  // A kept declaration of `family` was written with `id`: its series'
  // slots, made under its name, go under the id (takes region_mu_).
  void RekeySlots(const std::string& family, int64_t id);
  void ReleaseSlot(int64_t family_id, const std::string& family, const std::string& labels);  // requires region_mu_
  // slots_'s key of a series: family id ":" labels; a family whose
  // declaration is kept (id 0) by its name, NUL, then the labels.
  static std::string SlotKey(int64_t family_id, std::string_view family, std::string_view labels);
  // After a flush: rotates a region whose slots are mostly dead, drains
  // and releases retired ones. Takes flush_mu_.
  void MaintainRegion();
  void MaintainRegionLocked(std::vector<std::shared_ptr<SeriesState>>* moved);  // requires flush_mu_
  // Requires flush_mu_; the series it moved are kept alive in `moved`
  // until the caller releases it.
  void RotateRegion(std::vector<std::shared_ptr<SeriesState>>* moved);
  struct RetiredRegion;
  bool DrainRetired(RetiredRegion& retired);  // requires flush_mu_
  void StartFlusher();  // requires dirty_mu_
  void StopFlusher();
  static void RunFlusher(Writer* writer, std::shared_ptr<FlusherControl> control,
                         std::chrono::milliseconds interval);
  void Report(const std::string& message) noexcept;  // a failed flush
  void ReportLine(const std::string& line) noexcept;

  const Options options_;
  // Batched, kSharedFile, immediate_outside_regions: what a region cannot
  // hold is written at once.
  const bool at_once_outside_regions_;
  // Updates written at once that found the lock held past
  // update_lock_wait_ms since the last that got it: kept for the flush.
  std::atomic<int64_t> kept_for_lock_{0};
  // An update waited update_lock_wait_ms in vain since the last write that
  // got the lock: the next ones try it once, without waiting.
  std::atomic<bool> lock_busy_{false};

  // Flush numbers: each flush takes the next when it starts collecting
  // (under kept_mu_); flush_committed_ is the number of the last that
  // committed. A series kept at flush_started_ = n waits for n + 1.
  std::atomic<uint64_t> flush_started_{0}, flush_committed_{0};
  // Lock order: after each FamilyState::mu, before dirty_mu_ and region_mu_.
  std::mutex kept_mu_;
  // Updates kept in region records, in the order they were made; written
  // by the flush before the batch, in its transaction. The record holds
  // the update (no copy in memory; a deque: no relocation as it grows).
  struct KeptRecord {
    SlotHead* record = nullptr;
    double made = 0;  // Unix seconds
  };
  std::deque<KeptRecord> kept_;
  // The update a record holds; false for one that cannot be read (never
  // made by this writer).
  static bool ReadKept(const KeptRecord& kept, KeptWrite* write);
  int64_t kept_in_memory_ = 0;  // under kept_mu_: kept in series' pending updates
  double kept_in_memory_since_ = 0;
  // Declarations kept for the lock (under flush_mu_ and kept_mu_ to change,
  // either to read): the family's infos waiting for its id.
  struct KeptDeclaration {
    FamilySpec spec;
    SlotHead* record = nullptr;
    std::vector<std::weak_ptr<const FamilyInfo>> infos;
  };
  std::vector<KeptDeclaration> declarations_;
  // Families declared by a flush after their declaration was kept: their
  // ids by name, for orphans made while the id was 0.
  std::unordered_map<std::string, int64_t> declared_late_;
  std::shared_ptr<Store> store_;

  // Lock order (also of LockForFork): flush_mu_, families_mu_, each
  // FamilyState::mu, dirty_mu_, the store's mutex, control_->mu.
  std::mutex flush_mu_;     // one flush at a time; orphans_
  std::mutex families_mu_;  // families_
  std::mutex dirty_mu_;     // dirty_, series_, flusher_
  // Raw pointers: a series leaves this list in Forget() before it dies, so
  // the list keeps nothing alive (no cycle through FamilyInfo::writer).
  std::vector<SeriesState*> dirty_;
  // Pending updates of series whose handles are all gone. A list: each
  // BatchUpdate points into its own element.
  struct Orphan {
    std::string family;  // its name
    std::string labels;
    std::atomic<int64_t> id{0};
    std::atomic<int32_t> schema{0};
    BatchUpdate update;
    SlotHead* slot = nullptr;  // its values are in the region: staged at each flush
    PendingKind kind = PendingKind::kCounter;
    bool written = false;  // by the flush that just committed
  };
  std::list<Orphan> orphans_;
  struct RetiredRegion {
    std::unique_ptr<PendingRegion> region;
    uint64_t generation = 0;  // of its last flush
    std::list<Orphan> drain;  // what that flush writes
    bool drained = false;  // and released
    std::chrono::steady_clock::time_point drained_at;
  };
  std::vector<std::weak_ptr<FamilyState>> families_;
  std::vector<std::weak_ptr<SeriesState>> series_;
  std::vector<std::shared_ptr<FamilyState>> locked_families_;  // during fork()

  // PendingStore::kSharedFile: this process's region, made on the first
  // update of a series that goes there (under region_mu_, after dirty_mu_
  // in the lock order). region_problem_: why it could not be made or took
  // no more series, reported once.
  std::mutex region_mu_;
  std::unique_ptr<PendingRegion> region_;
  // Each series' slot in region_, by family id ":" labels: shared by all
  // its handles.
  // Each holds a count of the series states and orphans that use it; a
  // slot nobody uses is forgotten here (its bytes in the region are dead
  // until the region rotates).
  struct SlotUse {
    SlotHead* slot = nullptr;
    uint32_t refs = 0;
  };
  std::unordered_map<std::string, SlotUse> slots_;
  uint64_t live_slot_bytes_ = 0;  // of the slots in slots_
  size_t prune_series_at_ = 1024;
  std::atomic<int64_t> forgotten_{0};  // series states that died since the last malloc_trim  // under dirty_mu_: series_'s size that prunes it
  std::unordered_set<SlotHead*> staged_once_;  // under flush_mu_: this flush's
  bool region_problem_ = false;
  bool region_removed_ = false;  // by RemoveRegion, after the last flush
  bool recovered_regions_ = false;  // under flush_mu_: dead regions recovered once

  // Regions replaced by a rotation (under flush_mu_): drained (their last
  // flush) and released, then unmapped (series_lifecycle.cc).
  std::list<RetiredRegion> retired_;

  std::shared_ptr<FlusherControl> control_ = std::make_shared<FlusherControl>();
  // Release()d series for the flusher to drop (a leaf lock). Each holds its
  // family's info, which holds this Writer: the flusher drains it every
  // interval, and FlushAtExit before its flush.
  std::mutex graveyard_mu_;
  std::vector<std::shared_ptr<SeriesState>> graveyard_;
  void DrainGraveyard();
  std::unique_ptr<std::thread> flusher_;
};

}  // namespace promsqlite::detail

#endif  // PROMSQLITE_SRC_WRITE_WRITER_H_
