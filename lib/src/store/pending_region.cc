#include "store/pending_region.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <cstring>
#include <functional>
#include <mutex>
#include <random>
#include <thread>

#include "base/cpu_relax.h"
#include "base/process_identity.h"
#include "promsqlite/errors.h"

namespace promsqlite::detail {
namespace {

constexpr char kMagic[8] = {'P', 'S', 'Q', 'L', 'P', 'N', 'D', '1'};
constexpr uint32_t kFormat = 1;
constexpr const char* kSuffix = ".region";
constexpr const char* kMakingPrefix = ".making-";  // a region being made: not listed
constexpr size_t kAllocationChunk = 64 * 1024;     // disk space allocated at a time

// The first bytes of a region file.
struct RegionHeader {
  char magic[8];
  uint32_t format;
  uint32_t header_bytes;    // sizeof(RegionHeader): where the slots start
  uint64_t capacity;        // the file's size
  int64_t pid;
  int64_t start_time;
  char boot_id[40];
  std::atomic<uint64_t> used;       // bytes of complete slots after the header
  std::atomic<uint64_t> committed;  // the last generation SQLite committed
  // Updates kept for the write lock and not yet written, and since when
  // (Unix ms of the oldest): for readers' self-metrics only.
  std::atomic<int64_t> kept_updates;
  std::atomic<int64_t> kept_since_ms;
  char reserved[256 - 112];
};
static_assert(sizeof(RegionHeader) == 256, "region header layout");
static_assert(std::atomic<uint64_t>::is_always_lock_free, "shared atomics must be lock-free");

// What the undo cell holds while a slot's sequence number is odd and
// undo_seq equals it.
enum UndoKind : uint32_t {
  kUndoUpdate = 1,  // live's value, count, has_set and bucket undo_bucket before the update
  kUndoStage = 2,   // staged (and undo_generation) before Stage() began writing it
  kUndoStaged = 3,  // staged is complete; live is being cleared (it counts as empty)
};

constexpr int kCellHeadWords = 3;  // value bits, count, has_set

inline uint64_t Bits(double d) {
  uint64_t u;
  std::memcpy(&u, &d, sizeof u);
  return u;
}
inline double Double(uint64_t u) {
  double d;
  std::memcpy(&d, &u, sizeof d);
  return d;
}

std::atomic<RegionCrashPoint> crash_point{RegionCrashPoint::kNone};
inline void MaybeCrash(RegionCrashPoint here) {
  if (crash_point.load(std::memory_order_relaxed) == here) raise(SIGKILL);
}

}  // namespace

// A slot's fixed part; its cells and key follow it.
struct SlotHead {
  uint32_t bytes;      // the whole slot, a multiple of 8
  uint32_t kind;       // PendingKind
  uint32_t buckets;    // per-bucket counts in each cell
  uint32_t key_bytes;  // family name, NUL, labels
  std::atomic<uint64_t> seq;  // odd while an update or Stage() is in progress
  std::atomic<uint64_t> undo_seq;
  std::atomic<uint64_t> staged_generation;  // 0: nothing staged
  std::atomic<uint64_t> undo_generation;
  std::atomic<uint32_t> undo_kind;
  std::atomic<int32_t> undo_bucket;
  // The owner's own: the slot's successor once it was retired (a pointer
  // into the owner's mapping of another region; readers ignore it).
  std::atomic<uint64_t> successor;
};
static_assert(sizeof(SlotHead) == 64, "slot layout");

namespace {

enum Cell { kLive = 0, kStaged = 1, kUndo = 2 };

inline size_t CellWords(const SlotHead* h) { return kCellHeadWords + h->buckets; }
inline std::atomic<uint64_t>* CellOf(SlotHead* h, Cell c) {
  return reinterpret_cast<std::atomic<uint64_t>*>(h + 1) + c * CellWords(h);
}
inline const std::atomic<uint64_t>* CellOf(const SlotHead* h, Cell c) {
  return reinterpret_cast<const std::atomic<uint64_t>*>(h + 1) + c * CellWords(h);
}
// A record (IsRecordKind) has no cells: its key follows the head, then its
// payload, whose length is in `buckets`. Of the undo fields, which a
// record never needs, `undo_kind` says what readers show it as and
// `undo_generation` is its done mark (1 once RecordDone marked it).
inline bool IsRecord(const SlotHead* h) { return IsRecordKind(static_cast<PendingKind>(h->kind)); }
inline const char* KeyOf(const SlotHead* h) {
  if (IsRecord(h)) return reinterpret_cast<const char*>(h + 1);
  return reinterpret_cast<const char*>(CellOf(h, kUndo) + CellWords(h));
}
size_t SlotBytes(uint32_t buckets, size_t key_bytes) {
  size_t bytes = sizeof(SlotHead) + 3 * (kCellHeadWords + buckets) * sizeof(uint64_t) + key_bytes;
  return (bytes + 7) & ~size_t{7};
}
size_t RecordBytes(uint32_t payload_bytes, size_t key_bytes) {
  return (sizeof(SlotHead) + key_bytes + payload_bytes + 7) & ~size_t{7};
}
inline size_t ExpectedBytes(const SlotHead* h) {
  return IsRecord(h) ? RecordBytes(h->buckets, h->key_bytes) : SlotBytes(h->buckets, h->key_bytes);
}

// The owner's lock on a slot: its sequence number made odd.
uint64_t LockSlot(SlotHead* h) {
  uint64_t s = h->seq.load(std::memory_order_relaxed);
  for (int spins = 0;; ++spins) {
    if ((s & 1) == 0 && h->seq.compare_exchange_weak(s, s + 1, std::memory_order_acquire, std::memory_order_relaxed)) {
      std::atomic_thread_fence(std::memory_order_release);  // readers see it odd before any change
      return s + 1;
    }
    if (spins > 64) std::this_thread::yield();
    else CpuRelax();
    s = h->seq.load(std::memory_order_relaxed);
  }
}
inline void UnlockSlot(SlotHead* h, uint64_t odd) { h->seq.store(odd + 1, std::memory_order_release); }

// An updater's lock: LockSlot's, following a retired slot to its successor.
// Null when the slot's region was released (its pages are zeros: no made
// slot has 0 bytes).
SlotHead* LockForUpdate(SlotHead* h, uint64_t* odd) {
  for (int spins = 0;; ++spins) {
    uint64_t s = h->seq.load(std::memory_order_relaxed);
    if ((s & 1) == 0) {
      if (s == 0 && h->bytes == 0) return nullptr;
      if (h->seq.compare_exchange_weak(s, s + 1, std::memory_order_acquire, std::memory_order_relaxed)) {
        std::atomic_thread_fence(std::memory_order_release);
        *odd = s + 1;
        return h;
      }
      continue;
    }
    if (uint64_t next = h->successor.load(std::memory_order_acquire)) {
      h = reinterpret_cast<SlotHead*>(next);
      spins = 0;
      continue;
    }
    if (spins > 64) std::this_thread::yield();
    else CpuRelax();
  }
}

void ReadCell(const std::atomic<uint64_t>* cell, uint32_t buckets, PendingCell* out) {
  out->value = Double(cell[0].load(std::memory_order_relaxed));
  out->count = static_cast<int64_t>(cell[1].load(std::memory_order_relaxed));
  out->has_set = cell[2].load(std::memory_order_relaxed) != 0;
  out->buckets.resize(buckets);
  for (uint32_t b = 0; b < buckets; ++b)
    out->buckets[b] = static_cast<int64_t>(cell[kCellHeadWords + b].load(std::memory_order_relaxed));
}
void WriteCell(std::atomic<uint64_t>* cell, uint32_t buckets, const PendingCell& in) {
  cell[0].store(Bits(in.value), std::memory_order_relaxed);
  cell[1].store(static_cast<uint64_t>(in.count), std::memory_order_relaxed);
  cell[2].store(in.has_set ? 1 : 0, std::memory_order_relaxed);
  for (uint32_t b = 0; b < buckets; ++b)
    cell[kCellHeadWords + b].store(b < in.buckets.size() ? static_cast<uint64_t>(in.buckets[b]) : 0,
                                   std::memory_order_relaxed);
}
void ClearCell(std::atomic<uint64_t>* cell, uint32_t buckets) {
  for (uint32_t w = 0; w < kCellHeadWords + buckets; ++w) cell[w].store(0, std::memory_order_relaxed);
}

// A slot's cells as they were before any update in progress (the undo
// cell), without waiting for the owner: a reader must never depend on
// another process. Retries while the owner moves on meanwhile.
void ReadSlot(const SlotHead* h, PendingSlotView* out) {
  PendingCell undo;
  for (int attempt = 0;; ++attempt) {
    uint64_t s1 = h->seq.load(std::memory_order_acquire);
    uint64_t u1 = h->undo_seq.load(std::memory_order_acquire);
    uint32_t k1 = h->undo_kind.load(std::memory_order_acquire);
    ReadCell(CellOf(h, kLive), h->buckets, &out->live);
    // A staged cell of generation 0 is nothing (Discard, or never staged):
    // not read.
    out->staged_generation = h->staged_generation.load(std::memory_order_relaxed);
    if (out->staged_generation != 0) {
      ReadCell(CellOf(h, kStaged), h->buckets, &out->staged);
    } else {
      out->staged.value = 0;
      out->staged.count = 0;
      out->staged.has_set = false;
      out->staged.buckets.assign(h->buckets, 0);
    }
    const bool use_undo = (s1 & 1) != 0 && u1 == s1;
    uint64_t undo_generation = 0;
    int32_t undo_bucket = -1;
    if (use_undo) {
      ReadCell(CellOf(h, kUndo), h->buckets, &undo);
      undo_generation = h->undo_generation.load(std::memory_order_relaxed);
      undo_bucket = h->undo_bucket.load(std::memory_order_relaxed);
    }
    std::atomic_thread_fence(std::memory_order_acquire);
    uint32_t k2 = h->undo_kind.load(std::memory_order_relaxed);
    uint64_t u2 = h->undo_seq.load(std::memory_order_relaxed);
    uint64_t s2 = h->seq.load(std::memory_order_relaxed);
    if (s1 != s2 || u1 != u2 || k1 != k2) {
      if (attempt > 64) std::this_thread::yield();
      continue;
    }
    if (!use_undo) return;  // even, or odd with nothing changed yet
    switch (k1) {
      case kUndoUpdate:
        out->live.value = undo.value;
        out->live.count = undo.count;
        out->live.has_set = undo.has_set;
        if (undo_bucket >= 0 && static_cast<uint32_t>(undo_bucket) < h->buckets)
          out->live.buckets[static_cast<size_t>(undo_bucket)] = undo.buckets[static_cast<size_t>(undo_bucket)];
        break;
      case kUndoStage:
        out->staged = undo;
        out->staged_generation = undo_generation;
        break;
      case kUndoStaged:
        out->live = PendingCell{};
        out->live.buckets.assign(h->buckets, 0);
        break;
      default:
        break;
    }
    return;
  }
}

// An open-file-description lock on the file's first byte: the owner holds a
// read lock for its life; the kernel drops it when the process dies.
bool OwnerLock(int fd) {
  struct flock fl = {};
  fl.l_type = F_RDLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = 0;
  fl.l_len = 1;
  return fcntl(fd, F_OFD_SETLK, &fl) == 0;
}

// True when nobody holds OwnerLock on the file `fd` is open on (its owner
// died, or never took it); false also when that cannot be told.
bool OwnerLockFree(int fd) {
  struct flock fl = {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = 0;
  fl.l_len = 1;
  return fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type == F_UNLCK;
}

std::string Errno(const std::string& what, const std::string& path) {
  return path + ": cannot " + what + ": " + std::strerror(errno);
}

// A header a reader can trust (the file may be mapped only in part).
bool ValidHeader(const RegionHeader* h) {
  return std::memcmp(h->magic, kMagic, sizeof kMagic) == 0 && h->format == kFormat &&
         h->header_bytes == sizeof(RegionHeader);
}

}  // namespace

void PendingCell::Merge(const PendingCell& later) {
  if (later.has_set) {  // a Set replaces what came before it
    *this = later;
    return;
  }
  value += later.value;
  count += later.count;
  if (buckets.size() < later.buckets.size()) buckets.resize(later.buckets.size(), 0);
  for (size_t b = 0; b < later.buckets.size(); ++b) buckets[b] += later.buckets[b];
}

std::string PendingRegion::Folder(const std::string& db_path) { return db_path + "-pending"; }

std::unique_ptr<PendingRegion> PendingRegion::Create(const std::string& db_path, size_t capacity) {
  struct stat db;
  if (stat(db_path.c_str(), &db) != 0) throw DatabaseError(Errno("read the mode of", db_path));
  const mode_t file_mode = db.st_mode & 0666;
  // Whoever may read the database may list the folder.
  const mode_t folder_mode = file_mode | ((file_mode & 0444) >> 2);
  const std::string folder = Folder(db_path);
  if (mkdir(folder.c_str(), folder_mode) == 0) {
    // The database's group, and setgid so that every region in it gets that
    // group too, whoever makes it (docs/permissions.md): a member of the
    // group may chown to it. An exact chmod (the umask must not narrow it)
    // would otherwise drop the setgid bit the parent folder passed on.
    if (chown(folder.c_str(), static_cast<uid_t>(-1), db.st_gid) != 0) { /* not a member: its own group */ }
    if (chmod(folder.c_str(), folder_mode | S_ISGID) != 0) { /* narrower than the database: readers may miss regions */ }
  } else if (errno != EEXIST) {
    throw DatabaseError(Errno("create the folder of pending updates", folder));
  }
  ProcessIdentity self = SelfIdentity();
  std::random_device random;
  char suffix[32];
  std::snprintf(suffix, sizeof suffix, "%08x", random());
  std::string name = "w-" + std::to_string(self.pid) + "-" + std::to_string(self.start_time) + "-" + suffix + kSuffix;
  std::string path = folder + "/" + name;
  // Made under a name readers and recoverers do not list, and renamed once
  // locked and complete: a recoverer that found a region before its owner
  // held the lock would take it for dead and write what it holds by then,
  // while the owner goes on to flush the same updates.
  std::string making = folder + "/" + kMakingPrefix + name;
  int fd = open(making.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, file_mode);
  if (fd < 0) throw DatabaseError(Errno("create the region of pending updates", making));
  auto fail = [&](const char* what) {
    std::string message = Errno(what, making);
    unlink(making.c_str());
    close(fd);
    throw DatabaseError(message);
  };
  // The database's group (the setgid folder gives it; a folder made by an
  // older version may not), then the mode: a chown may clear mode bits.
  if (fchown(fd, static_cast<uid_t>(-1), db.st_gid) != 0) { /* not a member: readers of the group may miss it */ }
  if (fchmod(fd, file_mode) != 0) { /* the umask's narrower mode still works for us */ }
  capacity = std::max(capacity, sizeof(RegionHeader) + 4096);
  if (ftruncate(fd, static_cast<off_t>(capacity)) != 0) fail("size the region of pending updates");
  // Pages are allocated before they are touched: a page of a sparse
  // mapping that the disk has no room for kills the process with SIGBUS.
  const size_t first = std::min(capacity, kAllocationChunk);
  if (int err = posix_fallocate(fd, 0, static_cast<off_t>(first)); err != 0) {
    errno = err;
    fail("allocate the region of pending updates");
  }
  if (!OwnerLock(fd)) fail("lock the region of pending updates");
  void* map = mmap(nullptr, capacity, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) fail("map the region of pending updates");
  auto* header = static_cast<RegionHeader*>(map);
  header->format = kFormat;
  header->header_bytes = sizeof(RegionHeader);
  header->capacity = capacity;
  header->pid = self.pid;
  header->start_time = self.start_time;
  std::snprintf(header->boot_id, sizeof header->boot_id, "%s", self.boot_id.c_str());
  header->used.store(0, std::memory_order_relaxed);
  header->committed.store(0, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  std::memcpy(header->magic, kMagic, sizeof kMagic);
  if (rename(making.c_str(), path.c_str()) != 0) {
    munmap(map, capacity);
    fail("name the region of pending updates");
  }
  auto region = std::unique_ptr<PendingRegion>(new PendingRegion(path, name, fd, map, capacity));
  region->allocated_ = first;
  return region;
}

PendingRegion::PendingRegion(std::string path, std::string name, int fd, void* map, size_t capacity)
    : path_(std::move(path)), name_(std::move(name)), fd_(fd), map_(map), capacity_(capacity) {}

PendingRegion::~PendingRegion() {
  if (map_ != nullptr) munmap(map_, capacity_);
  if (fd_ >= 0) close(fd_);
}

// Room for `bytes` more at the end of the slots, with its disk space
// allocated; null when the region is full or the disk has no room.
SlotHead* PendingRegion::Allocate(size_t bytes) {
  auto* header = static_cast<RegionHeader*>(map_);
  const uint64_t used = header->used.load(std::memory_order_relaxed);
  const size_t end = sizeof(RegionHeader) + used + bytes;
  if (end > capacity_ || bytes > UINT32_MAX) return nullptr;
  if (end > allocated_) {
    // The next chunk's disk space first (see Create).
    const size_t grown = std::min(capacity_, std::max(end, allocated_ + kAllocationChunk));
    if (posix_fallocate(fd_, static_cast<off_t>(allocated_), static_cast<off_t>(grown - allocated_)) != 0)
      return nullptr;
    allocated_ = grown;
  }
  return reinterpret_cast<SlotHead*>(static_cast<char*>(map_) + sizeof(RegionHeader) + used);
}

// Publishes a slot or record Allocate() gave, once everything in it is
// written: `used` covers it.
void PendingRegion::Publish(SlotHead* slot) {
  auto* header = static_cast<RegionHeader*>(map_);
  header->used.store(header->used.load(std::memory_order_relaxed) + slot->bytes, std::memory_order_release);
}

SlotHead* PendingRegion::NewSlot(PendingKind kind, std::string_view family, std::string_view labels,
                                 uint32_t buckets) {
  const size_t key_bytes = family.size() + 1 + labels.size();
  const size_t bytes = SlotBytes(buckets, key_bytes);
  SlotHead* slot = Allocate(bytes);
  if (slot == nullptr) return nullptr;
  slot->bytes = static_cast<uint32_t>(bytes);
  slot->kind = static_cast<uint32_t>(kind);
  slot->buckets = buckets;
  slot->key_bytes = static_cast<uint32_t>(key_bytes);
  char* key = const_cast<char*>(KeyOf(slot));
  std::memcpy(key, family.data(), family.size());
  key[family.size()] = '\0';
  std::memcpy(key + family.size() + 1, labels.data(), labels.size());
  // The file's pages are zeros: cells, sequence numbers and generations
  // start empty. Published by `used`, after everything above.
  Publish(slot);
  return slot;
}

SlotHead* PendingRegion::NewRecord(PendingKind kind, std::string_view family, std::string_view labels,
                                   std::string_view payload, uint32_t shows_as) {
  const size_t key_bytes = family.size() + 1 + labels.size();
  if (!IsRecordKind(kind) || payload.size() > UINT32_MAX) return nullptr;
  const size_t bytes = RecordBytes(static_cast<uint32_t>(payload.size()), key_bytes);
  SlotHead* record = Allocate(bytes);
  if (record == nullptr) return nullptr;
  record->bytes = static_cast<uint32_t>(bytes);
  record->kind = static_cast<uint32_t>(kind);
  record->buckets = static_cast<uint32_t>(payload.size());
  record->key_bytes = static_cast<uint32_t>(key_bytes);
  // A record has no undo cell: the field says what readers show it as.
  record->undo_kind.store(kind == PendingKind::kRecord && shows_as >= 1 && shows_as <= 3 ? shows_as : 0,
                          std::memory_order_relaxed);
  char* key = const_cast<char*>(KeyOf(record));
  std::memcpy(key, family.data(), family.size());
  key[family.size()] = '\0';
  std::memcpy(key + family.size() + 1, labels.data(), labels.size());
  std::memcpy(key + key_bytes, payload.data(), payload.size());
  Publish(record);
  return record;
}

void PendingRegion::StageRecord(SlotHead* record, uint64_t generation) {
  record->staged_generation.store(generation, std::memory_order_release);
}

void PendingRegion::RecordDone(SlotHead* record) { record->undo_generation.store(1, std::memory_order_release); }

void PendingRegion::ReadRecord(const SlotHead* record, std::string_view* family, std::string_view* labels,
                               std::string_view* payload) {
  const char* key = KeyOf(record);
  const size_t family_bytes = std::strlen(key);  // NewRecord wrote the NUL
  *family = std::string_view(key, family_bytes);
  *labels = std::string_view(key + family_bytes + 1, record->key_bytes - family_bytes - 1);
  *payload = std::string_view(key + record->key_bytes, record->buckets);
}

void PendingRegion::SetKept(int64_t updates, int64_t since_ms) {
  auto* header = static_cast<RegionHeader*>(map_);
  header->kept_since_ms.store(since_ms, std::memory_order_relaxed);
  header->kept_updates.store(updates, std::memory_order_release);
}

bool PendingRegion::Add(SlotHead* slot, double delta) {
  // One field: no undo needed, it changes at once or not at all.
  uint64_t odd;
  if ((slot = LockForUpdate(slot, &odd)) == nullptr) return false;
  std::atomic<uint64_t>* live = CellOf(slot, kLive);
  live[0].store(Bits(Double(live[0].load(std::memory_order_relaxed)) + delta), std::memory_order_relaxed);
  UnlockSlot(slot, odd);
  return true;
}

bool PendingRegion::Set(SlotHead* slot, double value) {
  uint64_t odd;
  if ((slot = LockForUpdate(slot, &odd)) == nullptr) return false;
  std::atomic<uint64_t>* live = CellOf(slot, kLive);
  std::atomic<uint64_t>* undo = CellOf(slot, kUndo);
  undo[0].store(live[0].load(std::memory_order_relaxed), std::memory_order_relaxed);
  undo[1].store(live[1].load(std::memory_order_relaxed), std::memory_order_relaxed);
  undo[2].store(live[2].load(std::memory_order_relaxed), std::memory_order_relaxed);
  slot->undo_bucket.store(-1, std::memory_order_relaxed);
  slot->undo_kind.store(kUndoUpdate, std::memory_order_relaxed);
  slot->undo_seq.store(odd, std::memory_order_release);
  live[0].store(Bits(value), std::memory_order_relaxed);
  live[2].store(1, std::memory_order_relaxed);
  UnlockSlot(slot, odd);
  return true;
}

bool PendingRegion::Observe(SlotHead* slot, double value, int bucket) {
  uint64_t odd;
  if ((slot = LockForUpdate(slot, &odd)) == nullptr) return false;
  std::atomic<uint64_t>* live = CellOf(slot, kLive);
  std::atomic<uint64_t>* undo = CellOf(slot, kUndo);
  const uint64_t sum = live[0].load(std::memory_order_relaxed), count = live[1].load(std::memory_order_relaxed);
  undo[0].store(sum, std::memory_order_relaxed);
  undo[1].store(count, std::memory_order_relaxed);
  const bool has_bucket = bucket >= 0 && static_cast<uint32_t>(bucket) < slot->buckets;
  uint64_t in_bucket = 0;
  if (has_bucket) {
    in_bucket = live[kCellHeadWords + bucket].load(std::memory_order_relaxed);
    undo[kCellHeadWords + bucket].store(in_bucket, std::memory_order_relaxed);
  }
  slot->undo_bucket.store(has_bucket ? bucket : -1, std::memory_order_relaxed);
  slot->undo_kind.store(kUndoUpdate, std::memory_order_relaxed);
  slot->undo_seq.store(odd, std::memory_order_release);
  live[0].store(Bits(Double(sum) + value), std::memory_order_relaxed);
  MaybeCrash(RegionCrashPoint::kInsideObserve);
  live[1].store(count + 1, std::memory_order_relaxed);
  if (has_bucket) live[kCellHeadWords + bucket].store(in_bucket + 1, std::memory_order_relaxed);
  UnlockSlot(slot, odd);
  return true;
}

uint64_t PendingRegion::committed() const {
  return static_cast<const RegionHeader*>(map_)->committed.load(std::memory_order_acquire);
}

PendingCell PendingRegion::Stage(SlotHead* slot, uint64_t generation) {
  uint64_t odd = LockSlot(slot);
  PendingCell live, staged;
  const uint64_t old_generation = ReadForStaging(slot, &live, &staged);
  if (live.empty()) {
    UnlockSlot(slot, odd);
    return old_generation != 0 ? staged : PendingCell{};
  }
  StageLive(slot, odd, generation, old_generation, live, &staged);
  MaybeCrash(RegionCrashPoint::kInsideStage);
  ClearCell(CellOf(slot, kLive), slot->buckets);
  UnlockSlot(slot, odd);
  return staged;
}

// Stage() and Retire(), with the slot locked: its live cell and its
// staged cell (zeros when nothing is staged); returns the staged cell's
// generation.
uint64_t PendingRegion::ReadForStaging(const SlotHead* slot, PendingCell* live, PendingCell* staged) {
  ReadCell(CellOf(slot, kLive), slot->buckets, live);
  const uint64_t generation = slot->staged_generation.load(std::memory_order_relaxed);
  if (generation != 0) ReadCell(CellOf(slot, kStaged), slot->buckets, staged);
  else staged->buckets.assign(slot->buckets, 0);
  return generation;
}

// Stage() and Retire(), with the slot locked (odd): the old staged cell
// into the undo cell, then `live` merged into `*staged` and written as the
// staged cell of `generation`: a reader (or a recoverer) that finds the
// slot odd takes the old one until undo_kind says the staging is complete,
// from when the live cell counts as empty.
void PendingRegion::StageLive(SlotHead* slot, uint64_t odd, uint64_t generation, uint64_t old_generation,
                              const PendingCell& live, PendingCell* staged) {
  WriteCell(CellOf(slot, kUndo), slot->buckets, *staged);
  slot->undo_generation.store(old_generation, std::memory_order_relaxed);
  slot->undo_kind.store(kUndoStage, std::memory_order_relaxed);
  slot->undo_seq.store(odd, std::memory_order_release);
  staged->Merge(live);
  WriteCell(CellOf(slot, kStaged), slot->buckets, *staged);
  slot->staged_generation.store(generation, std::memory_order_relaxed);
  slot->undo_kind.store(kUndoStaged, std::memory_order_release);
}

void PendingRegion::Committed(uint64_t generation, const std::vector<SlotHead*>& staged) {
  auto* header = static_cast<RegionHeader*>(map_);
  header->committed.store(generation, std::memory_order_seq_cst);
  // Staged cells of generations up to `committed` count for nobody any
  // more, so clearing them needs no lock: a reader that saw one half
  // cleared also sees the header's committed generation (the fence).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  for (SlotHead* slot : staged) {
    if (IsRecord(slot) || slot->staged_generation.load(std::memory_order_relaxed) > generation) continue;
    slot->staged_generation.store(0, std::memory_order_relaxed);
    ClearCell(CellOf(slot, kStaged), slot->buckets);
  }
}

void PendingRegion::Discard(SlotHead* slot) {
  // The generation is never committed: nothing but this store makes the
  // staged cell count for nobody.
  if (Stage(slot, UINT64_MAX).empty()) return;
  slot->staged_generation.store(0, std::memory_order_seq_cst);
  ClearCell(CellOf(slot, kStaged), slot->buckets);
}

PendingCell PendingRegion::Retire(SlotHead* slot, SlotHead* successor, uint64_t generation) {
  // First the successor: an updater that finds the slot locked for good
  // follows it (one that got the lock before updates the slot, and what it
  // adds is staged below).
  slot->successor.store(reinterpret_cast<uint64_t>(successor), std::memory_order_release);
  uint64_t odd = LockSlot(slot);
  PendingCell live, staged;
  const uint64_t old_generation = ReadForStaging(slot, &live, &staged);
  // As Stage(), and the slot then stays in its last state for readers and
  // recoverers: odd, its undo cell saying "staged complete, live empty".
  StageLive(slot, odd, generation, old_generation, live, &staged);
  ClearCell(CellOf(slot, kLive), slot->buckets);
  return staged;
}

SlotHead* PendingRegion::Latest(SlotHead* slot) {
  while (slot != nullptr) {
    uint64_t next = slot->successor.load(std::memory_order_acquire);
    if (next == 0) break;
    slot = reinterpret_cast<SlotHead*>(next);
  }
  return slot;
}

void PendingRegion::Release() {
  if (map_ == nullptr) return;
  // Zero pages in place of the file's: no memory until written, and an
  // updater still holding a slot of this region finds it released (0
  // bytes) instead of faulting.
  void* zeros = mmap(map_, capacity_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE,
                     -1, 0);
  if (zeros == MAP_FAILED) return;  // keeps the file's pages: memory, but correct
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

uint64_t PendingRegion::used() const {
  return static_cast<const RegionHeader*>(map_)->used.load(std::memory_order_relaxed);
}
size_t PendingRegion::Bytes(const SlotHead* slot) { return slot->bytes; }
PendingKind PendingRegion::Kind(const SlotHead* slot) { return static_cast<PendingKind>(slot->kind); }
uint32_t PendingRegion::Buckets(const SlotHead* slot) { return slot->buckets; }
std::string_view PendingRegion::Family(const SlotHead* slot) { return std::string_view(KeyOf(slot)); }
std::string_view PendingRegion::Labels(const SlotHead* slot) {
  std::string_view family = Family(slot);
  return std::string_view(KeyOf(slot) + family.size() + 1, slot->key_bytes - family.size() - 1);
}

PendingCell PendingRegion::Pending(SlotHead* slot) const {
  PendingSlotView view;
  ReadSlot(slot, &view);
  return view.Unflushed(committed());
}

PendingCell PendingSlotView::Unflushed(uint64_t committed) const {
  PendingCell total;
  total.buckets.assign(live.buckets.size(), 0);
  if (staged_generation > committed) total.Merge(staged);
  total.Merge(live);
  return total;
}

bool SlotFits(PendingKind kind, size_t buckets, const FamilySpec& spec) {
  if (spec.native_bucket_factor > 0) return false;
  switch (kind) {
    case PendingKind::kCounter:
      return spec.type == MetricType::kCounter;
    case PendingKind::kDistribution:
      return (spec.type == MetricType::kHistogram && spec.buckets.size() == buckets) ||
             (spec.type == MetricType::kSummary && buckets == 0);
    case PendingKind::kGauge:
      return spec.type != MetricType::kCounter && spec.type != MetricType::kHistogram &&
             spec.type != MetricType::kSummary && spec.gauge_mode == GaugeMode::kShared;
    case PendingKind::kRecord:
    case PendingKind::kDeclaration:
      return false;  // not slots
  }
  return false;
}

void PendingRegion::Remove() { unlink(path_.c_str()); }

void PendingRegion::AbandonInChild() {
  // munmap and close drop nothing of the parent's: its mapping is its own,
  // and the lock belongs to the open file description, which the parent
  // still has open.
  munmap(map_, capacity_);
  map_ = nullptr;
  close(fd_);
  fd_ = -1;
}

std::vector<RegionFile::Listed> RegionFile::List(const std::string& db_path, std::vector<std::string>* problems) {
  std::vector<Listed> listed;
  const std::string folder = PendingRegion::Folder(db_path);
  DIR* dir = opendir(folder.c_str());
  if (dir == nullptr) {
    if (errno != ENOENT && problems) problems->push_back(Errno("list", folder));
    return listed;
  }
  const size_t suffix_length = std::strlen(kSuffix);
  while (dirent* entry = readdir(dir)) {
    std::string name = entry->d_name;
    if (name.size() <= suffix_length || name[0] == '.' ||
        name.compare(name.size() - suffix_length, suffix_length, kSuffix) != 0)
      continue;
    listed.push_back(Listed{std::move(name), static_cast<uint64_t>(entry->d_ino)});
  }
  closedir(dir);
  return listed;
}

std::optional<RegionFile> RegionFile::Open(const std::string& db_path, const std::string& name,
                                           std::vector<std::string>* problems) {
  std::string path = PendingRegion::Folder(db_path) + "/" + name;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno != ENOENT && problems) problems->push_back(Errno("open", path));
    return std::nullopt;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || static_cast<size_t>(st.st_size) < sizeof(RegionHeader)) {
    close(fd);  // being created (not sized yet), or not ours
    return std::nullopt;
  }
  // Only the slots made by now: a region's file is sparse and mostly
  // unused, and mapping all of it costs page tables and a TLB flush on
  // every snapshot. Slots made later hold updates made after the listing.
  size_t size = static_cast<size_t>(st.st_size);
  RegionHeader header;
  if (pread(fd, &header, sizeof header, 0) == static_cast<ssize_t>(sizeof header) &&
      std::memcmp(header.magic, kMagic, sizeof kMagic) == 0) {
    const uint64_t used = header.used.load(std::memory_order_relaxed);
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    if (used < size) size = std::min(size, (sizeof(RegionHeader) + used + page - 1) / page * page);
  }
  void* map = mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) {
    if (problems) problems->push_back(Errno("map", path));
    close(fd);
    return std::nullopt;
  }
  RegionFile file(std::move(path), name, fd, map, size);
  file.inode_ = static_cast<uint64_t>(st.st_ino);
  return file;
}

