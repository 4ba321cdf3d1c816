#include "promsqlite/reader.h"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Transaction.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <mutex>

#include "api/render_snapshot.h"
#include "base/clock.h"
#include "base/process_identity.h"
#include "promsqlite/errors.h"
#include "read/pending_overlay.h"
#include "read/row_checks.h"
#include "read/snapshot.h"
#include "render/renderers.h"
#include "store/database.h"

namespace promsqlite {

namespace detail {
struct ReadConnection {
  std::unique_ptr<SQLite::Database> db;
  // Instead of `db`, for a file whose -wal is gone: one snapshot each.
  std::unique_ptr<WalFreeRead> wal_free;
  // After the connections: destroyed first (it holds a statement of one).
  RegionCache regions;     // the pending regions mapped for the last snapshot
  CheckpointProbe probe;  // through SQLite's -shm descriptor of `db`
  uint64_t fork_generation = 0;  // ForkGeneration() when opened

  SQLite::Database& Db() { return wal_free ? wal_free->db() : *db; }
};

// After a snapshot of `connection`: a connection without the -wal is checked
// (WalFreeRead::CheckUnchanged) and closed, which releases its lock.
void EndSnapshot(std::unique_ptr<ReadConnection>& connection) {
  if (!connection || !connection->wal_free) return;
  std::unique_ptr<ReadConnection> done = std::move(connection);
  done->wal_free->CheckUnchanged();
}
}  // namespace detail

struct Reader::Lock {
  std::mutex mu;
};

namespace {

int64_t FileSize(const std::string& path, bool* exists = nullptr) {
  struct stat st;
  bool found = stat(path.c_str(), &st) == 0;
  if (exists) *exists = found;
  return found ? static_cast<int64_t>(st.st_size) : 0;
}

// Collects a snapshot into FamilySnapshot values.
class SnapshotCollector : public detail::SnapshotVisitor {
 public:
  explicit SnapshotCollector(std::vector<FamilySnapshot>* out) : out_(out) {}
  void Family(const detail::FamilyRecord& family) override { out_->push_back(FamilySnapshot{family.spec, {}}); }
  void Series(const detail::FamilyRecord& family, const detail::SeriesRecord& record) override {
    SeriesSnapshot series;
    series.label_values = record.label_values;
    series.value = record.value;
    series.count = record.count;
    series.created = record.created;
    series.bucket_counts = record.bucket_counts;
    int64_t cumulative = 0;
    for (int64_t& count : series.bucket_counts) count = cumulative += count;
    for (const detail::ExemplarRecord& e : record.exemplars) {
      ExemplarSnapshot& exemplar = series.exemplars.emplace_back();
      exemplar.bucket = static_cast<size_t>(e.bucket);
      for (size_t i = 0; i < e.names.size(); ++i) exemplar.labels.emplace(e.names[i], e.values[i]);
      exemplar.value = e.value;
      exemplar.timestamp = e.timestamp;
    }
    if (family.spec.native_bucket_factor > 0) {
      series.native = NativeHistogramSnapshot{record.native.schema, family.spec.native_zero_threshold,
                                              record.native.zero_count, record.native.positive,
                                              record.native.negative};
    }
    out_->back().series.push_back(std::move(series));
  }
  void End() override {}

