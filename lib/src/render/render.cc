#include "promsqlite/exposition.h"
#include "render/renderers.h"

namespace promsqlite {

const char* ContentType(Format format) {
  switch (format) {
    case Format::kOpenMetrics: return "application/openmetrics-text; version=1.0.0; charset=utf-8";
    case Format::kProtobuf:
      return "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";
    case Format::kText: break;
  }
  return "text/plain; version=0.0.4; charset=utf-8";
}

namespace detail {

std::unique_ptr<SnapshotVisitor> MakeRenderer(Format format, const Sink& sink) {
  switch (format) {
    case Format::kOpenMetrics: return MakeOpenMetricsRenderer(sink);
    case Format::kProtobuf: return MakeProtobufRenderer(sink);
    case Format::kText: break;
  }
  return MakeTextRenderer(sink);
}

}  // namespace detail
}  // namespace promsqlite