std::vector<RegionFile> RegionFile::OpenAll(const std::string& db_path, std::vector<std::string>* problems) {
  std::vector<RegionFile> files;
  for (const Listed& listed : List(db_path, problems))
    if (std::optional<RegionFile> file = Open(db_path, listed.name, problems)) files.push_back(std::move(*file));
  return files;
}

bool RegionFile::MapsEverySlot() const {
  const auto* header = static_cast<const RegionHeader*>(map_);
  // Not a region yet when mapped (its maker had not written the header):
  // map it anew to see what it became.
  if (std::memcmp(header->magic, kMagic, sizeof kMagic) != 0) return false;
  const uint64_t used = header->used.load(std::memory_order_acquire);
  return used <= size_ - sizeof(RegionHeader);
}

RegionFile::RegionFile(std::string path, std::string name, int fd, const void* map, size_t size)
    : path_(std::move(path)), name_(std::move(name)), fd_(fd), map_(map), size_(size) {}

RegionFile::RegionFile(RegionFile&& other) noexcept
    : path_(std::move(other.path_)),
      name_(std::move(other.name_)),
      fd_(other.fd_),
      map_(other.map_),
      size_(other.size_),
      inode_(other.inode_) {
  other.fd_ = -1;
  other.map_ = nullptr;
}

