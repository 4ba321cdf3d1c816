// Floats must come out exactly as Go's strconv.FormatFloat(v, 'g', -1, 64)
// with expfmt's special cases; the expected strings are what Go prints.
#include <doctest/doctest.h>

#include <clocale>
#include <cmath>
#include <limits>

#include "base/float_format.h"

using promsqlite::detail::AppendCanonicalFloat;
using promsqlite::detail::FormatGoFloat;
using promsqlite::detail::ParseFloat;

TEST_CASE("floats are formatted as Go's shortest %g form") {
  struct Case {
    double value;
    const char* go;
  };
  const Case cases[] = {
      {1, "1"},
      {-1, "-1"},
      {0.25, "0.25"},
      {0.1, "0.1"},
      {100000, "100000"},
      {123456, "123456"},
      {1e6, "1e+06"},
      {1234567, "1.234567e+06"},
      {1.5e-7, "1.5e-07"},
      {0.0001, "0.0001"},
      {0.00001, "1e-05"},
      {0.000123, "0.000123"},
      {1e21, "1e+21"},
      {1e100, "1e+100"},
      {5e-324, "5e-324"},
      {1.7976931348623157e308, "1.7976931348623157e+308"},
      {0.3, "0.3"},
      {0.1 + 0.2, "0.30000000000000004"},
      {2.5, "2.5"},
      {-0.005, "-0.005"},
      {1455.976, "1455.976"},
      {999999, "999999"},
      {9999999, "9.999999e+06"},
      {1.795880769167077e+09, "1.795880769167077e+09"},
      {std::numeric_limits<double>::infinity(), "+Inf"},
      {-std::numeric_limits<double>::infinity(), "-Inf"},
      {std::nan(""), "NaN"},
      {0.0, "0"},
      {-0.0, "0"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.go);
    CHECK(FormatGoFloat(c.value) == c.go);
  }
}

TEST_CASE("float formatting ignores the C locale's decimal separator") {
  const char* previous = std::setlocale(LC_NUMERIC, nullptr);
  std::string saved = previous ? previous : "C";
  // de_DE may not be installed; C.UTF-8 at least exercises the call path.
  bool german = std::setlocale(LC_NUMERIC, "de_DE.UTF-8") != nullptr;
  CHECK(FormatGoFloat(0.25) == "0.25");
  CHECK(FormatGoFloat(1234567.5) == "1.2345675e+06");
  double parsed = 0;
  CHECK(ParseFloat("0.25", &parsed));
  CHECK(parsed == 0.25);
  std::setlocale(LC_NUMERIC, saved.c_str());
  (void)german;
}

TEST_CASE("OpenMetrics le values are canonical: integers get .0") {
  auto canonical = [](double v) {
    std::string out;
    AppendCanonicalFloat(out, v);
    return out;
  };
  CHECK(canonical(1) == "1.0");
  CHECK(canonical(10) == "10.0");
  CHECK(canonical(0.005) == "0.005");
  CHECK(canonical(2.5) == "2.5");
  CHECK(canonical(1e6) == "1e+06");
  CHECK(canonical(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(canonical(0) == "0.0");
}

TEST_CASE("formatted floats parse back to the same double") {
  const double values[] = {0.1, 1.0 / 3, 1e-300, 123456789.123, -2.5e+250, 1234567};
  for (double v : values) {
    double back = 0;
    REQUIRE(ParseFloat(FormatGoFloat(v), &back));
    CHECK(back == v);
  }
  double ignored;
  CHECK_FALSE(ParseFloat("1.5x", &ignored));
  CHECK_FALSE(ParseFloat("", &ignored));
  CHECK(ParseFloat("+Inf", &ignored));
  CHECK(std::isinf(ignored));
}
