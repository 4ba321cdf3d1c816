#include "promsqlite/exposition.h"
#include "render/renderers.h"

namespace promsqlite {

const char* ContentType(Format format) {
  return format == Format::kOpenMetrics ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
                                        : "text/plain; version=0.0.4; charset=utf-8";
}

namespace detail {
namespace {

std::unique_ptr<SnapshotVisitor> MakeRenderer(Format format, const Sink& sink) {
  return format == Format::kOpenMetrics ? MakeOpenMetricsRenderer(sink) : MakeTextRenderer(sink);
}

}  // namespace

void RenderDatabase(SQLite::Database& db, const std::string& path, double now, Format format, const Sink& sink,
                    const std::vector<MemoryFamily>* extra) {
  auto renderer = MakeRenderer(format, sink);
  ReadSnapshot(db, path, now, *renderer);
  if (extra) VisitMemoryFamilies(*extra, *renderer);
  renderer->End();
}

void RenderMemory(Format format, const Sink& sink, const std::vector<MemoryFamily>* extra) {
  auto renderer = MakeRenderer(format, sink);
  if (extra) VisitMemoryFamilies(*extra, *renderer);
  renderer->End();
}

}  // namespace detail
}  // namespace promsqlite
