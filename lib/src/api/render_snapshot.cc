#include "api/render_snapshot.h"

#include "read/snapshot.h"
#include "render/renderers.h"

namespace promsqlite::detail {

void RenderDatabase(SQLite::Database& db, const std::string& path, double now, Format format, const Sink& sink,
                    const std::vector<MemoryFamily>* extra, RegionCache* regions,
                    SkippedRows* skipped) {
  auto renderer = MakeRenderer(format, sink);
  ReadSnapshot(db, path, now, *renderer, nullptr, regions, skipped);
  if (extra) VisitMemoryFamilies(*extra, *renderer);
  renderer->End();
}

void RenderMemory(Format format, const Sink& sink, const std::vector<MemoryFamily>* extra) {
  auto renderer = MakeRenderer(format, sink);
  if (extra) VisitMemoryFamilies(*extra, *renderer);
  renderer->End();
}

}  // namespace promsqlite::detail
