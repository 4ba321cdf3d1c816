// The writing side of the shared file: one SQLite connection per process,
// its prepared statements, and every write the library makes. Checkpoints
// and housekeeping passes are scheduled by store/maintenance.h and run off
// the updating thread.
//
// Thread safety: all methods lock one mutex; safe for concurrent use. A
// housekeeping pass locks it once per batch, not for the whole pass.
// Process safety: each update is one BEGIN IMMEDIATE transaction; a busy
// timeout makes contending processes wait. After fork() the first call in
// the child opens a new connection (the parent's is never touched again).
#ifndef PROMSQLITE_SRC_STORE_STORE_H_
#define PROMSQLITE_SRC_STORE_STORE_H_

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "promsqlite/errors.h"
#include "promsqlite/family.h"
#include "promsqlite/housekeeping.h"
#include "promsqlite/options.h"
#include "store/pending_region.h"

namespace SQLite {
class Database;
class Statement;
}

namespace promsqlite::detail {

// A family's native histogram, copied into every reference to its series.
struct NativeLayout {
  bool enabled = false;
  int schema = 0;  // the schema the family's series start at
  double zero_threshold = 0;
  int64_t max_buckets = 0;
};

// Observations of a native histogram per bucket, at `schema`.
struct NativeDeltas {
  int schema = 0;
  int64_t zero = 0;
  std::vector<std::pair<int32_t, int64_t>> positive, negative;  // (index, count), distinct indices
  bool empty() const { return zero == 0 && positive.empty() && negative.empty(); }
};

// Where a write goes: the series (family_id, labels). `cached_id` is this
// process's last known id of that row; writes refresh it.
class WriteGate;
class Maintenance;

struct SeriesRef {
  int64_t family_id;
  std::string_view labels;
  std::atomic<int64_t>* cached_id;
  bool per_process = false;  // a gauge with a GaugeMode other than kShared
  NativeLayout native;
  // Native histograms: the series' schema as this process last saw it;
  // observations refresh it (batched mode counts at it until the next flush).
  std::atomic<int32_t>* cached_schema = nullptr;
  // Per-process series: the writers-table id of the process whose row this
  // is; 0: this process's (a recoverer writes a dead writer's).
  int64_t writer_id = 0;
};

// An exemplar to keep for a counter series or a classic histogram bucket:
// the file keeps, per series and bucket, the one with the latest timestamp.
struct ExemplarWrite {
  int bucket = 0;        // counters: 0; histograms: the bucket's index, the number of bounds for +Inf
  std::string labels;    // EncodeTuple of (name, value, name, value, ...), names sorted
  double value = 0;      // the amount added or the value observed
  double timestamp = 0;  // Unix seconds
};

// One series' accumulated change, for ApplyBatch.
struct BatchUpdate {
  enum Kind { kAdd, kSet, kObserve };
  SeriesRef series;
  Kind kind = kAdd;
  double value = 0;                    // delta, new value, or sum of observations
  int64_t count = 0;                   // kObserve: number of observations
  std::vector<int64_t> bucket_deltas;  // kObserve on histograms: per bucket
  NativeDeltas native;                 // kObserve on native histograms
  std::vector<ExemplarWrite> exemplars;  // kAdd on counters, kObserve on histograms: one per bucket
};

// A region's unflushed cell of a series of `kind` as the update that writes
// it (store/pending_recovery.cc): what a flush and a recovery apply.
void FillFromPending(PendingKind kind, const PendingCell& cell, BatchUpdate* u);

struct StoredSeries {
  bool exists = false;
  double value = 0;  // NaN for NULL
  int64_t count = 0;
  std::vector<int64_t> bucket_counts;  // per bucket index, not cumulative
};

// An update kept in a region record (store/pending_record.h) for the series
// (family name, labels): its family is looked up by name when it is
// written, so the flush of a family whose declaration waited for the lock,
// and a recoverer, write it alike.
struct KeptWrite {
  std::string family, labels;
  BatchUpdate update;  // all but `series`
};

// A flush of a pending region: its name and the generation it commits.
struct PendingFlush {
  std::string region;
  uint64_t generation = 0;
};

// What Store::RecoverRegions did.
struct RegionRecoveryReport {
  int64_t regions = 0;        // recovered and removed
  int64_t slots = 0;          // series updates written from them
  int64_t dropped_slots = 0;  // of families removed or declared anew otherwise
  std::vector<std::string> problems;  // regions that could not be read (left in place)
};

// The DatabaseError of an operation that waited its whole bound for the
// write lock: contention, which waiting longer may cure (Writer keeps such
// an update for its flush instead of raising).
class LockBusy : public DatabaseError {
 public:
  using DatabaseError::DatabaseError;
};

class Store {
 public:
  // While it lives, this thread's operations wait at most `ms` for the write
  // lock (or busy_timeout_ms, when shorter). Scoped; nests.
  class BoundedWait {
   public:
    explicit BoundedWait(int ms);
    ~BoundedWait();
    BoundedWait(const BoundedWait&) = delete;
    BoundedWait& operator=(const BoundedWait&) = delete;

