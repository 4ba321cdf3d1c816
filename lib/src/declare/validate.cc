#include "declare/validate.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "base/float_format.h"
#include "base/sample_suffix.h"
#include "promsqlite/errors.h"
#include "promsqlite/validate.h"

namespace promsqlite::detail {
namespace {

bool IsAsciiLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

[[noreturn]] void Fail(const std::string& family, const std::string& message) {
  throw InvalidArgument("metric '" + family + "': " + message);
}

std::string Quoted(std::string_view s) {
  // Keeps messages one line and readable even for hostile input.
  std::string out = "\"";
  for (char c : s.substr(0, 80)) {
    if (c == '\n') out += "\\n";
    else if (c == '"' || c == '\\') { out += '\\'; out += c; }
    else if (static_cast<unsigned char>(c) < 0x20) out += '?';
    else out += c;
  }
  if (s.size() > 80) out += "...";
  return out + "\"";
}

// The rule a label name (declared or an exemplar's) breaks, or null.
const char* LabelNameRule(std::string_view name) {
  if (!IsValidLabelName(name)) return "must match [a-zA-Z_][a-zA-Z0-9_]*";
  if (name.size() >= 2 && name[0] == '_' && name[1] == '_') return "starts with \"__\", which is reserved";
  return nullptr;
}

void ValidateLabelNames(const FamilySpec& spec) {
  std::set<std::string_view> seen;
  for (const std::string& label : spec.label_names) {
    if (const char* rule = LabelNameRule(label)) Fail(spec.name, "label name " + Quoted(label) + " " + rule);
    if (!seen.insert(label).second)
      Fail(spec.name, "label name " + Quoted(label) + " is declared twice");
    if (spec.type == MetricType::kHistogram && label == "le")
      Fail(spec.name, "a histogram cannot have a label named \"le\" (it names the buckets)");
    if (spec.type == MetricType::kSummary && label == "quantile")
      Fail(spec.name, "a summary cannot have a label named \"quantile\"");
    if (spec.type == MetricType::kStateSet && label == spec.name)
      Fail(spec.name, "an enum cannot have a label named like itself (it names the states)");
  }
}

void ValidateBuckets(FamilySpec& spec) {
  if (std::isinf(spec.buckets.back()) && spec.buckets.back() > 0)
    spec.buckets.pop_back();  // +Inf is always implied
  if (spec.buckets.empty())
    Fail(spec.name, "a histogram needs at least one finite bucket bound besides +Inf");
  for (size_t i = 0; i < spec.buckets.size(); ++i) {
    double b = spec.buckets[i];
    if (std::isnan(b)) Fail(spec.name, "bucket bound " + std::to_string(i) + " is NaN");
    if (std::isinf(b))
      Fail(spec.name, "bucket bound " + FormatGoFloat(b) + " is infinite (only a last +Inf is allowed)");
    if (i > 0 && !(spec.buckets[i - 1] < b))
      Fail(spec.name, "bucket bounds must be strictly increasing, but " +
                          FormatGoFloat(spec.buckets[i - 1]) + " is followed by " + FormatGoFloat(b));
  }
}

void ValidateStates(const FamilySpec& spec) {
  if (spec.states.empty()) Fail(spec.name, "an enum needs at least one state");
  std::set<std::string_view> seen;
  for (const std::string& state : spec.states) {
    ValidateLabelValue(spec.name, spec.name, state);
    if (!seen.insert(state).second) Fail(spec.name, "state " + Quoted(state) + " is declared twice");
  }
}

}  // namespace

bool IsValidMetricName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = IsAsciiLetter(c) || c == '_' || c == ':' || (i > 0 && IsDigit(c));
    if (!ok) return false;
  }
  return true;
}

bool IsValidLabelName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (!(IsAsciiLetter(c) || c == '_' || (i > 0 && IsDigit(c)))) return false;
  }
  return true;
}

