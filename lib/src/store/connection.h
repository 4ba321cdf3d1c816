// The writing connection's internals, shared by the store's source files:
// its prepared statements, the RAII transaction over them, and helpers.
#ifndef PROMSQLITE_SRC_STORE_CONNECTION_H_
#define PROMSQLITE_SRC_STORE_CONNECTION_H_

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "store/database.h"
#include "store/schema.h"
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

// Counter/gauge additions and histogram observations all take this shape:
// the cached id is tried first, then the (family, labels, writer) key, so a
// series deleted and recreated by another process is still found. Ids come
// from AUTOINCREMENT and are never reused, so a cached id can only name our
// row. writer_id is 0 for shared series, this process's writers.id for
// per-process gauges (which never pass a cached id: after fork() it would
// name the parent's row).
inline constexpr const char* kUpsertPrefix =
    "INSERT INTO series (id, family_id, labels, writer_id, value, count, created, updated) "
    "VALUES (?1, ?2, ?3, ?7, ?4, ?5, ?6, ?6) ";
inline std::string Upsert(const std::string& set, const char* tail = "") {
  return std::string(kUpsertPrefix) + "ON CONFLICT (id) DO UPDATE SET " + set +
         " ON CONFLICT (family_id, labels, writer_id) DO UPDATE SET " + set + tail;
}

struct Store::Connection {
  explicit Connection(std::unique_ptr<SQLite::Database> database)
      : db(std::move(database)),
        begin_write(*db, "BEGIN IMMEDIATE"),
        begin_read(*db, "BEGIN"),
        commit(*db, "COMMIT"),
        rollback(*db, "ROLLBACK"),
        add(*db, Upsert("value = value + excluded.value, updated = excluded.updated")),
        set(*db, Upsert("value = excluded.value, updated = excluded.updated")),
        observe(*db, Upsert("value = value + excluded.value, count = count + excluded.count, "
                            "updated = excluded.updated")),
        bucket(*db,
               "INSERT INTO bucket_counts (series_id, bucket, count) VALUES (?1, ?2, ?3) "
               "ON CONFLICT (series_id, bucket) DO UPDATE SET count = count + excluded.count"),
        observe_native(*db, Upsert("value = value + excluded.value, count = count + excluded.count, "
                                   "updated = excluded.updated")),
        // Native buckets: an UPDATE, and an INSERT only when it changed
        // nothing (a new bucket, which may exceed the maximum).
        native_bucket_add(*db,
                          "UPDATE native_buckets SET count = count + ?4 "
                          "WHERE series_id = ?1 AND sign = ?2 AND bucket = ?3"),
        native_bucket(*db,
                      "INSERT INTO native_buckets (series_id, sign, bucket, count) VALUES (?1, ?2, ?3, ?4) "
                      "ON CONFLICT (series_id, sign, bucket) DO UPDATE SET count = count + excluded.count"),
        count_native_buckets(*db, "SELECT count(*) FROM native_buckets WHERE series_id = ?1 AND sign != 0"),
        select_native_buckets(*db, "SELECT sign, bucket, count FROM native_buckets WHERE series_id = ?1 AND sign != 0"),
        delete_native_buckets(*db, "DELETE FROM native_buckets WHERE series_id = ?1 AND sign != 0"),
        set_native_schema(*db, "UPDATE series SET native_schema = ?2 WHERE id = ?1"),
        insert_series(*db,
                      "INSERT INTO series (family_id, labels, writer_id, value, count, created, updated) "
                      "VALUES (?1, ?2, ?5, ?3, 0, ?4, ?4) ON CONFLICT (family_id, labels, writer_id) DO NOTHING"),
        // A series by its key. Also how an observe finds the row its upsert
        // wrote, in the same transaction, rather than with RETURNING: SQLite
        // runs a statement with RETURNING with a statement journal, whose
        // 64 KiB buffer it allocates and frees every time; where that
        // freeing shrinks the heap (glibc trims it), each observe paid two
        // brk() calls and the page faults of the regrown heap: 19 400
        // against 36 700 transactions/s in a micro-benchmark on a 2-vCPU
        // VM, 33 000-35 000 against 36 000-37 000 with trimming turned off.
        // The latest exemplar per series and bucket wins, whichever process
        // commits last.
        exemplar(*db,
                 "INSERT INTO exemplars (series_id, bucket, labels, value, timestamp) VALUES (?1, ?2, ?3, ?4, ?5) "
                 "ON CONFLICT (series_id, bucket) DO UPDATE SET labels = excluded.labels, value = excluded.value, "
                 "timestamp = excluded.timestamp WHERE excluded.timestamp >= exemplars.timestamp"),
        select_series(*db,
                      "SELECT id, value, count, native_schema FROM series "
                      "WHERE family_id = ?1 AND labels = ?2 AND writer_id = ?3"),
        select_buckets(*db, "SELECT bucket, count FROM bucket_counts WHERE series_id = ?1"),
        select_family(*db, "SELECT " + FamilyColumns(kSchemaVersion) + " FROM families WHERE name = ?1"),
        insert_family(*db,
                      "INSERT INTO families (name, type, help, unit, label_names, buckets, states, gauge_mode, "
                      "ttl_seconds, created, native_schema, native_zero_threshold, native_max_buckets) "
                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"),
        insert_writer(*db,
                      "INSERT INTO writers (pid, start_time, boot_id, created) VALUES (?1, ?2, ?3, ?4) "
                      "ON CONFLICT (pid, start_time, boot_id) DO NOTHING"),
        select_writer(*db, "SELECT id FROM writers WHERE pid = ?1 AND start_time = ?2 AND boot_id = ?3"),
        update_help(*db, "UPDATE families SET help = ?2 WHERE id = ?1"),
        delete_series_buckets(*db,
                              "DELETE FROM bucket_counts WHERE series_id IN "
                              "(SELECT id FROM series WHERE family_id = ?1 AND labels = ?2)"),
        delete_series(*db, "DELETE FROM series WHERE family_id = ?1 AND labels = ?2"),
        delete_family_buckets(*db,
                              "DELETE FROM bucket_counts WHERE series_id IN "
                              "(SELECT id FROM series WHERE family_id = ?1)"),
        delete_family_series(*db, "DELETE FROM series WHERE family_id = ?1"),
        delete_family(*db, "DELETE FROM families WHERE id = ?1") {}

  std::unique_ptr<SQLite::Database> db;
  SQLite::Statement begin_write, begin_read, commit, rollback;
  SQLite::Statement add, set, observe, bucket;
  SQLite::Statement observe_native, native_bucket_add, native_bucket, count_native_buckets,
      select_native_buckets, delete_native_buckets, set_native_schema;
  SQLite::Statement insert_series, exemplar, select_series, select_buckets;
  SQLite::Statement select_family, insert_family, insert_writer, select_writer, update_help;
  SQLite::Statement delete_series_buckets, delete_series;
  SQLite::Statement delete_family_buckets, delete_family_series, delete_family;
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
  std::lock_guard<std::mutex> lock(mu_);
  if (pass) pass_waiting_.store(false, std::memory_order_relaxed);
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::milliseconds(options_.busy_timeout_ms);
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
