// One renderer per format, each a SnapshotVisitor writing to a Sink.
#ifndef PROMSQLITE_SRC_RENDER_RENDERERS_H_
#define PROMSQLITE_SRC_RENDER_RENDERERS_H_

#include <memory>
#include <string>

#include "promsqlite/exposition.h"
#include "read/snapshot.h"

namespace SQLite {
class Database;
}

namespace promsqlite::detail {

std::unique_ptr<SnapshotVisitor> MakeTextRenderer(const Sink& sink);
std::unique_ptr<SnapshotVisitor> MakeOpenMetricsRenderer(const Sink& sink);

// Renders one snapshot of `db` in `format`.
void RenderDatabase(SQLite::Database& db, const std::string& path, Format format, const Sink& sink);

// Renders a file that does not exist yet: empty in text, "# EOF" in OpenMetrics.
void RenderEmpty(Format format, const Sink& sink);

}  // namespace promsqlite::detail

#endif  // PROMSQLITE_SRC_RENDER_RENDERERS_H_