RegionFile& RegionFile::operator=(RegionFile&& other) noexcept {
  if (this != &other) {
    this->~RegionFile();
    new (this) RegionFile(std::move(other));
  }
  return *this;
}

RegionFile::~RegionFile() {
  if (map_ != nullptr) munmap(const_cast<void*>(map_), size_);
  if (fd_ >= 0) close(fd_);
}

bool RegionFile::OwnerAlive() const {
  return !OwnerLockFree(fd_);  // cannot tell: never recover a region that may live
}

bool RegionFile::Kept(int64_t* pid, int64_t* updates, int64_t* since_ms) const {
  const auto* header = static_cast<const RegionHeader*>(map_);
  if (!ValidHeader(header)) return false;
  *pid = header->pid;
  *updates = header->kept_updates.load(std::memory_order_acquire);
  *since_ms = header->kept_since_ms.load(std::memory_order_relaxed);
  return true;
}

bool RegionFile::Owner(int64_t* pid, int64_t* start_time, std::string* boot_id) const {
  const auto* header = static_cast<const RegionHeader*>(map_);
  if (!ValidHeader(header)) return false;
  *pid = header->pid;
  *start_time = header->start_time;
  boot_id->assign(header->boot_id, strnlen(header->boot_id, sizeof header->boot_id));
  return true;
}

