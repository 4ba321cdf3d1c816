// Remote-write 1.0: one snappy-compressed protobuf WriteRequest per call,
// built from one snapshot of the file rendered in the protobuf exposition
// (so native histograms keep their buckets).
#include <snappy.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <set>

#include "base/float_format.h"
#include "base/sample_suffix.h"
#include "metrics.pb.h"
#include "promsqlite/push.h"
#include "promsqlite/validate.h"
#include "promsqlite/version.h"
#include "push/http.h"
#include "remote_write.pb.h"

namespace promsqlite {
namespace {

namespace client = io::prometheus::client;

// Declared types by the family name the text exposition shows.
std::map<std::string, MetricType> DeclaredTypes(Reader& reader) {
  std::map<std::string, MetricType> types;
  for (const FamilySummary& family : reader.Families()) {
    std::string name = family.spec.name;
    name += detail::FamilyNameSuffix(family.spec.type);
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

// What to do about a refusal whose cause is known, from the receiver's own
// words (Prometheus 2.x's messages); "" when none is known.
std::string Hint(int status, const std::string& peer) {
  auto has = [&](const char* text) { return peer.find(text) != std::string::npos; };
  if (has("native histograms are disabled"))
    return "the receiver does not accept native histograms: start Prometheus with "
           "--enable-feature=native-histograms, or send them as classic buckets (without --send-native-histograms / send_native_histograms: "
           "the default)";
  if (has("remote write receiver needs to be enabled") || (status == 404 && peer.empty()))
    return "the receiver does not take remote-write: start Prometheus with --web.enable-remote-write-receiver "
           "(its URL is http://HOST:9090/api/v1/write)";
  if (has("out of order") || has("duplicate sample") || has("out of bounds") || has("too old"))
    return "the receiver already has newer or different samples of these series: give each sending host a "
           "label of its own (e.g. instance=HOST) so their series differ, and do not send older timestamps";
  return "";
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The MetricFamily messages of a protobuf exposition. Families larger than
// a render chunk come as several messages with the same name.
std::vector<client::MetricFamily> ParseDelimited(const std::string& data) {
  std::vector<client::MetricFamily> families;
  size_t pos = 0;
  while (pos < data.size()) {
    uint64_t length = 0;
    for (int shift = 0;; shift += 7) {
      if (pos >= data.size() || shift > 28) throw InvalidArgument("protobuf exposition: malformed length prefix");
      unsigned char byte = static_cast<unsigned char>(data[pos++]);
      length |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if (!(byte & 0x80)) break;
    }
    if (length > data.size() - pos ||
        !families.emplace_back().ParseFromArray(data.data() + pos, static_cast<int>(length)))
      throw InvalidArgument("protobuf exposition: malformed MetricFamily message");
    pos += length;
  }
  return families;
}

// The metadata type of a family of the protobuf exposition. It shows info
// and stateset families as gauges; remote-write 1.0 has their own types, so
// the file's declarations (by exposed name) decide where known.
prompb::MetricMetadata::MetricType MetadataType(const client::MetricFamily& family,
                                                const std::map<std::string, MetricType>& declared) {
  auto it = declared.find(family.name());
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
  switch (family.type()) {
    case client::COUNTER: return prompb::MetricMetadata::COUNTER;
    case client::GAUGE: return prompb::MetricMetadata::GAUGE;
    case client::SUMMARY: return prompb::MetricMetadata::SUMMARY;
    case client::HISTOGRAM: return prompb::MetricMetadata::HISTOGRAM;
    default: return prompb::MetricMetadata::UNKNOWN;
  }
}

class RequestBuilder {
 public:
  RequestBuilder(const RemoteWriteOptions& options, int64_t timestamp, std::map<std::string, MetricType> declared)
      : options_(options), timestamp_(timestamp), declared_(std::move(declared)) {}

  void Add(const client::MetricFamily& family) {
    if (metadata_names_.insert(family.name()).second) {
      prompb::MetricMetadata* metadata = write_.add_metadata();
      metadata->set_type(MetadataType(family, declared_));
      metadata->set_metric_family_name(family.name());
      metadata->set_help(family.help());
    }
    for (const client::Metric& metric : family.metric()) {
      const std::string& name = family.name();
      switch (family.type()) {
        case client::COUNTER:
          Sample(metric, name, metric.counter().value(), "",
                 metric.counter().has_exemplar() ? &metric.counter().exemplar() : nullptr);
          break;
        case client::GAUGE: Sample(metric, name, metric.gauge().value()); break;
        case client::SUMMARY:
          Sample(metric, name + detail::kSumSuffix, metric.summary().sample_sum());
          Sample(metric, name + detail::kCountSuffix, static_cast<double>(metric.summary().sample_count()));
          break;
        case client::HISTOGRAM: Histogram(metric, name); break;
        default: break;  // promsqlite writes no other type
      }
    }
  }

  const prompb::WriteRequest& request() const { return write_; }
  RemoteWriteResult result() const { return result_; }

 private:
  // A native histogram becomes one histogram sample on NAME; classic
  // buckets (alone, or beside a native histogram) NAME_bucket series with
  // NAME_sum and NAME_count, as Prometheus scrapes them.
  void Histogram(const client::Metric& metric, const std::string& name) {
    const client::Histogram& h = metric.histogram();
    // Without send_native_histograms a native histogram falls through to
    // its classic buckets, or to the +Inf bucket, _sum and _count alone.
    const bool native = h.has_schema() && options_.send_native_histograms;
    if (native) {
      prompb::Histogram* out = Series(metric, name)->add_histograms();
      out->set_count_int(h.sample_count());
      out->set_sum(h.sample_sum());
      out->set_schema(h.schema());
      out->set_zero_threshold(h.zero_threshold());
      out->set_zero_count_int(h.zero_count());
      for (const client::BucketSpan& span : h.negative_span()) {
        prompb::BucketSpan* s = out->add_negative_spans();
        s->set_offset(span.offset());
        s->set_length(span.length());
      }
      for (int64_t delta : h.negative_delta()) out->add_negative_deltas(delta);
      for (const client::BucketSpan& span : h.positive_span()) {
        prompb::BucketSpan* s = out->add_positive_spans();
        s->set_offset(span.offset());
        s->set_length(span.length());
      }
      for (int64_t delta : h.positive_delta()) out->add_positive_deltas(delta);
      out->set_timestamp(timestamp_);
      ++result_.histograms;
      if (h.bucket_size() == 0) return;  // native only
    }
    const client::Exemplar* inf_exemplar = nullptr;
    for (const client::Bucket& bucket : h.bucket()) {
      const client::Exemplar* exemplar = bucket.has_exemplar() ? &bucket.exemplar() : nullptr;
      if (std::isinf(bucket.upper_bound())) {  // only there to carry the +Inf bucket's exemplar
        inf_exemplar = exemplar;
        continue;
      }
      Sample(metric, name + detail::kBucketSuffix, static_cast<double>(bucket.cumulative_count()),
             detail::FormatGoFloat(bucket.upper_bound()), exemplar);
    }
    Sample(metric, name + detail::kBucketSuffix, static_cast<double>(h.sample_count()), "+Inf", inf_exemplar);
    Sample(metric, name + detail::kSumSuffix, h.sample_sum());
    Sample(metric, name + detail::kCountSuffix, static_cast<double>(h.sample_count()));
  }

  void Sample(const client::Metric& metric, const std::string& name, double value, const std::string& le = "",
              const client::Exemplar* exemplar = nullptr) {
    prompb::TimeSeries* series = Series(metric, name, le);
    prompb::Sample* s = series->add_samples();
    s->set_value(value);
    s->set_timestamp(timestamp_);
    ++result_.samples;
    if (!exemplar) return;
    prompb::Exemplar* e = series->add_exemplars();
    for (const client::LabelPair& pair : exemplar->label()) {
      prompb::Label* l = e->add_labels();
      l->set_name(pair.name());
      l->set_value(pair.value());
    }
    e->set_value(exemplar->value());
    // Its own time, not the send's: a receiver keeps one exemplar per time.
    e->set_timestamp(exemplar->has_timestamp()
                         ? exemplar->timestamp().seconds() * 1000 + exemplar->timestamp().nanos() / 1000000
                         : timestamp_);
    ++result_.exemplars;
  }

  prompb::TimeSeries* Series(const client::Metric& metric, const std::string& name, const std::string& le = "") {
    // Extra labels override the file's; the map also sorts by name, as
    // receivers require ("__name__" sorts before any label name).
    std::map<std::string, std::string> labels;
    for (const client::LabelPair& pair : metric.label()) labels[pair.name()] = pair.value();
    if (!le.empty()) labels["le"] = le;
    for (const auto& [label, value] : options_.extra_labels) labels[label] = value;
    labels["__name__"] = name;
    prompb::TimeSeries* series = write_.add_timeseries();
    for (const auto& [label, value] : labels) {
      if (value.empty()) continue;  // an empty label is no label in Prometheus
      prompb::Label* l = series->add_labels();
      l->set_name(label);
      l->set_value(value);
    }
    return series;
  }

  const RemoteWriteOptions& options_;
  const int64_t timestamp_;
  const std::map<std::string, MetricType> declared_;
  prompb::WriteRequest write_;
  std::set<std::string> metadata_names_;
  RemoteWriteResult result_;
};

}  // namespace

RemoteWriteResult RemoteWrite(Reader& reader, const RemoteWriteOptions& options) {
  detail::CheckHttpOptions(options);
  CheckExtraLabels(options.extra_labels);
  // Read before the render: a family declared in between falls back to
  // the type the exposition shows (gauge for info and stateset).
  RequestBuilder builder(options, options.timestamp_ms != 0 ? options.timestamp_ms : NowMs(), DeclaredTypes(reader));
  for (const client::MetricFamily& family : ParseDelimited(reader.Render(Format::kProtobuf))) builder.Add(family);

  detail::HttpRequest request;
  request.method = "POST";
  request.path = detail::ParseEndpoint(options.url).path;
  if (request.path.empty()) request.path = "/";
  request.content_type = "application/x-protobuf";
  request.headers = {{"Content-Encoding", "snappy"},
                     {"X-Prometheus-Remote-Write-Version", "0.1.0"},
                     {"User-Agent", std::string("promsqlite/") + Version()}};
  const std::string serialized = builder.request().SerializeAsString();
  snappy::Compress(serialized.data(), serialized.size(), &request.body);
  try {
    detail::SendWithRetries(options, request, "remote-write to");
  } catch (const PushError& e) {
    std::string hint = Hint(e.status(), e.peer_message());
    if (hint.empty()) throw;
    throw PushError(std::string(e.what()) + " (" + hint + ")", e.status(), e.peer_message());
  }
  return builder.result();
}

}  // namespace promsqlite
