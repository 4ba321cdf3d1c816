// Exposition formats and the streaming sink renderers write to.
#ifndef PROMSQLITE_EXPOSITION_H_
#define PROMSQLITE_EXPOSITION_H_

#include <functional>
#include <string_view>

namespace promsqlite {

enum class Format {
  kText,         // Prometheus text format 0.0.4, as client_golang writes it
  kOpenMetrics,  // OpenMetrics 1.0.0 text, ending in "# EOF"
};

// The HTTP Content-Type of a format, e.g.
// "text/plain; version=0.0.4; charset=utf-8".
const char* ContentType(Format format);

// Receives the exposition in chunks of at most a few tens of KiB, in order.
// Rendering never holds the whole exposition in memory.
using Sink = std::function<void(std::string_view chunk)>;

}  // namespace promsqlite

#endif  // PROMSQLITE_EXPOSITION_H_