uint64_t RegionFile::Committed() const {
  const auto* header = static_cast<const RegionHeader*>(map_);
  if (!ValidHeader(header)) return 0;
  return header->committed.load(std::memory_order_acquire);
}

bool RegionFile::Walk(uint64_t from, uint64_t* end, std::string* error,
                      const std::function<bool(uint64_t, const SlotHead*)>& visit) const {
  *end = from;
  const auto* header = static_cast<const RegionHeader*>(map_);
  if (std::memcmp(header->magic, kMagic, sizeof kMagic) != 0) return true;  // still being created: nothing yet
  if (header->format != kFormat || header->header_bytes != sizeof(RegionHeader)) {
    *error = path_ + ": not a region of pending updates of this version";
    return false;
  }
  // Slots made after the file was mapped (Open: up to the slots made by
  // then, rounded up to a page) are left out; one of them may begin inside
  // the mapping and end past it.
  const uint64_t mapped = size_ - sizeof(RegionHeader);
  const uint64_t published = header->used.load(std::memory_order_acquire);
  const bool cut = published > mapped;
  const uint64_t used = cut ? mapped : published;
  const char* base = static_cast<const char*>(map_) + sizeof(RegionHeader);
  for (uint64_t offset = from; offset < used;) {
    if (used - offset < sizeof(SlotHead)) {
      if (cut) break;
      *error = path_ + ": malformed region (truncated slot)";
      return false;
    }
    const auto* slot = reinterpret_cast<const SlotHead*>(base + offset);
    if (cut && slot->bytes > used - offset && slot->bytes <= published - offset) break;
    if (slot->bytes < sizeof(SlotHead) || slot->bytes > used - offset || slot->bytes % 8 != 0 ||
        slot->kind < 1 || slot->kind > 5 || ExpectedBytes(slot) != slot->bytes ||
        std::memchr(KeyOf(slot), '\0', slot->key_bytes) == nullptr) {
      *error = path_ + ": malformed region (slot at offset " + std::to_string(offset) + ")";
      return false;
    }
    if (!visit(offset, slot)) return true;
    offset += slot->bytes;
    *end = offset;
  }
  return true;
}

