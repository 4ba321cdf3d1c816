// Invalid names, labels, values and layouts are rejected with a message
// naming the metric and the rule, and nothing reaches the file.
#include <doctest/doctest.h>

#include <cmath>

#include "promsqlite/promsqlite.h"
#include "test_util.h"

using namespace promsqlite;

namespace {

// Family and series counts, to show that a rejected call wrote nothing.
std::pair<int64_t, int64_t> Counts(const std::string& path) {
  Reader reader(path);
  FileStats s = reader.Stats();
  return {s.families, s.series};
}

template <typename B>
void ExpectDeclarationRejected(const std::string& path, B builder, const std::string& message) {
  Registry registry(path);
  auto before = Counts(path);
  CHECK_THROWS_WITH_AS(builder.Register(registry), message.c_str(), InvalidArgument);
  CHECK(Counts(path) == before);
}

}  // namespace

TEST_CASE("invalid metric and label names are rejected before anything is stored") {
  test::TempDir dir;
  const std::string db = dir.File("m.db");
  ExpectDeclarationRejected(db, BuildCounter().Name("1abc"),
                            "metric '1abc': metric name \"1abc\" must match [a-zA-Z_:][a-zA-Z0-9_:]*");
  ExpectDeclarationRejected(db, BuildCounter().Name(""), "metric '': metric name \"\" must match [a-zA-Z_:][a-zA-Z0-9_:]*");
  ExpectDeclarationRejected(db, BuildGauge().Name("a-b"), "metric 'a-b': metric name \"a-b\" must match [a-zA-Z_:][a-zA-Z0-9_:]*");
  ExpectDeclarationRejected(db, BuildGauge().Name("ok").LabelNames({"a:b"}),
                            "metric 'ok': label name \"a:b\" must match [a-zA-Z_][a-zA-Z0-9_]*");
  ExpectDeclarationRejected(db, BuildGauge().Name("ok").LabelNames({"__name"}),
                            "metric 'ok': label name \"__name\" starts with \"__\", which is reserved");
  ExpectDeclarationRejected(db, BuildGauge().Name("ok").LabelNames({"a", "a"}),
                            "metric 'ok': label name \"a\" is declared twice");
  ExpectDeclarationRejected(db, BuildHistogram().Name("ok").LabelNames({"le"}),
                            "metric 'ok': a histogram cannot have a label named \"le\" (it names the buckets)");
  ExpectDeclarationRejected(db, BuildSummary().Name("ok").LabelNames({"quantile"}),
                            "metric 'ok': a summary cannot have a label named \"quantile\"");
  ExpectDeclarationRejected(db, BuildEnum().Name("ok").States({"a"}).LabelNames({"ok"}),
                            "metric 'ok': an enum cannot have a label named like itself (it names the states)");
  ExpectDeclarationRejected(db, BuildEnum().Name("a:b").States({"x"}),
                            "metric 'a:b': an enum's name is also its state label, so it must match [a-zA-Z_][a-zA-Z0-9_]*");
  ExpectDeclarationRejected(db, BuildGauge().Name("ok").Help("bad \xff utf-8"), "metric 'ok': help text is not valid UTF-8");
  ExpectDeclarationRejected(db, BuildGauge().Name("ok").Unit("m/s"), "metric 'ok': unit \"m/s\" must match [a-zA-Z_][a-zA-Z0-9_]*");
}

TEST_CASE("bucket layouts must be strictly increasing and finite") {
  test::TempDir dir;
  const std::string db = dir.File("m.db");
  ExpectDeclarationRejected(db, BuildHistogram().Name("h").Buckets({1, 1}),
                            "metric 'h': bucket bounds must be strictly increasing, but 1 is followed by 1");
  ExpectDeclarationRejected(db, BuildHistogram().Name("h").Buckets({2, 1}),
                            "metric 'h': bucket bounds must be strictly increasing, but 2 is followed by 1");
  ExpectDeclarationRejected(db, BuildHistogram().Name("h").Buckets({1, std::nan("")}), "metric 'h': bucket bound 1 is NaN");
  ExpectDeclarationRejected(db, BuildHistogram().Name("h").Buckets({-HUGE_VAL, 1}),
                            "metric 'h': bucket bound -Inf is infinite (only a last +Inf is allowed)");
  ExpectDeclarationRejected(db, BuildHistogram().Name("h").Buckets({HUGE_VAL}),
                            "metric 'h': a histogram needs at least one finite bucket bound besides +Inf");
  ExpectDeclarationRejected(db, BuildEnum().Name("e").States({}), "metric 'e': an enum needs at least one state");
  ExpectDeclarationRejected(db, BuildEnum().Name("e").States({"a", "a"}), "metric 'e': state \"a\" is declared twice");
  // A trailing +Inf is accepted and implied.
  Registry registry(db);
  CHECK(BuildHistogram().Name("h").Buckets({1, 2, HUGE_VAL}).Register(registry).spec().buckets == std::vector<double>{1, 2});
}

TEST_CASE("label values must be valid UTF-8 of bounded size, in the declared number") {
  test::TempDir dir;
  const std::string db = dir.File("m.db");
  Registry registry(db);
  auto family = BuildCounter().Name("c").LabelNames({"a", "b"}).Register(registry);
  auto before = Counts(db);
  const char* invalid[] = {"\xff", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "abc\xe2\x82", "\x80"};
  for (const char* bad : invalid) {
    CAPTURE(bad);
    CHECK_THROWS_WITH_AS(family.WithLabelValues({"ok", bad}), "metric 'c': value of label \"b\" is not valid UTF-8",
                         InvalidArgument);
  }
  CHECK_THROWS_WITH_AS(family.WithLabelValues({std::string(70000, 'x'), "ok"}),
                       "metric 'c': value of label \"a\" is 70000 bytes, more than the limit of 65536", InvalidArgument);
  CHECK_THROWS_WITH_AS(family.WithLabelValues({"only one"}), "metric 'c': expects 2 label values (a, b), got 1",
                       InvalidArgument);
  CHECK_THROWS_WITH_AS(family.Add({{"a", "x"}}), "metric 'c': label 'b' is missing (declared labels: a, b)",
                       InvalidArgument);
  CHECK_THROWS_WITH_AS(family.Add({{"a", "x"}, {"b", "y"}, {"c", "z"}}),
                       "metric 'c': label 'c' is not declared (declared labels: a, b)", InvalidArgument);
  CHECK_THROWS_WITH_AS(family.Add({{"a", "x"}, {"bb", "y"}}),
                       "metric 'c': label 'bb' is not declared (declared labels: a, b)", InvalidArgument);
  CHECK(Counts(db) == before);
  // Valid multi-byte UTF-8, NUL and control characters are fine.
  family.WithLabelValues({"ü€😀", std::string("nul\0inside", 10)}).Increment();
  CHECK(Counts(db).second == before.second + 1);
}

TEST_CASE("a builder registered as the wrong type is rejected") {
  test::TempDir dir;
  Registry registry(dir.File("m.db"));
  FamilySpec spec;
  spec.type = MetricType::kGauge;
  spec.name = "g";
  CHECK_THROWS_WITH_AS(registry.Register<Counter>(spec), "metric 'g': declared as gauge but registered as counter",
                       InvalidArgument);
}