 private:
  std::vector<FamilySnapshot>* out_;
};

// Where a read of `options` puts the rows it leaves out: null (fail on the
// first) in kFail, else the caller's list, else `own` (left out unreported).
SkippedRows* SkipInto(const ReaderOptions& options, SkippedRows* skipped, SkippedRows* own) {
  if (options.unreadable_rows == UnreadableRows::kFail) return nullptr;
  return skipped != nullptr ? skipped : own;
}

}  // namespace

std::string UnreadableRow::ToString() const {
  if (table == "families") return "family '" + family + "' (families " + key + "): " + problem;
  return table + " " + key + " of family '" + family + "': " + problem;
}

Reader::Reader(std::string path, ReaderOptions options)
    : path_(std::move(path)), options_(options), lock_(std::make_unique<Lock>()) {}

void Reader::CheckPath() const {
  if (std::string problem = detail::PathProblem(path_, false, false); !problem.empty()) throw DatabaseError(problem);
}

// In a forked child: lets go of the parent's connection without closing
// anything of it. SQLite connections must not cross fork(): its database,
// a WalFreeRead's lock, and the statement the region cache prepared on it
// are the parent's, so the whole connection is left behind (leaked), as
// its mappings and descriptors, the child's copies, are with it.
static void DropInherited(std::unique_ptr<detail::ReadConnection>& connection) {
  if (connection && connection->fork_generation != detail::ForkGeneration()) (void)connection.release();
}

Reader::~Reader() { DropInherited(connection_); }

// Opens lazily; false while the file does not exist. A failed read drops the
// connection so that a file replaced on disk is opened afresh next time.
// `f` reads one whole snapshot unless `streamed` (the snapshot then ends
// with the Rendering, which calls EndSnapshot).
template <typename F>
static bool WithOpenConnection(const std::string& path, const ReaderOptions& options,
                               std::unique_ptr<detail::ReadConnection>& connection, F&& f, bool streamed = false) {
  DropInherited(connection);
  if (connection && connection->wal_free) connection.reset();  // a streamed snapshot left it open
  if (!connection) {
    bool exists = false;
    FileSize(path, &exists);
    if (!exists) return false;
    auto c = std::make_unique<detail::ReadConnection>();
    // A file whose -wal a writer in another language removed, in a folder
    // this process may not write, is read without it (store/database.h).
    c->wal_free = detail::WalFreeRead::Open(path, options.busy_timeout_ms);
    if (!c->wal_free) c->db = detail::OpenDatabase(path, false, false, options.busy_timeout_ms);
    c->fork_generation = detail::ForkGeneration();
    connection = std::move(c);
  }
  // Not in the middle of a writer's checkpoint: our snapshot would hold it
  // (and the writers behind it) up until we are done.
  if (options.checkpoint_wait_ms > 0 && !connection->wal_free)
    detail::WaitWhileCheckpointing(path, std::chrono::milliseconds(options.checkpoint_wait_ms), &connection->probe);
  try {
    f(*connection);
    if (!streamed) detail::EndSnapshot(connection);
  } catch (...) {
    connection.reset();
    throw;
  }
  return true;
}

void Reader::Render(Format format, const Sink& sink, const std::vector<MemoryFamily>& extra,
                    SkippedRows* skipped) {
  std::lock_guard<std::mutex> lock(lock_->mu);
  if (skipped) skipped->clear();
  SkippedRows own;
  bool rendered = WithOpenConnection(path_, options_, connection_, [&](detail::ReadConnection& c) {
    detail::RenderDatabase(c.Db(), path_, detail::NowSeconds(options_.clock), format, sink, &extra, &c.regions,
                           SkipInto(options_, skipped, &own));
  });
  if (!rendered) detail::RenderMemory(format, sink, &extra);
}

struct Reader::Rendering::State {
  State(Reader* owner, Format format, ExtraFamilies make)
      : reader(owner),
        lock(owner->lock_->mu),
        make_extra(std::move(make)),
        sink([this](std::string_view chunk) {
          if (!chunk.empty()) pending.emplace_back(chunk);
        }),
        renderer(detail::MakeRenderer(format, sink)) {}

