// Store's side of pending regions (docs/pending-regions.md): the flush
// record written with each flush, recovery of dead writers' regions, and
// the removal of old records.
#include <deque>
#include <string>
#include <vector>

#include "declare/native_histogram.h"
#include "promsqlite/errors.h"
#include "store/connection.h"
#include "store/pending_record.h"
#include "store/pending_region.h"
#include "store/schema.h"
#include "store/sql.h"
#include "store/sql_rows.h"

namespace promsqlite::detail {
namespace {

// Slot updates one recovery transaction writes at most before it commits
// (a single region with more is still recovered in one): bounds how long
// a recovery holds the write lock from updates.
constexpr size_t kRecoveryRowsPerTransaction = 200;

// How long the record of a recovered or removed region stays: a reader that
// opened the file just before it went must still find it (its snapshot is
// taken microseconds after it lists the folder).
constexpr double kRecordGraceSeconds = 60;

}  // namespace

void FillFromPending(PendingKind kind, const PendingCell& cell, BatchUpdate* u) {
  u->value = cell.value;
  switch (kind) {
    case PendingKind::kCounter:
      u->kind = BatchUpdate::kAdd;
      break;
    case PendingKind::kGauge:
      u->kind = cell.has_set ? BatchUpdate::kSet : BatchUpdate::kAdd;
      break;
    case PendingKind::kDistribution:
      u->kind = BatchUpdate::kObserve;
      u->count = cell.count;
      u->bucket_deltas = cell.buckets;
      break;
    case PendingKind::kRecord:
    case PendingKind::kDeclaration:
      break;  // not cells (DecodeKeptUpdate, DecodeKeptDeclaration)
  }
}

// Whether `u` (a record's update) fits the family `spec` declares now: the
// kind of update its type takes, its bucket count, a native histogram's
// buckets only where the family has one.
bool KeptFits(const BatchUpdate& u, const FamilySpec& spec) {
  const bool distribution = spec.type == MetricType::kHistogram || spec.type == MetricType::kSummary;
  if (u.kind == BatchUpdate::kObserve) {
    if (!distribution) return false;
    const size_t buckets = spec.type == MetricType::kHistogram ? spec.buckets.size() : 0;
    if (!u.bucket_deltas.empty() && u.bucket_deltas.size() != buckets) return false;
    return u.native.empty() || spec.native_bucket_factor > 1;
  }
  if (distribution) return false;
  return u.kind == BatchUpdate::kAdd || spec.type != MetricType::kCounter;
}

bool Store::ApplyKept(Connection& c, const KeptWrite& kept, int64_t owner, double now) {
  FamilyRow family_key;
  family_key.name = kept.family;
  c.select_family.Bind(family_key);
  ResetOnExit reset{c.select_family};
  if (!c.select_family.executeStep()) return false;
  auto [family_id, spec] = ReadFamily(c.select_family, path_);
  if (!KeptFits(kept.update, spec)) return false;
  std::atomic<int64_t> id{0};
  std::atomic<int32_t> schema{0};
  BatchUpdate u = kept.update;
  NativeLayout native;
  if (spec.native_bucket_factor > 1) {
    native.enabled = true;
    native.schema = NativeSchemaForFactor(spec.native_bucket_factor);
    native.zero_threshold = spec.native_zero_threshold;
    native.max_buckets = spec.native_max_buckets;
    schema = native.schema;
  }
  u.series = SeriesRef{family_id, kept.labels, &id, spec.gauge_mode != GaugeMode::kShared, native, &schema, owner};
  if (u.kind == BatchUpdate::kObserve && spec.type == MetricType::kHistogram && u.bucket_deltas.empty())
    u.bucket_deltas.assign(spec.buckets.size(), 0);
  ApplyUpdates(c, {u}, now);
  return true;
}

void Store::RecordPendingFlush(Connection& c, const PendingFlush& flush, double now) {
  PendingFlushRow row;
  row.region = flush.region;
  row.generation = static_cast<int64_t>(flush.generation);
  row.updated = now;
  Exec(c.record_pending_flush.Bind(row));
}

void Store::ForgetPendingRegion(const std::string& region) {
  Run("cannot remove a flush record", [&](Connection& c) {
    Transaction txn(c, c.begin_write);
    PendingFlushRow row;
    row.region = region;
    Exec(c.delete_pending_flush.Bind(row));
    txn.Commit();
    AfterCommit(c);
  });
}

RegionRecoveryReport Store::RecoverRegions() {
  RegionRecoveryReport report;
  RegionFile::RemoveAbandoned(path_, kRecordGraceSeconds);
  std::vector<RegionFile> files = RegionFile::OpenAll(path_, &report.problems);
  std::vector<RegionFile*> dead;
  for (RegionFile& file : files)
    if (!file.OwnerAlive()) dead.push_back(&file);
  size_t next = 0;
  while (next < dead.size()) {
    size_t end = next;
    std::vector<RegionFile*> recovered;
    int64_t slots = 0, dropped = 0;
    std::vector<std::string> problems;
    const double now = Now();  // outside the store's lock (a test clock may wait)
    // A pass's batch: a pause after it lets waiting updates go first.
    RunPassBatch("cannot recover pending updates", [&](Connection& c) -> bool {
      // Everything computed anew on a retry: the operation is one
      // transaction, rolled back when it fails.
      recovered.clear();
      problems.clear();
      slots = dropped = 0;
      Transaction txn(c, c.begin_write);
      size_t rows = 0;
      end = next;
      // Per update: the labels, the id cache and the schema its SeriesRef
      // points to (a deque: they must not move).
      struct Key {
        std::string labels;
        std::atomic<int64_t> id{0};
        std::atomic<int32_t> schema{0};
      };
      std::deque<Key> keys;
      std::vector<BatchUpdate> updates;
      std::vector<PendingSlotView> views;
      for (; end < dead.size() && (rows == 0 || rows < kRecoveryRowsPerTransaction); ++end) {
        RegionFile& file = *dead[end];
        // Dead when listed; asked again under the write lock all the same.
        if (file.OwnerAlive()) continue;
        PendingFlushRow key;
        key.region = file.name();
        PendingFlushRow record;
        {
          c.select_pending_flush.Bind(key);
          ResetOnExit reset{c.select_pending_flush};
          if (c.select_pending_flush.executeStep()) record = ReadPendingFlushRow(c.select_pending_flush);
        }
        if (record.recovered != 0) {  // a recoverer committed and died before removing the file
          recovered.push_back(&file);
          continue;
        }
        std::string error;
        if (!file.Read(&views, &error)) {  // left in place, reported each time
          problems.push_back(error);
          continue;
        }
        updates.clear();
        keys.clear();
        const uint64_t committed = static_cast<uint64_t>(record.generation);
        // Declarations that waited for the lock first: the slots and records
        // after them may be of those families.
        for (const PendingSlotView& view : views) {
          if (view.kind != PendingKind::kDeclaration || !view.RecordUnflushed(committed)) continue;
          std::string problem;
          FamilySpec spec;
          if (!DecodeKeptDeclaration(view.record, &spec, &problem)) {
            problems.push_back(file.path() + ": a kept declaration of '" + view.family + "' cannot be read (" +
                               problem + ")");
            continue;
          }
          try {
            DeclareIn(c, spec);
          } catch (const DeclarationConflict& e) {
            problems.push_back(file.path() + ": a kept declaration is dropped: " + e.what());
          }
        }
        for (const PendingSlotView& view : views) {
          if (IsRecordKind(view.kind)) continue;
          PendingCell cell = view.Unflushed(committed);
          if (cell.empty()) continue;
          FamilyRow family_key;
          family_key.name = view.family;
          c.select_family.Bind(family_key);
          ResetOnExit reset{c.select_family};
          if (!c.select_family.executeStep()) {
            ++dropped;  // the family was removed
            continue;
          }
          auto [family_id, spec] = ReadFamily(c.select_family, path_);
          if (!SlotFits(view.kind, view.live.buckets.size(), spec)) {
            ++dropped;
            continue;
          }
          Key& k = keys.emplace_back();
          k.labels = view.labels;
          BatchUpdate& u = updates.emplace_back();
          u.series = SeriesRef{family_id, k.labels, &k.id, false, NativeLayout{}, &k.schema};
          FillFromPending(view.kind, cell, &u);
        }
        ApplyUpdates(c, updates, now);
        slots += static_cast<int64_t>(updates.size());
        // Updates kept for the lock, in the order they were made.
        int64_t owner = 0;
        for (const PendingSlotView& view : views) {
          if (view.kind != PendingKind::kRecord || !view.RecordUnflushed(committed)) continue;
          KeptWrite kept;
          kept.family = view.family;
          kept.labels = view.labels;
          if (!DecodeKeptUpdate(view.record, &kept.update)) {
            problems.push_back(file.path() + ": a malformed kept update of '" + view.family + "' is dropped");
            ++dropped;
            continue;
          }
          if (owner == 0) {
            int64_t pid = 0, start_time = 0;
            std::string boot_id;
            file.Owner(&pid, &start_time, &boot_id);
            owner = WriterIdOf(c, pid, start_time, boot_id, now);
          }
          if (ApplyKept(c, kept, owner, now)) ++slots;
          else ++dropped;
          ++rows;
        }
        rows += updates.size() + 1;
        PendingFlushRow done;
        done.region = file.name();
        done.generation = record.generation;
        done.recovered = 1;
        done.updated = now;
        Exec(c.mark_region_recovered.Bind(done));
        recovered.push_back(&file);
      }
      txn.Commit();
      AfterCommit(c);
      return true;
    });
    // After the commit: a recoverer killed before this finds the records
    // marked and only removes the files.
    for (RegionFile* file : recovered) file->Unlink();
    report.regions += static_cast<int64_t>(recovered.size());
    report.slots += slots;
    report.dropped_slots += dropped;
    report.problems.insert(report.problems.end(), problems.begin(), problems.end());
    next = end;
  }
  return report;
}

int64_t Store::DeleteOldPendingFlushRecords() {
  // The clock is read outside the store's lock (a test clock may wait).
  const double cutoff = Now() - kRecordGraceSeconds;
  std::vector<std::string> old = RunRead("cannot read flush records", [&](Connection& c) {
    std::vector<std::string> regions;
    PendingFlushRow row;
    row.updated = cutoff;
    c.select_old_pending_flushes.Bind(row);
    ResetOnExit reset{c.select_old_pending_flushes};
    while (c.select_old_pending_flushes.executeStep())
      regions.push_back(ReadPendingFlushRow(c.select_old_pending_flushes).region);
    return regions;
  });
  if (old.empty()) return 0;
  // Records whose region is gone: recovered ones, and those of writers that
  // ended normally but could not delete theirs or of files removed by
  // hand, once the grace has passed since their last change. A region
  // listed here after the select above still has its file: kept.
  std::vector<RegionFile> files = RegionFile::OpenAll(path_, nullptr);
  std::vector<std::string> gone;
  for (const std::string& region : old) {
    bool present = false;
    for (const RegionFile& file : files) present = present || file.name() == region;
    if (!present) gone.push_back(region);
  }
  if (gone.empty()) return 0;
  return RunPassBatch("cannot delete old flush records", [&](Connection& c) -> int64_t {
    Transaction txn(c, c.begin_write);
    for (const std::string& region : gone) {
      PendingFlushRow row;
      row.region = region;
      Exec(c.delete_pending_flush.Bind(row));
    }
    txn.Commit();
    AfterCommit(c);
    return static_cast<int64_t>(gone.size());
  });
}

}  // namespace promsqlite::detail