   private:
    int saved_;
  };

  Store(std::string path, const Options& options);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::string& path() const { return path_; }
  // Unix seconds by Options::clock.
  double Now() const;

  // Stores `spec` (already normalized) or checks it against the stored
  // declaration. Returns the family id.
  int64_t Declare(const FamilySpec& spec);
  // Checks `spec` against the file's declarations by reading only (throws
  // DeclarationConflict as Declare does) and returns the family's id, 0
  // when the file has none; a different help is not written (`help_differs`,
  // when not null, says whether there is one).
  int64_t CheckDeclared(const FamilySpec& spec, bool* help_differs = nullptr);

  // Creates the series with `initial_value` unless it exists; returns its id.
  int64_t EnsureSeries(int64_t family_id, std::string_view labels, double initial_value, bool per_process);

  // With `exemplar` (not null), keeps it for the series in the same
  // transaction, unless the file holds a later one.
  void Add(const SeriesRef& series, double delta, const ExemplarWrite* exemplar = nullptr);
  void Set(const SeriesRef& series, double value);
  // Adds `value` to the sum, 1 to the count and, when bucket >= 0, 1 to that
  // bucket, and for a native histogram 1 to its bucket at the series'
  // current schema, in one transaction.
  void Observe(const SeriesRef& series, double value, int bucket, const ExemplarWrite* exemplar = nullptr);

  StoredSeries Read(const SeriesRef& series, size_t buckets);

  // Applies many updates in ONE write transaction: all or none. With
  // `flush` (not null), records in that transaction that the region's
  // flush of that generation committed (docs/pending-regions.md).
  // `kept`: updates of region records, written after `updates` in the same
  // transaction; those whose family is gone or declared otherwise now are
  // dropped, counted in `*dropped` (not null with `kept`).
  void ApplyBatch(const std::vector<BatchUpdate>& updates, const PendingFlush* flush = nullptr,
                  const std::vector<KeptWrite>* kept = nullptr, int64_t* dropped = nullptr);

  // Pending regions (store/pending_recovery.cc). Writes what the regions of
  // dead writers hold, exactly once, a few regions per transaction, and
  // removes them.
  RegionRecoveryReport RecoverRegions();
  // A region its writer removed after its last flush: its record goes.
  void ForgetPendingRegion(const std::string& region);
  // Deletes records of regions gone for a while; returns how many.
  int64_t DeleteOldPendingFlushRecords();

  // The family exposing `name` (its name, or counter x for "x_total", info
  // x for "x_info"), with its id; nullopt when there is none.
  std::optional<std::pair<int64_t, FamilySpec>> FindFamily(const std::string& name);

  // Deletes a series (with its buckets) or a family (with its series);
  // true when something was deleted.
  bool RemoveSeries(int64_t family_id, std::string_view labels);
  bool RemoveFamily(int64_t family_id);
  void ClearFamily(int64_t family_id);
  void Wipe();

  // One bounded housekeeping pass (store/housekeeping.cc), on the caller's
  // thread (after a pass the housekeeping thread may be running).
  HousekeepingReport Housekeep();

  // Held by every call; fork() takes it (see Writer) so that no child
  // inherits it locked.
  std::timed_mutex& mutex() { return mu_; }

  // A forked child calls this (with mutex() held) before anything else: the
  // parent's write gate shares its lock state with the child's copy of its
  // file descriptor, which must not outlive the parent's use of it, and the
  // parent's checkpointer and housekeeping threads do not exist in the child.
  void AbandonInherited() noexcept;

  // Runs `f` on this process's connection, under the store's lock.
  void WithConnection(const std::function<void(SQLite::Database&)>& f);

  // Runs `f` inside one write transaction on this process's connection,
  // queued and waiting for the lock as every write does: committed when `f`
  // returns, rolled back when it throws. `doing` starts the message of a
  // failure ("cannot ...").
  void WriteTransaction(const char* doing, const std::function<void(SQLite::Database&)>& f);

  // The connection and its statements (store/connection.h): only the
  // store's own files see inside.
  struct Connection;

