// The protobuf exposition: length-delimited io.prometheus.client.MetricFamily
// messages (client_model's metrics.proto; our copy, written from the
// public spec for the tests' protoc --decode, is render/metrics.proto),
// encoded by hand. Names as the text format exposes them (NAME_total,
// NAME_info), info and stateset as gauges, labels sorted by name, labels
// with an empty value left out (Prometheus' data model has none). Classic
// histogram buckets are sent without +Inf (sample_count is that bucket), as
// client_golang does; native histograms as schema, zero bucket, spans and
// deltas. Exemplars as client_golang sends them: in the counter, in their
// bucket, an exemplar of +Inf in a +Inf bucket added for it. A family is
// flushed as its own message whenever its encoding reaches
// ChunkedOutput::kChunkBytes, so memory stays flat.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "base/clock.h"
#include "base/native_spans.h"
#include "base/sample_suffix.h"
#include "promsqlite/metric_type.h"
#include "render/output.h"
#include "render/proto_wire.h"
#include "render/renderers.h"

namespace promsqlite::detail {
namespace {

using namespace proto;

// Field numbers of metrics.proto.
enum : uint32_t {
  kFamilyName = 1, kFamilyHelp = 2, kFamilyType = 3, kFamilyMetric = 4,
  kMetricLabel = 1, kMetricGauge = 2, kMetricCounter = 3, kMetricSummary = 4, kMetricHistogram = 7,
  kLabelName = 1, kLabelValue = 2,
  kValue = 1,  // Gauge.value, Counter.value
  kSummaryCount = 1, kSummarySum = 2,
  kHistogramCount = 1, kHistogramSum = 2, kHistogramBucket = 3, kHistogramSchema = 5,
  kHistogramZeroThreshold = 6, kHistogramZeroCount = 7, kHistogramNegativeSpan = 9,
  kHistogramNegativeDelta = 10, kHistogramPositiveSpan = 12, kHistogramPositiveDelta = 13,
  kBucketCumulativeCount = 1, kBucketUpperBound = 2, kBucketExemplar = 3, kCounterExemplar = 2,
  kExemplarLabel = 1, kExemplarValue = 2, kExemplarTimestamp = 3, kTimestampSeconds = 1, kTimestampNanos = 2,
  kSpanOffset = 1, kSpanLength = 2,
};
// MetricType in metrics.proto.
enum : uint64_t { kCounterType = 0, kGaugeType = 1, kSummaryType = 2, kHistogramType = 4 };

class ProtobufRenderer : public SnapshotVisitor {
 public:
  explicit ProtobufRenderer(const Sink& sink) : out_(sink) {}

  void Family(const FamilyRecord& family) override {
    FlushFamily();
    const FamilySpec& spec = family.spec;
    std::string name = spec.name;
    name += FamilyNameSuffix(spec.type);
    header_.clear();
    AppendBytes(header_, kFamilyName, name);
    if (!spec.help.empty()) AppendBytes(header_, kFamilyHelp, spec.help);
    uint64_t type = kGaugeType;  // also info and stateset, as in the text format
    if (spec.type == MetricType::kCounter) type = kCounterType;
    if (spec.type == MetricType::kSummary) type = kSummaryType;
    if (spec.type == MetricType::kHistogram) type = kHistogramType;
    AppendUint(header_, kFamilyType, type);
    // Label names in byte order, a stateset's own label among them.
    names_ = spec.label_names;
    if (spec.type == MetricType::kStateSet) names_.push_back(spec.name);
    order_.resize(names_.size());
    std::iota(order_.begin(), order_.end(), 0);
    std::sort(order_.begin(), order_.end(), [&](size_t a, size_t b) { return names_[a] < names_[b]; });
    values_.resize(names_.size());
  }

