// Exposition formats and the streaming sink renderers write to.
#ifndef PROMSQLITE_EXPOSITION_H_
#define PROMSQLITE_EXPOSITION_H_

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "promsqlite/family.h"

namespace promsqlite {

enum class Format {
  kText,         // Prometheus text format 0.0.4, as client_golang writes it
  kOpenMetrics,  // OpenMetrics 1.0.0 text, ending in "# EOF"
  // Length-delimited io.prometheus.client.MetricFamily messages (client_model's
  // metrics.proto), the only format with native histograms. Binary: use the
  // Sink or Render's std::string, never a C string. A family larger than about
  // 32 KiB is sent as several consecutive messages with the same name, help
  // and type, so rendering never holds a whole family in memory.
  kProtobuf,
};

// The HTTP Content-Type of a format, e.g.
// "text/plain; version=0.0.4; charset=utf-8", or for kProtobuf
// "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited".
const char* ContentType(Format format);

// Receives the exposition in chunks of at most a few tens of KiB, in order.
// Rendering never holds the whole exposition in memory.
using Sink = std::function<void(std::string_view chunk)>;

// A counter or gauge family held in memory instead of in a file, such as a
// server's own metrics, rendered after the file's families by the same
// renderer. Label values are given in the order of spec.label_names.
struct MemoryFamily {
  FamilySpec spec;  // type kCounter or kGauge; name as it would be declared
  struct Sample {
    std::vector<std::string> label_values;
    double value = 0;
    double created = 0;  // Unix seconds of a counter's creation; 0: unknown
  };
  std::vector<Sample> samples;
};

}  // namespace promsqlite

#endif  // PROMSQLITE_EXPOSITION_H_