bool IsValidUtf8(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  size_t n = text.size();
  for (size_t i = 0; i < n;) {
    unsigned char c = s[i];
    if (c < 0x80) { ++i; continue; }
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) { len = 2; cp = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; cp = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; cp = c & 0x07; }
    else return false;  // continuation byte first, overlong 2-byte lead, or > U+10FFFF
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))) return false;
    if (cp >= 0xD800 && cp <= 0xDFFF) return false;  // UTF-16 surrogates
    i += len;
  }
  return true;
}

FamilySpec NormalizeSpec(FamilySpec spec) {
  if (!IsValidMetricName(spec.name))
    Fail(spec.name, "metric name " + Quoted(spec.name) + " must match [a-zA-Z_:][a-zA-Z0-9_:]*");
  const std::string_view exposed_suffix = FamilyNameSuffix(spec.type);  // a counter's _total, an info's _info
  if (EndsWith(spec.name, exposed_suffix) && spec.name.size() > exposed_suffix.size())
    spec.name.resize(spec.name.size() - exposed_suffix.size());
  if (!spec.unit.empty()) {
    if (!IsValidLabelName(spec.unit))
      Fail(spec.name, "unit " + Quoted(spec.unit) + " must match [a-zA-Z_][a-zA-Z0-9_]*");
    if (!EndsWith(spec.name, "_" + spec.unit)) spec.name += "_" + spec.unit;
  }
  if (spec.type == MetricType::kStateSet && !IsValidLabelName(spec.name))
    Fail(spec.name, "an enum's name is also its state label, so it must match [a-zA-Z_][a-zA-Z0-9_]*");
  if (spec.help.size() > kMaxHelpBytes)
    Fail(spec.name, "help text is longer than " + std::to_string(kMaxHelpBytes) + " bytes");
  if (!IsValidUtf8(spec.help)) Fail(spec.name, "help text is not valid UTF-8");
  ValidateLabelNames(spec);

  const bool native = spec.native_bucket_factor != 0;
  if (native) {
    if (spec.type != MetricType::kHistogram) Fail(spec.name, "only histograms have a native histogram");
    if (!(spec.native_bucket_factor > 1) || std::isinf(spec.native_bucket_factor))
      Fail(spec.name, "native histogram bucket factor must be a finite number > 1, got " +
                          FormatGoFloat(spec.native_bucket_factor));
    if (!(spec.native_zero_threshold >= 0) || std::isinf(spec.native_zero_threshold))
      Fail(spec.name, "native histogram zero threshold must be a finite number >= 0, got " +
                          FormatGoFloat(spec.native_zero_threshold));
    if (spec.native_max_buckets < 1)
      Fail(spec.name, "native histogram max buckets must be >= 1, got " + std::to_string(spec.native_max_buckets));
  }
  if (spec.type == MetricType::kHistogram) {
    // A native histogram without explicit buckets has no classic ones.
    if (spec.buckets.empty() && !native) spec.buckets = DefaultBuckets();
    if (!spec.buckets.empty()) ValidateBuckets(spec);
  } else if (!spec.buckets.empty()) {
    Fail(spec.name, "only histograms have buckets");
  }
  if (spec.type == MetricType::kStateSet) ValidateStates(spec);
  else if (!spec.states.empty()) Fail(spec.name, "only enums have states");
  if (spec.gauge_mode != GaugeMode::kShared && spec.type != MetricType::kGauge)
    Fail(spec.name, "only gauges have a multiprocess mode");
  bool per_pid = spec.gauge_mode == GaugeMode::kAll || spec.gauge_mode == GaugeMode::kLiveAll;
  if (per_pid && std::find(spec.label_names.begin(), spec.label_names.end(), "pid") != spec.label_names.end())
    Fail(spec.name, "a gauge in mode " + std::string(GaugeModeName(spec.gauge_mode)) +
                        " cannot have a label named \"pid\" (it names the writer process)");
  if (!(spec.ttl_seconds >= 0) || std::isinf(spec.ttl_seconds))
    Fail(spec.name, "TTL must be a finite number of seconds >= 0, got " + FormatGoFloat(spec.ttl_seconds));
  return spec;
}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) out += (i ? ", " : "") + names[i];
  return out.empty() ? "none" : out;
}

