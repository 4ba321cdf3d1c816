// Fuzz target for the validation and rendering paths: whatever the bytes,
// validation only ever throws InvalidArgument, the float formatter and the
// label encoding round-trip, escaping is reversible, and every rendered
// sample is one well-formed line.
//
// Built two ways: with libFuzzer (tests/fuzz/run-libfuzzer, clang) and as a
// plain test that replays the corpus plus seeded random inputs (CI).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "base/escape.h"
#include "base/float_format.h"
#include "base/tuple_codec.h"
#include "declare/validate.h"
#include "model/records.h"
#include "promsqlite/errors.h"
#include "promsqlite/validate.h"
#include "render/renderers.h"

namespace {

using namespace promsqlite;
using namespace promsqlite::detail;

void Require(bool condition) {
  if (!condition) std::abort();  // what libFuzzer reports as a crash
}

std::vector<std::string> Split(std::string_view input, char separator) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t i = 0; i <= input.size(); ++i) {
    if (i == input.size() || input[i] == separator) {
      parts.emplace_back(input.substr(start, i - start));
      start = i + 1;
    }
  }
  return parts;
}

std::string Unescape(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      out += text[i];
      continue;
    }
    Require(i + 1 < text.size());
    char c = text[++i];
    Require(c == '\\' || c == '"' || c == 'n');
    out += c == 'n' ? '\n' : c;
  }
  return out;
}

void CheckFloat(const uint8_t* data, size_t size) {
  if (size < 8) return;
  double value;
  std::memcpy(&value, data, 8);
  std::string text = FormatGoFloat(value);
  double back = 0;
  Require(ParseFloat(text, &back));
  if (std::isnan(value)) Require(std::isnan(back));
  else Require(back == value);
  Require(text.find(',') == std::string::npos);  // never a locale's decimal comma
}

void CheckTupleAndEscapes(const std::vector<std::string>& parts) {
  std::vector<std::string> back;
  Require(DecodeTuple(EncodeTuple(parts), &back) && back == parts);
  for (const std::string& part : parts) {
    std::string escaped;
    AppendEscapedLabelValue(escaped, part);
    Require(escaped.find('\n') == std::string::npos);
    Require(Unescape(escaped) == part);
  }
}

void CheckValidation(const std::vector<std::string>& parts) {
  FamilySpec spec;
  spec.type = static_cast<MetricType>(parts[0].size() % 6);
  spec.name = parts[0];
  if (parts.size() > 1) spec.help = parts[1];
  for (size_t i = 2; i < parts.size() && i < 6; ++i) spec.label_names.push_back(parts[i]);
  if (spec.type == MetricType::kStateSet) spec.states = {"a", parts.back()};
  try {
    FamilySpec normalized = CheckFamilySpec(spec);
    Require(IsValidMetricName(normalized.name));
    Labels labels;
    for (const std::string& name : normalized.label_names) labels[name] = parts.back();
    CheckLabels(normalized, labels);
  } catch (const InvalidArgument&) {
    // The only acceptable failure.
  }
}

// Protobuf wire format, as the renderer writes it: varints, 8-byte
// doubles, length-delimited fields inside their parent's bounds.
bool TakeVarint(std::string_view& in, uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (in.empty()) return false;
    unsigned char b = static_cast<unsigned char>(in.front());
    in.remove_prefix(1);
    *v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}

bool TakeDelimited(std::string_view& in, std::string_view* out) {
  uint64_t n;
  if (!TakeVarint(in, &n) || n > in.size()) return false;
  *out = in.substr(0, n);
  in.remove_prefix(n);
  return true;
}

// depth 0 MetricFamily, 1 Metric, 2 LabelPair / Histogram / scalar
// messages. Collects LabelPair values in order.
bool WalkMessage(std::string_view in, int depth, std::vector<std::string>* label_values) {
  while (!in.empty()) {
    uint64_t key;
    if (!TakeVarint(in, &key)) return false;
    const uint64_t field = key >> 3, wire = key & 7;
    if (wire == 0) {
      uint64_t v;
      if (!TakeVarint(in, &v)) return false;
    } else if (wire == 1) {
      if (in.size() < 8) return false;
      in.remove_prefix(8);
    } else if (wire == 2) {
      std::string_view body;
      if (!TakeDelimited(in, &body)) return false;
      const bool message = (depth == 0 && field == 4) || (depth == 1 && field != 0);
      if (message && !WalkMessage(body, depth + 1, label_values)) return false;
      if (depth == 2 && field == 2 && label_values->size() < 1000) label_values->emplace_back(body);
    } else {
      return false;
    }
  }
  return true;
}

