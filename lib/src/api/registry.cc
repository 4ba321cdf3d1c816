#include "promsqlite/registry.h"

#include "api/render_snapshot.h"
#include "base/tuple_codec.h"
#include "declare/validate.h"
#include "promsqlite/errors.h"
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
