#include "promsqlite/registry.h"

#include <algorithm>

#include "declare/validate.h"
#include "promsqlite/errors.h"
#include "render/renderers.h"
#include "store/tuple_codec.h"
#include "store/store.h"

namespace promsqlite {

Registry::Registry(const std::string& path, const Options& options)
    : store_(std::make_shared<detail::Store>(path, options)) {}

const std::string& Registry::path() const { return store_->path(); }

std::optional<FamilySpec> Registry::Find(const std::string& name) const {
  auto found = store_->FindFamily(name);
  if (!found) return std::nullopt;
  return found->second;
}

bool Registry::RemoveSeries(const std::string& name, const Labels& labels) {
  auto found = store_->FindFamily(name);
  if (!found) return false;
  const FamilySpec& spec = found->second;
  // Labels and the stored names are both sorted by name.
  bool same = labels.size() == spec.label_names.size() &&
              std::equal(spec.label_names.begin(), spec.label_names.end(), labels.begin(),
                         [](const std::string& n, const auto& label) { return n == label.first; });
  if (!same) detail::ValidateLabelNames(spec.name, spec.label_names, labels);
  std::string key;
  for (const auto& label : labels) detail::AppendTupleElement(key, label.second);
  return store_->RemoveSeries(found->first, key);
}

bool Registry::RemoveFamily(const std::string& name) {
  auto found = store_->FindFamily(name);
  return found && store_->RemoveFamily(found->first);
}

void Registry::Render(Format format, const Sink& sink) const {
  store_->WithConnection(
      [&](SQLite::Database& db) { detail::RenderDatabase(db, store_->path(), format, sink, nullptr); });
}

std::string Registry::Render(Format format) const {
  std::string out;
  Render(format, [&](std::string_view chunk) { out.append(chunk); });
  return out;
}

}  // namespace promsqlite
