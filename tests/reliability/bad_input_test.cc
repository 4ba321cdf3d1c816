// The bad-input matrix: every invalid input is rejected with its own
// message, and the file's content is byte-for-byte the same afterwards.
// (The CLI's own matrix, with exit codes, is in tests/cli_test.cc.)
#include <doctest/doctest.h>

#include <cmath>
#include <functional>

#include "promsqlite/promsqlite.h"
#include "test_util.h"

using namespace promsqlite;

namespace {

enum class Kind { kInvalid, kConflict };

struct BadInput {
  const char* what;
  std::function<void(Registry&)> attempt;
  Kind kind;
  const char* message;  // expected exact message, PATH replaced by the file's path
};

std::string Expand(std::string message, const std::string& path) {
  for (size_t at; (at = message.find("PATH")) != std::string::npos;) message.replace(at, 4, path);
  return message;
}

const std::string kLong(70000, 'v');

}  // namespace

TEST_CASE("more than 50 distinct invalid inputs are each rejected by name, storing nothing") {
  test::TempDir dir;
  const std::string path = dir.File("m.db");
  Registry registry(path);
  // What the bad inputs collide with.
  auto counter = BuildCounter().Name("existing").Help("E.").LabelNames({"a", "b"}).Register(registry);
  auto histogram = BuildHistogram().Name("latency").Buckets({1, 2}).LabelNames({"route"}).Register(registry);
  auto gauge = BuildGauge().Name("level").Register(registry);
  auto summary = BuildSummary().Name("sizes").Register(registry);
  auto states = BuildEnum().Name("phase").States({"a", "b"}).Register(registry);
  BuildGauge().Name("depth_total").Register(registry);
  BuildGauge().Name("size").Unit("bytes").Register(registry);
  counter.WithLabelValues({"1", "2"}).Increment();

  const std::vector<BadInput> cases = {
      // Metric names.
      {"empty name", [](Registry& r) { BuildGauge().Name("").Register(r); }, Kind::kInvalid, "metric '': metric name \"\" must match [a-zA-Z_:][a-zA-Z0-9_:]*"},
      {"leading digit", [](Registry& r) { BuildGauge().Name("0x").Register(r); }, Kind::kInvalid, "metric '0x': metric name \"0x\" must match [a-zA-Z_:][a-zA-Z0-9_:]*"},
      {"dash", [](Registry& r) { BuildGauge().Name("a-b").Register(r); }, Kind::kInvalid, "metric 'a-b': metric name \"a-b\" must match [a-zA-Z_:][a-zA-Z0-9_:]*"},
      {"space", [](Registry& r) { BuildGauge().Name("a b").Register(r); }, Kind::kInvalid, "metric 'a b': metric name \"a b\" must match [a-zA-Z_:][a-zA-Z0-9_:]*"},
      {"dot", [](Registry& r) { BuildGauge().Name("a.b").Register(r); }, Kind::kInvalid, "metric 'a.b': metric name \"a.b\" must match [a-zA-Z_:][a-zA-Z0-9_:]*"},
      {"unicode name", [](Registry& r) { BuildGauge().Name("größe").Register(r); }, Kind::kInvalid, "metric 'größe': metric name \"größe\" must match [a-zA-Z_:][a-zA-Z0-9_:]*"},
      {"newline in name", [](Registry& r) { BuildGauge().Name("a\nb").Register(r); }, Kind::kInvalid, "metric 'a\nb': metric name \"a\\nb\" must match [a-zA-Z_:][a-zA-Z0-9_:]*"},
      {"quote in name", [](Registry& r) { BuildGauge().Name("a\"").Register(r); }, Kind::kInvalid, "metric 'a\"': metric name \"a\\\"\" must match [a-zA-Z_:][a-zA-Z0-9_:]*"},
      {"enum with colon", [](Registry& r) { BuildEnum().Name("a:b").States({"x"}).Register(r); }, Kind::kInvalid, "metric 'a:b': an enum's name is also its state label, so it must match [a-zA-Z_][a-zA-Z0-9_]*"},
      // Label names.
      {"empty label name", [](Registry& r) { BuildGauge().Name("g").LabelNames({""}).Register(r); }, Kind::kInvalid, "metric 'g': label name \"\" must match [a-zA-Z_][a-zA-Z0-9_]*"},
      {"label with colon", [](Registry& r) { BuildGauge().Name("g").LabelNames({"a:b"}).Register(r); }, Kind::kInvalid, "metric 'g': label name \"a:b\" must match [a-zA-Z_][a-zA-Z0-9_]*"},
      {"label leading digit", [](Registry& r) { BuildGauge().Name("g").LabelNames({"1a"}).Register(r); }, Kind::kInvalid, "metric 'g': label name \"1a\" must match [a-zA-Z_][a-zA-Z0-9_]*"},
      {"reserved __ label", [](Registry& r) { BuildGauge().Name("g").LabelNames({"__name__"}).Register(r); }, Kind::kInvalid, "metric 'g': label name \"__name__\" starts with \"__\", which is reserved"},
      {"duplicate label", [](Registry& r) { BuildGauge().Name("g").LabelNames({"x", "y", "x"}).Register(r); }, Kind::kInvalid, "metric 'g': label name \"x\" is declared twice"},
      {"le on histogram", [](Registry& r) { BuildHistogram().Name("h").LabelNames({"le"}).Register(r); }, Kind::kInvalid, "metric 'h': a histogram cannot have a label named \"le\" (it names the buckets)"},
      {"quantile on summary", [](Registry& r) { BuildSummary().Name("s").LabelNames({"quantile"}).Register(r); }, Kind::kInvalid, "metric 's': a summary cannot have a label named \"quantile\""},
      {"enum label named like enum", [](Registry& r) { BuildEnum().Name("e").States({"x"}).LabelNames({"e"}).Register(r); }, Kind::kInvalid, "metric 'e': an enum cannot have a label named like itself (it names the states)"},
      // Help and unit.
      {"help not UTF-8", [](Registry& r) { BuildGauge().Name("g").Help("\xc3\x28").Register(r); }, Kind::kInvalid, "metric 'g': help text is not valid UTF-8"},
      {"help too long", [](Registry& r) { BuildGauge().Name("g").Help(kLong).Register(r); }, Kind::kInvalid, "metric 'g': help text is longer than 65536 bytes"},
      {"unit with slash", [](Registry& r) { BuildGauge().Name("g").Unit("m/s").Register(r); }, Kind::kInvalid, "metric 'g': unit \"m/s\" must match [a-zA-Z_][a-zA-Z0-9_]*"},
      // Buckets and states.
      {"equal buckets", [](Registry& r) { BuildHistogram().Name("h").Buckets({1, 1}).Register(r); }, Kind::kInvalid, "metric 'h': bucket bounds must be strictly increasing, but 1 is followed by 1"},
      {"decreasing buckets", [](Registry& r) { BuildHistogram().Name("h").Buckets({5, 2}).Register(r); }, Kind::kInvalid, "metric 'h': bucket bounds must be strictly increasing, but 5 is followed by 2"},
      {"NaN bucket", [](Registry& r) { BuildHistogram().Name("h").Buckets({std::nan("")}).Register(r); }, Kind::kInvalid, "metric 'h': bucket bound 0 is NaN"},
      {"-Inf bucket", [](Registry& r) { BuildHistogram().Name("h").Buckets({-HUGE_VAL, 0}).Register(r); }, Kind::kInvalid, "metric 'h': bucket bound -Inf is infinite (only a last +Inf is allowed)"},
      {"+Inf in the middle", [](Registry& r) { BuildHistogram().Name("h").Buckets({1, HUGE_VAL, 3}).Register(r); }, Kind::kInvalid, "metric 'h': bucket bound +Inf is infinite (only a last +Inf is allowed)"},
      {"only +Inf", [](Registry& r) { BuildHistogram().Name("h").Buckets({HUGE_VAL}).Register(r); }, Kind::kInvalid, "metric 'h': a histogram needs at least one finite bucket bound besides +Inf"},
      {"no states", [](Registry& r) { BuildEnum().Name("e").States({}).Register(r); }, Kind::kInvalid, "metric 'e': an enum needs at least one state"},
      {"duplicate state", [](Registry& r) { BuildEnum().Name("e").States({"x", "x"}).Register(r); }, Kind::kInvalid, "metric 'e': state \"x\" is declared twice"},
      {"state not UTF-8", [](Registry& r) { BuildEnum().Name("e").States({"\xff"}).Register(r); }, Kind::kInvalid, "metric 'e': value of label \"e\" is not valid UTF-8"},
      {"wrong registration type", [](Registry& r) { FamilySpec s; s.type = MetricType::kGauge; s.name = "g"; r.Register<Counter>(s); }, Kind::kInvalid, "metric 'g': declared as gauge but registered as counter"},
      // Declaration conflicts with the file.
      {"type clash", [](Registry& r) { BuildGauge().Name("existing").LabelNames({"a", "b"}).Register(r); }, Kind::kConflict, "metric 'existing' is declared as gauge existing{a,b}, but PATH already declares it as counter existing{a,b}"},
      {"label clash", [](Registry& r) { BuildCounter().Name("existing").LabelNames({"a"}).Register(r); }, Kind::kConflict, "metric 'existing' is declared as counter existing{a}, but PATH already declares it as counter existing{a,b}"},
      {"bucket clash", [](Registry& r) { BuildHistogram().Name("latency").Buckets({1, 3}).LabelNames({"route"}).Register(r); }, Kind::kConflict, "metric 'latency' is declared as histogram latency{route} buckets=[1,3], but PATH already declares it as histogram latency{route} buckets=[1,2]"},
      {"default vs custom buckets", [](Registry& r) { BuildHistogram().Name("latency").LabelNames({"route"}).Register(r); }, Kind::kConflict, "metric 'latency' is declared as histogram latency{route} buckets=[0.005,0.01,0.025,0.05,0.1,0.25,0.5,1,2.5,5,10], but PATH already declares it as histogram latency{route} buckets=[1,2]"},
      {"state clash", [](Registry& r) { BuildEnum().Name("phase").States({"a", "c"}).Register(r); }, Kind::kConflict, "metric 'phase' is declared as stateset phase{} states=[a,c], but PATH already declares it as stateset phase{} states=[a,b]"},
      {"unit clash", [](Registry& r) { BuildGauge().Name("size_bytes").Register(r); }, Kind::kConflict, "metric 'size_bytes' is declared as gauge size_bytes{}, but PATH already declares it as gauge size_bytes{} unit=bytes"},
      {"gauge shadows counter sample", [](Registry& r) { BuildGauge().Name("existing_total").Register(r); }, Kind::kConflict, "metric 'existing_total': gauge existing_total{} would expose 'existing_total', which the file's counter existing{a,b} already exposes"},
      {"counter over gauge name", [](Registry& r) { BuildCounter().Name("depth").Register(r); }, Kind::kConflict, "metric 'depth': counter depth{} would expose 'depth_total', which the file's gauge depth_total{} already exposes"},
      {"histogram over summary", [](Registry& r) { BuildHistogram().Name("sizes").Register(r); }, Kind::kConflict, "metric 'sizes' is declared as histogram sizes{} buckets=[0.005,0.01,0.025,0.05,0.1,0.25,0.5,1,2.5,5,10], but PATH already declares it as summary sizes{}"},
      {"gauge over bucket series", [](Registry& r) { BuildGauge().Name("latency_bucket").Register(r); }, Kind::kConflict, "metric 'latency_bucket': gauge latency_bucket{} would expose 'latency_bucket', which the file's histogram latency{route} buckets=[1,2] already exposes"},
      // Label values.
      {"value not UTF-8", [&](Registry&) { counter.WithLabelValues({"\xff", "x"}); }, Kind::kInvalid, "metric 'existing': value of label \"a\" is not valid UTF-8"},
      {"overlong encoding", [&](Registry&) { counter.WithLabelValues({"x", "\xc0\xaf"}); }, Kind::kInvalid, "metric 'existing': value of label \"b\" is not valid UTF-8"},
      {"UTF-16 surrogate", [&](Registry&) { counter.WithLabelValues({"\xed\xa0\x80", "x"}); }, Kind::kInvalid, "metric 'existing': value of label \"a\" is not valid UTF-8"},
      {"beyond U+10FFFF", [&](Registry&) { counter.WithLabelValues({"\xf4\x90\x80\x80", "x"}); }, Kind::kInvalid, "metric 'existing': value of label \"a\" is not valid UTF-8"},
      {"truncated sequence", [&](Registry&) { counter.WithLabelValues({"ok\xe2\x82", "x"}); }, Kind::kInvalid, "metric 'existing': value of label \"a\" is not valid UTF-8"},
      {"lone continuation byte", [&](Registry&) { counter.WithLabelValues({"\x80", "x"}); }, Kind::kInvalid, "metric 'existing': value of label \"a\" is not valid UTF-8"},
      {"very long value", [&](Registry&) { counter.WithLabelValues({kLong, "x"}); }, Kind::kInvalid, "metric 'existing': value of label \"a\" is 70000 bytes, more than the limit of 65536"},
      {"too few values", [&](Registry&) { counter.WithLabelValues({"x"}); }, Kind::kInvalid, "metric 'existing': expects 2 label values (a, b), got 1"},
      {"too many values", [&](Registry&) { counter.WithLabelValues({"x", "y", "z"}); }, Kind::kInvalid, "metric 'existing': expects 2 label values (a, b), got 3"},
      {"missing named label", [&](Registry&) { counter.Add({{"a", "x"}}); }, Kind::kInvalid, "metric 'existing': label 'b' is missing (declared labels: a, b)"},
      {"unknown named label", [&](Registry&) { counter.Add({{"a", "x"}, {"b", "y"}, {"c", "z"}}); }, Kind::kInvalid, "metric 'existing': label 'c' is not declared (declared labels: a, b)"},
      {"label on unlabelled family", [&](Registry&) { gauge.Add({{"x", "y"}}); }, Kind::kInvalid, "metric 'level': label 'x' is not declared (declared labels: none)"},
      // Values.
      {"negative counter increment", [&](Registry&) { counter.WithLabelValues({"1", "2"}).Increment(-0.5); }, Kind::kInvalid, "metric 'existing': Counter.Increment needs an amount >= 0, got -0.5"},
      {"NaN counter increment", [&](Registry&) { counter.WithLabelValues({"1", "2"}).Increment(std::nan("")); }, Kind::kInvalid, "metric 'existing': Counter.Increment does not accept NaN"},
      {"+Inf counter increment", [&](Registry&) { counter.WithLabelValues({"1", "2"}).Increment(HUGE_VAL); }, Kind::kInvalid, "metric 'existing': Counter.Increment does not accept +Inf"},
      {"NaN gauge increment", [&](Registry&) { gauge.WithLabelValues({}).Increment(std::nan("")); }, Kind::kInvalid, "metric 'level': Gauge.Increment does not accept NaN"},
      {"NaN gauge decrement", [&](Registry&) { gauge.WithLabelValues({}).Decrement(std::nan("")); }, Kind::kInvalid, "metric 'level': Gauge.Decrement does not accept NaN"},
      {"NaN histogram observation", [&](Registry&) { histogram.WithLabelValues({"/"}).Observe(std::nan("")); }, Kind::kInvalid, "metric 'latency': Histogram.Observe does not accept NaN"},
      {"NaN summary observation", [&](Registry&) { summary.WithLabelValues({}).Observe(std::nan("")); }, Kind::kInvalid, "metric 'sizes': Summary.Observe does not accept NaN"},
      {"unknown enum state", [&](Registry&) { states.WithLabelValues({}).Set("z"); }, Kind::kInvalid, "metric 'phase': state \"z\" is not declared (states: a, b)"},
  };
  CHECK(cases.size() >= 50);
  // Create the series the value cases touch, so only the update is at stake.
  gauge.WithLabelValues({});
  histogram.WithLabelValues({"/"});
  summary.WithLabelValues({});
  states.WithLabelValues({});
  const std::string before = test::DumpDatabase(path);
  for (const BadInput& c : cases) {
    std::string what = c.what;
    CAPTURE(what);
    std::string expected = Expand(c.message, path);
    if (c.kind == Kind::kInvalid) CHECK_THROWS_WITH_AS(c.attempt(registry), expected.c_str(), InvalidArgument);
    else CHECK_THROWS_WITH_AS(c.attempt(registry), expected.c_str(), DeclarationConflict);
    CHECK(test::DumpDatabase(path) == before);
  }
}
