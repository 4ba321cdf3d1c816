// Native histograms: the bucket arithmetic, declarations, sparse storage
// merged across processes, resolution reduction, rendering, migration.
#include <SQLiteCpp/Database.h>
#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <tuple>

#include "declare/native_histogram.h"
#include "promsqlite/promsqlite.h"
#include "read/snapshot.h"
#include "test_util.h"

using namespace promsqlite;
using detail::NativeBucketOf;
using detail::ReduceNativeIndex;

namespace {

// (sign, index) -> count, as stored or as expected.
using BucketMap = std::map<std::pair<int, int32_t>, int64_t>;

struct NativeSeries {
  int schema = 0;
  int64_t count = 0;
  double sum = 0;
  BucketMap buckets;  // the zero bucket as (0, 0)
};

class Collect : public detail::SnapshotVisitor {
 public:
  void Family(const detail::FamilyRecord&) override {}
  void Series(const detail::FamilyRecord& family, const detail::SeriesRecord& s) override {
    NativeSeries& out = series[family.spec.name];
    out.schema = s.native.schema;
    out.count = s.count;
    out.sum = s.value;
    if (s.native.zero_count) out.buckets[{0, 0}] = s.native.zero_count;
    for (const auto& [i, c] : s.native.positive) out.buckets[{1, i}] = c;
    for (const auto& [i, c] : s.native.negative) out.buckets[{-1, i}] = c;
  }
  void End() override {}
  std::map<std::string, NativeSeries> series;
};

NativeSeries ReadNative(const std::string& path, const std::string& name) {
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  Collect collect;
  detail::ReadSnapshot(db, path, 0, collect);
  REQUIRE(collect.series.count(name) == 1);
  return collect.series[name];
}

BucketMap Expected(const std::vector<double>& values, int schema, double zero_threshold) {
  BucketMap out;
  for (double v : values) {
    int sign;
    int32_t index;
    if (NativeBucketOf(v, schema, zero_threshold, &sign, &index)) ++out[{sign, index}];
  }
  return out;
}

int64_t NativeRows(const std::string& path) {
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  return db.execAndGet("SELECT count(*) FROM native_buckets").getInt64();
}

// The values child `index` of `children` observes: spread over six decades,
// both signs and the zero bucket.
std::vector<double> ChildValues(int index) {
  std::vector<double> values;
  for (int i = 0; i < 200; ++i) {
    double v = std::pow(10.0, (i * 7 + index * 13) % 600 / 100.0);  // 1 .. 1e6
    values.push_back(i % 10 == 0 ? -v : v);
  }
  values.push_back(0);
  return values;
}

}  // namespace

