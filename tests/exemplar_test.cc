// Exemplars: kept with counter and histogram updates, the latest per series
// and bucket across processes, exposed in OpenMetrics and protobuf.
#include <doctest/doctest.h>

#include <atomic>
#include <string>

#include "promsqlite/promsqlite.h"
#include "test_util.h"

using namespace promsqlite;

namespace {

// A clock the test sets; shared by every registry made with ClockAt().
std::atomic<double> g_now{1700000000.25};

Options ClockAt(WriteMode mode = WriteMode::kImmediate) {
  Options options;
  options.write_mode = mode;
  options.clock = [] { return g_now.load(); };
  return options;
}

std::string OpenMetrics(Registry& registry) { return registry.Render(Format::kOpenMetrics); }

using promsqlite::test::Contains;

}  // namespace

TEST_CASE("a counter's exemplar is exposed in OpenMetrics after _total; the text format has none") {
  test::TempDir dir;
  g_now = 1700000000.25;
  Registry registry(dir.File("m.db"), ClockAt());
  auto requests = BuildCounter().Name("requests").Help("Requests.").LabelNames({"code"}).Register(registry);
  requests.WithLabelValues({"200"}).Increment(2, {{"trace_id", "4bf92f3577b34da6"}, {"span", "a\"b"}});
  requests.WithLabelValues({"200"}).Increment(1);  // no exemplar: the kept one stays
  requests.WithLabelValues({"500"}).Increment(1);

  const std::string om = OpenMetrics(registry);
  CHECK(Contains(om, "requests_total{code=\"200\"} 3 # {span=\"a\\\"b\",trace_id=\"4bf92f3577b34da6\"} 2 "
                     "1700000000.25\n"));
  CHECK(Contains(om, "requests_total{code=\"500\"} 1\n"));
  test::CommandResult check = test::CheckExposition(om, true);
  CHECK_MESSAGE(check.exit_code == 0, check.output);
  // The official Python client's parser reads the exemplar back.
  test::CommandResult parsed = test::ParseWithPython(om, true);
  REQUIRE(parsed.exit_code == 0);
  CHECK(Contains(parsed.output, "requests_total{code=\"200\"} 3.0 # {span=\"a\\\"b\",trace_id=\"4bf92f3577b34da6\"} "
                                "2.0 1700000000.25\n"));

  const std::string text = registry.Render(Format::kText);
  CHECK_FALSE(Contains(text, "trace_id"));
  test::CommandResult text_check = test::CheckExposition(text, false);
  CHECK_MESSAGE(text_check.exit_code == 0, text_check.output);
}

TEST_CASE("a histogram keeps one exemplar per bucket, +Inf included, in OpenMetrics and protobuf") {
  test::TempDir dir;
  g_now = 1700000001.5;
  Registry registry(dir.File("m.db"), ClockAt());
  auto latency = BuildHistogram().Name("latency_seconds").Buckets({0.1, 1}).Register(registry).WithLabelValues({});
  latency.Observe(0.05, {{"trace_id", "a"}});
  g_now = 1700000002.5;
  latency.Observe(0.07, {{"trace_id", "b"}});  // the same bucket, later: replaces a
  latency.Observe(0.5);
  latency.Observe(7, {});  // +Inf, an exemplar without labels

  const std::string om = OpenMetrics(registry);
  CHECK(Contains(om, "latency_seconds_bucket{le=\"0.1\"} 2 # {trace_id=\"b\"} 0.07 1700000002.5\n"
                     "latency_seconds_bucket{le=\"1.0\"} 3\n"
                     "latency_seconds_bucket{le=\"+Inf\"} 4 # {} 7 1700000002.5\n"));
  test::CommandResult check = test::CheckExposition(om, true);
  CHECK_MESSAGE(check.exit_code == 0, check.output);

  // As client_golang sends them: in the bucket, +Inf in a bucket of its own.
  const std::string decoded = test::DecodeMetricFamilies(registry.Render(Format::kProtobuf));
  CHECK(Contains(decoded,
                 "    bucket {\n      cumulative_count: 2\n      upper_bound: 0.1\n      exemplar {\n"
                 "        label {\n          name: \"trace_id\"\n          value: \"b\"\n        }\n"
                 "        value: 0.07\n        timestamp {\n          seconds: 1700000002\n"
                 "          nanos: 500000000\n        }\n      }\n    }\n"
                 "    bucket {\n      cumulative_count: 3\n      upper_bound: 1\n    }\n"
                 "    bucket {\n      cumulative_count: 4\n      upper_bound: inf\n      exemplar {\n"
                 "        value: 7\n        timestamp {\n          seconds: 1700000002\n"
                 "          nanos: 500000000\n        }\n      }\n    }\n"));
}

