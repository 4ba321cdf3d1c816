// One renderer per format, each a SnapshotVisitor writing to a Sink.
#ifndef PROMSQLITE_SRC_RENDER_RENDERERS_H_
#define PROMSQLITE_SRC_RENDER_RENDERERS_H_

#include <memory>

#include "model/records.h"
#include "promsqlite/exposition.h"

namespace promsqlite::detail {

std::unique_ptr<SnapshotVisitor> MakeTextRenderer(const Sink& sink);
std::unique_ptr<SnapshotVisitor> MakeOpenMetricsRenderer(const Sink& sink);
std::unique_ptr<SnapshotVisitor> MakeProtobufRenderer(const Sink& sink);

// The renderer of `format`.
std::unique_ptr<SnapshotVisitor> MakeRenderer(Format format, const Sink& sink);

}  // namespace promsqlite::detail

#endif  // PROMSQLITE_SRC_RENDER_RENDERERS_H_