TEST_CASE("bucket indices follow the native histogram arithmetic: upper bounds inclusive, powers of two at 2^s steps") {
  auto index_of = [](double v, int schema) {
    int sign = 0;
    int32_t index = 0;
    REQUIRE(NativeBucketOf(v, schema, 0, &sign, &index));
    return sign * 1000000 + index;  // sign folded in to compare one number
  };
  CHECK(index_of(1, 3) == 1000000 + 0);
  CHECK(index_of(std::exp2(1.0 / 8), 3) == 1000000 + 1);
  CHECK(index_of(std::nextafter(std::exp2(1.0 / 8), 2.0), 3) == 1000000 + 2);
  CHECK(index_of(2, 3) == 1000000 + 8);
  CHECK(index_of(0.5, 3) == 1000000 - 8);
  CHECK(index_of(-2, 3) == -1000000 + 8);
  CHECK(index_of(3, 0) == 1000000 + 2);
  CHECK(index_of(4, 0) == 1000000 + 2);
  CHECK(index_of(4.0001, 0) == 1000000 + 3);
  CHECK(index_of(4, -1) == 1000000 + 1);
  CHECK(index_of(5, -1) == 1000000 + 2);
  CHECK(index_of(1e6, 8) == 1000000 + static_cast<int>(std::ceil(std::log2(1e6) * 256)));
  int sign;
  int32_t index;
  CHECK(NativeBucketOf(1e-3, 3, 1e-3, &sign, &index));
  CHECK(sign == 0);
  CHECK(!NativeBucketOf(NAN, 3, 0, &sign, &index));
  CHECK(!NativeBucketOf(INFINITY, 3, 0, &sign, &index));
  // Halving the resolution: buckets 2j-1 and 2j become bucket j.
  CHECK(ReduceNativeIndex(-3, 1) == -1);
  CHECK(ReduceNativeIndex(-2, 1) == -1);
  CHECK(ReduceNativeIndex(-1, 1) == 0);
  CHECK(ReduceNativeIndex(0, 1) == 0);
  CHECK(ReduceNativeIndex(1, 1) == 1);
  CHECK(ReduceNativeIndex(2, 1) == 1);
  CHECK(ReduceNativeIndex(3, 1) == 2);
  CHECK(ReduceNativeIndex(9, 3) == 2);
  // Reducing an index agrees with computing it at the lower schema.
  for (double v : {0.001, 0.7, 1.0, 1.5, 3.0, 1000.0, 12345.678}) {
    for (int s = 8; s > -4; --s) {
      int sa, sb;
      int32_t a, b;
      NativeBucketOf(v, s, 0, &sa, &a);
      NativeBucketOf(v, s - 1, 0, &sb, &b);
      CHECK(ReduceNativeIndex(a, 1) == b);
    }
  }
  // Factors pick schemas as client_golang does.
  CHECK(detail::NativeSchemaForFactor(1.1) == 3);
  CHECK(detail::NativeSchemaForFactor(2) == 0);
  CHECK(detail::NativeSchemaForFactor(4) == -1);
  CHECK(detail::NativeSchemaForFactor(1.0001) == 8);
  CHECK(detail::NativeSchemaForFactor(1e9) == -4);
  for (int s = -4; s <= 8; ++s) CHECK(detail::NativeSchemaForFactor(detail::NativeFactorForSchema(s)) == s);
}

TEST_CASE("reducing buckets merges neighbours down to the highest schema within the maximum") {
  // Schema 2: positive buckets 1..4 (one power of two) and negative bucket 3.
  const std::vector<std::pair<std::pair<int, int32_t>, int64_t>> buckets = {
      {{1, 1}, 1}, {{1, 2}, 2}, {{1, 3}, 3}, {{1, 4}, 4}, {{-1, 3}, 5}};
  detail::NativeBucketCounts merged;
  CHECK(detail::ReduceNativeBuckets(buckets, 2, 2, 5, &merged) == 2);  // fits as it is
  CHECK(merged.size() == 5);
  CHECK(detail::ReduceNativeBuckets(buckets, 2, 2, 3, &merged) == 1);  // pairs (1,2) and (3,4) merge
  CHECK(merged == detail::NativeBucketCounts{{{1, 1}, 3}, {{1, 2}, 7}, {{-1, 2}, 5}});
  CHECK(detail::ReduceNativeBuckets(buckets, 2, 2, 2, &merged) == 0);  // one positive bucket left
  CHECK(merged == detail::NativeBucketCounts{{{1, 1}, 10}, {{-1, 1}, 5}});
  // At most `at_most`, however few the buckets.
  CHECK(detail::ReduceNativeBuckets(buckets, 2, 1, 100, &merged) == 1);
  // Never below -4, even when that still exceeds the maximum.
  CHECK(detail::ReduceNativeBuckets(buckets, 2, 2, 1, &merged) == detail::kMinNativeSchema);
  CHECK(merged.size() == 2);
}