  Reader* reader;
  std::unique_lock<std::mutex> lock;  // the Reader's: held while this lives
  ExtraFamilies make_extra;           // called once the file is read
  SkippedRows skipped;
  std::deque<std::string> pending;  // chunks the renderer has written
  Sink sink;                        // the renderer keeps a reference to it
  std::unique_ptr<detail::SnapshotVisitor> renderer;
  std::unique_ptr<detail::SnapshotCursor> cursor;  // null for a missing file
  enum { kFile, kExtra, kDone } stage = kFile;
};

Reader::Rendering::Rendering(std::unique_ptr<State> state) : state_(std::move(state)) {}

Reader::Rendering::~Rendering() = default;

bool Reader::Rendering::Next(std::string* chunk) {
  State& s = *state_;
  while (s.pending.empty()) {
    if (s.stage == State::kFile) {
      try {
        if (!s.cursor || !s.cursor->Step(*s.renderer)) {
          s.cursor.reset();  // ends the read transaction
          s.stage = State::kExtra;
          detail::EndSnapshot(s.reader->connection_);
        }
      } catch (...) {
        s.cursor.reset();
        s.reader->connection_.reset();  // a file replaced on disk is opened afresh next time
        s.stage = State::kDone;
        throw;
      }
    } else if (s.stage == State::kExtra) {
      s.stage = State::kDone;  // whatever make_extra does, it is called once
      detail::VisitMemoryFamilies(s.make_extra ? s.make_extra(s.skipped) : std::vector<MemoryFamily>(),
                                  *s.renderer);
      s.renderer->End();
    } else {
      return false;
    }
  }
  *chunk = std::move(s.pending.front());
  s.pending.pop_front();
  return true;
}

const SkippedRows& Reader::Rendering::skipped() const { return state_->skipped; }

std::unique_ptr<Reader::Rendering> Reader::StartRender(Format format, std::vector<MemoryFamily> extra) {
  auto families = std::make_shared<std::vector<MemoryFamily>>(std::move(extra));
  return StartRender(format, [families](const SkippedRows&) { return std::move(*families); });
}

std::unique_ptr<Reader::Rendering> Reader::StartRender(Format format, ExtraFamilies make_extra) {
  auto state = std::make_unique<Rendering::State>(this, format, std::move(make_extra));
  WithOpenConnection(
      path_, options_, connection_,
      [&](detail::ReadConnection& c) {
        state->cursor = std::make_unique<detail::SnapshotCursor>(c.Db(), path_, detail::NowSeconds(options_.clock),
                                                                 nullptr, &c.regions,
                                                                 SkipInto(options_, &state->skipped, nullptr));
      },
      /*streamed=*/true);
  return std::unique_ptr<Rendering>(new Rendering(std::move(state)));
}

std::string Reader::Render(Format format, SkippedRows* skipped) {
  std::string out;
  Render(format, [&](std::string_view chunk) { out.append(chunk); }, {}, skipped);
  return out;
}

std::vector<FamilySnapshot> Reader::Snapshot(const std::vector<std::string>& names,
                                             SkippedRows* skipped) {
  std::lock_guard<std::mutex> lock(lock_->mu);
  std::vector<FamilySnapshot> out;
  SkippedRows own;
  if (skipped) skipped->clear();
  WithOpenConnection(path_, options_, connection_, [&](detail::ReadConnection& c) {
    out.clear();
    SnapshotCollector collector(&out);
    detail::ReadSnapshot(c.Db(), path_, detail::NowSeconds(options_.clock), collector, &names, &c.regions,
                         SkipInto(options_, skipped, &own));
  });
  return out;
}

FileStats Reader::Stats() {
  std::lock_guard<std::mutex> lock(lock_->mu);
  FileStats stats;
  stats.db_bytes = FileSize(path_, &stats.exists);
  stats.wal_bytes = FileSize(path_ + "-wal");
  WithOpenConnection(path_, options_, connection_, [&](detail::ReadConnection& c) {
    detail::CountRows(c.Db(), path_, &stats.families, &stats.series);
    for (const detail::RegionCache::Indexed* region : c.regions.Refresh(path_)) {
      WaitingWriter writer;
      int64_t since_ms = 0;
      if (region->file->Kept(&writer.pid, &writer.updates, &since_ms) && writer.updates > 0) {
        writer.since = static_cast<double>(since_ms) / 1000;
        stats.waiting.push_back(writer);
      }
    }
  });
  std::sort(stats.waiting.begin(), stats.waiting.end(),
            [](const WaitingWriter& a, const WaitingWriter& b) { return a.pid < b.pid; });
  return stats;
}

std::vector<FamilySummary> Reader::Families(SkippedRows* skipped) {
  std::lock_guard<std::mutex> lock(lock_->mu);
  std::vector<FamilySummary> out;
  SkippedRows own;
  if (skipped) skipped->clear();
  WithOpenConnection(path_, options_, connection_, [&](detail::ReadConnection& c) {
    out = detail::ListFamilies(c.Db(), path_, SkipInto(options_, skipped, &own));
  });
  return out;
}

std::vector<UnreadableRow> Reader::Check() {
  std::lock_guard<std::mutex> lock(lock_->mu);
  std::vector<UnreadableRow> out;
  WithOpenConnection(path_, options_, connection_, [&](detail::ReadConnection& c) {
    std::vector<detail::FoundRow> found = detail::GuardSqlite(path_, "cannot check", [&] {
      SQLite::Transaction snapshot(c.Db());  // BEGIN (deferred): one read snapshot
      std::vector<detail::FoundRow> rows = detail::FindUnreadableRows(c.Db(), path_);
      snapshot.commit();
      return rows;
    });
    for (detail::FoundRow& f : found) out.push_back(std::move(f.row));
  });
  return out;
}

std::vector<FamilySnapshot> Reader::Snapshot(SkippedRows* skipped) {
  std::lock_guard<std::mutex> lock(lock_->mu);
  std::vector<FamilySnapshot> out;
  SkippedRows own;
  if (skipped) skipped->clear();
  WithOpenConnection(path_, options_, connection_, [&](detail::ReadConnection& c) {
    out.clear();
    SnapshotCollector collector(&out);
    detail::ReadSnapshot(c.Db(), path_, detail::NowSeconds(options_.clock), collector, nullptr, &c.regions,
                         SkipInto(options_, skipped, &own));
  });
  return out;
}

}  // namespace promsqlite
