// Fuzz target for the validation and rendering paths: whatever the bytes,
// validation only ever throws InvalidArgument, the float formatter and the
// label encoding round-trip, escaping is reversible, and every rendered
// sample is one well-formed line.
//
// Built two ways: with libFuzzer (tests/fuzz/run-libfuzzer, clang) and as a
// plain test that replays the corpus plus seeded random inputs (CI).
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "declare/validate.h"
#include "promsqlite/errors.h"
#include "promsqlite/validate.h"
#include "read/snapshot.h"
#include "render/escape.h"
#include "render/float_format.h"
#include "render/renderers.h"
#include "store/tuple_codec.h"

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