void ValidateLabelNames(const std::string& family, const std::vector<std::string>& declared,
                        const Labels& labels) {
  std::set<std::string_view> known(declared.begin(), declared.end());
  for (const auto& label : labels) {
    if (!known.count(label.first))
      Fail(family, "label '" + label.first + "' is not declared (declared labels: " + JoinNames(declared) + ")");
  }
  for (const std::string& name : declared) {
    if (!labels.count(name))
      Fail(family, "label '" + name + "' is missing (declared labels: " + JoinNames(declared) + ")");
  }
}

void RequireLabelNames(const std::string& family, const std::vector<std::string>& sorted_names,
                       const std::vector<std::string>& declared, const Labels& labels) {
  bool same = labels.size() == sorted_names.size() &&
              std::equal(sorted_names.begin(), sorted_names.end(), labels.begin(),
                         [](const std::string& name, const auto& label) { return name == label.first; });
  if (!same) ValidateLabelNames(family, declared, labels);
}

void ValidateLabelValue(const std::string& family, std::string_view label, std::string_view value) {
  if (value.size() > kMaxLabelValueBytes)
    Fail(family, "value of label \"" + std::string(label) + "\" is " + std::to_string(value.size()) +
                     " bytes, more than the limit of " + std::to_string(kMaxLabelValueBytes));
  if (!IsValidUtf8(value))
    Fail(family, "value of label \"" + std::string(label) + "\" is not valid UTF-8");
}

void ValidateExemplar(const std::string& family, const char* what, const Labels& exemplar) {
  const std::string prefix = *what ? std::string(what) + ": " : "";
  size_t characters = 0;
  auto count = [&](std::string_view text) {
    for (char c : text) characters += (static_cast<unsigned char>(c) & 0xC0) != 0x80;  // lead bytes
  };
  for (const auto& [name, value] : exemplar) {
    if (const char* rule = LabelNameRule(name))
      Fail(family, prefix + "exemplar label name " + Quoted(name) + " " + rule);
    if (!IsValidUtf8(value)) Fail(family, prefix + "value of exemplar label \"" + name + "\" is not valid UTF-8");
    count(name);
    count(value);
  }
  if (characters > kMaxExemplarCharacters)
    Fail(family, prefix + "exemplar labels have " + std::to_string(characters) +
                     " characters (names and values together), more than the limit of " +
                     std::to_string(kMaxExemplarCharacters));
}

void ValidateValue(const std::string& family, const char* what, double value, bool allow_infinite,
                   bool non_negative) {
  if (std::isnan(value)) Fail(family, std::string(what) + " does not accept NaN");
  if (!allow_infinite && std::isinf(value))
    Fail(family, std::string(what) + " does not accept " + FormatGoFloat(value));
  if (non_negative && value < 0)
    Fail(family, std::string(what) + " needs an amount >= 0, got " + FormatGoFloat(value));
}

}  // namespace promsqlite::detail

namespace promsqlite {

FamilySpec CheckFamilySpec(FamilySpec spec) { return detail::NormalizeSpec(std::move(spec)); }

void CheckLabels(const FamilySpec& spec, const Labels& labels) {
  detail::ValidateLabelNames(spec.name, spec.label_names, labels);
  for (const auto& label : labels) detail::ValidateLabelValue(spec.name, label.first, label.second);
}

void CheckExemplar(const std::string& name, const Labels& exemplar) {
  detail::ValidateExemplar(name, "", exemplar);
}

void CheckValue(const std::string& name, Update update, double value) {
  switch (update) {
    case Update::kCounterIncrement:
      detail::ValidateValue(name, "Counter.Increment", value, false, true);
      break;
    case Update::kGaugeAdd:
      detail::ValidateValue(name, "Gauge.Increment", value, true, false);
      break;
    case Update::kGaugeSet:
      break;
    case Update::kObserve:
      detail::ValidateValue(name, "Observe", value, true, false);
      break;
  }
}

}  // namespace promsqlite
