// Remote-write 1.0: one snappy-compressed protobuf WriteRequest per call,
// built from one snapshot of the file (Reader::Snapshot: one read
// transaction, the declarations and values together), series by series as
// the text format names them; native histograms from the snapshot's buckets.
#include <snappy.h>

#include <chrono>
#include <cmath>
#include <map>
#include <optional>

#include "base/clock.h"
#include "base/float_format.h"
#include "base/native_spans.h"
#include "base/sample_suffix.h"
#include "promsqlite/push.h"
#include "promsqlite/validate.h"
#include "promsqlite/version.h"
#include "push/http.h"
#include "remote_write.pb.h"

namespace promsqlite {
namespace {

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

prompb::MetricMetadata::MetricType MetadataType(MetricType type) {
  switch (type) {
    case MetricType::kCounter: return prompb::MetricMetadata::COUNTER;
    case MetricType::kGauge: return prompb::MetricMetadata::GAUGE;
    case MetricType::kHistogram: return prompb::MetricMetadata::HISTOGRAM;
    case MetricType::kSummary: return prompb::MetricMetadata::SUMMARY;
    case MetricType::kInfo: return prompb::MetricMetadata::INFO;
    case MetricType::kStateSet: return prompb::MetricMetadata::STATESET;
  }
  return prompb::MetricMetadata::UNKNOWN;
}

// An exemplar's own time in milliseconds, rounded as the protobuf
// exposition's Timestamp is (whole seconds, then nanoseconds).
int64_t ExemplarMs(double timestamp) {
  const detail::SecondsAndNanos time = detail::SplitSeconds(timestamp);
  return time.seconds * 1000 + time.nanos / 1000000;
}

class RequestBuilder {
 public:
  RequestBuilder(const RemoteWriteOptions& options, int64_t timestamp) : options_(options), timestamp_(timestamp) {}

  void Add(const FamilySnapshot& family) {
    const FamilySpec& spec = family.spec;
    const std::string name = spec.name + std::string(detail::FamilyNameSuffix(spec.type));
    prompb::MetricMetadata* metadata = write_.add_metadata();
    metadata->set_type(MetadataType(spec.type));
    metadata->set_metric_family_name(name);
    metadata->set_help(spec.help);
    for (const SeriesSnapshot& series : family.series) {
      labels_.clear();
      for (size_t i = 0; i < spec.label_names.size() && i < series.label_values.size(); ++i)
        labels_[spec.label_names[i]] = series.label_values[i];
      switch (spec.type) {
        case MetricType::kCounter: Sample(name, series.value, Exemplar(series, 0)); break;
        case MetricType::kGauge: Sample(name, series.value); break;
        case MetricType::kInfo: Sample(name, 1); break;
        case MetricType::kStateSet:
          for (size_t i = 0; i < spec.states.size(); ++i) {
            labels_[spec.name] = spec.states[i];
            Sample(name, static_cast<double>(i) == series.value ? 1 : 0);
          }
          break;
        case MetricType::kSummary:
          Sample(name + detail::kSumSuffix, series.value);
          Sample(name + detail::kCountSuffix, static_cast<double>(series.count));
          break;
        case MetricType::kHistogram: Histogram(spec, name, series); break;
      }
    }
  }

  const prompb::WriteRequest& request() const { return write_; }
  RemoteWriteResult result() const { return result_; }

 private:
  static const ExemplarSnapshot* Exemplar(const SeriesSnapshot& series, size_t bucket) {
    for (const ExemplarSnapshot& e : series.exemplars)
      if (e.bucket == bucket) return &e;
    return nullptr;
  }

  // With send_native_histograms, a native histogram becomes one histogram
  // sample on NAME. Classic buckets (alone, beside a native histogram, or
  // standing in for it) become NAME_bucket series with NAME_sum and
  // NAME_count, as Prometheus scrapes them; a native-only histogram sent
  // classic has only its +Inf bucket there.
  void Histogram(const FamilySpec& spec, const std::string& name, const SeriesSnapshot& series) {
    if (series.native && options_.send_native_histograms) {
      const NativeHistogramSnapshot& native = *series.native;
      prompb::Histogram* out = Series(name)->add_histograms();
      out->set_count_int(static_cast<uint64_t>(series.count));
      out->set_sum(series.value);
      out->set_schema(native.schema);
      out->set_zero_threshold(native.zero_threshold);
      out->set_zero_count_int(static_cast<uint64_t>(native.zero_count));
      for (auto [buckets, add_span, add_delta] :
           {std::make_tuple(&native.negative, &prompb::Histogram::add_negative_spans,
                            &prompb::Histogram::add_negative_deltas),
            std::make_tuple(&native.positive, &prompb::Histogram::add_positive_spans,
                            &prompb::Histogram::add_positive_deltas)}) {
        detail::SpansAndDeltas(*buckets, &spans_, &deltas_);
        for (const detail::BucketSpan& span : spans_) {
          prompb::BucketSpan* s = (out->*add_span)();
          s->set_offset(span.offset);
          s->set_length(span.length);
        }
        for (int64_t delta : deltas_) (out->*add_delta)(delta);
      }
      out->set_timestamp(timestamp_);
      ++result_.histograms;
      if (spec.buckets.empty()) return;  // native only
    }
    for (size_t i = 0; i < spec.buckets.size(); ++i) {
      labels_["le"] = detail::FormatGoFloat(spec.buckets[i]);
      Sample(name + detail::kBucketSuffix, static_cast<double>(series.bucket_counts[i]), Exemplar(series, i));
    }
    labels_["le"] = "+Inf";
    Sample(name + detail::kBucketSuffix, static_cast<double>(series.count), Exemplar(series, spec.buckets.size()));
    labels_.erase("le");
    Sample(name + detail::kSumSuffix, series.value);
    Sample(name + detail::kCountSuffix, static_cast<double>(series.count));
  }

  void Sample(const std::string& name, double value, const ExemplarSnapshot* exemplar = nullptr) {
    prompb::TimeSeries* series = Series(name);
    prompb::Sample* s = series->add_samples();
    s->set_value(value);
    s->set_timestamp(timestamp_);
    ++result_.samples;
    if (!exemplar) return;
    prompb::Exemplar* e = series->add_exemplars();
    for (const auto& [label, label_value] : exemplar->labels) {
      prompb::Label* l = e->add_labels();
      l->set_name(label);
      l->set_value(label_value);
    }
    e->set_value(exemplar->value);
    // Its own time, not the send's: a receiver keeps one exemplar per time.
    e->set_timestamp(std::isfinite(exemplar->timestamp) && std::fabs(exemplar->timestamp) < 9e15
                         ? ExemplarMs(exemplar->timestamp)
                         : timestamp_);
    ++result_.exemplars;
  }

  // A series of the current labels_ (plus the extra labels, which override
  // the file's), sorted by name as receivers require ("__name__" sorts before
  // any label name).
  prompb::TimeSeries* Series(const std::string& name) {
    std::map<std::string, std::string> labels = labels_;
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
  prompb::WriteRequest write_;
  RemoteWriteResult result_;
  std::map<std::string, std::string> labels_;  // the current series' own labels
  std::vector<detail::BucketSpan> spans_;
  std::vector<int64_t> deltas_;
};

}  // namespace

RemoteWriteResult RemoteWrite(Reader& reader, const RemoteWriteOptions& options) {
  detail::CheckHttpOptions(options);
  CheckExtraLabels(options.extra_labels);
  RequestBuilder builder(options, options.timestamp_ms != 0 ? options.timestamp_ms : NowMs());
  for (const FamilySnapshot& family : reader.Snapshot()) builder.Add(family);

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
