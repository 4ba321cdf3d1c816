// Walks a whole promsqlite file in one read transaction, family by family
// (sorted by name) and series by series (sorted by label values), handing
// each row to a visitor (model/records.h). Renderers are visitors; nothing
// is accumulated.
#ifndef PROMSQLITE_SRC_READ_SNAPSHOT_H_
#define PROMSQLITE_SRC_READ_SNAPSHOT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/records.h"
#include "promsqlite/exposition.h"
#include "promsqlite/reader.h"

namespace SQLite {
class Database;
}

namespace promsqlite::detail {

class RegionCache;

// Reads one consistent snapshot of `db` into `visitor` (without calling
// End()): series past their family's TTL at `now` are left out, per-process
// gauges are folded by their GaugeMode (dead writers left out of live
// modes). A file without our schema yet reads as empty. Throws
// DatabaseError naming `path`. `only` (when not null): the stored names of
// the families to visit; the others are skipped without reading a series.
// `regions` (when not null): the reader's RegionCache of pending regions
// (read/pending_overlay.h), kept from one snapshot to the next. `skipped`
// (when not null): rows that cannot be read (read/row_checks.h) are left
// out, with what goes with them (UnreadableRows::kSkip says what), and
// reported there; when null, the first one throws DatabaseError. Either
// way the visitor never sees part of a series, nor a family whose
// declaration cannot be read.
void ReadSnapshot(SQLite::Database& db, const std::string& path, double now, SnapshotVisitor& visitor,
                  const std::vector<std::string>* only = nullptr, RegionCache* regions = nullptr,
                  SkippedRows* skipped = nullptr);

// The same walk a step at a time, for readers that pull (a server's
// response body, chunk by chunk): the constructor opens the read
// transaction (and fails there, naming `path`, for a file that cannot be
// read); each Step() hands the visitor the next family or series and
// returns false once the file is done, which ends the transaction (so does
// destroying the cursor). The database must outlive the cursor. Throws as
// ReadSnapshot does.
class SnapshotCursor {
 public:
  SnapshotCursor(SQLite::Database& db, const std::string& path, double now,
                 const std::vector<std::string>* only = nullptr, RegionCache* regions = nullptr,
                 SkippedRows* skipped = nullptr);
  ~SnapshotCursor();
  SnapshotCursor(const SnapshotCursor&) = delete;
  SnapshotCursor& operator=(const SnapshotCursor&) = delete;

  bool Step(SnapshotVisitor& visitor);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Feeds in-memory families to `visitor` the same way.
void VisitMemoryFamilies(const std::vector<MemoryFamily>& families, SnapshotVisitor& visitor);

// Every family with its series count, sorted by name.
std::vector<FamilySummary> ListFamilies(SQLite::Database& db, const std::string& path,
                                        SkippedRows* skipped = nullptr);

// Family and series counts, read from one snapshot.
void CountRows(SQLite::Database& db, const std::string& path, int64_t* families, int64_t* series);

}  // namespace promsqlite::detail

#endif  // PROMSQLITE_SRC_READ_SNAPSHOT_H_