namespace {

void ReadKey(const SlotHead* slot, std::string* family, std::string* labels) {
  const char* key = KeyOf(slot);
  const size_t family_bytes = std::strlen(key);  // Walk checked the NUL
  family->assign(key, family_bytes);
  labels->assign(key + family_bytes + 1, slot->key_bytes - family_bytes - 1);
}

}  // namespace

bool RegionFile::Read(std::vector<PendingSlotView>* slots, std::string* error, bool with_empty) const {
  slots->clear();
  uint64_t end = 0;
  return Walk(0, &end, error, [&](uint64_t, const SlotHead* slot) {
    PendingSlotView view;
    view.kind = static_cast<PendingKind>(slot->kind);
    if (IsRecord(slot)) {
      // Written whole before `used` covered it; only its generation and
      // its mark change.
      view.done = slot->undo_generation.load(std::memory_order_acquire) != 0;
      view.staged_generation = slot->staged_generation.load(std::memory_order_acquire);
      if (view.done && !with_empty) return true;
      ReadKey(slot, &view.family, &view.labels);
      view.record.assign(KeyOf(slot) + slot->key_bytes, slot->buckets);
      slots->push_back(std::move(view));
      return true;
    }
    ReadSlot(slot, &view);
    if (!with_empty && view.live.empty() && view.staged_generation == 0) return true;  // nothing pending: what every reader skips
    ReadKey(slot, &view.family, &view.labels);
    slots->push_back(std::move(view));
    return true;
  });
}

