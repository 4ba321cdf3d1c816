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
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "promsqlite/exposition.h"
#include "promsqlite/family.h"
#include "promsqlite/options.h"
#include "promsqlite/unreadable_row.h"

namespace promsqlite {

namespace detail {
class ReadConnection;
}  // namespace detail

// Sizes and counts of a file at one moment.
// A writer process with updates that wait for the write lock
// (Registry::WaitingForLock), as its pending region says.
struct WaitingWriter {
  int64_t pid = 0;
  int64_t updates = 0;
  double since = 0;  // Unix time of the oldest
};

struct FileStats {
  bool exists = false;
  int64_t families = 0;
  int64_t series = 0;
  int64_t db_bytes = 0;   // the main file
  int64_t wal_bytes = 0;  // the -wal file, 0 when absent
  std::vector<WaitingWriter> waiting;  // writers with updates waiting for the lock, by pid
};

// A family as stored, with its number of series.
struct FamilySummary {
  FamilySpec spec;  // label names sorted
  int64_t series = 0;
};

// The exemplar a counter series or a histogram bucket holds (see Exemplars
// in promsqlite/metrics.h).
struct ExemplarSnapshot {
  // Counters: 0. Histograms: the index in spec.buckets of the bucket,
  // spec.buckets.size() for +Inf.
  size_t bucket = 0;
  Labels labels;
  double value = 0;      // the amount added or the value observed
  double timestamp = 0;  // of the update, in Unix seconds
};

// The native histogram of a series whose family has one
// (FamilySpec::native_bucket_factor > 0), as the protobuf exposition shows
// it. Bucket `index` of the positive side holds observations v with
// base^(index-1) < v <= base^index, base = 2^(2^-schema); the negative side
// mirrors it for -v; |v| <= zero_threshold count in zero_count.
struct NativeHistogramSnapshot {
  int32_t schema = 0;
  double zero_threshold = 0;  // the family's native_zero_threshold
  int64_t zero_count = 0;
  // Non-empty buckets only, by ascending index: (index, count), counts
  // not cumulative.
  std::vector<std::pair<int32_t, int64_t>> positive, negative;
};

// One series of a FamilySnapshot, with the values the exposition shows.
struct SeriesSnapshot {
  // In the order of the family's spec.label_names.
  std::vector<std::string> label_values;
  // Counter and gauge: the value. Histogram and summary: the sum of the
  // observations. Enum (kStateSet): the index in spec.states of the state
  // that is set (the exposition shows it as 1, every other state as 0).
  // Info: unused (an info series is always 1).
  double value = 0;
  // Histogram and summary: the number of observations.
  int64_t count = 0;
  // Histogram: cumulative counts, one per bound of spec.buckets (the
  // observations <= spec.buckets[i]); the +Inf bucket is `count`.
  std::vector<int64_t> bucket_counts;
  // When the series was created, in Unix seconds; 0 when unknown.
  double created = 0;
  // Counters and histograms: the exemplars kept, sorted by bucket.
  std::vector<ExemplarSnapshot> exemplars;
  // Histograms with a native histogram: its buckets. Empty otherwise.
  std::optional<NativeHistogramSnapshot> native;
};

// A family and its series, as one Reader::Snapshot() read them.
struct FamilySnapshot {
  // As stored, label names sorted by name. A gauge in GaugeMode kAll or
  // kLiveAll has one more, last label name: "pid".
  FamilySpec spec;
  std::vector<SeriesSnapshot> series;  // sorted by label values
};

class Reader {
 public:
  explicit Reader(std::string path, ReaderOptions options = ReaderOptions());
  ~Reader();
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  const std::string& path() const { return path_; }

  // Throws DatabaseError when the path cannot hold a promsqlite file now: a
  // directory or a device, in a "folder" that is a file, or too long; the
  // message names the problem and what to do. A file that does not exist
  // yet is fine, even in a folder that does not exist yet (it reads as
  // empty). For servers, to refuse such a path at startup. Cost: a few
  // stat() calls.
  void CheckPath() const;

  // Renders the whole file from one read transaction, then `extra` (e.g. a
  // server's own metrics). Throws DatabaseError when the file exists but is
  // not a readable promsqlite file; the sink may have received part of the
  // output by then.
  //
  // Rows that cannot be read (UnreadableRow): with
  // ReaderOptions::unreadable_rows kFail (the default), the first one met
  // throws DatabaseError naming it; with kSkip, they are left out (with
  // what goes with them: see UnreadableRows) and reported in `*skipped`
  // when `skipped` is not null (cleared first). The same for every call
  // below that takes `skipped`. No exposition ever holds part of a series,
  // nor a family's header without its series.
  void Render(Format format, const Sink& sink, const std::vector<MemoryFamily>& extra = {},
              SkippedRows* skipped = nullptr);
  std::string Render(Format format, SkippedRows* skipped = nullptr);

