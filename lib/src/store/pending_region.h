// A batched writer's pending updates, in a shared mapping of a file beside
// the database (FILE-pending/<name>.region, one per writer process), so
// that they survive a SIGKILL of their process and readers see them before
// they are flushed. docs/pending-regions.md describes the format and the
// protocol; this is its only implementation.
//
// A region holds slots, one per series its process updated: the series' key
// (family name, labels), a "live" cell that updates add to, a "staged" cell
// with the generation of the flush that carries it, and an undo cell.
//
// Update (owner, any thread): one compare-and-swap makes the slot's
// sequence number odd (the slot's lock among the owner's threads), the cell
// is changed, a store makes it even again. An update of two or more fields
// (a gauge's Set, an observation) first writes the old values to the undo
// cell: whoever finds the slot odd with a dead owner, or a reader that finds
// it odd, takes the values from before the update. No system call, nothing
// shared with another process is locked.
//
// Flush (owner's flusher): Stage() moves a slot's live cell into its staged
// cell, tagged with generation g = committed + 1; the flush writes the
// staged cells in one SQLite transaction that also records (region, g) in
// the pending_flushes table; after the commit, Committed(g) sets the
// header's committed generation and clears the staged cells. A staged cell
// counts while its generation is above the one SQLite has for the region,
// so it is applied exactly once whether the process dies before, during or
// after the commit.
//
// Thread safety: the owner's update functions are safe from any thread;
// Stage/Committed/NewSlot only from one thread at a time (the Writer's
// flush mutex). Readers (RegionFile) never write to a region and never wait
// for its owner. Process safety: the owner holds an open-file-description
// read lock on the file's first byte for its life; OwnerAlive() tests it.
// A forked child must not update its parent's region (Writer gives it its
// own). Cost: an update is one CAS, a few stores and one release store on
// the slot's cache lines (plus three stores for the undo of a multi-field
// update); NewSlot is a bump allocation; the file is sparse, pages are
// allocated as slots are made.
#ifndef PROMSQLITE_SRC_STORE_PENDING_REGION_H_
#define PROMSQLITE_SRC_STORE_PENDING_REGION_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "promsqlite/family.h"

namespace promsqlite::detail {

enum class PendingKind : uint32_t {
  kCounter = 1,       // value: sum of increments
  kGauge = 2,         // value: sum of adds, or the value to set (has_set)
  kDistribution = 3,  // value: sum of observations, count, per-bucket counts
  // Records, not cells: written once and never changed, read only by the
  // owner's flush and by recoverers (readers skip them). An update written
  // at once that could not get the write lock within
  // Options::update_lock_wait_ms (store/pending_record.h encodes it), and a
  // declaration that could not (the family's FamilyRow, tuple-encoded).
  kRecord = 4,
  kDeclaration = 5,
};
inline bool IsRecordKind(PendingKind kind) { return kind == PendingKind::kRecord || kind == PendingKind::kDeclaration; }

// One cell's values (or the sum of several).
struct PendingCell {
  double value = 0;
  int64_t count = 0;
  bool has_set = false;
  std::vector<int64_t> buckets;
  bool empty() const {
    if (value != 0 || count != 0 || has_set) return false;
    for (int64_t b : buckets)
      if (b != 0) return false;
    return true;
  }
  // `later` happened after this cell's updates.
  void Merge(const PendingCell& later);
};

struct SlotHead;

class PendingRegion {
 public:
  // The folder of a database's regions.
  static std::string Folder(const std::string& db_path);

  // A new region for this process, `capacity` bytes (a sparse file),
  // created with the database file's permission bits. Throws DatabaseError
  // naming the path and the reason when it cannot be made.
  static std::unique_ptr<PendingRegion> Create(const std::string& db_path, size_t capacity);
  ~PendingRegion();
  PendingRegion(const PendingRegion&) = delete;
  PendingRegion& operator=(const PendingRegion&) = delete;

  // The region's name (the file's name without folder), its key in the
  // pending_flushes table.
  const std::string& name() const { return name_; }
  const std::string& path() const { return path_; }

  // A new slot; nullptr when the region is full or the disk has no room
  // for it (the caller then keeps that series' updates another way). `buckets`: distributions' bucket count.
  // Safe to call concurrently with updates of other slots.
  SlotHead* NewSlot(PendingKind kind, std::string_view family, std::string_view labels, uint32_t buckets);

  // A record (kRecord, kDeclaration) holding `payload`; nullptr when the
  // region is full or the disk has no room for it. As NewSlot: one thread
  // at a time (with NewSlot), concurrently with updates of other slots.
  // `shows_as`: the slot kind readers show a kRecord as (a counter, shared
  // gauge or classic distribution: its value, count and buckets); 0 for
  // one they leave out until it is written (native histograms, per-process
  // gauges, declarations).
  SlotHead* NewRecord(PendingKind kind, std::string_view family, std::string_view labels,
                      std::string_view payload, uint32_t shows_as = 0);
  // A record carried by the flush of `generation` (before its transaction):
  // from its commit on, it counts for nobody. One store.
  static void StageRecord(SlotHead* record, uint64_t generation);
  // A record that must count for nobody whatever is committed: written
  // otherwise (a declaration's own transaction), or dropped with its
  // series. One store.
  static void RecordDone(SlotHead* record);
  // The key and payload of a record this region made (views into the
  // mapping, valid while the region lives).
  static void ReadRecord(const SlotHead* record, std::string_view* family, std::string_view* labels,
                         std::string_view* payload);

