// Exposition from end to end, for Registry::Render and Reader::Render: a
// snapshot read by read/ into a renderer of render/.
#ifndef PROMSQLITE_SRC_API_RENDER_SNAPSHOT_H_
#define PROMSQLITE_SRC_API_RENDER_SNAPSHOT_H_

#include <string>
#include <vector>

#include "promsqlite/exposition.h"
#include "promsqlite/unreadable_row.h"

namespace SQLite {
class Database;
}

namespace promsqlite::detail {

class RegionCache;

// Renders one snapshot of `db` as of `now` (for TTLs) in `format`, then
// `extra` (may be null). `regions`: the caller's RegionCache (may be null).
// `skipped`: as for ReadSnapshot (null: fail on an unreadable row).
void RenderDatabase(SQLite::Database& db, const std::string& path, double now, Format format, const Sink& sink,
                    const std::vector<MemoryFamily>* extra, RegionCache* regions = nullptr,
                    SkippedRows* skipped = nullptr);

// Renders only `extra` (may be null), e.g. for a file that does not exist
// yet: nothing but "# EOF" in OpenMetrics.
void RenderMemory(Format format, const Sink& sink, const std::vector<MemoryFamily>* extra);

}  // namespace promsqlite::detail

#endif  // PROMSQLITE_SRC_API_RENDER_SNAPSHOT_H_
