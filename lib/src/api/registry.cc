#include "promsqlite/registry.h"

#include "api/render_snapshot.h"
#include "base/tuple_codec.h"
#include "declare/validate.h"
#include "promsqlite/errors.h"
#include "read/row_checks.h"
#include "store/repair.h"
#include "write/writer.h"

namespace promsqlite {

Registry::Registry(const std::string& path, const Options& options)
    : writer_(std::make_shared<detail::Writer>(path, options)) {}

const std::string& Registry::path() const { return writer_->store().path(); }

std::optional<FamilySpec> Registry::Find(const std::string& name) const {
  auto found = writer_->store().FindFamily(name);
  if (!found) return std::nullopt;
  return found->second;
}

bool Registry::RemoveSeries(const std::string& name, const Labels& labels) {
  auto found = writer_->store().FindFamily(name);
  if (!found) return false;
  const FamilySpec& spec = found->second;
  detail::RequireLabelNames(spec.name, spec.label_names, spec.label_names, labels);  // stored sorted
  std::string key;
  for (const auto& label : labels) detail::AppendTupleElement(key, label.second);
  return writer_->RemoveWithPending(spec.name, &key, [&] { return writer_->store().RemoveSeries(found->first, key); });
}

bool Registry::RemoveFamily(const std::string& name) {
  auto found = writer_->store().FindFamily(name);
  return found && writer_->RemoveWithPending(found->second.name, nullptr,
                                             [&] { return writer_->store().RemoveFamily(found->first); });
}

void Registry::Flush() { writer_->Flush(); }

Registry::Waiting Registry::WaitingForLock() const {
  const detail::Writer::Waiting waiting = writer_->WaitingForLock();
  return Waiting{waiting.updates, waiting.since};
}

bool Registry::ClearFamily(const std::string& name) {
  auto found = writer_->store().FindFamily(name);
  if (found)
    writer_->RemoveWithPending(found->second.name, nullptr, [&] {
      writer_->store().ClearFamily(found->first);
      return true;
    });
  return found.has_value();
}

void Registry::Wipe() {
  writer_->RemoveWithPending("", nullptr, [&] {
    writer_->store().Wipe();
    return true;
  });
}

HousekeepingReport Registry::Housekeep() { return writer_->store().Housekeep(); }

std::vector<UnreadableRow> Registry::DeleteUnreadableRows(
    const std::function<void(const std::vector<UnreadableRow>& rows)>& before_delete) {
  std::vector<UnreadableRow> rows;
  detail::Store& store = writer_->store();
  store.WriteTransaction("cannot delete unreadable rows", [&](SQLite::Database& db) {
    // Found again inside the transaction: what is deleted is what is found.
    std::vector<detail::FoundRow> found = detail::FindUnreadableRows(db, store.path());
    rows.clear();
    std::vector<detail::RowRef> refs;
    for (detail::FoundRow& f : found) {
      rows.push_back(std::move(f.row));
      refs.push_back(std::move(f.ref));
    }
    if (rows.empty()) return;
    if (before_delete) before_delete(rows);
    detail::DeleteRows(db, refs);
  });
  return rows;
}

void Registry::Render(Format format, const Sink& sink) const {
  writer_->store().WithConnection(
      [&](SQLite::Database& db) {
        detail::RenderDatabase(db, writer_->store().path(), writer_->store().Now(), format, sink, nullptr);
      });
}

std::string Registry::Render(Format format) const {
  std::string out;
  Render(format, [&](std::string_view chunk) { out.append(chunk); });
  return out;
}

}  // namespace promsqlite
