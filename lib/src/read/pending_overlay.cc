#include "read/pending_overlay.h"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <unordered_map>

#include "promsqlite/errors.h"
#include "store/sql.h"
#include "store/sql_rows.h"

namespace promsqlite::detail {

PendingOverlay::PendingOverlay(const std::string& path) : path_(path) {
  // Regions this process cannot open (another user's, 0600) are left out:
  // readers see what they may read.
  files_ = RegionFile::OpenAll(path, nullptr);
}

bool PendingOverlay::Load(SQLite::Database& db, int schema_version) {
  families_.clear();
  if (files_.empty()) return true;
  std::unordered_map<std::string, PendingFlushRow> records;
  if (const char* select = sql::SelectPendingFlushes(schema_version)) {
    SQLite::Statement query(db, select);
    while (query.executeStep()) {
      PendingFlushRow row = ReadPendingFlushRow(query);
      records[row.region] = row;
    }
  }
  std::vector<PendingSlotView> slots;
  // Every region is read even when one moved: the last attempt's reader
  // reads on with what it has.
  bool consistent = true;
  for (const RegionFile& file : files_) {
    PendingFlushRow record;
    if (auto found = records.find(file.name()); found != records.end()) record = found->second;
    if (record.recovered != 0) continue;  // applied by a recoverer, in this snapshot
    // A commit of the region after the snapshot was taken: its staged cells
    // may be cleared already, and the snapshot lacks them.
    const uint64_t generation = static_cast<uint64_t>(record.generation);
    if (file.Committed() > generation) consistent = false;
    std::string error;
    // A region that cannot be read is left out, not the scrape failed.
    if (!file.Read(&slots, &error)) continue;
    if (file.Committed() > generation) consistent = false;
    for (const PendingSlotView& slot : slots) {
      PendingCell cell = slot.Unflushed(generation);
      if (cell.empty()) continue;
      auto [entry, made] = families_[slot.family].try_emplace(slot.labels);
      if (made) entry->second.kind = slot.kind;
      else if (entry->second.kind != slot.kind) continue;  // a family declared anew: its readers check the kind
      entry->second.cell.Merge(cell);
    }
  }
  return consistent;
}

const PendingOverlay::Series* PendingOverlay::Family(const std::string& name) const {
  auto found = families_.find(name);
  return found == families_.end() ? nullptr : &found->second;
}

}  // namespace promsqlite::detail
