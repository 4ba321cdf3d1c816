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
#include "store/pending_region.h"
#include "store/sql.h"
#include "store/sql_rows.h"
#include "store/store.h"

namespace promsqlite::detail {
namespace {

constexpr int kBatchRows = 500;    // rows deleted per write transaction
constexpr int kMaxBatches = 200;   // per pass: at most 100k rows, then `complete` is false
constexpr const char* kDoing = "cannot housekeep";

}  // namespace

HousekeepingReport Store::Housekeep() { return maintenance_->HousekeepNow(); }

// Deletes, batch by batch, the series that `select_sql` (its parameters
// bound by `bind`, :limit to kBatchRows; its column the series' id) finds;
// their child rows go by the triggers. Returns how many.
int64_t Store::DeleteInBatches(const char* select_sql, const std::function<void(SQLite::Statement&)>& bind,
                               int* batches, const std::atomic<bool>& stop) {
  int64_t deleted = 0;
  while (*batches < kMaxBatches && !stop.load(std::memory_order_relaxed)) {
    const size_t count = RunPassBatch(kDoing, [&](Connection& c) {
      SQLite::Statement select_ids(*c.db, select_sql);
      bind(select_ids);
      select_ids.bind(":limit", kBatchRows);
      RowStatement<SeriesRow> delete_series(*c.db, sql::kDeleteSeriesById);
      std::vector<int64_t> ids;
      Transaction txn(c, c.begin_write);
      while (select_ids.executeStep()) ids.push_back(select_ids.getColumn(0).getInt64());
      select_ids.reset();
      for (int64_t id : ids) {
        SeriesRow series;
        series.id = id;
        Exec(delete_series.Bind(series));
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

void Store::TouchPendingSeries() {
  std::vector<std::pair<std::string, std::string>> pending;  // family name, labels
  std::vector<PendingSlotView> slots;
  for (const RegionFile& file : RegionFile::OpenAll(path_, nullptr)) {
    std::string error;
    if (!file.Read(&slots, &error)) continue;  // reported by recovery, when dead
    for (const PendingSlotView& slot : slots)
      if (slot.kind == PendingKind::kRecord ||  // Read gives only records not done
          (!IsRecordKind(slot.kind) && (!slot.live.empty() || (slot.staged_generation != 0 && !slot.staged.empty()))))
        pending.emplace_back(slot.family, slot.labels);
  }
  if (pending.empty()) return;
  const double now = Now();  // outside the store's lock (a test clock may wait)
  RunPassBatch(kDoing, [&](Connection& c) {
    SQLite::Statement touch(*c.db, sql::kTouchPendingSeries);
    Transaction txn(c, c.begin_write);
    for (const auto& [family, labels] : pending) {
      touch.bind(":updated", now);
      touch.bind(":name", family);
      touch.bindNoCopy(":labels", labels.data(), static_cast<int>(labels.size()));
      Exec(touch);
    }
    txn.Commit();
    AfterCommit(c);
    return true;
  });
}

HousekeepingReport Store::HousekeepPass(const std::atomic<bool>& stop) {
  HousekeepingReport report;
  int batches = 0;
  auto stopped = [&] { return stop.load(std::memory_order_relaxed); };

  // Dead batched writers' pending regions first (docs/pending-regions.md):
  // what they hold is acknowledged updates, and each pass brings it in.
  RegionRecoveryReport recovery = RecoverRegions();
  report.recovered_regions = recovery.regions;
  report.recovered_updates = recovery.slots;
  DeleteOldPendingFlushRecords();

  // Writers that are gone: their rows in live-mode families go at once.
  // Whether a process runs is asked of /proc outside the store's mutex.
  std::vector<std::pair<int64_t, ProcessIdentity>> writers = RunRead(kDoing, [&](Connection& c) {
    std::vector<std::pair<int64_t, ProcessIdentity>> rows;
    SQLite::Statement select(*c.db, sql::kSelectAllWriters);
    while (select.executeStep())
      rows.emplace_back(select.getColumn(0).getInt64(),
                        ProcessIdentity{select.getColumn(1).getInt64(), select.getColumn(2).getInt64(),
                                        select.getColumn(3).getString()});
    return rows;
  });
  for (const auto& [writer, process] : writers) {
    if (stopped() || batches >= kMaxBatches) break;
    if (IsAlive(process)) continue;
    report.dead_process_series += DeleteInBatches(
        sql::kSelectDeadWriterSeries, [id = writer](SQLite::Statement& s) { s.bind(":writer_id", id); }, &batches,
        stop);
    if (stopped() || batches >= kMaxBatches) break;
    // Non-live modes keep a dead process's values, and so its record.
    const bool deleted = RunPassBatch(kDoing, [&](Connection& c) {
      SQLite::Statement has_rows(*c.db, sql::kWriterHasSeries);
      RowStatement<WriterRow> delete_writer(*c.db, sql::kDeleteWriter);
      has_rows.bind(":writer_id", writer);
      if (has_rows.executeStep()) return false;
      has_rows.reset();
      Transaction txn(c, c.begin_write);
      WriterRow row;
      row.id = writer;
      Exec(delete_writer.Bind(row));
      txn.Commit();
      AfterCommit(c);
      return true;
    });
    if (!deleted) continue;
    ++batches;
    ++report.dead_writers;
  }

  // Series with updates pending in a region (live writers' included) are
  // not expired: their rows count as updated now, as the flush will stamp
  // them (readers judge them so too: read/snapshot.cc).
  TouchPendingSeries();

  // Series past their family's TTL.
  std::vector<std::pair<int64_t, double>> ttls = RunRead(kDoing, [&](Connection& c) {
    std::vector<std::pair<int64_t, double>> rows;
    SQLite::Statement families(*c.db, sql::kSelectFamiliesWithTtl);
    while (families.executeStep()) rows.emplace_back(families.getColumn(0).getInt64(), families.getColumn(1).getDouble());
    return rows;
  });
  const double now = Now();
  for (const auto& [family, ttl] : ttls) {
    report.expired_series += DeleteInBatches(
        sql::kSelectExpiredSeries,
        [id = family, expired_before = now - ttl](SQLite::Statement& s) {
          s.bind(":family_id", id);
          s.bind(":expired_before", expired_before);
        },
        &batches, stop);
  }

  // Rows of removed families (written by handles that outlived them).
  report.orphaned_series =
      DeleteInBatches(sql::kSelectOrphanedSeries, [](SQLite::Statement&) {}, &batches, stop);
  report.complete = batches < kMaxBatches && !stopped();
  return report;
}

}  // namespace promsqlite::detail