TEST_CASE("the fast bucket lookup agrees with the definition for a million values at every schema") {
  // The definition: the smallest i with |v| <= 2^(i / 2^s), by frexp and a
  // search of the boundaries 2^(j/2^s - 1) within [0.5, 1).
  auto reference = [](double v, int s) {
    int exp;
    double frac = std::frexp(std::fabs(v), &exp);
    if (s <= 0) return ReduceNativeIndex(frac == 0.5 ? exp - 1 : exp, -s);
    int n = 1 << s, below = 0;
    for (int j = 0; j < n; ++j) below += std::exp2(static_cast<double>(j) / n - 1) < frac;
    return static_cast<int32_t>(below + (exp - 1) * n);
  };
  uint64_t state = 42;
  for (int i = 0; i < 1000000; ++i) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    int s = static_cast<int>(state >> 60) % 13 - 4;
    double v = std::ldexp(1.0 + static_cast<double>(state >> 11 & 0xfffff) / 0x100000, static_cast<int>(state >> 32 & 63) - 32);
    if (i % 7 == 0) v = std::exp2(static_cast<double>(static_cast<int>(state >> 40 & 1023) - 512) / (1 << (i % 9)));  // bounds
    if (i % 11 == 0) v = std::nextafter(v, 0.0);
    if (i % 13 == 0) v = 4.9e-320 * (1 + i % 5);  // subnormal
    int sign;
    int32_t index;
    REQUIRE(NativeBucketOf(v, s, 0, &sign, &index));
    if (index != reference(v, s)) {
      CAPTURE(v);
      CAPTURE(s);
      REQUIRE(index == reference(v, s));
    }
  }
}

TEST_CASE("bad native declarations are rejected by name and store nothing") {
  test::TempDir dir;
  const std::string path = dir.File("m.db");
  Registry registry(path);
  BuildGauge().Name("existing").Register(registry).WithLabelValues({}).Set(1);
  const std::string before = test::DumpDatabase(path);
  auto rejects = [&](FamilySpec spec, const std::string& message) {
    CHECK_THROWS_WITH_AS(registry.Register<Histogram>(spec), message.c_str(), InvalidArgument);
  };
  FamilySpec spec;
  spec.type = MetricType::kHistogram;
  spec.name = "latency_seconds";
  for (double factor : {1.0, 0.5, -2.0}) {
    spec.native_bucket_factor = factor;
    rejects(spec, "metric 'latency_seconds': native histogram bucket factor must be a finite number > 1, got " +
                      std::string(factor == 1 ? "1" : factor == 0.5 ? "0.5" : "-2"));
  }
  spec.native_bucket_factor = INFINITY;
  rejects(spec, "metric 'latency_seconds': native histogram bucket factor must be a finite number > 1, got +Inf");
  spec.native_bucket_factor = 1.1;
  spec.native_zero_threshold = -1e-9;
  rejects(spec, "metric 'latency_seconds': native histogram zero threshold must be a finite number >= 0, got -1e-09");
  spec.native_zero_threshold = 0;
  spec.native_max_buckets = 0;
  rejects(spec, "metric 'latency_seconds': native histogram max buckets must be >= 1, got 0");
  FamilySpec counter;
  counter.type = MetricType::kCounter;
  counter.name = "requests";
  counter.native_bucket_factor = 1.1;
  CHECK_THROWS_WITH_AS(registry.Register<Counter>(counter), "metric 'requests': only histograms have a native histogram",
                       InvalidArgument);
  CHECK(test::DumpDatabase(path) == before);
}

TEST_CASE("a native declaration is stored, and re-declaring with another layout is a conflict") {
  test::TempDir dir;
  Registry registry(dir.File("m.db"));
  auto family = BuildHistogram().Name("rpc_seconds").NativeHistogram(1.1).Register(registry);
  CHECK(family.spec().buckets.empty());  // native only
  BuildHistogram().Name("rpc_seconds").NativeHistogram(1.095).Register(registry);  // also schema 3
  auto found = registry.Find("rpc_seconds");
  REQUIRE(found);
  CHECK(detail::NativeSchemaForFactor(found->native_bucket_factor) == 3);
  CHECK(found->native_max_buckets == 160);
  CHECK(found->native_zero_threshold == kDefaultNativeZeroThreshold);
  CHECK_THROWS_WITH_AS(BuildHistogram().Name("rpc_seconds").NativeHistogram(2).Register(registry),
                       doctest::Contains("native=[schema 0"), DeclarationConflict);
  CHECK_THROWS_AS(BuildHistogram().Name("rpc_seconds").Register(registry), DeclarationConflict);
  CHECK_THROWS_AS(BuildHistogram().Name("rpc_seconds").NativeHistogram(1.1).NativeMaxBuckets(10).Register(registry),
                  DeclarationConflict);
}

