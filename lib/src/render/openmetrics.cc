// OpenMetrics 1.0.0 text: counters as family NAME with NAME_total and
// NAME_created, _created for histograms and summaries, info and stateset
// types, canonical le values, # UNIT, exemplars after the counter's _total
// and the histogram's _bucket samples, and a final # EOF.
#include <cmath>

#include "base/escape.h"
#include "base/float_format.h"
#include "base/sample_suffix.h"
#include "promsqlite/metric_type.h"
#include "render/output.h"
#include "render/renderers.h"

namespace promsqlite::detail {
namespace {

class OpenMetricsRenderer : public SnapshotVisitor {
 public:
  explicit OpenMetricsRenderer(const Sink& sink) : out_(sink) {}

  void Family(const FamilyRecord&) override { header_written_ = false; }

  void Series(const FamilyRecord& family, const SeriesRecord& series) override {
    std::string& out = out_.text();
    const FamilySpec& spec = family.spec;
    const std::string& name = spec.name;
    if (!header_written_) WriteHeader(spec);
    switch (spec.type) {
      case MetricType::kCounter:
        AppendSample(out, name, kTotalSuffix, family, series, series.value);
        AppendExemplar(out, series, 0);
        if (series.created != 0) AppendSample(out, name, kCreatedSuffix, family, series, series.created);
        break;
      case MetricType::kGauge:
        AppendSample(out, name, "", family, series, series.value);
        break;
      case MetricType::kInfo:
        AppendSample(out, name, kInfoSuffix, family, series, 1);
        break;
      case MetricType::kStateSet:
        for (size_t i = 0; i < spec.states.size(); ++i) {
          label_.clear();
          AppendEscapedLabelValue(label_, spec.states[i]);
          AppendSample(out, name, "", family, series, series.value == static_cast<double>(i) ? 1 : 0,
                       name, label_);
        }
        break;
      case MetricType::kHistogram: {
        int64_t cumulative = 0;
        for (size_t i = 0; i < spec.buckets.size(); ++i) {
          cumulative += series.bucket_counts[i];
          label_.clear();
          AppendCanonicalFloat(label_, spec.buckets[i]);
          AppendSample(out, name, kBucketSuffix, family, series, static_cast<double>(cumulative), "le", label_);
          AppendExemplar(out, series, static_cast<int64_t>(i));
        }
        AppendSample(out, name, kBucketSuffix, family, series, static_cast<double>(series.count), "le", "+Inf");
        AppendExemplar(out, series, static_cast<int64_t>(spec.buckets.size()));
        // With negative buckets _sum is not counter-like; OpenMetrics then
        // forbids _sum, and _count may not appear without it. A native
        // histogram has negative buckets once it holds a negative
        // observation (or a negative sum from its zero bucket).
        const bool negative_native = spec.native_bucket_factor > 0 && (!series.native.negative.empty() || series.value < 0);
        if ((!spec.buckets.empty() && spec.buckets.front() < 0) || negative_native) {
          AppendSample(out, name, kCreatedSuffix, family, series, series.created);
          break;
        }
        [[fallthrough]];
      }
      case MetricType::kSummary:
        AppendSample(out, name, kCountSuffix, family, series, static_cast<double>(series.count));
        AppendSample(out, name, kSumSuffix, family, series, series.value);
        AppendSample(out, name, kCreatedSuffix, family, series, series.created);
        break;
    }
    out_.LineDone();
  }

  void End() override {
    out_.text() += "# EOF\n";
    out_.Flush();
  }

 private:
  // Turns the sample line just written into one with `series`' exemplar
  // of `bucket`, when it has one: ` # {labels} value timestamp`.
  static void AppendExemplar(std::string& out, const SeriesRecord& series, int64_t bucket) {
    const ExemplarRecord* e = series.ExemplarOf(bucket);
    if (!e) return;
    out.pop_back();  // the sample's newline
    out += " # ";
    if (e->names.empty()) out += "{}";
    AppendLabelSet(out, e->names, e->values);
    out += ' ';
    AppendGoFloat(out, e->value);
    if (std::isfinite(e->timestamp)) {  // a clock (Options::clock) that said NaN: no time
      out += ' ';
      AppendTimestamp(out, e->timestamp);
    }
    out += '\n';
  }

  void WriteHeader(const FamilySpec& spec) {
    std::string& out = out_.text();
    out += "# TYPE ";
    out += spec.name;
    out += ' ';
    out += MetricTypeName(spec.type);
    out += '\n';
    if (!spec.help.empty()) {
      out += "# HELP ";
      out += spec.name;
      out += ' ';
      AppendEscapedHelp(out, spec.help, /*escape_quote=*/true);
      out += '\n';
    }
    if (!spec.unit.empty()) {
      out += "# UNIT ";
      out += spec.name;
      out += ' ';
      out += spec.unit;
      out += '\n';
    }
    header_written_ = true;
  }

  ChunkedOutput out_;
  std::string label_;
  bool header_written_ = false;
};

}  // namespace

std::unique_ptr<SnapshotVisitor> MakeOpenMetricsRenderer(const Sink& sink) {
  return std::make_unique<OpenMetricsRenderer>(sink);
}

}  // namespace promsqlite::detail
