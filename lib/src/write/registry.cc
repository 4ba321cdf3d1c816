#include "promsqlite/registry.h"

#include "render/renderers.h"
#include "store/store.h"

namespace promsqlite {

Registry::Registry(const std::string& path, const Options& options)
    : store_(std::make_shared<detail::Store>(path, options)) {}

const std::string& Registry::path() const { return store_->path(); }

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
