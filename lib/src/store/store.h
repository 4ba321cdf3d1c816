// The writing side of the shared file: one SQLite connection per process,
// its prepared statements, and every write the library makes.
//
// Thread safety: all methods lock one mutex; safe for concurrent use.
// Process safety: each update is one BEGIN IMMEDIATE transaction; a busy
// timeout makes contending processes wait. After fork() the first call in
// the child opens a new connection (the parent's is never touched again).
#ifndef PROMSQLITE_SRC_STORE_STORE_H_
#define PROMSQLITE_SRC_STORE_STORE_H_

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "promsqlite/errors.h"
#include "promsqlite/family.h"
#include "promsqlite/options.h"
#include "promsqlite/registry.h"

namespace SQLite {
class Database;
class Statement;
}

namespace promsqlite::detail {

// Where a write goes: the series (family_id, labels). `cached_id` is this
// process's last known id of that row; writes refresh it.
class WriteGate;
class Checkpointer;

struct SeriesRef {
  int64_t family_id;
  std::string_view labels;
  std::atomic<int64_t>* cached_id;
  bool per_process = false;  // a gauge with a GaugeMode other than kShared
};

// One series' accumulated change, for ApplyBatch.
struct BatchUpdate {
  enum Kind { kAdd, kSet, kObserve };
  SeriesRef series;
  Kind kind = kAdd;
  double value = 0;                    // delta, new value, or sum of observations
  int64_t count = 0;                   // kObserve: number of observations
  std::vector<int64_t> bucket_deltas;  // kObserve on histograms: per bucket
};

struct StoredSeries {
  bool exists = false;
  double value = 0;  // NaN for NULL
  int64_t count = 0;
  std::vector<int64_t> bucket_counts;  // per bucket index, not cumulative
};

class Store {
 public:
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

  // Creates the series with `initial_value` unless it exists; returns its id.
  int64_t EnsureSeries(int64_t family_id, std::string_view labels, double initial_value, bool per_process);

  void Add(const SeriesRef& series, double delta);
  void Set(const SeriesRef& series, double value);
  // Adds `value` to the sum, 1 to the count and, when bucket >= 0, 1 to that
  // bucket, in one transaction.
  void Observe(const SeriesRef& series, double value, int bucket);

  StoredSeries Read(const SeriesRef& series, size_t buckets);

  // Applies many updates in ONE write transaction: all or none.
  void ApplyBatch(const std::vector<BatchUpdate>& updates);

  // The family exposing `name` (its name, or counter x for "x_total", info
  // x for "x_info"), with its id; nullopt when there is none.
  std::optional<std::pair<int64_t, FamilySpec>> FindFamily(const std::string& name);

  // Deletes a series (with its buckets) or a family (with its series);
  // true when something was deleted.
  bool RemoveSeries(int64_t family_id, std::string_view labels);
  bool RemoveFamily(int64_t family_id);
  void ClearFamily(int64_t family_id);
  void Wipe();

  // One bounded housekeeping pass (store/housekeeping.cc).
  HousekeepingReport Housekeep();

  // Held by every call; fork() takes it (see Writer) so that no child
  // inherits it locked.
  std::mutex& mutex() { return mu_; }

  // A forked child calls this (with mutex() held) before anything else: the
  // parent's write gate shares its lock state with the child's copy of its
  // file descriptor, which must not outlive the parent's use of it.
  void DropInheritedGate() noexcept;

  // Waits until this process's background checkpoint, if any, is done.
  void DrainCheckpoints();

  // Runs `f` on this process's connection, under the store's lock.
  void WithConnection(const std::function<void(SQLite::Database&)>& f);

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
  auto RunOperation(const char* doing, bool write, F&& f) -> decltype(f(std::declval<Connection&>()));
  // DatabaseError for an operation that waited busy_timeout_ms for the lock.
  DatabaseError LockTimeout(const char* doing, const std::string& why) const;
  bool CheckpointDue(const Connection& c) const;
  void RunDueCheckpoint(Connection& c) noexcept;
  void AbandonInherited() noexcept;
  bool DeleteFamilyRows(const char* doing, int64_t family_id,
                        std::initializer_list<SQLite::Statement Connection::*> statements);
  // After every commit: a checkpoint or a housekeeping pass when due.
  void AfterCommit(Connection& c);
  HousekeepingReport HousekeepLocked(Connection& c);
  void ReportBackgroundError(const std::string& message) noexcept;
  int64_t WriterId(Connection& c);
  int64_t WriterFor(Connection& c, const SeriesRef& series);
  void ApplyObservations(Connection& c, const SeriesRef& series, double sum, int64_t count,
                         const int64_t* bucket_deltas, size_t buckets, double now);

  const std::string path_;
  const Options options_;
  std::mutex mu_;
  pid_t pid_ = 0;
  std::unique_ptr<Connection> conn_;
  std::unique_ptr<WriteGate> gate_;  // null: no sidecar, SQLite's lock alone
  std::unique_ptr<Checkpointer> checkpointer_;  // started at the first due checkpoint
  double next_housekeeping_ = 0;  // Now() after which a writer housekeeps
};

}  // namespace promsqlite::detail

#endif  // PROMSQLITE_SRC_STORE_STORE_H_