 private:
  Connection& Conn();  // requires mu_
  template <typename F>
  auto Run(const char* doing, F&& f) -> decltype(f(std::declval<Connection&>()));
  template <typename F>
  auto RunRead(const char* doing, F&& f) -> decltype(f(std::declval<Connection&>()));
  template <typename F>
  auto RunPassBatch(const char* doing, F&& f) -> decltype(f(std::declval<Connection&>()));
  // `pass`: a housekeeping batch (RunPassBatch).
  template <typename F>
  auto RunOperation(const char* doing, bool write, bool pass, F&& f) -> decltype(f(std::declval<Connection&>()));
  // Waits (at most kPassPatience) while a housekeeping batch waits for mu_.
  void StepAsideForPass() const;
  // Declare's look at the file's declarations (store.cc).
  int64_t FindDeclared(Connection& c, const FamilySpec& spec, bool* help_differs);
  // Declare's write, inside the caller's write transaction: the family's
  // id, with `spec` inserted or its new help stored.
  int64_t DeclareIn(Connection& c, const FamilySpec& spec);
  // A record's update written to its series, found by family name; false
  // (nothing written) when the family is gone or does not take it.
  // `owner`: the writers-table id for per-process series (0: this
  // process's).
  bool ApplyKept(Connection& c, const KeptWrite& kept, int64_t owner, double now);
  // The writers-table id of `owner` (a recovered region's dead writer),
  // made when it has none.
  int64_t WriterIdOf(Connection& c, int64_t pid, int64_t start_time, const std::string& boot_id, double now);
  // LockBusy for an operation that waited its bound for the lock.
  LockBusy LockTimeout(const char* doing, const std::string& why) const;
  // This thread's bound (BoundedWait), or busy_timeout_ms.
  int WaitBoundMs() const;
  // Whether this thread's operations run under a BoundedWait.
  static bool WaitBounded();
  bool DeleteFamilyRows(const char* doing, int64_t family_id, bool family_too);
  // After every commit: tells the maintenance when a checkpoint or a
  // housekeeping pass is due (it runs them elsewhere).
  void AfterCommit(Connection& c) noexcept;
  // After the operation's turn at the write gate: hands a checkpoint its
  // commit made due to the checkpointer.
  void RunDueCheckpoint() noexcept;
  // One housekeeping pass, one operation per batch, until `stop`
  // (store/housekeeping.cc): what Housekeep and the housekeeping thread run.
  HousekeepingReport HousekeepPass(const std::atomic<bool>& stop);
  // Stamps the rows of series with updates pending in regions as updated
  // now, so that expiry spares them (store/housekeeping.cc).
  void TouchPendingSeries();
  // Deletes the series `select_sql` finds (with `bind` binding its
  // parameters but :limit), one operation per kBatchRows of them, counting
  // batches in `batches`.
  int64_t DeleteInBatches(const char* select_sql, const std::function<void(SQLite::Statement&)>& bind,
                          int* batches, const std::atomic<bool>& stop);
  int64_t WriterId(Connection& c);
  int64_t WriterFor(Connection& c, const SeriesRef& series);
  // The id of the row the caller's upsert just wrote (the cached id's, or
  // the key's when that row was deleted, and maybe made again by another
  // process, meanwhile); refreshes the cached id. For native histograms,
  // `schema` (not null) receives the series' schema.
  int64_t WrittenId(Connection& c, const SeriesRef& series, int64_t writer_id, int* schema);
  // Keeps `exemplars` for series `id` where they are later than the file's.
  void KeepExemplars(Connection& c, int64_t id, const ExemplarWrite* exemplars, size_t count);
  // Returns the series' id and, for native histograms, its schema.
  int64_t ApplyObservations(Connection& c, const SeriesRef& series, double sum, int64_t count,
                            const int64_t* bucket_deltas, size_t buckets, double now, int* schema);
  // ApplyBatch's writes, inside the caller's transaction.
  void ApplyUpdates(Connection& c, const std::vector<BatchUpdate>& updates, double now);
  void RecordPendingFlush(Connection& c, const PendingFlush& flush, double now);

  const std::string path_;
  const Options options_;
  // Timed: an operation under a BoundedWait waits for it (another
  // operation of this process may hold it while it waits for the write
  // lock) within the same bound as for the lock itself.
  std::timed_mutex mu_;
  uint64_t fork_generation_ = ~uint64_t{0};  // ForkGeneration() when conn_ was opened
  std::unique_ptr<Connection> conn_;
  std::unique_ptr<WriteGate> gate_;  // null: no sidecar, SQLite's lock alone
  // True while a housekeeping batch waits for mu_: updates let it go first.
  std::atomic<bool> pass_waiting_{false};
  // Checkpoints and housekeeping: when due, and on which thread. Stopped
  // first in ~Store, as its housekeeping thread uses the connection.
  std::unique_ptr<Maintenance> maintenance_;
};

}  // namespace promsqlite::detail

#endif  // PROMSQLITE_SRC_STORE_STORE_H_