  // The same exposition taken chunk by chunk, for callers that pull (an
  // HTTP server's response body) instead of being pushed to by a Sink.
  // StartRender() opens one read snapshot, so a file that cannot be read
  // fails there (DatabaseError), before any output; each Next() renders
  // until a chunk is ready. The Reader's other calls wait until the
  // Rendering is destroyed, and the read transaction stays open as long as
  // it lives (a writer's checkpoint cannot complete past it): finish or
  // drop it promptly. Memory: about one chunk plus a series, whatever the
  // file's size. A Rendering is used by one thread at a time and must not
  // outlive its Reader.
  class Rendering {
   public:
    ~Rendering();
    Rendering(const Rendering&) = delete;
    Rendering& operator=(const Rendering&) = delete;
    // The next chunk (not empty, at most a few tens of KiB) into *chunk;
    // false at the end. Throws DatabaseError when the file fails part way.
    bool Next(std::string* chunk);

    // The rows left out so far (ReaderOptions::unreadable_rows kSkip);
    // complete once the file has been read (when the extra families are
    // made, and after Next() returned false).
    const SkippedRows& skipped() const;

   private:
    friend class Reader;
    struct State;
    explicit Rendering(std::unique_ptr<State> state);
    std::unique_ptr<State> state_;
  };
  std::unique_ptr<Rendering> StartRender(Format format, std::vector<MemoryFamily> extra = {});

  // The same with the extra families made once the file has been read,
  // from the rows this rendering left out (e.g. a server's metric of them):
  // `make_extra` is called once, from Next(), on the calling thread. What it
  // throws, Next() throws.
  using ExtraFamilies = std::function<std::vector<MemoryFamily>(const SkippedRows& skipped)>;
  std::unique_ptr<Rendering> StartRender(Format format, ExtraFamilies make_extra);

  // Snapshot() (below) of only the families whose stored names (counters
  // without "_total", infos without "_info") are in `names`; the other
  // families' series are not read. Unknown names are left out (an empty
  // list gives nothing). For bridges
  // that expose one family at a time (the Python package's metrics, each a
  // prometheus_client collector). Cost: one read transaction, plus a pass
  // over the families' declarations. Unreadable rows: as for Render; only
  // those of the named families count.
  std::vector<FamilySnapshot> Snapshot(const std::vector<std::string>& names,
                                       SkippedRows* skipped = nullptr);

  // Counts of the file, its sizes, and the writers whose updates wait for
  // the write lock. Cost: a read transaction counting rows, and a listing
  // of the pending regions (kept mapped as for a snapshot).
  FileStats Stats();

  // Every family in the file, sorted by name (empty for a missing file).
  // Unreadable declarations: as for Render (a series count is a count of
  // rows, read or not).
  std::vector<FamilySummary> Families(SkippedRows* skipped = nullptr);

  // Every row of the file that a read cannot read, whatever
  // ReaderOptions::unreadable_rows says (that option does not apply here):
  // declarations, then for each readable family its series rows, and for
  // each readable series its bucket, native bucket and exemplar rows (rows
  // that go with an unreadable one are not listed again). Unlike a read it
  // looks at expired series and at dead processes' rows too. Empty for a
  // sound or missing file. Throws DatabaseError when the file is not a
  // readable promsqlite file at all. Cost: one read transaction over every
  // row (a render's, plus the expired ones).
  std::vector<UnreadableRow> Check();

  // The whole file as data rather than text, for bridges to other metric
  // libraries (promsqlite/prometheus_cpp.h): every family sorted by name,
  // with exactly the series and values Render() would show at this moment
  // from one read transaction (expired series left out, per-process gauges
  // combined by their GaugeMode). Families without series are included
  // with none. Empty for a missing file. Throws DatabaseError when the file
  // exists but is not a readable promsqlite file. Cost: one read
  // transaction; the whole file is held in memory (about 100 bytes plus the
  // label values per series). Unreadable rows: as for Render.
  std::vector<FamilySnapshot> Snapshot(SkippedRows* skipped = nullptr);

 private:
  std::string path_;
  ReaderOptions options_;
  std::unique_ptr<detail::ReadConnection> connection_;
  struct Lock;
  std::unique_ptr<Lock> lock_;
};

}  // namespace promsqlite

#endif  // PROMSQLITE_READER_H_