TEST_CASE("several processes' observations merge exactly into one native histogram, immediate and batched") {
  for (WriteMode mode : {WriteMode::kImmediate, WriteMode::kBatched}) {
    CAPTURE(static_cast<int>(mode));
    test::TempDir dir;
    const std::string path = dir.File("m.db");
    Options options;
    options.write_mode = mode;
    { Registry(path, options); }
    const int children = 4;
    CHECK(test::RunInChildren(children, [&](int index) {
            Registry registry(path, options);
            auto h = BuildHistogram().Name("op_seconds").Buckets({1, 100}).NativeHistogram(1.1)
                         .NativeMaxBuckets(1000).Register(registry).WithLabelValues({});
            for (double v : ChildValues(index)) h.Observe(v);
          }) == 0);
    std::vector<double> all;
    double sum = 0;
    for (int i = 0; i < children; ++i) {
      for (double v : ChildValues(i)) {
        all.push_back(v);
        sum += v;
      }
    }
    NativeSeries stored = ReadNative(path, "op_seconds");
    CHECK(stored.schema == 3);
    CHECK(stored.count == static_cast<int64_t>(all.size()));
    CHECK(stored.sum == doctest::Approx(sum).epsilon(1e-12));
    CHECK(stored.buckets == Expected(all, 3, kDefaultNativeZeroThreshold));
    // The classic buckets alongside are exact too.
    Registry registry(path);
    auto value = BuildHistogram().Name("op_seconds").Buckets({1, 100}).NativeHistogram(1.1).NativeMaxBuckets(1000)
                     .Register(registry).WithLabelValues({}).Value();
    int64_t le1 = 0, le100 = 0;
    for (double v : all) {
      le1 += v <= 1;
      le100 += v <= 100;
    }
    CHECK(value.cumulative_counts == std::vector<double>{double(le1), double(le100), double(all.size())});
  }
}

TEST_CASE("too many buckets lower the resolution for every process: the file holds exactly the observations at the new schema") {
  for (WriteMode mode : {WriteMode::kImmediate, WriteMode::kBatched}) {
    CAPTURE(static_cast<int>(mode));
    test::TempDir dir;
    const std::string path = dir.File("m.db");
    Options options;
    options.write_mode = mode;
    options.flush_interval_ms = 5;
    { Registry(path, options); }
    const int children = 4;
    // Each child keeps its handle from before the first reduction to the
    // end, so it must follow the schema other processes lowered.
    CHECK(test::RunInChildren(children, [&](int index) {
            Registry registry(path, options);
            auto h = BuildHistogram().Name("spread").NativeHistogram(1.1).NativeMaxBuckets(12)
                         .Register(registry).WithLabelValues({});
            for (double v : ChildValues(index)) {
              h.Observe(v);
              if (mode == WriteMode::kBatched && static_cast<int>(v) % 7 == 0) registry.Flush();
            }
          }) == 0);
    std::vector<double> all;
    for (int i = 0; i < children; ++i)
      for (double v : ChildValues(i)) all.push_back(v);
    NativeSeries stored = ReadNative(path, "spread");
    CHECK(stored.schema < 3);
    CHECK(stored.count == static_cast<int64_t>(all.size()));
    size_t non_zero = stored.buckets.size() - stored.buckets.count({0, 0});
    CHECK(non_zero <= 12);
    // Merging is exact: the buckets are those of all observations counted
    // directly at the final schema, and one schema higher would not fit.
    CHECK(stored.buckets == Expected(all, stored.schema, kDefaultNativeZeroThreshold));
    BucketMap finer = Expected(all, stored.schema + 1, kDefaultNativeZeroThreshold);
    CHECK(finer.size() - finer.count({0, 0}) > 12);
  }
}

