// The child handles: validate the value, then one store call.
#include "promsqlite/metrics.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "base/tuple_codec.h"
#include "declare/validate.h"
#include "promsqlite/errors.h"
#include "write/family_state.h"

namespace promsqlite {

using detail::SeriesState;
using detail::ValidateValue;

namespace {

// Validates an exemplar and makes it ready for the store.
detail::ExemplarWrite MakeExemplar(SeriesState& series, const char* what, const Labels& labels, int bucket,
                                   double value) {
  detail::ValidateExemplar(series.name(), what, labels);
  detail::ExemplarWrite e;
  e.bucket = bucket;
  for (const auto& [name, label_value] : labels) {
    detail::AppendTupleElement(e.labels, name);
    detail::AppendTupleElement(e.labels, label_value);
  }
  e.value = value;
  e.timestamp = series.family->writer->store().Now();
  return e;
}

// The classic bucket `value` falls in: the first whose upper bound is >=
// value, or bounds.size() (+Inf).
size_t BucketOf(const std::vector<double>& bounds, double value) {
  return static_cast<size_t>(std::lower_bound(bounds.begin(), bounds.end(), value) - bounds.begin());
}

}  // namespace

void Counter::Increment(double amount) const {
  ValidateValue(series_->name(), "Counter.Increment", amount, false, true);
  series_->family->writer->Add(*series_, amount);
}

void Counter::Increment(double amount, const Labels& exemplar) const {
  ValidateValue(series_->name(), "Counter.Increment", amount, false, true);
  detail::ExemplarWrite e = MakeExemplar(*series_, "Counter.Increment", exemplar, 0, amount);
  series_->family->writer->Add(*series_, amount, &e);
}

double Counter::Value() const { return series_->family->writer->Read(*series_, 0).value; }

void Gauge::Increment(double amount) const {
  ValidateValue(series_->name(), "Gauge.Increment", amount, true, false);
  series_->family->writer->Add(*series_, amount);
}

void Gauge::Decrement(double amount) const {
  ValidateValue(series_->name(), "Gauge.Decrement", amount, true, false);
  series_->family->writer->Add(*series_, -amount);
}

void Gauge::Set(double value) const { series_->family->writer->Set(*series_, value); }

void Gauge::SetToCurrentTime() const {
  using namespace std::chrono;
  Set(duration<double>(system_clock::now().time_since_epoch()).count());
}

double Gauge::Value() const { return series_->family->writer->Read(*series_, 0).value; }

namespace {

DistributionValue ReadDistribution(SeriesState& series, size_t buckets) {
  detail::StoredSeries stored = series.family->writer->Read(series, buckets);
  DistributionValue out;
  out.sum = stored.value;
  out.count = static_cast<double>(stored.count);
  if (buckets > 0) {
    int64_t cumulative = 0;
    for (int64_t c : stored.bucket_counts) out.cumulative_counts.push_back(static_cast<double>(cumulative += c));
    out.cumulative_counts.push_back(out.count);
  }
  return out;
}

}  // namespace

void Histogram::Observe(double value) const {
  ValidateValue(series_->name(), "Histogram.Observe", value, true, false);
  const std::vector<double>& bounds = series_->family->spec.buckets;
  const size_t bucket = BucketOf(bounds, value);  // past the last bound: +Inf only
  series_->family->writer->Observe(*series_, value, bucket == bounds.size() ? -1 : static_cast<int>(bucket));
}

void Histogram::Observe(double value, const Labels& exemplar) const {
  ValidateValue(series_->name(), "Histogram.Observe", value, true, false);
  const std::vector<double>& bounds = series_->family->spec.buckets;
  const size_t bucket = BucketOf(bounds, value);
  detail::ExemplarWrite e = MakeExemplar(*series_, "Histogram.Observe", exemplar, static_cast<int>(bucket), value);
  series_->family->writer->Observe(*series_, value, bucket == bounds.size() ? -1 : static_cast<int>(bucket), &e);
}

DistributionValue Histogram::Value() const {
  return ReadDistribution(*series_, series_->family->spec.buckets.size());
}

void Summary::Observe(double value) const {
  ValidateValue(series_->name(), "Summary.Observe", value, true, false);
  series_->family->writer->Observe(*series_, value, -1);
}

DistributionValue Summary::Value() const { return ReadDistribution(*series_, 0); }

bool Info::Exists() const { return series_->family->writer->Read(*series_, 0).exists; }

void Enum::Set(std::string_view state) const {
  const std::vector<std::string>& states = series_->family->spec.states;
  auto it = std::find(states.begin(), states.end(), state);
  if (it == states.end()) {
    std::string known;
    for (const std::string& s : states) known += (known.empty() ? "" : ", ") + s;
    throw InvalidArgument("metric '" + series_->name() + "': state \"" + std::string(state) +
                          "\" is not declared (states: " + known + ")");
  }
  series_->family->writer->Set(*series_, static_cast<double>(it - states.begin()));
}

std::string Enum::State() const {
  double index = series_->family->writer->Read(*series_, 0).value;
  const std::vector<std::string>& states = series_->family->spec.states;
  if (!(index >= 0 && index < static_cast<double>(states.size())))
    throw DatabaseError(series_->family->writer->store().path() + ": enum '" + series_->name() +
                        "' holds an invalid state index");
  return states[static_cast<size_t>(index)];
}

}  // namespace promsqlite