TEST_CASE("a counter's exemplar in protobuf") {
  test::TempDir dir;
  g_now = 1700000000;
  Registry registry(dir.File("m.db"), ClockAt());
  BuildCounter().Name("jobs").Register(registry).WithLabelValues({}).Increment(1, {{"job_id", "42"}});
  CHECK(test::DecodeMetricFamilies(registry.Render(Format::kProtobuf)) ==
        "name: \"jobs_total\"\ntype: COUNTER\nmetric {\n  counter {\n    value: 1\n    exemplar {\n"
        "      label {\n        name: \"job_id\"\n        value: \"42\"\n      }\n      value: 1\n"
        "      timestamp {\n        seconds: 1700000000\n      }\n    }\n  }\n}\n");
}

TEST_CASE("across processes the file keeps the exemplar with the latest timestamp") {
  for (WriteMode mode : {WriteMode::kImmediate, WriteMode::kBatched}) {
    CAPTURE(static_cast<int>(mode));
    test::TempDir files;
    const std::string file = files.File("m.db");
    // Child 0 writes at t=200, child 1 at t=100 and after child 0: the file
    // keeps child 0's, whichever commits last.
    for (int index : {0, 1}) {
      CHECK(test::RunInChildren(1, [&](int) {
              g_now = index == 0 ? 200 : 100;
              Registry registry(file, ClockAt(mode));
              auto c = BuildCounter().Name("c").Register(registry).WithLabelValues({});
              c.Increment(1, {{"writer", std::to_string(index)}});
              registry.Flush();
            }) == 0);
    }
    Registry reader(file, ClockAt());
    CHECK(Contains(OpenMetrics(reader), "c_total 2 # {writer=\"0\"} 1 200\n"));
  }
}

TEST_CASE("batched mode keeps the latest exemplar per bucket until the flush") {
  test::TempDir dir;
  g_now = 1000;
  // In process memory; with shared regions (the default) an update that
  // carries an exemplar is written at once (the next test case).
  Options options = ClockAt(WriteMode::kBatched);
  options.pending_store = PendingStore::kProcessMemory;
  Registry registry(dir.File("m.db"), options);
  auto h = BuildHistogram().Name("h").Buckets({1}).Register(registry).WithLabelValues({});
  h.Observe(0.5, {{"id", "first"}});
  g_now = 1001;
  h.Observe(0.25, {{"id", "second"}});
  h.Observe(3, {{"id", "inf"}});
  Reader reader(dir.File("m.db"));
  CHECK_FALSE(Contains(reader.Render(Format::kOpenMetrics), "# {"));
  registry.Flush();
  const std::string om = reader.Render(Format::kOpenMetrics);
  CHECK(Contains(om, "h_bucket{le=\"1.0\"} 2 # {id=\"second\"} 0.25 1001\n"));
  CHECK(Contains(om, "h_bucket{le=\"+Inf\"} 3 # {id=\"inf\"} 3 1001\n"));
  // An exemplar with an increment of 0 is still written.
  auto c = BuildCounter().Name("c").Register(registry).WithLabelValues({});
  c.Increment(0, {{"id", "zero"}});
  registry.Flush();
  CHECK(Contains(reader.Render(Format::kOpenMetrics), "c_total 0 # {id=\"zero\"} 0 1001\n"));
}

TEST_CASE("batched mode with shared regions: counts show at once; exemplars at once by default, else at the flush") {
  for (bool at_once : {true, false}) {
    CAPTURE(at_once);
    test::TempDir dir;
    g_now = 1000;
    Options options = ClockAt(WriteMode::kBatched);
    options.immediate_outside_regions = at_once;
    Registry registry(dir.File("m.db"), options);
    auto h = BuildHistogram().Name("h").Buckets({1}).Register(registry).WithLabelValues({});
    h.Observe(0.5, {{"id", "first"}});
    h.Observe(0.75);  // pending in the region
    g_now = 1001;
    h.Observe(3, {{"id", "inf"}});
    // Another process's reader sees every observation before any flush (the
    // region's); the exemplars are written at once (the default), or wait
    // in process memory until the flush.
    Reader reader(dir.File("m.db"));
    std::string om = reader.Render(Format::kOpenMetrics);
    const std::string first = "h_bucket{le=\"1.0\"} 2 # {id=\"first\"} 0.5 1000\n";
    const std::string inf = "h_bucket{le=\"+Inf\"} 3 # {id=\"inf\"} 3 1001\n";
    if (at_once) {
      CHECK(Contains(om, first));
      CHECK(Contains(om, inf));
    } else {
      CHECK(Contains(om, "h_bucket{le=\"1.0\"} 2\n"));
      CHECK(Contains(om, "h_bucket{le=\"+Inf\"} 3\n"));
      CHECK_FALSE(Contains(om, "# {"));
    }
    registry.Flush();
    om = reader.Render(Format::kOpenMetrics);
    CHECK(Contains(om, first));
    CHECK(Contains(om, inf));
  }
}

