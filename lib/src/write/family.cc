// Declaring families and looking up their children.
#include <algorithm>
#include <numeric>

#include "base/tuple_codec.h"
#include "declare/native_histogram.h"
#include "declare/validate.h"
#include "promsqlite/errors.h"
#include "promsqlite/registry.h"
#include "write/family_state.h"

namespace promsqlite {

const std::vector<double>& DefaultBuckets() {
  static const std::vector<double> buckets = {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10};
  return buckets;
}

namespace detail {
namespace {

template <typename T> constexpr MetricType kTypeOf = MetricType::kGauge;
template <> constexpr MetricType kTypeOf<Counter> = MetricType::kCounter;
template <> constexpr MetricType kTypeOf<Histogram> = MetricType::kHistogram;
template <> constexpr MetricType kTypeOf<Summary> = MetricType::kSummary;
template <> constexpr MetricType kTypeOf<Info> = MetricType::kInfo;
template <> constexpr MetricType kTypeOf<Enum> = MetricType::kStateSet;

}  // namespace

std::shared_ptr<SeriesState> FamilyState::Find(std::string_view labels) {
  std::lock_guard<std::mutex> lock(mu);
  return children.Find(labels);
}

std::shared_ptr<SeriesState> FamilyState::Create(std::string_view labels) {
  // Released by the writer's flusher (Writer::Release), not here:
  // ~SeriesState takes the writer's flush mutex, which comes before this
  // one in the lock order and which a flush holds while it waits for the
  // write lock: a new label value must not wait for that.
  std::vector<std::shared_ptr<SeriesState>> evicted;
  std::unique_lock<std::mutex> lock(mu);
  if (auto known = children.Find(labels)) return known;
  auto series = std::make_shared<SeriesState>();
  series->family = info;
  series->labels = std::string(labels);
  series->native_schema = info->native.schema;
  info->writer->Track(series);
  info->writer->MakeRow(*series);
  const bool flush = children.Insert(series, &evicted);
  lock.unlock();
  if (!evicted.empty()) info->writer->Release(std::move(evicted));
  if (flush) info->writer->FlushSoon();
  return series;
}

void FamilyState::Evict(const std::string* labels, std::vector<std::shared_ptr<SeriesState>>* evicted) {
  std::lock_guard<std::mutex> lock(mu);
  children.Drop(labels, evicted);
}

size_t FamilyState::CachedChildren() {
  std::lock_guard<std::mutex> lock(mu);
  return children.size();
}

}  // namespace detail

template <typename T>
Family<T> Registry::Register(const FamilySpec& declared) {
  if (declared.type != detail::kTypeOf<T>)
    throw InvalidArgument("metric '" + declared.name + "': declared as " + MetricTypeName(declared.type) +
                          " but registered as " + MetricTypeName(detail::kTypeOf<T>));
  auto info = std::make_shared<detail::FamilyInfo>();
  info->writer = writer_;
  info->spec = detail::NormalizeSpec(declared);
  const std::vector<std::string>& names = info->spec.label_names;
  info->declared_index.resize(names.size());
  std::iota(info->declared_index.begin(), info->declared_index.end(), 0);
  std::sort(info->declared_index.begin(), info->declared_index.end(),
            [&](size_t a, size_t b) { return names[a] < names[b]; });
  for (size_t i : info->declared_index) info->sorted_label_names.push_back(names[i]);
  if (info->spec.native_bucket_factor > 1) {
    info->native.enabled = true;
    info->native.schema = detail::NativeSchemaForFactor(info->spec.native_bucket_factor);
    info->native.zero_threshold = info->spec.native_zero_threshold;
    info->native.max_buckets = info->spec.native_max_buckets;
  }
  writer_->DeclareOrKeep(info);
  auto state = std::make_shared<detail::FamilyState>();
  state->info = std::move(info);
  writer_->Track(state);
  return Family<T>(std::move(state));
}

template <typename T>
Family<T> Builder<T>::Register(Registry& registry) const {
  return registry.Register<T>(spec_);
}

template <typename T>
T Family<T>::WithLabelValues(const std::string_view* values, size_t count) const {
  const detail::FamilyInfo& info = *state_->info;
  if (count != info.declared_index.size())
    throw InvalidArgument("metric '" + info.spec.name + "': expects " + std::to_string(info.declared_index.size()) +
                          " label values (" + detail::JoinNames(info.spec.label_names) + "), got " +
                          std::to_string(count));
  thread_local std::string key;  // keeps its capacity: no allocation per lookup
  key.clear();
  for (size_t index : info.declared_index) detail::AppendTupleElement(key, values[index]);
  if (auto known = state_->Find(key)) return T(std::move(known));
  for (size_t i = 0; i < count; ++i) detail::ValidateLabelValue(info.spec.name, info.spec.label_names[i], values[i]);
  return T(state_->Create(key));
}

template <typename T>
T Family<T>::WithLabelValues(std::initializer_list<std::string_view> values) const {
  return WithLabelValues(values.begin(), values.size());
}

template <typename T>
T Family<T>::WithLabelValues(const std::vector<std::string>& values) const {
  thread_local std::vector<std::string_view> views;
  views.assign(values.begin(), values.end());
  return WithLabelValues(views.data(), views.size());
}

template <typename T>
T Family<T>::Add(const Labels& labels) const {
  const detail::FamilyInfo& info = *state_->info;
  const std::vector<std::string>& names = info.sorted_label_names;
  detail::RequireLabelNames(info.spec.name, names, info.spec.label_names, labels);
  thread_local std::string key;
  key.clear();
  for (const auto& label : labels) detail::AppendTupleElement(key, label.second);
  if (auto known = state_->Find(key)) return T(std::move(known));
  for (const auto& label : labels) detail::ValidateLabelValue(info.spec.name, label.first, label.second);
  return T(state_->Create(key));
}

template <typename T>
size_t Family<T>::CachedChildren() const {
  return state_->CachedChildren();
}

template <typename T>
const std::string& Family<T>::name() const {
  return state_->info->spec.name;
}

template <typename T>
const FamilySpec& Family<T>::spec() const {
  return state_->info->spec;
}

#define PROMSQLITE_INSTANTIATE(T)                                       \
  template class Family<T>;                                             \
  template class Builder<T>;                                            \
  template Family<T> Registry::Register<T>(const FamilySpec& declared);
PROMSQLITE_INSTANTIATE(Counter)
PROMSQLITE_INSTANTIATE(Gauge)
PROMSQLITE_INSTANTIATE(Histogram)
PROMSQLITE_INSTANTIATE(Summary)
PROMSQLITE_INSTANTIATE(Info)
PROMSQLITE_INSTANTIATE(Enum)
#undef PROMSQLITE_INSTANTIATE

}  // namespace promsqlite
