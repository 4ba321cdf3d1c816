// Remote-write 1.0: one snappy-compressed protobuf WriteRequest per call.
#include <snappy.h>

#include <algorithm>
#include <chrono>
#include <map>

#include "promsqlite/push.h"
#include "promsqlite/validate.h"
#include "promsqlite/version.h"
#include "push/exposition_parser.h"
#include "push/http.h"
#include "remote_write.pb.h"

namespace promsqlite {
namespace {

// The metadata type of a family of the text exposition. Text 0.0.4 shows
// info and stateset families as gauges; remote-write 1.0 has their own
// types, so the file's declarations (by exposed name) decide where known.
prompb::MetricMetadata::MetricType MetadataType(const detail::ParsedFamily& family,
                                                const std::map<std::string, MetricType>& declared) {
  auto it = declared.find(family.name);
  if (it != declared.end()) {
    switch (it->second) {
      case MetricType::kCounter: return prompb::MetricMetadata::COUNTER;
      case MetricType::kGauge: return prompb::MetricMetadata::GAUGE;
      case MetricType::kHistogram: return prompb::MetricMetadata::HISTOGRAM;
      case MetricType::kSummary: return prompb::MetricMetadata::SUMMARY;
      case MetricType::kInfo: return prompb::MetricMetadata::INFO;
      case MetricType::kStateSet: return prompb::MetricMetadata::STATESET;
    }
  }
  if (family.type == "counter") return prompb::MetricMetadata::COUNTER;
  if (family.type == "gauge") return prompb::MetricMetadata::GAUGE;
  if (family.type == "histogram") return prompb::MetricMetadata::HISTOGRAM;
  if (family.type == "summary") return prompb::MetricMetadata::SUMMARY;
  return prompb::MetricMetadata::UNKNOWN;
}

// Declared types by the family name the text exposition shows.
std::map<std::string, MetricType> DeclaredTypes(Reader& reader) {
  std::map<std::string, MetricType> types;
  for (const FamilySummary& family : reader.Families()) {
    std::string name = family.spec.name;
    if (family.spec.type == MetricType::kCounter) name += "_total";
    if (family.spec.type == MetricType::kInfo) name += "_info";
    types[name] = family.spec.type;
  }
  return types;
}

void CheckExtraLabels(const std::vector<std::pair<std::string, std::string>>& labels) {
  FamilySpec probe;  // the data model's label-name rule, through a probe spec
  probe.name = "remote_write_label";
  for (const auto& label : labels) {
    probe.label_names = {label.first};
    try {
      CheckFamilySpec(probe);
    } catch (const InvalidArgument&) {
      throw InvalidArgument("remote-write label \"" + label.first + "\" is not a valid label name");
    }
  }
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void RemoteWrite(Reader& reader, const RemoteWriteOptions& options) {
  detail::CheckHttpOptions(options);
  CheckExtraLabels(options.extra_labels);
  const int64_t timestamp = options.timestamp_ms != 0 ? options.timestamp_ms : NowMs();

  prompb::WriteRequest write;
  // Read before the render: a family declared in between falls back to
  // the type the text shows (gauge for info and stateset).
  const std::map<std::string, MetricType> declared = DeclaredTypes(reader);
  for (const detail::ParsedFamily& family : detail::ParseTextExposition(reader.Render(Format::kText))) {
    prompb::MetricMetadata* metadata = write.add_metadata();
    metadata->set_type(MetadataType(family, declared));
    metadata->set_metric_family_name(family.name);
    metadata->set_help(family.help);
    for (const detail::ParsedSample& sample : family.samples) {
      // Extra labels override the file's; the map also sorts by name, as
      // receivers require ("__name__" sorts before any label name).
      std::map<std::string, std::string> labels(sample.labels.begin(), sample.labels.end());
      for (const auto& [name, value] : options.extra_labels) labels[name] = value;
      labels["__name__"] = sample.name;
      prompb::TimeSeries* series = write.add_timeseries();
      for (const auto& [name, value] : labels) {
        if (value.empty()) continue;  // an empty label is no label in Prometheus
        prompb::Label* label = series->add_labels();
        label->set_name(name);
        label->set_value(value);
      }
      prompb::Sample* s = series->add_samples();
      s->set_value(sample.value);
      s->set_timestamp(timestamp);
    }
  }

  detail::HttpRequest request;
  request.method = "POST";
  request.path = detail::ParseEndpoint(options.url).path;
  if (request.path.empty()) request.path = "/";
  request.content_type = "application/x-protobuf";
  request.headers = {{"Content-Encoding", "snappy"},
                     {"X-Prometheus-Remote-Write-Version", "0.1.0"},
                     {"User-Agent", std::string("promsqlite/") + Version()}};
  const std::string serialized = write.SerializeAsString();
  snappy::Compress(serialized.data(), serialized.size(), &request.body);
  detail::SendWithRetries(options, request, "remote-write to");
}

}  // namespace promsqlite