TEST_CASE("a bad exemplar is refused with InvalidArgument and nothing is written") {
  test::TempDir dir;
  const std::string path = dir.File("m.db");
  Registry registry(path, ClockAt());
  auto c = BuildCounter().Name("c").Register(registry).WithLabelValues({});
  auto h = BuildHistogram().Name("h").Register(registry).WithLabelValues({});
  const std::string before = test::DumpDatabase(path);
  CHECK_THROWS_WITH_AS(c.Increment(1, {{"0bad", "x"}}),
                       doctest::Contains("exemplar label name \"0bad\" must match"), InvalidArgument);
  CHECK_THROWS_WITH_AS(h.Observe(1, {{"ok", "\xff"}}), doctest::Contains("is not valid UTF-8"), InvalidArgument);
  CHECK_THROWS_WITH_AS(h.Observe(1, {{"__name__", "x"}}), doctest::Contains("starts with \"__\", which is reserved"),
                       InvalidArgument);
  // 128 characters (code points, not bytes) pass, 129 do not.
  std::string value;
  for (int i = 0; i < 63; ++i) value += "\xc3\xa9";  // é: 2 bytes, 1 character
  c.Increment(0, {{"id", value + "x"}});  // 2 + 64 = 66 characters
  const std::string at_limit(126, 'x');
  c.Increment(0, {{"id", at_limit}});
  const std::string after_valid = test::DumpDatabase(path);
  CHECK_THROWS_WITH_AS(c.Increment(1, {{"id", at_limit + "x"}}),
                       doctest::Contains("exemplar labels have 129 characters"), InvalidArgument);
  CHECK_THROWS_AS(c.Increment(-1, {{"id", "x"}}), InvalidArgument);
  CHECK(test::DumpDatabase(path) == after_valid);
  CHECK(before != after_valid);
}

TEST_CASE("removing a series removes its exemplars") {
  test::TempDir dir;
  Registry registry(dir.File("m.db"), ClockAt());
  auto family = BuildCounter().Name("c").LabelNames({"k"}).Register(registry);
  family.WithLabelValues({"a"}).Increment(1, {{"id", "1"}});
  CHECK(test::DumpDatabase(dir.File("m.db")).find("exemplars: [") != std::string::npos);
  CHECK(registry.RemoveSeries("c", {{"k", "a"}}));
  CHECK(test::DumpDatabase(dir.File("m.db")).find("exemplars: [") == std::string::npos);
  family.WithLabelValues({"a"}).Increment(1);
  CHECK(Contains(OpenMetrics(registry), "c_total{k=\"a\"} 1\n"));
}

TEST_CASE("exemplar rows another program wrote badly: a clear error for broken labels, unknown buckets ignored") {
  test::TempDir dir;
  const std::string path = dir.File("m.db");
  {
    Registry registry(path, ClockAt());
    BuildCounter().Name("c").Register(registry).WithLabelValues({}).Increment(1);
    BuildHistogram().Name("h").Buckets({1}).Register(registry).WithLabelValues({}).Observe(0.5);
  }
  // Buckets no series has (negative, past +Inf) show nowhere.
  test::ExecSql(path, "INSERT INTO exemplars SELECT id, -1, X'610001620001', 1, 2 FROM series WHERE labels = X''");
  test::ExecSql(path, "INSERT INTO exemplars SELECT id, 7, X'610001620001', 1, 2 FROM series WHERE labels = X''");
  Reader reader(path);
  const std::string om = reader.Render(Format::kOpenMetrics);
  CHECK_FALSE(Contains(om, " # {"));
  CHECK(test::CheckExposition(om, true).exit_code == 0);
  CHECK(reader.Snapshot().at(0).series.at(0).exemplars.empty());
  // Labels that are not a tuple of names and values: a strict read fails,
  // naming the file and the row (tests/unreadable_rows_test.cc: a lenient
  // one leaves the exemplar out).
  test::ExecSql(path, "INSERT INTO exemplars SELECT id, 0, X'61', 1, 2 FROM series LIMIT 1");
  CHECK_THROWS_WITH_AS(reader.Render(Format::kOpenMetrics),
                       (path + ": cannot read exemplars series_id=1 bucket=0 of family 'c': labels are not a tuple "
                               "encoding of names and values (promsqlite check lists such rows)")
                           .c_str(),
                       DatabaseError);
}
