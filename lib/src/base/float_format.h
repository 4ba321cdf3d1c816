// The one float formatter: numbers exactly as Go's expfmt prints them,
// independent of the C++ locale.
#ifndef PROMSQLITE_SRC_BASE_FLOAT_FORMAT_H_
#define PROMSQLITE_SRC_BASE_FLOAT_FORMAT_H_

#include <string>
#include <string_view>

namespace promsqlite::detail {

// strconv.FormatFloat(v, 'g', -1, 64) with expfmt's special cases:
// "+Inf", "-Inf", "NaN", and "0" for both zeros. E.g. 1, 0.25, 100000,
// 1e+06, 1.5e-07.
void AppendGoFloat(std::string& out, double value);
std::string FormatGoFloat(double value);

// OpenMetrics' canonical form for le/quantile label values: as Go prints
// them, with ".0" added to integers written without exponent ("1.0").
void AppendCanonicalFloat(std::string& out, double value);

// A timestamp in Unix seconds as OpenMetrics parsers read it: the shortest
// round-trip digits without exponent ("1700000000.25", "1700000000"). The
// official Python client's parser splits a timestamp at its dot, so it
// would read "1.70000000025e+09" as 1.7 s. `value` must be finite.
void AppendTimestamp(std::string& out, double value);

// Parses what AppendGoFloat wrote (and any decimal float), locale-free.
// Returns false when `text` is not entirely a number.
bool ParseFloat(std::string_view text, double* value);

}  // namespace promsqlite::detail

#endif  // PROMSQLITE_SRC_BASE_FLOAT_FORMAT_H_
