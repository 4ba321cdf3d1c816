// A format's renderer, as the table of formats (formats.cc) names it.
#include "render/formats.h"
#include "render/renderers.h"

namespace promsqlite::detail {

std::unique_ptr<SnapshotVisitor> MakeRenderer(Format format, const Sink& sink) {
  return EntryOf(format).make_renderer(sink);
}

}  // namespace promsqlite::detail