  // The header's account of updates kept for the write lock (records and
  // slot updates not yet written), for readers' self-metrics: how many,
  // and since when (Unix milliseconds of the oldest; 0: none).
  void SetKept(int64_t updates, int64_t since_ms);

  // An update of `slot`, or of its successor when the slot was retired
  // (Retire). False when the slot's region was released meanwhile (a
  // caller that loaded the slot before its series moved and was held up
  // past the release): nothing written; the caller updates its series'
  // current slot instead.
  static bool Add(SlotHead* slot, double delta);
  static bool Set(SlotHead* slot, double value);
  // `bucket` < 0: a summary's observation (no bucket).
  static bool Observe(SlotHead* slot, double value, int bucket);

  // Rotation (issue 30), owner only, under the Writer's flush mutex:
  // a region whose slots mostly belong to series gone is replaced by a
  // fresh one holding slots for the live series only. Retire() points
  // `slot` at `successor` (in the fresh region) and stages its live cell
  // as Stage() does, but leaves it locked for good: from then on updates
  // go to the successor, readers see the slot as a staging complete
  // (live empty, staged of `generation`), and the flush that commits
  // `generation` for this region is the slot's last. Returns the staged
  // cell (what that flush writes).
  PendingCell Retire(SlotHead* slot, SlotHead* successor, uint64_t generation);
  // The slot updates of `slot` go to now (following retirements).
  static SlotHead* Latest(SlotHead* slot);
  // After the last flush of a retired region and its Remove(): its pages
  // are given back (the mapping becomes zero pages of no memory, which
  // updates recognise as released) and its file descriptor closed. The
  // address range stays reserved until the object is destroyed.
  void Release();
  // Bytes of slots made so far; a slot's size, kind and key.
  uint64_t used() const;
  static size_t Bytes(const SlotHead* slot);
  static PendingKind Kind(const SlotHead* slot);
  static uint32_t Buckets(const SlotHead* slot);
  static std::string_view Family(const SlotHead* slot);
  static std::string_view Labels(const SlotHead* slot);

  // The generation the next flush commits: committed() + 1.
  uint64_t committed() const;
  // Moves the slot's live cell into its staged cell (tagged with generation
  // `generation`) and returns the staged cell's whole content: what the
  // flush must write for this slot. Empty when there is nothing.
  PendingCell Stage(SlotHead* slot, uint64_t generation);
  // After the flush's commit of `generation`: records it, then clears the
  // staged cells of `staged` (the slots Stage() returned something for).
  void Committed(uint64_t generation, const std::vector<SlotHead*>& staged);
  // Drops the slot's pending updates, live and staged (a removal of its
  // series by this process): staged first, then the staged generation
  // set to 0, which every reader and recoverer ignores; one store.
  void Discard(SlotHead* slot);
  // This process's own view of a slot: live plus staged not yet committed.
  PendingCell Pending(SlotHead* slot) const;

  // A clean close: the file is removed (callers flush everything first).
  void Remove();
  // In a forked child: drops the mapping and descriptor without touching
  // the parent's lock or file.
  void AbandonInChild();

 private:
  PendingRegion(std::string path, std::string name, int fd, void* map, size_t capacity);
  SlotHead* Allocate(size_t bytes);
  static uint64_t ReadForStaging(const SlotHead* slot, PendingCell* live, PendingCell* staged);
  static void StageLive(SlotHead* slot, uint64_t odd, uint64_t generation, uint64_t old_generation,
                        const PendingCell& live, PendingCell* staged);
  void Publish(SlotHead* slot);
  std::string path_, name_;
  int fd_;
  void* map_;
  size_t capacity_;
  size_t allocated_ = 0;  // bytes from the start with disk space allocated
};

// A region read by someone else than its owner: a reader or a recoverer.
struct PendingSlotView {
  PendingKind kind = PendingKind::kCounter;
  std::string family, labels;
  PendingCell live, staged;
  uint64_t staged_generation = 0;
  // Records (IsRecordKind): the payload, and whether RecordDone marked it.
  std::string record;
  bool done = false;
  // A record not yet in the rows of a snapshot (or a recoverer's
  // transaction) whose flush record has `committed` for the region.
  bool RecordUnflushed(uint64_t committed) const {
    return !done && (staged_generation == 0 || staged_generation > committed);
  }
  // What is not in the rows of a snapshot (or a recoverer's transaction)
  // whose record has `committed` for the region: the live cell, after the
  // staged one when its generation is above that.
  PendingCell Unflushed(uint64_t committed) const;
};

// Whether a slot of `kind` with `buckets` buckets belongs to the family
// `spec` declares now: a family removed and declared anew with another
// type, buckets, gauge mode or a native histogram does not take it.
bool SlotFits(PendingKind kind, size_t buckets, const FamilySpec& spec);

class RegionFile {
 public:
  // Every region file of a database, each opened read-only (open
  // descriptors keep a file that is removed meanwhile readable: list and
  // open before taking the SQLite snapshot the contents are checked
  // against). Files that cannot be opened are left out with `problems`.
  static std::vector<RegionFile> OpenAll(const std::string& db_path, std::vector<std::string>* problems);

