// The writing connection's internals, shared by the store's source files:
// its prepared statements, the RAII transaction over them, and helpers.
// The statements' texts are store/sql.h's; their rows, store/sql_rows.h's.
#ifndef PROMSQLITE_SRC_STORE_CONNECTION_H_
#define PROMSQLITE_SRC_STORE_CONNECTION_H_

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "store/database.h"
#include "store/schema.h"
#include "store/sql.h"
#include "store/sql_rows.h"
#include "store/store.h"
#include "store/write_gate.h"

namespace promsqlite::detail {

// Resets a statement when leaving scope, also on exceptions.
struct ResetOnExit {
  SQLite::Statement& s;
  ~ResetOnExit() { s.tryReset(); }
};

// Steps `s` to completion and resets it, even when stepping throws, so a
// failed statement never keeps a transaction open.
inline void Exec(SQLite::Statement& s) {
  ResetOnExit reset{s};
  while (s.executeStep()) {
  }
}

// A statement prepared at its first use rather than when the connection
// opens: a process that opens the file for one update (each run of the
// CLI) uses a few of the connection's statements, and preparing all of
// them took 0.3 ms of its 2.5. Used as the statement itself (Bind,
// executeStep, getColumn, or where a T& or SQLite::Statement& is expected);
// a statement that cannot be prepared throws at that first use.
template <typename T>
class Prepared {
 public:
  Prepared(SQLite::Database& db, std::string sql) : db_(db), sql_(std::move(sql)) {}
  Prepared(const Prepared&) = delete;
  Prepared& operator=(const Prepared&) = delete;

  T& get() {
    if (!statement_) statement_.emplace(db_, sql_);
    return *statement_;
  }
  operator T&() { return get(); }

  template <typename... A>
  decltype(auto) Bind(A&&... a) { return get().Bind(std::forward<A>(a)...); }
  bool executeStep() { return get().executeStep(); }
  template <typename... A>
  decltype(auto) getColumn(A&&... a) { return get().getColumn(std::forward<A>(a)...); }
  int tryReset() noexcept { return statement_ ? statement_->tryReset() : 0; }  // SQLITE_OK when unprepared

 private:
  SQLite::Database& db_;
  const std::string sql_;
  std::optional<T> statement_;
};

// The writing connection: its statements (store/sql.h's texts, bound from
// store/sql_rows.h's rows, prepared at first use) and its state.
struct Store::Connection {
  explicit Connection(std::unique_ptr<SQLite::Database> database)
      : db(std::move(database)),
        begin_write(*db, sql::kBeginWrite),
        begin_read(*db, sql::kBeginRead),
        commit(*db, sql::kCommit),
        rollback(*db, sql::kRollback),
        add(*db, sql::kAddToSeries),
        set(*db, sql::kSetSeries),
        observe(*db, sql::kObserveSeries),
        observe_native(*db, sql::kObserveSeries),
        insert_series(*db, sql::kInsertSeries),
        select_series(*db, sql::kSelectSeriesByKey),
        set_native_schema(*db, sql::kSetNativeSchema),
        delete_series(*db, sql::kDeleteSeriesByKey),
        delete_family_series(*db, sql::kDeleteFamilySeries),
        bucket(*db, sql::kAddToBucket),
        select_buckets(*db, sql::kSelectBuckets),
        native_bucket_add(*db, sql::kAddToNativeBucket),
        native_bucket(*db, sql::kInsertNativeBucket),
        count_native_buckets(*db, sql::kCountNativeBuckets),
        select_native_buckets(*db, sql::kSelectNativeBuckets),
        delete_native_buckets(*db, sql::kDeleteNativeBuckets),
        exemplar(*db, sql::kKeepExemplar),
        select_family(*db, sql::SelectFamilyByName()),
        insert_family(*db, sql::kInsertFamily),
        update_help(*db, sql::kUpdateHelp),
        delete_family(*db, sql::kDeleteFamily),
        insert_writer(*db, sql::kInsertWriter),
        select_writer(*db, sql::kSelectWriter),
        record_pending_flush(*db, sql::kRecordPendingFlush),
        mark_region_recovered(*db, sql::kMarkRegionRecovered),
        select_pending_flush(*db, sql::kSelectPendingFlush),
        select_old_pending_flushes(*db, sql::kSelectOldPendingFlushes),
        delete_pending_flush(*db, sql::kDeletePendingFlush) {}

