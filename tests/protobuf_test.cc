// The protobuf exposition, decoded by protoc against our metrics.proto.
#include <doctest/doctest.h>

#include "promsqlite/promsqlite.h"
#include "test_util.h"

using namespace promsqlite;

namespace {

size_t Count(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t pos = text.find(part); pos != std::string::npos; pos = text.find(part, pos + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("the protobuf exposition decodes with protoc as MetricFamily messages, for all six types") {
  test::TempDir dir;
  Registry registry(dir.File("m.db"));
  auto requests = BuildCounter().Name("http_requests_total").Help("Requests.\nSecond \\ line \"quoted\"")
                      .LabelNames({"path", "code"}).Register(registry);
  requests.WithLabelValues({"/a\"b", "200"}).Increment(3);
  BuildGauge().Name("temperature_celsius").Register(registry).WithLabelValues({}).Set(-0.25);
  auto rpc = BuildHistogram().Name("rpc_seconds").Buckets({0.5, 1}).Register(registry).WithLabelValues({});
  rpc.Observe(0.75);
  rpc.Observe(2);
  BuildSummary().Name("payload_bytes").Register(registry).WithLabelValues({}).Observe(1234567);
  BuildInfo().Name("app").LabelNames({"version"}).Register(registry).WithLabelValues({"1.0"});
  BuildEnum().Name("mode").States({"b", "a"}).LabelNames({"z"}).Register(registry).WithLabelValues({"x"}).Set("a");
  BuildGauge().Name("unused").Help("declared, never used").Register(registry);

  CHECK(test::DecodeMetricFamilies(registry.Render(Format::kProtobuf)) ==
        "name: \"app_info\"\ntype: GAUGE\nmetric {\n  label {\n    name: \"version\"\n    value: \"1.0\"\n  }\n"
        "  gauge {\n    value: 1\n  }\n}\n"
        "name: \"http_requests_total\"\nhelp: \"Requests.\\nSecond \\\\ line \\\"quoted\\\"\"\ntype: COUNTER\n"
        "metric {\n  label {\n    name: \"code\"\n    value: \"200\"\n  }\n"
        "  label {\n    name: \"path\"\n    value: \"/a\\\"b\"\n  }\n  counter {\n    value: 3\n  }\n}\n"
        // A stateset's own label takes its place in name order.
        "name: \"mode\"\ntype: GAUGE\n"
        "metric {\n  label {\n    name: \"mode\"\n    value: \"b\"\n  }\n  label {\n    name: \"z\"\n    value: \"x\"\n  }\n"
        "  gauge {\n    value: 0\n  }\n}\n"
        "metric {\n  label {\n    name: \"mode\"\n    value: \"a\"\n  }\n  label {\n    name: \"z\"\n    value: \"x\"\n  }\n"
        "  gauge {\n    value: 1\n  }\n}\n"
        "name: \"payload_bytes\"\ntype: SUMMARY\nmetric {\n  summary {\n    sample_count: 1\n    sample_sum: 1234567\n  }\n}\n"
        // Classic buckets without +Inf: sample_count is that bucket.
        "name: \"rpc_seconds\"\ntype: HISTOGRAM\nmetric {\n  histogram {\n    sample_count: 2\n    sample_sum: 2.75\n"
        "    bucket {\n      cumulative_count: 0\n      upper_bound: 0.5\n    }\n"
        "    bucket {\n      cumulative_count: 1\n      upper_bound: 1\n    }\n  }\n}\n"
        "name: \"temperature_celsius\"\ntype: GAUGE\nmetric {\n  gauge {\n    value: -0.25\n  }\n}\n");
}

TEST_CASE("a family larger than a chunk is sent as several messages, every series exactly once") {
  test::TempDir dir;
  Registry registry(dir.File("m.db"));
  auto family = BuildCounter().Name("many").Help("Many series.").LabelNames({"id"}).Register(registry);
  for (int i = 0; i < 3000; ++i) family.WithLabelValues({std::to_string(i)});
  BuildGauge().Name("after").Register(registry).WithLabelValues({}).Set(1);
  std::string decoded = test::DecodeMetricFamilies(registry.Render(Format::kProtobuf));
  size_t messages = Count(decoded, "name: \"many_total\"\nhelp: \"Many series.\"\ntype: COUNTER\n");
  CHECK(messages > 1);
  CHECK(Count(decoded, "name: \"many_total\"") == messages);
  CHECK(Count(decoded, "counter {") == 3000);
  CHECK(Count(decoded, "name: \"after\"\ntype: GAUGE\n") == 1);
}

TEST_CASE("a label with an empty value is left out of the protobuf exposition, as Prometheus reads it") {
  test::TempDir dir;
  Registry registry(dir.File("m.db"));
  auto family = BuildGauge().Name("g").LabelNames({"a", "b"}).Register(registry);
  family.WithLabelValues({"", "x"}).Set(1);
  CHECK(test::DecodeMetricFamilies(registry.Render(Format::kProtobuf)) ==
        "name: \"g\"\ntype: GAUGE\nmetric {\n  label {\n    name: \"b\"\n    value: \"x\"\n  }\n"
        "  gauge {\n    value: 1\n  }\n}\n");
}

TEST_CASE("an empty or missing file renders as an empty protobuf exposition") {
  test::TempDir dir;
  Reader missing(dir.File("missing.db"));
  CHECK(missing.Render(Format::kProtobuf).empty());
  Registry registry(dir.File("m.db"));
  BuildGauge().Name("declared_only").Register(registry);
  CHECK(registry.Render(Format::kProtobuf).empty());
  CHECK(std::string(ContentType(Format::kProtobuf)) ==
        "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited");
}
