// Remote-write to the real Prometheus (Debian's 2.42, remote-write receiver
// enabled), read back through its query API.
#include <doctest/doctest.h>
#include <httplib.h>
#include <snappy.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <ctime>
#include <map>
#include <mutex>
#include <thread>

#include "declare/native_histogram.h"
#include "promsqlite/promsqlite.h"
#include "promsqlite/push.h"
#include "push_test_util.h"
#include "test_util.h"

using namespace promsqlite;
using promsqlite::test::CommandResult;
using promsqlite::test::Prometheus;
using promsqlite::test::TempDir;

namespace {

using promsqlite::test::Contains;

// The value of an instant query that must return exactly one series.
std::string OnlyValue(const Prometheus& prometheus, const std::string& promql) {
  std::string json = prometheus.Query(promql);
  INFO(promql << " -> " << json);
  REQUIRE(Contains(json, "\"status\":\"success\""));
  size_t first = json.find("\"value\":[");
  REQUIRE(first != std::string::npos);
  REQUIRE(json.find("\"value\":[", first + 1) == std::string::npos);
  size_t open = json.find(",\"", first);
  return json.substr(open + 2, json.find('"', open + 2) - open - 2);
}

// Just enough of the protobuf wire format to read WriteRequest.metadata,
// written from the remote-write 1.0 specification's types.proto (not from
// our generated code): WriteRequest.metadata = 3; MetricMetadata.type = 1,
// metric_family_name = 2, help = 4.
class WireReader {
 public:
  explicit WireReader(std::string_view data) : data_(data) {}
  bool Done() const { return pos_ >= data_.size(); }
  uint64_t Varint() {
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      REQUIRE(pos_ < data_.size());
      uint8_t byte = static_cast<uint8_t>(data_[pos_++]);
      value |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if (!(byte & 0x80)) return value;
    }
    FAIL("varint too long");
    return 0;
  }
  // The next field's number and wire type.
  std::pair<uint64_t, int> Key() {
    uint64_t key = Varint();
    return {key >> 3, static_cast<int>(key & 7)};
  }
  std::string_view Bytes() {
    uint64_t size = Varint();
    REQUIRE(pos_ + size <= data_.size());
    std::string_view bytes = data_.substr(pos_, size);
    pos_ += size;
    return bytes;
  }
  void Skip(int wire_type) {
    if (wire_type == 0) Varint();
    else if (wire_type == 1) pos_ += 8;
    else if (wire_type == 2) Bytes();
    else if (wire_type == 5) pos_ += 4;
    else FAIL("unexpected wire type " << wire_type);
  }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

struct Metadata {
  uint64_t type = 0;  // UNKNOWN 0, COUNTER 1, GAUGE 2, HISTOGRAM 3, GAUGEHISTOGRAM 4, SUMMARY 5, INFO 6, STATESET 7
  std::string help;
};

std::map<std::string, Metadata> ReadMetadata(std::string_view request) {
  std::map<std::string, Metadata> out;
  WireReader write(request);
  while (!write.Done()) {
    auto [field, wire_type] = write.Key();
    if (field != 3 || wire_type != 2) {
      write.Skip(wire_type);
      continue;
    }
    WireReader entry(write.Bytes());
    Metadata metadata;
    std::string name;
    while (!entry.Done()) {
      auto [f, w] = entry.Key();
      if (f == 1 && w == 0) metadata.type = entry.Varint();
      else if (f == 2 && w == 2) name = entry.Bytes();
      else if (f == 4 && w == 2) metadata.help = entry.Bytes();
      else entry.Skip(w);
    }
    out[name] = metadata;
  }
  return out;
}

}  // namespace

TEST_CASE("remote-write metadata carries every family's type, INFO and STATESET included, and its help") {
  TempDir dir;
  test::WriteAllTypes(dir.File("m.db"));
  std::mutex mutex;
  std::string body, encoding;
  httplib::Server receiver;
  receiver.Post("/api/v1/write", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mutex);
    body = req.body;
    encoding = req.get_header_value("Content-Encoding");
    res.status = 204;
  });
  int port = receiver.bind_to_any_port("127.0.0.1");
  std::thread serving([&] { receiver.listen_after_bind(); });
  Reader reader(dir.File("m.db"));
  RemoteWriteOptions options;
  options.url = "http://127.0.0.1:" + std::to_string(port) + "/api/v1/write";
  CHECK_NOTHROW(RemoteWrite(reader, options));
  receiver.stop();
  serving.join();

  REQUIRE(encoding == "snappy");
  std::string request;
  REQUIRE(snappy::Uncompress(body.data(), body.size(), &request));
  std::map<std::string, Metadata> metadata = ReadMetadata(request);
  const std::map<std::string, uint64_t> expected = {
      {"requests_total", 1}, {"temperature_celsius", 2}, {"latency_seconds", 3},
      {"job_seconds", 5},    {"build_info", 6},          {"phase", 7}};
  CHECK(metadata.size() == expected.size());
  for (const auto& [name, type] : expected) {
    INFO(name);
    REQUIRE(metadata.count(name) == 1);
    CHECK(metadata[name].type == type);
  }
  CHECK(metadata["requests_total"].help == "Requests\nserved \\ ok");
  CHECK(metadata["phase"].help.empty());
}