TEST_CASE("a process holding a handle observes at the schema another process lowered, also with observations pending") {
  for (WriteMode mode : {WriteMode::kImmediate, WriteMode::kBatched}) {
    CAPTURE(static_cast<int>(mode));
    test::TempDir dir;
    const std::string path = dir.File("m.db");
    Options options;
    options.write_mode = mode;
    options.flush_interval_ms = 3600 * 1000;  // flushed by hand below
    Registry registry(path, options);
    auto declare = [](Registry& r) {
      return BuildHistogram().Name("held").NativeHistogram(1.1).NativeMaxBuckets(4).Register(r).WithLabelValues({});
    };
    Histogram held = declare(registry);
    std::vector<double> mine = {1.0, 1.05, 1.2};  // three buckets at schema 3
    for (double v : mine) held.Observe(v);
    // Another process spreads the series over many buckets: it is lowered.
    std::vector<double> theirs = {3.0, 10.0, 30.0, 100.0, 300.0};
    REQUIRE(test::RunInChildren(1, [&](int) {
              Registry other(path);
              Histogram h = declare(other);
              for (double v : theirs) h.Observe(v);
            }) == 0);
    std::vector<double> later = {1.1, 1.3, 2.5};
    for (double v : later) held.Observe(v);
    registry.Flush();
    std::vector<double> all = mine;
    all.insert(all.end(), theirs.begin(), theirs.end());
    all.insert(all.end(), later.begin(), later.end());
    NativeSeries stored = ReadNative(path, "held");
    CHECK(stored.schema < 3);
    CHECK(stored.count == static_cast<int64_t>(all.size()));
    CHECK(stored.buckets.size() <= 4);
    CHECK(stored.buckets == Expected(all, stored.schema, kDefaultNativeZeroThreshold));
  }
}

TEST_CASE("removing a series, clearing or wiping removes its native buckets") {
  test::TempDir dir;
  const std::string path = dir.File("m.db");
  Registry registry(path);
  auto family = BuildHistogram().Name("h").LabelNames({"k"}).NativeHistogram(2).Register(registry);
  for (double v : {0.0, 1.0, 3.0, -5.0}) {
    family.WithLabelValues({"a"}).Observe(v);
    family.WithLabelValues({"b"}).Observe(v);
  }
  CHECK(NativeRows(path) == 8);
  registry.RemoveSeries("h", {{"k", "a"}});
  CHECK(NativeRows(path) == 4);
  family.WithLabelValues({"a"}).Observe(1);  // made anew from 0
  CHECK(NativeRows(path) == 5);
  registry.Wipe();
  CHECK(NativeRows(path) == 0);
}

TEST_CASE("text and OpenMetrics show a native-only histogram as its +Inf bucket, _sum and _count (and _created)") {
  test::TempDir dir;
  Registry registry(dir.File("m.db"));
  auto h = BuildHistogram().Name("job_seconds").Help("Job time.").NativeHistogram(1.1).Register(registry).WithLabelValues({});
  h.Observe(1.5);
  h.Observe(2.5);
  std::string text = registry.Render(Format::kText);
  CHECK(text ==
        "# HELP job_seconds Job time.\n# TYPE job_seconds histogram\n"
        "job_seconds_bucket{le=\"+Inf\"} 2\njob_seconds_sum 4\njob_seconds_count 2\n");
  test::CommandResult checked = test::CheckExposition(text, false);
  CHECK_MESSAGE(checked.exit_code == 0, checked.output);
  std::string om = registry.Render(Format::kOpenMetrics);
  CHECK(om.find("job_seconds_bucket{le=\"+Inf\"} 2\njob_seconds_count 2\njob_seconds_sum 4\njob_seconds_created ") !=
        std::string::npos);
  checked = test::CheckExposition(om, true);
  CHECK_MESSAGE(checked.exit_code == 0, checked.output);
  // Negative observations: OpenMetrics forbids a _sum that is not
  // counter-like, so such a series shows its +Inf bucket and _created only.
  BuildHistogram().Name("delta").NativeHistogram(2).Register(registry).WithLabelValues({}).Observe(-5);
  om = registry.Render(Format::kOpenMetrics);
  CHECK(om.find("delta_bucket{le=\"+Inf\"} 1\ndelta_created ") != std::string::npos);
  checked = test::CheckExposition(om, true);
  CHECK_MESSAGE(checked.exit_code == 0, checked.output);
}