  std::unique_ptr<SQLite::Database> db;
  // Prepared at open: a transaction's ROLLBACK must not fail to prepare.
  SQLite::Statement begin_write, begin_read, commit, rollback;
  Prepared<RowStatement<SeriesRow>> add, set, observe, observe_native, insert_series, select_series,
      set_native_schema;
  Prepared<RowStatement<SeriesRow>> delete_series, delete_family_series;
  Prepared<RowStatement<BucketRow>> bucket, select_buckets;
  Prepared<RowStatement<NativeBucketRow>> native_bucket_add, native_bucket, count_native_buckets,
      select_native_buckets, delete_native_buckets;
  Prepared<RowStatement<ExemplarRow>> exemplar;
  Prepared<RowStatement<FamilyRow>> select_family, insert_family, update_help, delete_family;
  Prepared<RowStatement<WriterRow>> insert_writer, select_writer;
  Prepared<RowStatement<PendingFlushRow>> record_pending_flush, mark_region_recovered, select_pending_flush,
      select_old_pending_flushes, delete_pending_flush;
  int wal_pages = 0;     // set by the WAL hook after each commit
  int64_t writer_id = 0;  // this process's writers.id, once it wrote a per-process gauge
  int64_t pending_writer_id = 0;  // registered in the open transaction, not committed yet
  // When the operation in progress stops waiting for the write lock (read
  // by the busy handler, PromptBusyHandler).
  std::chrono::steady_clock::time_point busy_deadline;
  // Set while this connection polls outside the write queue: while others
  // are queued, it polls less often, leaving the gaps to the queue's head.
  WriteGate* yield_to = nullptr;
};

// How long a writer polls SQLite's lock before it queues at the write gate.
inline constexpr std::chrono::milliseconds kQueuePatience{2};

// How long a housekeeping pass leaves the store's mutex and SQLite's lock
// to others after each batch (store/housekeeping.cc), and how long at most
// an update lets a batch that waits for the mutex go first.
inline constexpr std::chrono::milliseconds kPauseAfterBatch{1};
inline constexpr std::chrono::milliseconds kPassPatience{2};

// SQLite's busy handler for our connections: short jittered sleeps (tens of
// microseconds, growing to a few hundred) until Connection::busy_deadline,
// instead of SQLite's 1, 2, 5 ... 100 ms, which lose every race against
// processes that retake the lock. `context` is the Connection.
int PromptBusyHandler(void* context, int attempts);

// RAII transaction on prepared BEGIN/COMMIT/ROLLBACK statements; rolls back
// unless committed.
class Transaction {
 public:
  Transaction(Store::Connection& c, SQLite::Statement& begin) : c_(c) { Exec(begin); }
  void Commit() {
    Exec(c_.commit);
    done_ = true;
    if (c_.pending_writer_id != 0) c_.writer_id = c_.pending_writer_id;
    c_.pending_writer_id = 0;
  }
  ~Transaction() {
    if (!done_) {
      c_.rollback.tryExecuteStep();
      c_.rollback.tryReset();
      c_.pending_writer_id = 0;  // its registration was rolled back too
    }
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

 private:
  Store::Connection& c_;
  bool done_ = false;
};


// Every operation: under the store's lock, on this process's connection,
// with SQLite's failures as DatabaseError, and retried as a whole while
// SQLite reports SQLITE_BUSY at once instead of waiting in the busy handler
// (it does so around WAL recovery after a writer was killed). A retry is
// safe: each operation is one transaction, rolled back when it fails.
// Writes first queue at the write gate (store/write_gate.h), reads do not;
// both give up after Options::busy_timeout_ms in all.
template <typename F>
auto Store::Run(const char* doing, F&& f) -> decltype(f(std::declval<Connection&>())) {
  return RunOperation(doing, true, false, std::forward<F>(f));
}

template <typename F>
auto Store::RunRead(const char* doing, F&& f) -> decltype(f(std::declval<Connection&>())) {
  return RunOperation(doing, false, false, std::forward<F>(f));
}

// A housekeeping pass's write batch, then a pause: the store's mutex passes
// to the updates that waited for the batch (a thread that unlocks a mutex
// and locks it again at once keeps it from the threads it woke), and SQLite's
// lock to other processes' writers.
template <typename F>
auto Store::RunPassBatch(const char* doing, F&& f) -> decltype(f(std::declval<Connection&>())) {
  auto result = RunOperation(doing, true, true, std::forward<F>(f));
  std::this_thread::sleep_for(kPauseAfterBatch);
  return result;
}

template <typename F>
auto Store::RunOperation(const char* doing, bool write, bool pass, F&& f)
    -> decltype(f(std::declval<Connection&>())) {
  // A pass's batch waiting for the mutex goes before updates that arrive
  // meanwhile (one relaxed load for them otherwise): together with its pause
  // after each batch, an update waits for at most one batch.
  if (pass) pass_waiting_.store(true, std::memory_order_relaxed);
  else if (pass_waiting_.load(std::memory_order_relaxed)) StepAsideForPass();
  // Under a BoundedWait, the wait for this process's connection counts in
  // the bound: another operation may hold it while it waits for the lock
  // (a flush, a housekeeping batch).
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::milliseconds(WaitBoundMs());
  std::unique_lock<std::timed_mutex> lock(mu_, std::defer_lock);
  if (!WaitBounded()) lock.lock();
  else if (!lock.try_lock_until(deadline)) {
    if (pass) pass_waiting_.store(false, std::memory_order_relaxed);
    throw LockTimeout(doing, "another operation of this process held its connection, waiting for the lock");
  }
  if (pass) pass_waiting_.store(false, std::memory_order_relaxed);
  return GuardSqlite(path_, doing, [&] {
    Connection& c = Conn();
    // Destroyed after `hold`: a checkpoint that this operation's commit made
    // due is handed off once the gate is released.
    struct DueCheckpoint {
      Store& store;
      ~DueCheckpoint() { store.RunDueCheckpoint(); }
    } due{*this};
    GateHold hold;
    WriteGate* gate = write ? gate_.get() : nullptr;
    auto queue = [&] {
      c.yield_to = nullptr;
      if (hold.Enter(gate, deadline) == WriteGate::Entry::kTimedOut)
        throw LockTimeout(doing, "other promsqlite writers kept the write queue");
      gate = nullptr;  // queued once; from now on poll SQLite's lock until the deadline
      c.busy_deadline = deadline;
    };
    // Poll first; queue only after kQueuePatience in vain. While others are
    // queued, poll less often (PromptBusyHandler), so they go first.
    c.yield_to = gate;
    c.busy_deadline = gate != nullptr ? std::min(deadline, start + kQueuePatience) : deadline;
    for (int attempt = 1;; ++attempt) {
      // A queued writer that keeps losing SQLite's lock to writers like us
      // goes first (WriteGate::StepAside; two atomic loads otherwise).
      if (gate != nullptr) gate->StepAside(c.busy_deadline);
      try {
        return f(c);
      } catch (const SQLite::Exception& e) {
        if (!IsBusy(e)) throw;
        auto now = std::chrono::steady_clock::now();
        if (now >= deadline) throw LockTimeout(doing, e.what());
        if (gate != nullptr && now >= c.busy_deadline) {
          queue();  // polled for kQueuePatience in vain
          continue;
        }
      }
      // SQLite reported BUSY at once (WAL recovery after a killed writer):
      // the whole operation again, shortly.
      SleepMilliseconds(attempt < 10 ? 1 : 5);
    }
  });
}

}  // namespace promsqlite::detail

#endif  // PROMSQLITE_SRC_STORE_CONNECTION_H_