TEST_CASE("remote-write stores every sample exactly, queryable with histogram_quantile") {
  TempDir dir;
  Prometheus prometheus(dir.path());
  test::WriteAllTypes(dir.File("m.db"));
  CommandResult r = test::RunCommand({test::Cli(), "--db", dir.File("m.db"), "remote-write", "--url",
                                      prometheus.url() + "/api/v1/write", "--label", "instance=runner-1"});
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);

  CHECK(OnlyValue(prometheus, R"(requests_total{instance="runner-1"})") == "3.5");
  // Label values arrive unescaped: JSON shows them re-escaped its own way.
  std::string series = prometheus.Query(R"(requests_total{who="grüße→✓"})");
  CHECK(Contains(series, R"("path":"a\"b\\c\nd")"));
  CHECK(OnlyValue(prometheus, "temperature_celsius") == "-12.25");
  CHECK(OnlyValue(prometheus, R"(latency_seconds_bucket{le="0.1"})") == "0");
  CHECK(OnlyValue(prometheus, R"(latency_seconds_bucket{le="1"})") == "2");
  CHECK(OnlyValue(prometheus, R"(latency_seconds_bucket{le="+Inf"})") == "3");
  CHECK(OnlyValue(prometheus, "latency_seconds_sum") == "2.75");
  CHECK(OnlyValue(prometheus, "latency_seconds_count") == "3");
  // Rank 1.5 of 3 falls in (0.1, 1] holding 2: 0.1 + 0.9 * 1.5 / 2.
  CHECK(OnlyValue(prometheus, "histogram_quantile(0.5, latency_seconds_bucket)") == "0.775");
  CHECK(OnlyValue(prometheus, "job_seconds_sum") == "4");
  CHECK(OnlyValue(prometheus, "job_seconds_count") == "2");
  CHECK(OnlyValue(prometheus, R"(build_info{version="1.2.3"})") == "1");
  CHECK(OnlyValue(prometheus, R"(phase{phase="b"})") == "1");
  CHECK(OnlyValue(prometheus, R"(phase{phase="a"})") == "0");
  CHECK(OnlyValue(prometheus, R"(count({instance="runner-1"}))") == "12");
}

TEST_CASE("exemplars travel with their series: Prometheus with exemplar storage keeps them, +Inf once") {
  TempDir dir;
  Prometheus prometheus(dir.path(), {"--enable-feature=exemplar-storage"});
  {
    Registry registry(dir.File("m.db"));
    BuildCounter().Name("deploys").Register(registry).WithLabelValues({}).Increment(1, {{"job_id", "77"}});
    auto h = BuildHistogram().Name("step_seconds").Buckets({1}).Register(registry).WithLabelValues({});
    h.Observe(0.5, {{"job_id", "78"}});
    h.Observe(30, {{"job_id", "79"}});
  }
  Reader reader(dir.File("m.db"));
  RemoteWriteOptions options;
  options.url = prometheus.url() + "/api/v1/write";
  RemoteWriteResult sent = RemoteWrite(reader, options);
  CHECK(sent.exemplars == 3);
  CHECK(sent.samples == 5);  // deploys_total, two buckets, _sum, _count
  CHECK(OnlyValue(prometheus, R"(step_seconds_bucket{le="+Inf"})") == "2");
  CHECK(OnlyValue(prometheus, R"(count(step_seconds_bucket))") == "2");
  std::string json = prometheus.QueryExemplars("deploys_total");
  INFO(json);
  CHECK(Contains(json, R"("job_id":"77")"));
  json = prometheus.QueryExemplars("step_seconds_bucket");
  CHECK(Contains(json, R"("job_id":"78")"));
  CHECK(Contains(json, R"("job_id":"79")"));
  CHECK(Contains(json, R"("value":"30")"));
}

TEST_CASE("extra labels keep the counters of two hosts apart") {
  TempDir dir;
  Prometheus prometheus(dir.path());
  Registry(dir.File("a.db")).Register<Counter>(test::Spec(MetricType::kCounter, "builds")).WithLabelValues({}).Increment(3);
  Registry(dir.File("b.db")).Register<Counter>(test::Spec(MetricType::kCounter, "builds")).WithLabelValues({}).Increment(4);
  Reader a(dir.File("a.db")), b(dir.File("b.db"));
  RemoteWriteOptions options;
  options.url = prometheus.url() + "/api/v1/write";
  options.extra_labels = {{"instance", "a"}};
  RemoteWrite(a, options);
  options.extra_labels = {{"instance", "b"}};
  RemoteWrite(b, options);
  CHECK(OnlyValue(prometheus, "sum(builds_total)") == "7");
  CHECK(OnlyValue(prometheus, "count(builds_total)") == "2");
}

