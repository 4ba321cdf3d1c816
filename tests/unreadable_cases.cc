#include "unreadable_cases.h"

#include <sstream>

#include "promsqlite/promsqlite.h"
#include "test_util.h"

namespace promsqlite::test {

void WriteSoundFile(const std::string& path) {
  Options options;
  options.clock = [] { return 1700000000.25; };
  Registry registry(path, options);
  auto jobs = BuildCounter().Name("jobs_total").Help("Jobs done.").LabelNames({"queue"}).Register(registry);
  jobs.WithLabelValues({"a"}).Increment(1, {{"trace", "t1"}});
  jobs.WithLabelValues({"b"}).Increment(3);
  BuildGauge().Name("temperature_celsius").Help("Temperature.").Register(registry).WithLabelValues({}).Set(21.5);
  Histogram latency = BuildHistogram()
                          .Name("latency_seconds")
                          .Help("Latency.")
                          .Buckets({0.1, 1})
                          .NativeHistogram(2)
                          .Register(registry)
                          .WithLabelValues({});
  latency.Observe(0.05);
  latency.Observe(0.3, {{"trace", "t2"}});
  latency.Observe(2);
  BuildEnum().Name("mode").Help("Mode.").States({"on", "off"}).Register(registry).WithLabelValues({}).Set("on");
  BuildInfo().Name("build").Help("Build.").LabelNames({"version"}).Register(registry).WithLabelValues({"1.0"});
}

const std::vector<UnreadableCase>& UnreadableCases() {
  // A series the wrong writer adds to jobs, with these labels.
  auto jobs_series = [](const std::string& labels) {
    return "INSERT INTO series (family_id, labels, writer_id, value, count, created, updated) VALUES (1, " + labels +
           ", 0, 5, 0, 1700000000, 1700000000)";
  };
  const std::string drop_latency = "DELETE FROM series WHERE id = 4";
  static const std::vector<UnreadableCase> cases = {
      {"series labels that are not a tuple encoding", true, jobs_series("x'63'"), "", "",
       {"series", "id=7", "jobs", "labels are not a tuple encoding"}},
      {"series labels with one value too many", false, jobs_series("x'630001640001'"), "", "",
       {"series", "id=7", "jobs", "labels hold 2 values for 1 label name"}},
      {"series labels that are not UTF-8", false, jobs_series("x'ff0001'"), "", "",
       {"series", "id=7", "jobs", "value of label \"queue\" is not valid UTF-8"}},
      {"series labels written as TEXT", false, jobs_series("'c'"), "", "",
       {"series", "id=7", "jobs", "labels holds TEXT 'c', not a BLOB"}},
      {"exemplar labels that are not a tuple encoding", true,
       "INSERT INTO exemplars VALUES (2, 0, x'7472616365', 1, 1700000000)", "", "",
       {"exemplars", "series_id=2 bucket=0", "jobs", "labels are not a tuple encoding of names and values"}},
      {"an exemplar label name that is no label name", false,
       "INSERT INTO exemplars VALUES (2, 0, x'6c652d780001610001', 1, 1700000000)", "", "",
       {"exemplars", "series_id=2 bucket=0", "jobs",
        "exemplar label name \"le-x\" must match [a-zA-Z_][a-zA-Z0-9_]*"}},
      {"a native bucket with a sign that is none", true, "INSERT INTO native_buckets VALUES (4, 5, 1, 1)",
       drop_latency, "", {"native_buckets", "series_id=4 sign=5 bucket=1", "latency_seconds", "sign 5 is not -1, 0 or 1"}},
      {"a native bucket count written as TEXT", false, "INSERT INTO native_buckets VALUES (4, 1, 100, 'many')",
       drop_latency, "",
       {"native_buckets", "series_id=4 sign=1 bucket=100", "latency_seconds", "count holds TEXT 'many', not an integer"}},
      {"a classic bucket with a negative count", false,
       "UPDATE bucket_counts SET count = -1 WHERE series_id = 4 AND bucket = 0", drop_latency,
       "DELETE FROM bucket_counts WHERE series_id = 4 AND bucket = 0",
       {"bucket_counts", "series_id=4 bucket=0", "latency_seconds", "count -1 is negative"}},
      {"a family of an unknown type", true, "UPDATE families SET type = 'countr' WHERE id = 2",
       "DELETE FROM series WHERE family_id = 2; DELETE FROM families WHERE id = 2",
       "DELETE FROM series WHERE family_id = 2; DELETE FROM families WHERE id = 2",
       {"families", "id=2", "temperature_celsius", "malformed type \"countr\""}},
      {"a family whose name is no metric name, with a series", false,
       "INSERT INTO families (name, type, help, unit, label_names, buckets, states, created) "
       "VALUES ('bad-name', 'gauge', '', '', '', '', x'', 1700000000); "
       "INSERT INTO series (family_id, labels, value, created, updated) VALUES (6, x'', 1, 1700000000, 1700000000)",
       "", "", {"families", "id=6", "bad-name", "metric name \"bad-name\" must match [a-zA-Z_:][a-zA-Z0-9_:]*"}},
      {"a family whose bucket bound is no number", false, "UPDATE families SET buckets = '0.1,x' WHERE id = 3",
       "DELETE FROM series WHERE family_id = 3; DELETE FROM families WHERE id = 3",
       "DELETE FROM series WHERE family_id = 3; DELETE FROM families WHERE id = 3",
       {"families", "id=3", "latency_seconds", "malformed bucket bound \"x\""}},
      {"a family whose unit is not the end of its name", false, "UPDATE families SET unit = 'bytes' WHERE id = 2",
       "DELETE FROM series WHERE family_id = 2; DELETE FROM families WHERE id = 2",
       "DELETE FROM series WHERE family_id = 2; DELETE FROM families WHERE id = 2",
       {"families", "id=2", "temperature_celsius", "unit \"bytes\" is not the end of the name"}},
      {"a value of the wrong type", true, "UPDATE series SET value = 'abc' WHERE id = 3", "DELETE FROM series WHERE id = 3",
       "DELETE FROM series WHERE id = 3",
       {"series", "id=3", "temperature_celsius", "value holds TEXT 'abc', not a number or NULL"}},
      {"a count of the wrong type", false, "UPDATE series SET count = 2.5 WHERE id = 4", drop_latency, drop_latency,
       {"series", "id=4", "latency_seconds", "count holds REAL 2.5, not an integer"}},
  };
  return cases;
}

std::string RowsOf(const std::string& path) {
  std::istringstream dump(DumpDatabase(path));
  std::string out, line;
  while (std::getline(dump, line))
    if (line.rfind("sqlite_sequence:", 0) != 0) out += line + "\n";
  return out;
}

}  // namespace promsqlite::test