  // The names of the region files of a database, with their inode numbers
  // (a name is never reused, but a file could be replaced under it). One
  // directory listing; nothing opened.
  struct Listed {
    std::string name;
    uint64_t inode = 0;
  };
  static std::vector<Listed> List(const std::string& db_path, std::vector<std::string>* problems);
  // One region file of the database, as OpenAll opens each; nullopt when it
  // is gone, not a region yet, or cannot be opened (then with a problem).
  static std::optional<RegionFile> Open(const std::string& db_path, const std::string& name,
                                        std::vector<std::string>* problems);

  RegionFile(RegionFile&& other) noexcept;
  RegionFile& operator=(RegionFile&& other) noexcept;
  ~RegionFile();

  const std::string& name() const { return name_; }
  const std::string& path() const { return path_; }
  uint64_t inode() const { return inode_; }
  // True while the mapping holds every slot made by now, so that a reader
  // that keeps it may read the region again without mapping it anew (a
  // slot beyond it would be missing from that read). One atomic load.
  bool MapsEverySlot() const;
  // True while the owning process lives (its lock is held).
  bool OwnerAlive() const;
  // The header's committed generation.
  uint64_t Committed() const;
  // The owner's pid and the header's account of updates kept for the
  // write lock (PendingRegion::SetKept); false for a header not yet made.
  bool Kept(int64_t* pid, int64_t* updates, int64_t* since_ms) const;
  // The owner's identity as its header has it (a recoverer writes a dead
  // owner's per-process rows under it); false for a header not yet made.
  bool Owner(int64_t* pid, int64_t* start_time, std::string* boot_id) const;
  // Every slot with something pending (`with_empty`: every slot), each
  // read consistently (an update in progress is taken from before it),
  // with the records that are not done (callers that know no records skip
  // IsRecordKind views).
  // False with `error` for a malformed file.
  bool Read(std::vector<PendingSlotView>* slots, std::string* error, bool with_empty = false) const;
  // The keys of the slots (not records) from byte `from` of the slot area (0, or the
  // `*end` of an earlier call on this file) to the end of the mapping: a
  // slot's kind and key never change once made, so a reader that keeps the
  // file indexes each slot once. False with `error` for a malformed file.
  struct SlotKey {
    uint64_t offset = 0;
    PendingKind kind = PendingKind::kCounter;  // a record's: what it shows as
    std::string family, labels;
    bool record = false;  // a kRecord readers show (NewRecord's shows_as)
  };
  bool Keys(uint64_t from, std::vector<SlotKey>* keys, uint64_t* end, std::string* error) const;
  // The state and payload of the record at `offset` (a key Keys() gave
  // with `record`): `view`'s done, staged_generation and record.
  void Record(uint64_t offset, PendingSlotView* view) const;
  // The cells of the slot at `offset` (one Keys() gave), read as Read()
  // reads them; `view`'s kind, family and labels are left as they are.
  void Cells(uint64_t offset, PendingSlotView* view) const;
  // Removes the file (a recoverer, after its commit).
  void Unlink() const;

  // Removes files of regions whose maker died while making them (before
  // they had a name readers list, so before any update), last changed more
  // than `older_than_seconds` ago; returns how many.
  static int RemoveAbandoned(const std::string& db_path, double older_than_seconds);

 private:
  RegionFile(std::string path, std::string name, int fd, const void* map, size_t size);
  // Calls `visit` with each well-formed slot from `from` until it returns
  // false; `*end`: the offset after the last slot visited.
  bool Walk(uint64_t from, uint64_t* end, std::string* error,
            const std::function<bool(uint64_t, const SlotHead*)>& visit) const;
  std::string path_, name_;
  int fd_ = -1;
  const void* map_ = nullptr;
  size_t size_ = 0;
  uint64_t inode_ = 0;
};

// Tests: stops the owner in the middle of the next Stage() (after the
// staged cell is written, before the live cell is cleared) or of the next
// multi-field update, by raising SIGKILL there. 0: off.
enum class RegionCrashPoint { kNone, kInsideStage, kInsideObserve };
void SetRegionCrashPointForTest(RegionCrashPoint point);

}  // namespace promsqlite::detail

#endif  // PROMSQLITE_SRC_STORE_PENDING_REGION_H_