bool RegionFile::Keys(uint64_t from, std::vector<SlotKey>* keys, uint64_t* end, std::string* error) const {
  return Walk(from, end, error, [&](uint64_t offset, const SlotHead* slot) {
    SlotKey key;
    if (IsRecord(slot)) {
      const uint32_t shows_as = slot->undo_kind.load(std::memory_order_relaxed);
      if (shows_as < 1 || shows_as > 3) return true;  // left out until written
      key.kind = static_cast<PendingKind>(shows_as);
      key.record = true;
      key.offset = offset;
      ReadKey(slot, &key.family, &key.labels);
      keys->push_back(std::move(key));
      return true;
    }
    key.offset = offset;
    key.kind = static_cast<PendingKind>(slot->kind);
    ReadKey(slot, &key.family, &key.labels);
    keys->push_back(std::move(key));
    return true;
  });
}

void RegionFile::Record(uint64_t offset, PendingSlotView* view) const {
  const auto* slot =
      reinterpret_cast<const SlotHead*>(static_cast<const char*>(map_) + sizeof(RegionHeader) + offset);
  view->done = slot->undo_generation.load(std::memory_order_acquire) != 0;
  view->staged_generation = slot->staged_generation.load(std::memory_order_acquire);
  view->record.assign(KeyOf(slot) + slot->key_bytes, slot->buckets);
}