  void Series(const FamilyRecord& family, const SeriesRecord& series) override {
    const FamilySpec& spec = family.spec;
    for (size_t i = 0; i < series.label_values.size(); ++i) values_[i] = &series.label_values[i];
    switch (spec.type) {
      case MetricType::kCounter:
        Scalar(series.value);
        if (const ExemplarRecord* e = series.ExemplarOf(0)) AppendExemplar(body_, kCounterExemplar, *e);
        AppendMetric(kMetricCounter, body_);
        break;
      case MetricType::kGauge:
        AppendMetric(kMetricGauge, Scalar(series.value));
        break;
      case MetricType::kInfo:
        AppendMetric(kMetricGauge, Scalar(1));
        break;
      case MetricType::kStateSet:
        for (size_t i = 0; i < spec.states.size(); ++i) {
          values_.back() = &spec.states[i];
          AppendMetric(kMetricGauge, Scalar(series.value == static_cast<double>(i) ? 1 : 0));
        }
        break;
      case MetricType::kSummary:
        body_.clear();
        AppendUint(body_, kSummaryCount, static_cast<uint64_t>(series.count));
        AppendDouble(body_, kSummarySum, series.value);
        AppendMetric(kMetricSummary, body_);
        break;
      case MetricType::kHistogram:
        AppendMetric(kMetricHistogram, Histogram(spec, series));
        break;
    }
    if (metrics_.size() >= ChunkedOutput::kChunkBytes) FlushFamily();
  }

  void End() override {
    FlushFamily();
    out_.Flush();
  }

 private:
  // An Exemplar message as field `field` of `out`; labels as given (sorted
  // by name), the timestamp split into seconds and nanoseconds.
  void AppendExemplar(std::string& out, uint32_t field, const ExemplarRecord& e) {
    exemplar_.clear();
    for (size_t i = 0; i < e.names.size(); ++i) {
      pair_.clear();
      AppendBytes(pair_, kLabelName, e.names[i]);
      AppendBytes(pair_, kLabelValue, e.values[i]);
      AppendBytes(exemplar_, kExemplarLabel, pair_);
    }
    AppendDouble(exemplar_, kExemplarValue, e.value);
    if (std::isfinite(e.timestamp) && std::fabs(e.timestamp) < 9e18) AppendTimestamp(e.timestamp);
    AppendBytes(out, field, exemplar_);
  }

  // google.protobuf.Timestamp: whole seconds (floor) and nanoseconds.
  void AppendTimestamp(double timestamp) {
    const SecondsAndNanos time = SplitSeconds(timestamp);
    pair_.clear();
    AppendUint(pair_, kTimestampSeconds, static_cast<uint64_t>(time.seconds));
    if (time.nanos != 0) AppendUint(pair_, kTimestampNanos, static_cast<uint64_t>(time.nanos));
    AppendBytes(exemplar_, kExemplarTimestamp, pair_);
  }

  const std::string& Scalar(double value) {
    body_.clear();
    AppendDouble(body_, kValue, value);
    return body_;
  }

  const std::string& Histogram(const FamilySpec& spec, const SeriesRecord& series) {
    body_.clear();
    AppendUint(body_, kHistogramCount, static_cast<uint64_t>(series.count));
    AppendDouble(body_, kHistogramSum, series.value);
    int64_t cumulative = 0;
    for (size_t i = 0; i < spec.buckets.size(); ++i) {
      cumulative += series.bucket_counts[i];
      bucket_.clear();
      AppendUint(bucket_, kBucketCumulativeCount, static_cast<uint64_t>(cumulative));
      AppendDouble(bucket_, kBucketUpperBound, spec.buckets[i]);
      if (const ExemplarRecord* e = series.ExemplarOf(static_cast<int64_t>(i)))
        AppendExemplar(bucket_, kBucketExemplar, *e);
      AppendBytes(body_, kHistogramBucket, bucket_);
    }
    if (const ExemplarRecord* e = series.ExemplarOf(static_cast<int64_t>(spec.buckets.size()))) {
      bucket_.clear();
      AppendUint(bucket_, kBucketCumulativeCount, static_cast<uint64_t>(series.count));
      AppendDouble(bucket_, kBucketUpperBound, HUGE_VAL);
      AppendExemplar(bucket_, kBucketExemplar, *e);
      AppendBytes(body_, kHistogramBucket, bucket_);
    }
    if (spec.native_bucket_factor > 0) {
      const NativeBuckets& native = series.native;
      AppendSint(body_, kHistogramSchema, native.schema);
      AppendDouble(body_, kHistogramZeroThreshold, spec.native_zero_threshold);
      AppendUint(body_, kHistogramZeroCount, static_cast<uint64_t>(native.zero_count));
      AppendSpans(native.negative, kHistogramNegativeSpan, kHistogramNegativeDelta);
      AppendSpans(native.positive, kHistogramPositiveSpan, kHistogramPositiveDelta);
      if (native.positive.empty() && native.negative.empty() && spec.native_zero_threshold == 0) {
        // A no-op span marks a still empty histogram with a zero threshold
        // of 0 as native (metrics.proto's rule).
        AppendBytes(body_, kHistogramPositiveSpan, std::string_view("\x08\x00\x10\x00", 4));
      }
    }
    return body_;
  }