TEST_CASE("the protobuf exposition carries native buckets as schema, zero bucket, spans and deltas") {
  test::TempDir dir;
  Registry registry(dir.File("m.db"));
  auto h = BuildHistogram().Name("op_seconds").NativeHistogram(2).NativeZeroThreshold(0.001).Register(registry)
               .WithLabelValues({});
  // Schema 0: 1 -> bucket 0, 3 and 4 -> 2, 5 -> 3, 100 -> 7; -2 -> negative 1; 0.0001 -> zero bucket.
  for (double v : {1.0, 3.0, 4.0, 5.0, 100.0, -2.0, 0.0001}) h.Observe(v);
  CHECK(test::DecodeMetricFamilies(registry.Render(Format::kProtobuf)) ==
        "name: \"op_seconds\"\ntype: HISTOGRAM\nmetric {\n  histogram {\n    sample_count: 7\n    sample_sum: 111.0001\n"
        "    schema: 0\n    zero_threshold: 0.001\n    zero_count: 1\n"
        "    negative_span {\n      offset: 1\n      length: 1\n    }\n    negative_delta: 1\n"
        "    positive_span {\n      offset: 0\n      length: 1\n    }\n"
        "    positive_span {\n      offset: 1\n      length: 2\n    }\n"
        "    positive_span {\n      offset: 3\n      length: 1\n    }\n"
        "    positive_delta: 1\n    positive_delta: 1\n    positive_delta: -1\n    positive_delta: 0\n  }\n}\n");
}

TEST_CASE("a version 2 file is read as it is and migrated to version 3 with its data by a writer") {
  test::TempDir dir;
  const std::string path = dir.File("v2.db");
  // The version 2 layout of docs/schema.md, as another program wrote it.
  test::ExecSql(path,
                "PRAGMA journal_mode = WAL;"
                "CREATE TABLE families (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE, type TEXT NOT NULL,"
                " help TEXT NOT NULL, unit TEXT NOT NULL, label_names TEXT NOT NULL, buckets TEXT NOT NULL,"
                " states BLOB NOT NULL, created REAL NOT NULL, gauge_mode TEXT NOT NULL DEFAULT '',"
                " ttl_seconds REAL NOT NULL DEFAULT 0);"
                "CREATE TABLE series (id INTEGER PRIMARY KEY AUTOINCREMENT, family_id INTEGER NOT NULL, labels BLOB NOT NULL,"
                " writer_id INTEGER NOT NULL DEFAULT 0, value REAL, count INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL,"
                " updated REAL NOT NULL, UNIQUE (family_id, labels, writer_id));"
                "CREATE TABLE writers (id INTEGER PRIMARY KEY AUTOINCREMENT, pid INTEGER NOT NULL, start_time INTEGER NOT NULL,"
                " boot_id TEXT NOT NULL, created REAL NOT NULL, UNIQUE (pid, start_time, boot_id));"
                "CREATE TABLE bucket_counts (series_id INTEGER NOT NULL, bucket INTEGER NOT NULL, count INTEGER NOT NULL,"
                " PRIMARY KEY (series_id, bucket)) WITHOUT ROWID;"
                "INSERT INTO families VALUES (1, 'lat', 'histogram', '', '', '', '1', x'', 0, '', 0);"
                "INSERT INTO series VALUES (1, 1, x'', 0, 2.5, 2, 0, 0);"
                "INSERT INTO bucket_counts VALUES (1, 0, 1);"
                "PRAGMA application_id = 1349676371; PRAGMA user_version = 2;");
  // An empty help still gets its "# HELP name " line, as client_golang writes it.
  const std::string expected = "# HELP lat \n# TYPE lat histogram\nlat_bucket{le=\"1\"} 1\nlat_bucket{le=\"+Inf\"} 2\nlat_sum 2.5\nlat_count 2\n";
  CHECK(Reader(path).Render(Format::kText) == expected);
  {
    Registry registry(path);
    BuildHistogram().Name("native").NativeHistogram(1.1).Register(registry).WithLabelValues({}).Observe(3);
  }
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  CHECK(db.execAndGet("PRAGMA user_version").getInt() == SchemaVersion());
  CHECK(Reader(path).Render(Format::kText) ==
        expected + "# HELP native \n# TYPE native histogram\nnative_bucket{le=\"+Inf\"} 1\nnative_sum 3\nnative_count 1\n");
  CHECK(NativeRows(path) == 1);
}
