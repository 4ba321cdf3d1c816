// Housekeeping: deletes what no reader shows any more, in short batches so
// that writers never wait long for the write lock. Every batch (and every
// read between them) is one operation of its own under the store's mutex,
// followed by a pause (RunPassBatch), so a pass holds the mutex, as SQLite's
// lock, for one batch at a time and updates of this process and of others
// take turns with it (store/maintenance.h says on which thread a pass runs).
#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <cmath>
#include <utility>
#include <vector>

#include "base/process_identity.h"
#include "store/connection.h"
#include "store/maintenance.h"
#include "store/store.h"

namespace promsqlite::detail {
namespace {

constexpr int kBatchRows = 500;    // rows deleted per write transaction
constexpr int kMaxBatches = 200;   // per pass: at most 100k rows, then `complete` is false
constexpr const char* kDoing = "cannot housekeep";

}  // namespace

HousekeepingReport Store::Housekeep() { return maintenance_->HousekeepNow(); }

// Deletes, batch by batch, the series that `select_sql` (with ?1 and ?2
// bound to `a` and `b` when given, returning at most kBatchRows ids) finds,
// with their bucket rows. Returns how many.
int64_t Store::DeleteInBatches(const std::string& select_sql, std::optional<int64_t> a, std::optional<double> b,
                               int* batches, const std::atomic<bool>& stop) {
  int64_t deleted = 0;
  while (*batches < kMaxBatches && !stop.load(std::memory_order_relaxed)) {
    const size_t count = RunPassBatch(kDoing, [&](Connection& c) {
      SQLite::Statement select_ids(*c.db, select_sql);
      if (a) select_ids.bind(1, *a);
      if (b) select_ids.bind(2, *b);
      SQLite::Statement delete_buckets(*c.db, "DELETE FROM bucket_counts WHERE series_id = ?1");
      SQLite::Statement delete_series(*c.db, "DELETE FROM series WHERE id = ?1");
      std::vector<int64_t> ids;
      Transaction txn(c, c.begin_write);
      while (select_ids.executeStep()) ids.push_back(select_ids.getColumn(0).getInt64());
      select_ids.reset();
      for (int64_t id : ids) {
        for (SQLite::Statement* s : {&delete_buckets, &delete_series}) {
          s->bind(1, id);
          Exec(*s);
        }
      }
      txn.Commit();
      AfterCommit(c);
      return ids.size();
    });
    ++*batches;
    deleted += static_cast<int64_t>(count);
    if (count < static_cast<size_t>(kBatchRows)) break;
  }
  return deleted;
}

HousekeepingReport Store::HousekeepPass(const std::atomic<bool>& stop) {
  HousekeepingReport report;
  int batches = 0;
  auto stopped = [&] { return stop.load(std::memory_order_relaxed); };
  const std::string limit = " LIMIT " + std::to_string(kBatchRows);

  // Writers that are gone: their rows in live-mode families go at once.
  // Whether a process runs is asked of /proc outside the store's mutex.
  std::vector<std::pair<int64_t, ProcessIdentity>> writers = RunRead(kDoing, [&](Connection& c) {
    std::vector<std::pair<int64_t, ProcessIdentity>> rows;
    SQLite::Statement select(*c.db, "SELECT id, pid, start_time, boot_id FROM writers");
    while (select.executeStep())
      rows.emplace_back(select.getColumn(0).getInt64(),
                        ProcessIdentity{select.getColumn(1).getInt64(), select.getColumn(2).getInt64(),
                                        select.getColumn(3).getString()});
    return rows;
  });
  std::string live_modes = "('liveall', 'livesum', 'livemax', 'livemin', 'livemostrecent')";
  const std::string dead_rows = "SELECT s.id FROM series s JOIN families f ON f.id = s.family_id "
                                "WHERE s.writer_id = ?1 AND f.gauge_mode IN " + live_modes + limit;
  for (const auto& [writer, process] : writers) {
    if (stopped() || batches >= kMaxBatches) break;
    if (IsAlive(process)) continue;
    report.dead_process_series += DeleteInBatches(dead_rows, writer, std::nullopt, &batches, stop);
    if (stopped() || batches >= kMaxBatches) break;
    // Non-live modes keep a dead process's values, and so its record.
    const bool deleted = RunPassBatch(kDoing, [&](Connection& c) {
      SQLite::Statement has_rows(*c.db, "SELECT 1 FROM series WHERE writer_id = ?1 LIMIT 1");
      SQLite::Statement delete_writer(*c.db, "DELETE FROM writers WHERE id = ?1");
      has_rows.bind(1, writer);
      if (has_rows.executeStep()) return false;
      has_rows.reset();
      Transaction txn(c, c.begin_write);
      delete_writer.bind(1, writer);
      Exec(delete_writer);
      txn.Commit();
      AfterCommit(c);
      return true;
    });
    if (!deleted) continue;
    ++batches;
    ++report.dead_writers;
  }

  // Series past their family's TTL.
  std::vector<std::pair<int64_t, double>> ttls = RunRead(kDoing, [&](Connection& c) {
    std::vector<std::pair<int64_t, double>> rows;
    SQLite::Statement families(*c.db, "SELECT id, ttl_seconds FROM families WHERE ttl_seconds > 0");
    while (families.executeStep()) rows.emplace_back(families.getColumn(0).getInt64(), families.getColumn(1).getDouble());
    return rows;
  });
  const std::string expired = "SELECT id FROM series WHERE family_id = ?1 AND updated < ?2" + limit;
  const double now = Now();
  for (const auto& [family, ttl] : ttls)
    report.expired_series += DeleteInBatches(expired, family, now - ttl, &batches, stop);

  // Rows of removed families (written by handles that outlived them).
  report.orphaned_series = DeleteInBatches(
      "SELECT id FROM series WHERE family_id NOT IN (SELECT id FROM families)" + limit, std::nullopt,
      std::nullopt, &batches, stop);
  if (batches < kMaxBatches && !stopped()) {
    RunPassBatch(kDoing, [&](Connection& c) {
      Transaction txn(c, c.begin_write);
      // Left by a program that deleted series without their buckets (the
      // triggers delete native buckets and exemplars with their series).
      c.db->exec("DELETE FROM bucket_counts WHERE series_id NOT IN (SELECT id FROM series)");
      txn.Commit();
      AfterCommit(c);
      return true;
    });
    ++batches;
  }
  report.complete = batches < kMaxBatches && !stopped();
  return report;
}

}  // namespace promsqlite::detail
