#include "render/output.h"

#include "base/escape.h"
#include "base/float_format.h"

namespace promsqlite::detail {

void AppendLabelSet(std::string& out, const std::vector<std::string>& names,
                    const std::vector<std::string>& values, std::string_view extra_name,
                    std::string_view extra_value) {
  if (names.empty() && extra_name.empty()) return;
  out += '{';
  for (size_t i = 0; i < names.size(); ++i) {
    if (i) out += ',';
    out += names[i];
    out += "=\"";
    AppendEscapedLabelValue(out, values[i]);
    out += '"';
  }
  if (!extra_name.empty()) {
    if (!names.empty()) out += ',';
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += '}';
}

void AppendSample(std::string& out, const std::string& name, std::string_view suffix,
                  const FamilyRecord& family, const SeriesRecord& series, double value,
                  std::string_view extra_name, std::string_view extra_value) {
  out += name;
  out += suffix;
  AppendLabelSet(out, family.spec.label_names, series.label_values, extra_name, extra_value);
  out += ' ';
  AppendGoFloat(out, value);
  out += '\n';
}

}  // namespace promsqlite::detail
