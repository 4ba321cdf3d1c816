// Housekeeping: deletes what no reader shows any more, in short batches so
// that writers never wait long for the write lock.
#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <cmath>
#include <vector>

#include "base/process_identity.h"
#include "store/connection.h"
#include "store/store.h"

namespace promsqlite::detail {
namespace {

constexpr int kBatchRows = 500;    // rows deleted per write transaction
constexpr int kMaxBatches = 200;   // per pass: at most 100k rows, then `complete` is false

// Deletes, batch by batch, the series that `select_ids` (returning at most
// kBatchRows ids) finds, with their bucket rows. Returns how many.
int64_t DeleteInBatches(Store::Connection& c, SQLite::Statement& select_ids, int* batches) {
  SQLite::Statement delete_buckets(*c.db, "DELETE FROM bucket_counts WHERE series_id = ?1");
  SQLite::Statement delete_series(*c.db, "DELETE FROM series WHERE id = ?1");
  int64_t deleted = 0;
  std::vector<int64_t> ids;
  while (*batches < kMaxBatches) {
    Transaction txn(c, c.begin_write);
    ids.clear();
    {
      ResetOnExit reset{select_ids};
      while (select_ids.executeStep()) ids.push_back(select_ids.getColumn(0).getInt64());
    }
    for (int64_t id : ids) {
      for (SQLite::Statement* s : {&delete_buckets, &delete_series}) {
        s->bind(1, id);
        Exec(*s);
      }
    }
    txn.Commit();
    ++*batches;
    deleted += static_cast<int64_t>(ids.size());
    if (ids.size() < static_cast<size_t>(kBatchRows)) break;
  }
  return deleted;
}

}  // namespace

HousekeepingReport Store::Housekeep() {
  return Run("cannot housekeep", [&](Connection& c) { return HousekeepLocked(c); });
}

HousekeepingReport Store::HousekeepLocked(Connection& c) {
  HousekeepingReport report;
  int batches = 0;
  const std::string limit = " LIMIT " + std::to_string(kBatchRows);

  // Writers that are gone: their rows in live-mode families go at once.
  std::vector<int64_t> dead;
  {
    SQLite::Statement writers(*c.db, "SELECT id, pid, start_time, boot_id FROM writers");
    while (writers.executeStep()) {
      ProcessIdentity process{writers.getColumn(1).getInt64(), writers.getColumn(2).getInt64(),
                              writers.getColumn(3).getString()};
      if (!IsAlive(process)) dead.push_back(writers.getColumn(0).getInt64());
    }
  }
  std::string live_modes = "('liveall', 'livesum', 'livemax', 'livemin', 'livemostrecent')";
  SQLite::Statement dead_rows(*c.db, "SELECT s.id FROM series s JOIN families f ON f.id = s.family_id "
                                     "WHERE s.writer_id = ?1 AND f.gauge_mode IN " + live_modes + limit);
  SQLite::Statement has_rows(*c.db, "SELECT 1 FROM series WHERE writer_id = ?1 LIMIT 1");
  SQLite::Statement delete_writer(*c.db, "DELETE FROM writers WHERE id = ?1");
  for (int64_t writer : dead) {
    dead_rows.bind(1, writer);
    report.dead_process_series += DeleteInBatches(c, dead_rows, &batches);
    bool rows_left;
    {
      has_rows.bind(1, writer);
      ResetOnExit reset{has_rows};
      rows_left = has_rows.executeStep();  // non-live modes keep a dead process's values
    }
    if (!rows_left && batches < kMaxBatches) {
      Transaction txn(c, c.begin_write);
      delete_writer.bind(1, writer);
      Exec(delete_writer);
      txn.Commit();
      ++batches;
      ++report.dead_writers;
    }
  }

  // Series past their family's TTL.
  std::vector<std::pair<int64_t, double>> ttls;
  {
    SQLite::Statement families(*c.db, "SELECT id, ttl_seconds FROM families WHERE ttl_seconds > 0");
    while (families.executeStep()) ttls.emplace_back(families.getColumn(0).getInt64(), families.getColumn(1).getDouble());
  }
  SQLite::Statement expired(*c.db, "SELECT id FROM series WHERE family_id = ?1 AND updated < ?2" + limit);
  const double now = Now();
  for (const auto& [family, ttl] : ttls) {
    expired.bind(1, family);
    expired.bind(2, now - ttl);
    report.expired_series += DeleteInBatches(c, expired, &batches);
  }

  // Rows of removed families (written by handles that outlived them).
  SQLite::Statement orphans(*c.db, "SELECT id FROM series WHERE family_id NOT IN (SELECT id FROM families)" + limit);
  report.orphaned_series = DeleteInBatches(c, orphans, &batches);
  if (batches < kMaxBatches) {
    Transaction txn(c, c.begin_write);
    // Left by a program that deleted series without their buckets (the
    // triggers delete native buckets and exemplars with their series).
    c.db->exec("DELETE FROM bucket_counts WHERE series_id NOT IN (SELECT id FROM series)");
    txn.Commit();
    ++batches;
  }
  report.complete = batches < kMaxBatches;
  return report;
}

}  // namespace promsqlite::detail
