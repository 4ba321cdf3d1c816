#include "promsqlite/reader.h"

#include <SQLiteCpp/Database.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mutex>

#include "promsqlite/errors.h"
#include "read/snapshot.h"
#include "render/renderers.h"
#include "store/clock.h"
#include "store/database.h"

namespace promsqlite {

namespace detail {
struct ReadConnection {
  std::unique_ptr<SQLite::Database> db;
  pid_t pid = 0;
};
}  // namespace detail

struct Reader::Lock {
  std::mutex mu;
};

namespace {

// Collects the snapshot a renderer would walk into plain values.
class Collector : public detail::SnapshotVisitor {
 public:
  explicit Collector(std::vector<FamilySnapshot>* out) : out_(out) {}
  void Family(const detail::FamilyRecord& family) override {
    out_->emplace_back();
    out_->back().spec = family.spec;
  }
  void Series(const detail::FamilyRecord& family, const detail::SeriesRecord& record) override {
    SeriesSnapshot& s = out_->back().series.emplace_back();
    s.label_values = record.label_values;
    s.value = family.spec.type == MetricType::kInfo ? 1 : record.value;
    s.created = record.created;
    if (family.spec.type == MetricType::kHistogram || family.spec.type == MetricType::kSummary)
      s.count = static_cast<double>(record.count);
    if (family.spec.type == MetricType::kHistogram) {
      int64_t cumulative = 0;
      for (int64_t c : record.bucket_counts) s.cumulative_counts.push_back(static_cast<double>(cumulative += c));
      s.cumulative_counts.push_back(s.count);
    }
  }
  void End() override {}

 private:
  std::vector<FamilySnapshot>* out_;
};

int64_t FileSize(const std::string& path, bool* exists = nullptr) {
  struct stat st;
  bool found = stat(path.c_str(), &st) == 0;
  if (exists) *exists = found;
  return found ? static_cast<int64_t>(st.st_size) : 0;
}

}  // namespace

Reader::Reader(std::string path, ReaderOptions options)
    : path_(std::move(path)), options_(options), lock_(std::make_unique<Lock>()) {}

Reader::~Reader() {
  if (connection_ && connection_->pid != getpid()) connection_.release()->db.release();
}

// Opens lazily; false while the file does not exist. A failed read drops the
// connection so that a file replaced on disk is opened afresh next time.
template <typename F>
static bool WithOpenConnection(const std::string& path, const ReaderOptions& options,
                               std::unique_ptr<detail::ReadConnection>& connection, F&& f) {
  if (connection && connection->pid != getpid()) connection.release()->db.release();
  if (!connection) {
    bool exists = false;
    FileSize(path, &exists);
    if (!exists) return false;
    auto c = std::make_unique<detail::ReadConnection>();
    c->db = detail::OpenDatabase(path, false, false, options.busy_timeout_ms);
    c->pid = getpid();
    connection = std::move(c);
  }
  try {
    f(*connection->db);
  } catch (...) {
    connection.reset();
    throw;
  }
  return true;
}

void Reader::Render(Format format, const Sink& sink, const std::vector<MemoryFamily>& extra) {
  std::lock_guard<std::mutex> lock(lock_->mu);
  bool rendered = WithOpenConnection(path_, options_, connection_, [&](SQLite::Database& db) {
    detail::RenderDatabase(db, path_, detail::NowSeconds(options_.clock), format, sink, &extra);
  });
  if (!rendered) detail::RenderMemory(format, sink, &extra);
}

std::string Reader::Render(Format format) {
  std::string out;
  Render(format, [&](std::string_view chunk) { out.append(chunk); });
  return out;
}

std::vector<FamilySnapshot> Reader::Snapshot(const std::vector<std::string>& names) {
  std::lock_guard<std::mutex> lock(lock_->mu);
  std::vector<FamilySnapshot> out;
  WithOpenConnection(path_, options_, connection_, [&](SQLite::Database& db) {
    out.clear();
    Collector collector(&out);
    detail::ReadSnapshot(db, path_, detail::NowSeconds(options_.clock), collector, names.empty() ? nullptr : &names);
  });
  return out;
}

FileStats Reader::Stats() {
  std::lock_guard<std::mutex> lock(lock_->mu);
  FileStats stats;
  stats.db_bytes = FileSize(path_, &stats.exists);
  stats.wal_bytes = FileSize(path_ + "-wal");
  WithOpenConnection(path_, options_, connection_, [&](SQLite::Database& db) {
    detail::CountRows(db, path_, &stats.families, &stats.series);
  });
  return stats;
}

std::vector<FamilySummary> Reader::Families() {
  std::lock_guard<std::mutex> lock(lock_->mu);
  std::vector<FamilySummary> out;
  WithOpenConnection(path_, options_, connection_,
                     [&](SQLite::Database& db) { out = detail::ListFamilies(db, path_); });
  return out;
}

}  // namespace promsqlite