TEST_CASE("an explicit timestamp is used for every sample") {
  TempDir dir;
  Prometheus prometheus(dir.path());
  Registry(dir.File("m.db")).Register<Gauge>(test::Spec(MetricType::kGauge, "stamped")).WithLabelValues({}).Set(5);
  Reader reader(dir.File("m.db"));
  RemoteWriteOptions options;
  options.url = prometheus.url() + "/api/v1/write";
  options.timestamp_ms = (std::time(nullptr) - 60) * 1000LL;
  RemoteWrite(reader, options);
  CHECK(OnlyValue(prometheus, "timestamp(stamped)") == std::to_string(options.timestamp_ms / 1000));
}

namespace {

// Multiples of 1/8 (exact sums) from writer `w`, skewed towards small values.
std::vector<double> NativeValues(int w) {
  std::vector<double> values;
  for (int i = 1; i <= 61; ++i) values.push_back((i * i % 509 + w * 17) / 8.0 + (i % 4 == 0 ? 300 : 0));
  return values;
}

}  // namespace

TEST_CASE("native histograms fed by several processes arrive as native histograms: exact count and sum, median in its bucket") {
  TempDir dir;
  Prometheus prometheus(dir.path(), {"--enable-feature=native-histograms"});
  const std::string db = dir.File("m.db");
  const int writers = 4;
  REQUIRE(test::RunInChildren(writers, [&](int w) {
            Options options;
            if (w % 2) options.write_mode = WriteMode::kBatched;
            Registry registry(db, options);
            auto h = BuildHistogram().Name("job_seconds").Help("Job time.").LabelNames({"job"}).NativeHistogram(1.1)
                         .Register(registry).WithLabelValues({"build"});
            for (double v : NativeValues(w)) h.Observe(v);
          }) == 0);
  std::vector<double> all;
  for (int w = 0; w < writers; ++w)
    for (double v : NativeValues(w)) all.push_back(v);
  const test::NativeExpectation expected = test::ExpectNative(all, 3);

  CommandResult r = test::RunCommand({test::Cli(), "--db", db, "remote-write", "--url",
                                      prometheus.url() + "/api/v1/write", "--label", "instance=runner-1",
                                      "--send-native-histograms"});
  REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  CHECK(OnlyValue(prometheus, R"(histogram_count(job_seconds{instance="runner-1",job="build"}))") ==
        std::to_string(expected.count));
  CHECK(std::stod(OnlyValue(prometheus, "histogram_sum(job_seconds)")) == expected.sum);
  double quantile = std::stod(OnlyValue(prometheus, "histogram_quantile(0.5, job_seconds)"));
  INFO("median " << expected.median << ", quantile " << quantile);
  CHECK(quantile > expected.lower);
  CHECK(quantile <= expected.upper);
  // Native only: no classic series beside it.
  CHECK(Contains(prometheus.Query("job_seconds_count"), "\"result\":[]"));
}

TEST_CASE("a histogram with classic and native buckets sends both when native histograms are asked for") {
  TempDir dir;
  Prometheus prometheus(dir.path(), {"--enable-feature=native-histograms"});
  {
    Registry registry(dir.File("m.db"));
    auto h = BuildHistogram().Name("both_seconds").Buckets({1, 10}).NativeHistogram(2).Register(registry).WithLabelValues({});
    for (double v : {0.5, 3.0, 30.0}) h.Observe(v);
  }
  Reader reader(dir.File("m.db"));
  RemoteWriteOptions options;
  options.url = prometheus.url() + "/api/v1/write";
  options.send_native_histograms = true;
  RemoteWriteResult sent = RemoteWrite(reader, options);
  CHECK(sent.histograms == 1);
  CHECK(sent.samples == 5);  // 3 buckets, _sum, _count
  CHECK(OnlyValue(prometheus, "histogram_count(both_seconds)") == "3");
  CHECK(OnlyValue(prometheus, R"(both_seconds_bucket{le="10"})") == "2");
  CHECK(OnlyValue(prometheus, "both_seconds_sum") == "33.5");
}

