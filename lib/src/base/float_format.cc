#include "base/float_format.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <system_error>

namespace promsqlite::detail {

void AppendGoFloat(std::string& out, double value) {
  if (std::isnan(value)) { out += "NaN"; return; }
  if (std::isinf(value)) { out += value > 0 ? "+Inf" : "-Inf"; return; }
  if (value == 0) { out += '0'; return; }  // also -0, as expfmt does

  // Shortest round-trip digits, in scientific form: "d[.ddd]e±XX".
  char sci[64];
  auto res = std::to_chars(sci, sci + sizeof sci, value, std::chars_format::scientific);
  std::string_view s(sci, static_cast<size_t>(res.ptr - sci));
  size_t e = s.find('e');
  int exponent = std::atoi(std::string(s.substr(e + 1)).c_str());
  // Go's %g with shortest precision switches to %e when exp < -4 || exp >= 6
  // (eprec is fixed at 6 for the shortest form). Both to_chars and Go write
  // at least two exponent digits, so the scientific text is already Go's.
  if (exponent < -4 || exponent >= 6) {
    out.append(s);
    return;
  }
  char fixed[64];
  res = std::to_chars(fixed, fixed + sizeof fixed, value, std::chars_format::fixed);
  out.append(fixed, static_cast<size_t>(res.ptr - fixed));
}

std::string FormatGoFloat(double value) {
  std::string out;
  AppendGoFloat(out, value);
  return out;
}

void AppendCanonicalFloat(std::string& out, double value) {
  size_t start = out.size();
  AppendGoFloat(out, value);
  if (!std::isfinite(value)) return;
  if (out.find_first_of(".e", start) == std::string::npos) out += ".0";
}

void AppendTimestamp(std::string& out, double value) {
  char fixed[400];  // the longest finite double in fixed notation has 309 digits before the dot
  auto res = std::to_chars(fixed, fixed + sizeof fixed, value, std::chars_format::fixed);
  out.append(fixed, static_cast<size_t>(res.ptr - fixed));
}

bool ParseFloat(std::string_view text, double* value) {
  if (text == "+Inf" || text == "Inf") { *value = HUGE_VAL; return true; }
  if (text == "-Inf") { *value = -HUGE_VAL; return true; }
  if (text == "NaN") { *value = std::nan(""); return true; }
  if (!text.empty() && text[0] == '+') text.remove_prefix(1);
  auto res = std::from_chars(text.data(), text.data() + text.size(), *value);
  return res.ec == std::errc() && res.ptr == text.data() + text.size() && !text.empty();
}

}  // namespace promsqlite::detail