// Renders one family with the fuzzed label values (when valid) in both
// formats and checks that each sample line stands alone.
void CheckRender(const std::vector<std::string>& parts) {
  FamilyRecord family;
  family.spec.type = static_cast<MetricType>(parts.size() % 6);
  family.spec.name = "fuzz";
  family.spec.help = parts[0];
  family.spec.buckets = {0.5, 1};
  family.spec.states = {"x", "y"};
  SeriesRecord series;
  for (size_t i = 0; i < parts.size() && i < 4; ++i) {
    if (!IsValidUtf8(parts[i])) return;
    family.spec.label_names.push_back("l" + std::to_string(i));
    series.label_values.push_back(parts[i]);
  }
  series.value = static_cast<double>(parts.size());
  series.count = 2;
  series.bucket_counts = {1, 1};
  for (Format format : {Format::kText, Format::kOpenMetrics}) {
    std::string out;
    Sink sink = [&](std::string_view chunk) { out.append(chunk); };
    auto renderer = format == Format::kText ? MakeTextRenderer(sink) : MakeOpenMetricsRenderer(sink);
    renderer->Family(family);
    renderer->Series(family, series);
    renderer->End();
    Require(!out.empty() && out.back() == '\n');
    for (const std::string& line : Split(std::string_view(out).substr(0, out.size() - 1), '\n'))
      Require(line.rfind("# ", 0) == 0 || line.rfind("fuzz", 0) == 0);
  }
  // Protobuf, with a native histogram on every other histogram: the
  // framing is exact and every label value comes back byte for byte.
  if (family.spec.type == MetricType::kHistogram && parts.size() % 2 == 0) {
    family.spec.native_bucket_factor = 1.1;
    series.native.schema = static_cast<int32_t>(parts[0].size() % 13) - 4;
    series.native.zero_count = static_cast<int64_t>(parts.size());
    for (size_t i = 0; i < parts.size() && i < 8; ++i)
      series.native.positive.emplace_back(static_cast<int32_t>(i * parts[i].size()) - 10 + static_cast<int32_t>(i),
                                          static_cast<int64_t>(parts[i].size()) + 1);
    std::sort(series.native.positive.begin(), series.native.positive.end());
    series.native.positive.erase(std::unique(series.native.positive.begin(), series.native.positive.end(),
                                             [](const auto& a, const auto& b) { return a.first == b.first; }),
                                 series.native.positive.end());
  }
  std::string out;
  Sink sink = [&](std::string_view chunk) { out.append(chunk); };
  auto renderer = MakeProtobufRenderer(sink);
  renderer->Family(family);
  renderer->Series(family, series);
  renderer->End();
  std::vector<std::string> values;
  std::string_view rest(out);
  Require(!rest.empty());
  while (!rest.empty()) {
    std::string_view message;
    Require(TakeDelimited(rest, &message));
    Require(WalkMessage(message, 0, &values));
  }
  // Label values in name order: l0 < l1 < l2 < l3 (and a stateset's own).
  // Empty values are left out.
  std::vector<std::string> expected;
  for (const std::string& v : series.label_values) {
    if (!v.empty()) expected.push_back(v);
  }
  if (family.spec.type != MetricType::kStateSet) {
    size_t metrics = values.size() / std::max<size_t>(expected.size(), 1);
    for (size_t m = 0; m < metrics && !expected.empty(); ++m)
      Require(std::equal(expected.begin(), expected.end(), values.begin() + static_cast<long>(m * expected.size())));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  CheckFloat(data, size);
  std::vector<std::string> parts = Split(input, '|');
  CheckTupleAndEscapes(parts);
  CheckValidation(parts);
  CheckRender(parts);
  return 0;
}
