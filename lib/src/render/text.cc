// Prometheus text format 0.0.4, byte for byte as client_golang's expfmt
// writes the same data: labels sorted by name (le last), no timestamps,
// no _created, a HELP line for every family ("# HELP name " when the help
// is empty: client_golang's registry always sets a help string).
#include "base/escape.h"
#include "base/float_format.h"
#include "base/sample_suffix.h"
#include "promsqlite/metric_type.h"
#include "render/output.h"
#include "render/renderers.h"

namespace promsqlite::detail {
namespace {

class TextRenderer : public SnapshotVisitor {
 public:
  explicit TextRenderer(const Sink& sink) : out_(sink) {}

  void Family(const FamilyRecord& family) override {
    header_written_ = false;
    const FamilySpec& spec = family.spec;
    name_ = spec.name;
    name_ += FamilyNameSuffix(spec.type);
  }

  void Series(const FamilyRecord& family, const SeriesRecord& series) override {
    std::string& out = out_.text();
    const FamilySpec& spec = family.spec;
    if (!header_written_) WriteHeader(spec);  // families without series are skipped
    switch (spec.type) {
      case MetricType::kCounter:
      case MetricType::kGauge:
        AppendSample(out, name_, "", family, series, series.value);
        break;
      case MetricType::kInfo:
        AppendSample(out, name_, "", family, series, 1);
        break;
      case MetricType::kStateSet:
        for (size_t i = 0; i < spec.states.size(); ++i) {
          le_.clear();
          AppendEscapedLabelValue(le_, spec.states[i]);
          AppendSample(out, name_, "", family, series, series.value == static_cast<double>(i) ? 1 : 0,
                       spec.name, le_);
        }
        break;
      case MetricType::kHistogram: {
        int64_t cumulative = 0;
        for (size_t i = 0; i < spec.buckets.size(); ++i) {
          cumulative += series.bucket_counts[i];
          le_.clear();
          AppendGoFloat(le_, spec.buckets[i]);
          AppendSample(out, name_, kBucketSuffix, family, series, static_cast<double>(cumulative), "le", le_);
        }
        AppendSample(out, name_, kBucketSuffix, family, series, static_cast<double>(series.count), "le", "+Inf");
        [[fallthrough]];
      }
      case MetricType::kSummary:
        AppendSample(out, name_, kSumSuffix, family, series, series.value);
        AppendSample(out, name_, kCountSuffix, family, series, static_cast<double>(series.count));
        break;
    }
    out_.LineDone();
  }

  void End() override { out_.Flush(); }

 private:
  void WriteHeader(const FamilySpec& spec) {
    std::string& out = out_.text();
    out += "# HELP ";
    out += name_;
    out += ' ';
    AppendEscapedHelp(out, spec.help, /*escape_quote=*/false);
    out += '\n';
    out += "# TYPE ";
    out += name_;
    out += ' ';
    // 0.0.4 has no info or stateset: they are gauges, as the Python client writes them.
    bool gauge_like = spec.type == MetricType::kInfo || spec.type == MetricType::kStateSet;
    out += gauge_like ? "gauge" : MetricTypeName(spec.type);
    out += '\n';
    header_written_ = true;
  }

  ChunkedOutput out_;
  std::string name_;
  std::string le_;
  bool header_written_ = false;
};

}  // namespace

std::unique_ptr<SnapshotVisitor> MakeTextRenderer(const Sink& sink) {
  return std::make_unique<TextRenderer>(sink);
}

}  // namespace promsqlite::detail
