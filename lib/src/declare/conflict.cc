#include "declare/conflict.h"

#include <algorithm>
#include <initializer_list>
#include <string_view>
#include <vector>

#include "base/float_format.h"
#include "base/sample_suffix.h"
#include "declare/native_histogram.h"
#include "promsqlite/metric_type.h"

namespace promsqlite::detail {
namespace {

std::vector<std::string> Sorted(std::vector<std::string> names) {
  std::sort(names.begin(), names.end());
  return names;
}

// Buckets as the file stores them: Go-formatted, comma-separated.
std::string StoredBuckets(const std::vector<double>& buckets) {
  std::string out;
  for (size_t i = 0; i < buckets.size(); ++i) {
    if (i) out += ',';
    AppendGoFloat(out, buckets[i]);
  }
  return out;
}

bool HasNative(const FamilySpec& spec) { return spec.native_bucket_factor > 1; }

}  // namespace

std::set<std::string> ConflictCandidates(const std::string& name) {
  std::set<std::string> candidates = {name};
  for (std::string_view suffix : kSampleSuffixes) {
    candidates.insert(name + std::string(suffix));
    if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      candidates.insert(name.substr(0, name.size() - suffix.size()));
  }
  return candidates;
}

std::set<std::string> ExposedNames(MetricType type, const std::string& name) {
  std::set<std::string> names = {name};
  auto add = [&](std::initializer_list<const char*> suffixes) {
    for (const char* s : suffixes) names.insert(name + s);
  };
  switch (type) {
    case MetricType::kCounter: add({kTotalSuffix, kCreatedSuffix}); break;
    case MetricType::kHistogram: add({kBucketSuffix, kSumSuffix, kCountSuffix, kCreatedSuffix}); break;
    case MetricType::kSummary: add({kSumSuffix, kCountSuffix, kCreatedSuffix}); break;
    case MetricType::kInfo: add({kInfoSuffix}); break;
    case MetricType::kGauge:
    case MetricType::kStateSet: break;
  }
  return names;
}

bool SameDeclaration(const FamilySpec& a, const FamilySpec& b) {
  if (a.type != b.type || Sorted(a.label_names) != Sorted(b.label_names) ||
      StoredBuckets(a.buckets) != StoredBuckets(b.buckets) || a.states != b.states || a.unit != b.unit ||
      a.gauge_mode != b.gauge_mode || a.ttl_seconds != b.ttl_seconds || HasNative(a) != HasNative(b))
    return false;
  // A native histogram is stored as its schema: factors that give the same
  // schema are the same declaration.
  return !HasNative(a) || (NativeSchemaForFactor(a.native_bucket_factor) == NativeSchemaForFactor(b.native_bucket_factor) &&
                           a.native_zero_threshold == b.native_zero_threshold &&
                           a.native_max_buckets == b.native_max_buckets);
}

std::optional<DeclarationConflict> FindConflict(const FamilySpec& stored, const FamilySpec& spec,
                                                const std::string& path) {
  if (stored.name == spec.name) {
    if (SameDeclaration(stored, spec)) return std::nullopt;
    return DeclarationConflict("metric '" + spec.name + "' is declared as " + DescribeDeclaration(spec) + ", but " +
                               path + " already declares it as " + DescribeDeclaration(stored));
  }
  const std::set<std::string> ours = ExposedNames(spec.type, spec.name);
  for (const std::string& exposed : ExposedNames(stored.type, stored.name)) {
    if (ours.count(exposed))
      return DeclarationConflict("metric '" + spec.name + "': " + DescribeDeclaration(spec) + " would expose '" +
                                 exposed + "', which the file's " + DescribeDeclaration(stored) +
                                 " already exposes");
  }
  return std::nullopt;
}

std::string DescribeDeclaration(const FamilySpec& spec) {
  std::string out = std::string(MetricTypeName(spec.type)) + " " + spec.name + "{";
  const std::vector<std::string> names = Sorted(spec.label_names);
  for (size_t i = 0; i < names.size(); ++i) out += (i ? "," : "") + names[i];
  out += "}";
  if (!spec.unit.empty()) out += " unit=" + spec.unit;
  if (!spec.buckets.empty()) out += " buckets=[" + StoredBuckets(spec.buckets) + "]";
  if (!spec.states.empty()) {
    out += " states=[";
    for (size_t i = 0; i < spec.states.size(); ++i) out += (i ? "," : "") + spec.states[i];
    out += "]";
  }
  if (spec.gauge_mode != GaugeMode::kShared) out += std::string(" mode=") + GaugeModeName(spec.gauge_mode);
  if (spec.ttl_seconds > 0) out += " ttl=" + FormatGoFloat(spec.ttl_seconds) + "s";
  if (HasNative(spec))
    out += " native=[schema " + std::to_string(NativeSchemaForFactor(spec.native_bucket_factor)) +
           ", zero threshold " + FormatGoFloat(spec.native_zero_threshold) + ", max buckets " +
           std::to_string(spec.native_max_buckets) + "]";
  return out;
}

}  // namespace promsqlite::detail
