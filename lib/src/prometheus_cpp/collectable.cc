// promsqlite/prometheus_cpp.h: a file as a prometheus::Collectable. Built
// on the public Reader::Snapshot() only, like any other bridge would be.
#include "promsqlite/prometheus_cpp.h"

#include <cstdint>
#include <cstdio>
#include <exception>
#include <limits>
#include <string>
#include <utility>

#include "promsqlite/errors.h"

namespace promsqlite {
namespace {

prometheus::ClientMetric WithLabels(const FamilySpec& spec, const SeriesSnapshot& series) {
  prometheus::ClientMetric metric;
  metric.label.reserve(spec.label_names.size() + 1);
  for (size_t i = 0; i < spec.label_names.size() && i < series.label_values.size(); ++i)
    metric.label.push_back({spec.label_names[i], series.label_values[i]});
  return metric;
}

// The exposed family name: what the text renderer writes in "# TYPE".
std::string ExposedName(const FamilySpec& spec) {
  if (spec.type == MetricType::kCounter) return spec.name + "_total";
  if (spec.type == MetricType::kInfo) return spec.name + "_info";
  return spec.name;
}

prometheus::MetricType ExposedType(MetricType type) {
  switch (type) {
    case MetricType::kCounter: return prometheus::MetricType::Counter;
    case MetricType::kHistogram: return prometheus::MetricType::Histogram;
    case MetricType::kSummary: return prometheus::MetricType::Summary;
    case MetricType::kGauge:
    case MetricType::kInfo:      // text 0.0.4 has no info: a gauge, as the Python client shows it
    case MetricType::kStateSet:  // nor stateset
      break;
  }
  return prometheus::MetricType::Gauge;
}

uint64_t Count(int64_t count) { return count < 0 ? 0 : static_cast<uint64_t>(count); }

void AddSeries(const FamilySpec& spec, const SeriesSnapshot& series, std::vector<prometheus::ClientMetric>& out) {
  switch (spec.type) {
    case MetricType::kCounter: {
      prometheus::ClientMetric metric = WithLabels(spec, series);
      metric.counter.value = series.value;
      out.push_back(std::move(metric));
      break;
    }
    case MetricType::kGauge:
    case MetricType::kInfo: {
      prometheus::ClientMetric metric = WithLabels(spec, series);
      metric.gauge.value = spec.type == MetricType::kInfo ? 1 : series.value;
      out.push_back(std::move(metric));
      break;
    }
    case MetricType::kStateSet:
      for (size_t i = 0; i < spec.states.size(); ++i) {
        prometheus::ClientMetric metric = WithLabels(spec, series);
        metric.label.push_back({spec.name, spec.states[i]});
        metric.gauge.value = series.value == static_cast<double>(i) ? 1 : 0;
        out.push_back(std::move(metric));
      }
      break;
    case MetricType::kHistogram: {
      prometheus::ClientMetric metric = WithLabels(spec, series);
      metric.histogram.sample_count = Count(series.count);
      metric.histogram.sample_sum = series.value;
      for (size_t i = 0; i < spec.buckets.size() && i < series.bucket_counts.size(); ++i)
        metric.histogram.bucket.push_back({Count(series.bucket_counts[i]), spec.buckets[i]});
      // prometheus-cpp's own histograms end in an explicit +Inf bucket too.
      metric.histogram.bucket.push_back({Count(series.count), std::numeric_limits<double>::infinity()});
      out.push_back(std::move(metric));
      break;
    }
    case MetricType::kSummary: {
      prometheus::ClientMetric metric = WithLabels(spec, series);
      metric.summary.sample_count = Count(series.count);
      metric.summary.sample_sum = series.value;
      out.push_back(std::move(metric));
      break;
    }
  }
}

}  // namespace

std::vector<prometheus::MetricFamily> ToMetricFamilies(const std::vector<FamilySnapshot>& snapshot) {
  std::vector<prometheus::MetricFamily> families;
  families.reserve(snapshot.size());
  for (const FamilySnapshot& family : snapshot) {
    if (family.series.empty()) continue;
    prometheus::MetricFamily out;
    out.name = ExposedName(family.spec);
    out.help = family.spec.help;
    out.type = ExposedType(family.spec.type);
    for (const SeriesSnapshot& series : family.series) AddSeries(family.spec, series, out.metric);
    families.push_back(std::move(out));
  }
  return families;
}

FileCollectable::FileCollectable(std::string path, ErrorCallback on_error, ReaderOptions options)
    : reader_(std::make_unique<Reader>(std::move(path), std::move(options))), on_error_(std::move(on_error)) {}

FileCollectable::~FileCollectable() = default;

std::vector<prometheus::MetricFamily> FileCollectable::Collect() const {
  std::string message;
  try {
    try {
      SkippedRows skipped;
      std::vector<prometheus::MetricFamily> families = ToMetricFamilies(reader_->Snapshot(&skipped));
      if (skipped.empty()) return families;
      // ReaderOptions::unreadable_rows kSkip: the rest is collected, and
      // what was left out said as a failure is.
      message = "promsqlite: " + reader_->path() + ": left out " + std::to_string(skipped.total()) +
                (skipped.total() == 1 ? " row" : " rows") + " that cannot be read (promsqlite check lists them)";
      for (size_t i = 0; i < skipped.listed.size() && i < 3; ++i) message += (i ? "; " : ": ") + skipped.listed[i].ToString();
      try {
        if (on_error_) on_error_(message);
        else std::fprintf(stderr, "%s\n", message.c_str());
      } catch (...) {
      }
      return families;
    } catch (const DatabaseError& e) {
      message = std::string("promsqlite: ") + e.what();  // names the file
    } catch (const std::exception& e) {
      message = "promsqlite: cannot collect " + reader_->path() + ": " + e.what();
    } catch (...) {
      message = "promsqlite: cannot collect " + reader_->path() + ": unknown error";
    }
    if (on_error_) {
      on_error_(message);
    } else {
      std::fprintf(stderr, "%s\n", message.c_str());
    }
  } catch (...) {
    // Nothing may escape into the Exposer's thread.
  }
  return {};
}

}  // namespace promsqlite
