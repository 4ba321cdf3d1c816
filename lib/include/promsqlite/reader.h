// A Reader renders a promsqlite file it never writes to (the server, the
// CLI's dump). It needs no declarations: everything is read from the file.
//
// The file is opened read-only, lazily: a file that does not exist yet
// renders as empty and is picked up once a writer creates it.
//
// Thread safety: safe for concurrent use; calls on one Reader are
// serialized (use one Reader per thread for parallel renders).
// Process safety: reads one consistent snapshot per call while any number
// of processes write; never blocks writers (WAL).
#ifndef PROMSQLITE_READER_H_
#define PROMSQLITE_READER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "promsqlite/exposition.h"
#include "promsqlite/family.h"
#include "promsqlite/options.h"
#include "promsqlite/snapshot.h"

namespace promsqlite {

namespace detail {
class ReadConnection;
}  // namespace detail

// Sizes and counts of a file at one moment.
struct FileStats {
  bool exists = false;
  int64_t families = 0;
  int64_t series = 0;
  int64_t db_bytes = 0;   // the main file
  int64_t wal_bytes = 0;  // the -wal file, 0 when absent
};

// A family as stored, with its number of series.
struct FamilySummary {
  FamilySpec spec;  // label names sorted
  int64_t series = 0;
};

class Reader {
 public:
  explicit Reader(std::string path, ReaderOptions options = ReaderOptions());
  ~Reader();
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  const std::string& path() const { return path_; }

  // Renders the whole file from one read transaction, then `extra` (e.g. a
  // server's own metrics). Throws DatabaseError when the file exists but is
  // not a readable promsqlite file; the sink may have received part of the
  // output by then.
  void Render(Format format, const Sink& sink, const std::vector<MemoryFamily>& extra = {});
  std::string Render(Format format);

  FileStats Stats();

  // Every family in the file, sorted by name (empty for a missing file).
  std::vector<FamilySummary> Families();

  // The families whose stored names (counters without "_total", infos
  // without "_info") are in `names`, or all when `names` is empty, sorted
  // by name, with their series and values, from one read transaction, as
  // Render would show them (TTL and gauge modes applied). Names not in the
  // file are left out. Throws as Render does.
  std::vector<FamilySnapshot> Snapshot(const std::vector<std::string>& names = {});

 private:
  std::string path_;
  ReaderOptions options_;
  std::unique_ptr<detail::ReadConnection> connection_;
  struct Lock;
  std::unique_ptr<Lock> lock_;
};

}  // namespace promsqlite

#endif  // PROMSQLITE_READER_H_