void RegionFile::Cells(uint64_t offset, PendingSlotView* view) const {
  ReadSlot(reinterpret_cast<const SlotHead*>(static_cast<const char*>(map_) + sizeof(RegionHeader) + offset), view);
}

void RegionFile::Unlink() const { unlink(path_.c_str()); }

int RegionFile::RemoveAbandoned(const std::string& db_path, double older_than_seconds) {
  const std::string folder = PendingRegion::Folder(db_path);
  DIR* dir = opendir(folder.c_str());
  if (dir == nullptr) return 0;
  const size_t prefix_length = std::strlen(kMakingPrefix);
  const time_t now = time(nullptr);
  int removed = 0;
  while (dirent* entry = readdir(dir)) {
    const std::string name = entry->d_name;
    if (name.compare(0, prefix_length, kMakingPrefix) != 0) continue;
    int fd = openat(dirfd(dir), name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) continue;
    struct stat st;
    // Its maker died before naming it (nothing was ever written to it) or
    // is still making it (locked, or too recent to have locked it).
    const bool abandoned =
        fstat(fd, &st) == 0 && difftime(now, st.st_mtime) > older_than_seconds && OwnerLockFree(fd);
    close(fd);
    if (abandoned && unlinkat(dirfd(dir), name.c_str(), 0) == 0) ++removed;
  }
  closedir(dir);
  return removed;
}

void SetRegionCrashPointForTest(RegionCrashPoint point) { crash_point.store(point); }

}  // namespace promsqlite::detail
