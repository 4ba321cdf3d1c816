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
// an open and mmap per region, and a copy of every slot's cells.
#ifndef PROMSQLITE_SRC_READ_PENDING_OVERLAY_H_
#define PROMSQLITE_SRC_READ_PENDING_OVERLAY_H_

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "store/pending_region.h"

namespace SQLite {
class Database;
}

namespace promsqlite::detail {

class PendingOverlay {
 public:
  // Lists and opens the regions of the database at `path`.
  explicit PendingOverlay(const std::string& path);

  // Inside the snapshot's read transaction, after its first read. False:
  // a region moved past the snapshot; take a new one and call again.
  // Throws DatabaseError for a malformed region.
  bool Load(SQLite::Database& db, int schema_version);

  // A family's pending series, by their labels' tuple encoding (sorted as
  // SQLite sorts the blobs); null when it has none.
  struct Entry {
    PendingKind kind = PendingKind::kCounter;
    PendingCell cell;
  };
  using Series = std::map<std::string, Entry>;
  const Series* Family(const std::string& name) const;
  bool empty() const { return families_.empty(); }

 private:
  std::string path_;
  std::vector<RegionFile> files_;
  std::map<std::string, Series> families_;
};

}  // namespace promsqlite::detail

#endif  // PROMSQLITE_SRC_READ_PENDING_OVERLAY_H_
