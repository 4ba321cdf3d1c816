#include "read/pending_overlay.h"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include <unordered_map>

#include "promsqlite/errors.h"
#include "store/pending_record.h"
#include "store/sql.h"
#include "store/sql_rows.h"

namespace promsqlite::detail {

uint32_t RegionCache::KeyId(RegionFile::SlotKey&& slot) {
  std::string joined;
  joined.reserve(slot.family.size() + 1 + slot.labels.size());
  joined.append(slot.family).push_back('\0');
  joined.append(slot.labels);
  auto [found, made] = key_ids_.try_emplace(std::move(joined), static_cast<uint32_t>(keys_.size()));
  if (made) keys_.push_back(Key{std::move(slot.family), std::move(slot.labels), slot.kind});
  return found->second;
}

const std::vector<const RegionCache::Indexed*>& RegionCache::Refresh(const std::string& path) {
  if (path != path_) {
    files_.clear();
    key_ids_.clear();
    keys_.clear();
    path_ = path;
  }
  std::vector<RegionFile::Listed> listed = RegionFile::List(path, nullptr);
  // Keys of series no listed region holds any more: start afresh.
  size_t slots = 0;
  for (const auto& [name, indexed] : files_) slots += indexed.slots.size() + indexed.records.size();
  if (keys_.size() > 2 * slots + 1024) {
    files_.clear();
    key_ids_.clear();
    keys_.clear();
  }
  std::map<std::string, Indexed> kept;
  for (RegionFile::Listed& name : listed) {
    Indexed indexed;
    auto found = files_.find(name.name);
    if (found != files_.end() && found->second.file->inode() == name.inode) {
      indexed = std::move(found->second);
      if (!indexed.file->MapsEverySlot()) {  // mapped anew, its index kept
        std::optional<RegionFile> opened = RegionFile::Open(path, name.name, nullptr);
        if (!opened) continue;
        indexed.file = std::make_shared<const RegionFile>(std::move(*opened));
      }
    } else if (std::optional<RegionFile> opened = RegionFile::Open(path, name.name, nullptr)) {
      indexed.file = std::make_shared<const RegionFile>(std::move(*opened));
    } else {
      continue;  // gone, or not this process's to read (another user's, 0600)
    }
    if (!indexed.malformed) {
      std::vector<RegionFile::SlotKey> keys;
      std::string error;
      // A region that cannot be read is left out, not the scrape failed.
      indexed.malformed = !indexed.file->Keys(indexed.end, &keys, &indexed.end, &error);
      for (RegionFile::SlotKey& key : keys) {
        const bool record = key.record;
        const uint64_t offset = key.offset;
        (record ? indexed.records : indexed.slots).emplace_back(offset, KeyId(std::move(key)));
      }
    }
    kept.emplace(std::move(name.name), std::move(indexed));
  }
  files_ = std::move(kept);  // closes the files no longer listed
  listed_.clear();
  for (const auto& [name, indexed] : files_)
    if (!indexed.malformed) listed_.push_back(&indexed);
  return listed_;
}

SQLite::Statement* RegionCache::FlushRecords(SQLite::Database& db, int schema_version) {
  if (records_ == nullptr || records_db_ != &db || records_version_ != schema_version) {
    records_.reset();
    const char* select = sql::SelectPendingFlushes(schema_version);
    if (select == nullptr) return nullptr;
    records_ = std::make_unique<SQLite::Statement>(db, select);
    records_db_ = &db;
    records_version_ = schema_version;
  }
  return records_.get();
}

PendingOverlay::PendingOverlay(const std::string& path, RegionCache* cache) : path_(path) {
  if (cache == nullptr) {
    own_cache_ = std::make_unique<RegionCache>();
    cache = own_cache_.get();
  }
  cache_ = cache;
  files_ = &cache->Refresh(path);
}

bool PendingOverlay::Load(SQLite::Database& db, int schema_version) {
  families_.clear();
  if (files_->empty()) return true;
  std::unordered_map<std::string, PendingFlushRow> records;
  if (SQLite::Statement* query = cache_->FlushRecords(db, schema_version)) {
    query->reset();
    while (query->executeStep()) {
      PendingFlushRow row = ReadPendingFlushRow(*query);
      records[row.region] = row;
    }
    query->reset();
  }
  // Every series' updates, by key: merged in place, then sorted into
  // families once.
  std::vector<Entry> merged(cache_->key_count());
  std::vector<uint8_t> seen(cache_->key_count(), 0);
  std::vector<uint32_t> touched;
  PendingSlotView view;
  // The series' entry, made on its first pending update; null for a slot
  // of another kind than the first (a family declared anew: its readers
  // check the kind).
  auto entry_for = [&](uint32_t id, size_t buckets) -> Entry* {
    const PendingKind kind = cache_->key(id).kind;
    Entry& entry = merged[id];
    if (!seen[id]) {
      seen[id] = 1;
      touched.push_back(id);
      entry.kind = kind;
      entry.cell.buckets.assign(buckets, 0);
    } else if (entry.kind != kind) {
      return nullptr;
    }
    return &entry;
  };
  // Every region is read even when one moved: the last attempt's reader
  // reads on with what it has.
  bool consistent = true;
  for (const RegionCache::Indexed* indexed : *files_) {
    const RegionFile& file = *indexed->file;
    PendingFlushRow record;
    if (auto found = records.find(file.name()); found != records.end()) record = found->second;
    if (record.recovered != 0) continue;  // applied by a recoverer, in this snapshot
    // A commit of the region after the snapshot was taken: its staged cells
    // may be cleared already, and the snapshot lacks them.
    const uint64_t generation = static_cast<uint64_t>(record.generation);
    if (file.Committed() > generation) consistent = false;
    for (const auto& [offset, id] : indexed->slots) {
      file.Cells(offset, &view);
      // What view.Unflushed(generation) gives, merged without copying it.
      const bool staged = view.staged_generation > generation && !view.staged.empty();
      if (!staged && view.live.empty()) continue;  // nothing pending
      Entry* entry = entry_for(id, view.live.buckets.size());
      if (entry == nullptr) continue;
      if (staged) entry->cell.Merge(view.staged);
      entry->cell.Merge(view.live);
    }
    // Updates kept for the write lock, after the slot's (a series with
    // both has only exemplars in its records): counted as staged cells are.
    BatchUpdate kept;
    for (const auto& [offset, id] : indexed->records) {
      file.Record(offset, &view);
      if (!view.RecordUnflushed(generation) || !DecodeKeptUpdate(view.record, &kept)) continue;
      PendingCell cell;
      cell.has_set = kept.kind == BatchUpdate::kSet;
      cell.value = kept.value;
      cell.count = kept.count;
      cell.buckets = kept.bucket_deltas;
      if (cell.empty()) continue;  // an exemplar alone
      if (Entry* entry = entry_for(id, cell.buckets.size())) entry->cell.Merge(cell);
    }
    if (file.Committed() > generation) consistent = false;
  }
  for (uint32_t id : touched) {
    const RegionCache::Key& key = cache_->key(id);
    families_[key.family].emplace(key.labels, std::move(merged[id]));
  }
  return consistent;
}

const PendingOverlay::Series* PendingOverlay::Family(const std::string& name) const {
  auto found = families_.find(name);
  return found == families_.end() ? nullptr : &found->second;
}

}  // namespace promsqlite::detail
