// The pending updates of batched writers' regions (store/pending_region.h),
// as a snapshot adds them to the rows of its read transaction: what every
// flush and recovery still to come will write, so that an update whose call
// returned shows at the next scrape.
//
// Order matters (docs/pending-regions.md): Open() lists and opens the region
// files before the read transaction takes its snapshot; Load() then reads
// the snapshot's pending_flushes rows and each region. A region whose flush
// committed after the snapshot was taken makes Load() return false: the
// caller takes a new snapshot (a cleared staged cell would otherwise be
// missing from both). Staged cells of generations the snapshot has are
// left out; so are regions the snapshot has recovered.
//
// Thread safety: none (one per snapshot). Process safety: reads regions
// without locking or waiting for their owners. Cost: one directory listing,
// an open and mmap per region not in the RegionCache given (or every
// region, without one), and a read of every slot's cells.
#ifndef PROMSQLITE_SRC_READ_PENDING_OVERLAY_H_
#define PROMSQLITE_SRC_READ_PENDING_OVERLAY_H_

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "store/pending_region.h"

namespace SQLite {
class Database;
class Statement;
}

namespace promsqlite::detail {

// The region files a reader mapped for its last snapshot, kept for the
// next, each with an index of its slots' keys: a file still listed under
// the same name and inode whose mapping still holds every slot made is
// read again as it is, and only slots made since are indexed, so that a
// scrape costs a directory listing plus a seqlock read per slot, not an
// open, fstat, mmap, munmap and close per live writer and a parse and
// string lookup per slot. Files no longer listed are closed at the next
// listing; the key table is rebuilt when it holds twice the keys of the
// files listed (series that churn), so the cache holds what the regions
// of the last listing hold.
// Thread safety: none (a Reader's, under its lock). Process safety: as
// PendingOverlay. Cost: one descriptor and mapping per region kept, and
// its slots' keys.
class RegionCache {
 public:
  struct Key {
    std::string family, labels;
    PendingKind kind = PendingKind::kCounter;
  };
  struct Indexed {
    std::shared_ptr<const RegionFile> file;
    std::vector<std::pair<uint64_t, uint32_t>> slots;  // offset, key
    // Records of updates kept for the write lock that readers show (a
    // counter's, shared gauge's or classic distribution's), in the order
    // they were made.
    std::vector<std::pair<uint64_t, uint32_t>> records;
    uint64_t end = 0;                                   // where indexing goes on
    bool malformed = false;                             // left out
  };
  // The regions of the database at `path` now, indexed to the end of their
  // mappings (a cache is for one path: another path empties it first).
  const std::vector<const Indexed*>& Refresh(const std::string& path);
  const Key& key(uint32_t id) const { return keys_[id]; }
  size_t key_count() const { return keys_.size(); }
  // The query of the pending_flushes rows, prepared once per connection
  // and file version (null for files before them).
  SQLite::Statement* FlushRecords(SQLite::Database& db, int schema_version);

 private:
  uint32_t KeyId(RegionFile::SlotKey&& key);
  std::string path_;
  std::map<std::string, Indexed> files_;
  std::unordered_map<std::string, uint32_t> key_ids_;  // family NUL labels
  std::vector<Key> keys_;
  std::vector<const Indexed*> listed_;
  std::unique_ptr<SQLite::Statement> records_;
  const SQLite::Database* records_db_ = nullptr;
  int records_version_ = 0;
};

class PendingOverlay {
 public:
  // Lists and opens the regions of the database at `path`, through `cache`
  // when it is not null (else through one of its own).
  explicit PendingOverlay(const std::string& path, RegionCache* cache = nullptr);

  // Inside the snapshot's read transaction, after its first read. False:
  // a region moved past the snapshot; take a new one and call again.
  bool Load(SQLite::Database& db, int schema_version);

  // A family's pending series, by their labels' tuple encoding (sorted as
  // SQLite sorts the blobs); null when it has none.
  struct Entry {
    PendingKind kind = PendingKind::kCounter;
    PendingCell cell;
  };
  // Keys point into the RegionCache, which stays as it is while this lives.
  using Series = std::map<std::string_view, Entry>;
  const Series* Family(const std::string& name) const;
  bool empty() const { return families_.empty(); }

 private:
  std::string path_;
  std::unique_ptr<RegionCache> own_cache_;
  RegionCache* cache_;
  const std::vector<const RegionCache::Indexed*>* files_;
  std::map<std::string, Series> families_;
};

}  // namespace promsqlite::detail

#endif  // PROMSQLITE_SRC_READ_PENDING_OVERLAY_H_