// The issue's scenario: Prometheus' default (no native histograms), a file
// with a counter and native histograms, default options everywhere.
TEST_CASE("by default native histograms go as classic series, so a receiver without them takes everything") {
  TempDir dir;
  Prometheus prometheus(dir.path());  // no --enable-feature=native-histograms
  const std::string db = dir.File("m.db");
  {
    Registry registry(db);
    BuildCounter().Name("plain_jobs").Help("Jobs.").Register(registry).WithLabelValues({}).Increment(7);
    auto native_only = BuildHistogram().Name("native_only_seconds").Help("Native.").NativeHistogram(1.1)
                           .Register(registry).WithLabelValues({});
    for (double v : {0.5, 1.5, 4.0}) native_only.Observe(v);
    auto both = BuildHistogram().Name("both_kinds_seconds").Help("Both.").Buckets({1, 10}).NativeHistogram(1.1)
                    .Register(registry).WithLabelValues({});
    for (double v : {0.5, 3.0, 30.0}) both.Observe(v);
  }
  SUBCASE("the CLI") {
    CommandResult r = test::RunCommand({test::Cli(), "--db", db, "remote-write", "--url",
                                        prometheus.url() + "/api/v1/write"});
    REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  }
  SUBCASE("the library") {
    Reader reader(db);
    RemoteWriteOptions options;
    options.url = prometheus.url() + "/api/v1/write";
    RemoteWriteResult sent = RemoteWrite(reader, options);
    CHECK(sent.histograms == 0);
    CHECK(sent.samples == 1 + 3 + 5);  // the counter; +Inf, _sum, _count; 3 buckets, _sum, _count
  }
  CHECK(OnlyValue(prometheus, "plain_jobs_total") == "7");
  // A native-only histogram: what the text format shows of it, so rate() and averages work.
  CHECK(OnlyValue(prometheus, R"(native_only_seconds_bucket{le="+Inf"})") == "3");
  CHECK(OnlyValue(prometheus, "native_only_seconds_count") == "3");
  CHECK(OnlyValue(prometheus, "native_only_seconds_sum") == "6");
  CHECK(Contains(prometheus.Query(R"(count(native_only_seconds_bucket))"), "\"1\""));  // +Inf alone
  // Classic buckets beside native ones: the classic form.
  CHECK(OnlyValue(prometheus, R"(both_kinds_seconds_bucket{le="1"})") == "1");
  CHECK(OnlyValue(prometheus, R"(both_kinds_seconds_bucket{le="10"})") == "2");
  CHECK(OnlyValue(prometheus, "both_kinds_seconds_count") == "3");
}

TEST_CASE("native histograms to a receiver that refuses them: the receiver's reason and what to do") {
  TempDir dir;
  Prometheus prometheus(dir.path());
  const std::string db = dir.File("m.db");
  {
    Registry registry(db);
    BuildHistogram().Name("refused_seconds").NativeHistogram(1.1).Register(registry).WithLabelValues({}).Observe(1);
  }
  CommandResult r = test::RunCommand({test::Cli(), "--db", db, "remote-write", "--url",
                                      prometheus.url() + "/api/v1/write", "--send-native-histograms", "--retries",
                                      "0"});
  CHECK(r.exit_code == 4);
  CHECK(Contains(r.output, "native histograms are disabled"));  // Prometheus' own words
  CHECK(Contains(r.output, "start Prometheus with --enable-feature=native-histograms, or send them as classic "
                           "buckets (without --send-native-histograms"));
  CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
}

TEST_CASE("out-of-order samples: the receiver's reason and what to do") {
  TempDir dir;
  Prometheus prometheus(dir.path());
  const std::string db = dir.File("m.db");
  {
    Registry registry(db);
    BuildCounter().Name("late_jobs").Register(registry).WithLabelValues({}).Increment(1);
  }
  Reader reader(db);
  RemoteWriteOptions options;
  options.url = prometheus.url() + "/api/v1/write";
  options.retries = 0;
  options.timestamp_ms = (static_cast<long long>(std::time(nullptr)) - 60) * 1000;
  RemoteWrite(reader, options);
  options.timestamp_ms -= 30000;  // older than what the series has
  try {
    RemoteWrite(reader, options);
    FAIL("an older sample was accepted");
  } catch (const PushError& e) {
    INFO(e.what());
    CHECK(e.status() == 400);  // not retried: the same data would be refused again
    CHECK(Contains(e.what(), "out of order"));
    CHECK(Contains(e.what(), "give each sending host a label of its own"));
  }
}

TEST_CASE("a Prometheus without the remote-write receiver: what to do") {
  TempDir dir;
  Prometheus prometheus(dir.path(), {"--no-web.enable-remote-write-receiver"});
  const std::string db = dir.File("m.db");
  { Registry registry(db); BuildCounter().Name("x").Register(registry).WithLabelValues({}).Increment(1); }
  CommandResult r = test::RunCommand({test::Cli(), "--db", db, "remote-write", "--url",
                                      prometheus.url() + "/api/v1/write"});
  CHECK(r.exit_code == 4);
  CHECK(Contains(r.output, "HTTP 404"));
  CHECK(Contains(r.output, "start Prometheus with --web.enable-remote-write-receiver"));
}
