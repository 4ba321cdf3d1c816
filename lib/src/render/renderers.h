// One renderer per format, each a SnapshotVisitor writing to a Sink.
#ifndef PROMSQLITE_SRC_RENDER_RENDERERS_H_
#define PROMSQLITE_SRC_RENDER_RENDERERS_H_

#include <memory>
#include <string>

#include "model/records.h"
#include "promsqlite/exposition.h"

namespace SQLite {
class Database;
}

namespace promsqlite::detail {

std::unique_ptr<SnapshotVisitor> MakeTextRenderer(const Sink& sink);
std::unique_ptr<SnapshotVisitor> MakeOpenMetricsRenderer(const Sink& sink);
std::unique_ptr<SnapshotVisitor> MakeProtobufRenderer(const Sink& sink);

// Renders one snapshot of `db` as of `now` (for TTLs) in `format`, then
// `extra` (may be null).
void RenderDatabase(SQLite::Database& db, const std::string& path, double now, Format format, const Sink& sink,
                    const std::vector<MemoryFamily>* extra);

// Renders only `extra` (may be null), e.g. for a file that does not exist
// yet: nothing but "# EOF" in OpenMetrics.
void RenderMemory(Format format, const Sink& sink, const std::vector<MemoryFamily>* extra);

}  // namespace promsqlite::detail

#endif  // PROMSQLITE_SRC_RENDER_RENDERERS_H_