  // The spans (base/native_spans.h), then the packed count deltas.
  void AppendSpans(const std::vector<std::pair<int32_t, int64_t>>& buckets, uint32_t span_field,
                   uint32_t delta_field) {
    if (buckets.empty()) return;
    SpansAndDeltas(buckets, &spans_, &delta_values_);
    for (const BucketSpan& span : spans_) {
      bucket_.clear();
      AppendSint(bucket_, kSpanOffset, span.offset);
      AppendUint(bucket_, kSpanLength, span.length);
      AppendBytes(body_, span_field, bucket_);
    }
    deltas_.clear();
    for (int64_t delta : delta_values_) AppendVarint(deltas_, ZigZag(delta));
    AppendBytes(body_, delta_field, deltas_);
  }

  // One Metric: the labels in name order, then `value` as field `field`.
  // Sized first, then written in place: this runs once per series.
  void AppendMetric(uint32_t field, std::string_view value) {
    size_t size = BytesFieldSize(value.size());
    for (size_t i : order_) {
      if (!values_[i]->empty()) size += BytesFieldSize(PairSize(i));
    }
    const size_t old = metrics_.size();
    metrics_.resize(old + 1 + VarintSize(size) + size);
    char* p = &metrics_[old];
    *p++ = static_cast<char>((kFamilyMetric << 3) | kLengthDelimited);
    p = WriteVarint(p, size);
    for (size_t i : order_) {
      if (values_[i]->empty()) continue;  // an empty label is no label in Prometheus
      *p++ = static_cast<char>((kMetricLabel << 3) | kLengthDelimited);
      p = WriteVarint(p, PairSize(i));
      p = WriteBytes(p, kLabelName, names_[i]);
      p = WriteBytes(p, kLabelValue, *values_[i]);
    }
    WriteBytes(p, field, value);
  }

  size_t PairSize(size_t i) const { return BytesFieldSize(names_[i].size()) + BytesFieldSize(values_[i]->size()); }

  // Writes the family's metrics so far as one delimited MetricFamily.
  void FlushFamily() {
    if (metrics_.empty()) return;  // families without series are skipped
    std::string& out = out_.text();
    AppendVarint(out, header_.size() + metrics_.size());
    out += header_;
    out += metrics_;
    metrics_.clear();
    out_.LineDone();
  }

  ChunkedOutput out_;
  std::string header_;   // name, help, type of the current family
  std::string metrics_;  // its Metric fields not yet written
  std::string body_, bucket_, deltas_, exemplar_, pair_;
  std::vector<BucketSpan> spans_;     // reused: this runs once per native series
  std::vector<int64_t> delta_values_;
  std::vector<std::string> names_;   // label names, in the records' order
  std::vector<const std::string*> values_;  // the current series' label values
  std::vector<size_t> order_;        // indices into names_, sorted by name
};

}  // namespace

std::unique_ptr<SnapshotVisitor> MakeProtobufRenderer(const Sink& sink) {
  return std::make_unique<ProtobufRenderer>(sink);
}

}  // namespace promsqlite::detail
