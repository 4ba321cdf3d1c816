// Rows another program wrote wrongly: a strict Reader fails naming the row,
// a lenient one serves everything else exactly and reports the row,
// Reader::Check finds it and Registry::DeleteUnreadableRows removes exactly
// it (docs/reliability.md, "Rows that cannot be read").
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "promsqlite/promsqlite.h"
#include "test_util.h"
#include "unreadable_cases.h"

using namespace promsqlite;
using promsqlite::test::Contains;
using promsqlite::test::TempDir;

namespace {

ReaderOptions Lenient() {
  ReaderOptions options;
  options.unreadable_rows = UnreadableRows::kSkip;
  return options;
}

// The file a case expects: the sound file with `sql` run on it.
std::string SoundFileWith(const TempDir& dir, const std::string& name, const std::string& sql) {
  const std::string path = dir.File(name);
  test::WriteSoundFile(path);
  if (!sql.empty()) test::ExecSql(path, sql);
  return path;
}

std::string Render(const std::string& path, Format format) { return Reader(path).Render(format); }

}  // namespace

TEST_CASE("the sound file of the unreadable-row cases has the ids the cases name, and valid expositions") {
  TempDir dir;
  const std::string db = SoundFileWith(dir, "m.db", "");
  CHECK(Contains(test::RowsOf(db), "families: [1] [jobs]"));
  CHECK(Contains(test::RowsOf(db), "families: [2] [temperature_celsius]"));
  CHECK(Contains(test::RowsOf(db), "families: [3] [latency_seconds]"));
  CHECK(Contains(test::RowsOf(db), "series: [2] [1] [b"));
  CHECK(Contains(test::RowsOf(db), "series: [3] [2] []"));
  CHECK(Contains(test::RowsOf(db), "series: [4] [3] []"));
  CHECK(Contains(test::RowsOf(db), "bucket_counts: [4] [0] [1]"));
  CHECK(Contains(test::RowsOf(db), "native_buckets: [4] [1] [-4] [1]"));
  CHECK(Contains(test::RowsOf(db), "exemplars: [1] [0]"));
  CHECK(Reader(db).Check().empty());
  const std::string text = Render(db, Format::kText), om = Render(db, Format::kOpenMetrics);
  CHECK(Contains(text, "jobs_total{queue=\"b\"} 3\n"));
  CHECK(Contains(om, "latency_seconds_bucket{le=\"1.0\"} 2 # {trace=\"t2\"} 0.3 1700000000.25\n"));
  test::CommandResult checked = test::CheckExposition(text, false);
  CHECK_MESSAGE(checked.exit_code == 0, checked.output);
  checked = test::CheckExposition(om, true);
  CHECK_MESSAGE(checked.exit_code == 0, checked.output);
}

TEST_CASE("each kind of unreadable row: strict reads fail naming it, lenient reads serve the rest exactly and "
          "report it, Check finds it, DeleteUnreadableRows removes exactly it") {
  for (const test::UnreadableCase& c : test::UnreadableCases()) {
    CAPTURE(c.name);
    TempDir dir;
    const std::string db = SoundFileWith(dir, "m.db", c.mistake);
    const std::string served = SoundFileWith(dir, "served.db", c.served_as);
    const std::string repaired = SoundFileWith(dir, "repaired.db", c.repaired_as);

    // Strict (the default): the read fails, naming the file and the row.
    CHECK_THROWS_WITH_AS(Reader(db).Render(Format::kText),
                         (db + ": cannot read " + c.row.ToString() + " (promsqlite check lists such rows)").c_str(),
                         DatabaseError);

    // Lenient: byte for byte what the sound file shows without the row's
    // part, in every format, and the row reported once.
    Reader lenient(db, Lenient());
    for (Format format : AllFormats()) {
      CAPTURE(FormatName(format));
      SkippedRows skipped;
      CHECK(lenient.Render(format, &skipped) == Render(served, format));
      CHECK(skipped.listed == std::vector<UnreadableRow>{c.row});
      CHECK(skipped.per_family == std::map<std::string, int64_t>{{c.row.family, 1}});
    }
    SkippedRows skipped;
    CHECK(lenient.Snapshot(&skipped).size() == Reader(served).Snapshot().size());
    CHECK(skipped.listed == std::vector<UnreadableRow>{c.row});

    CHECK(Reader(db).Check() == std::vector<UnreadableRow>{c.row});

    // The repair says what it deletes before it deletes it, and deletes
    // exactly that.
    std::vector<UnreadableRow> said;
    {
      Registry registry(db);
      CHECK(registry.DeleteUnreadableRows([&](const std::vector<UnreadableRow>& rows) { said = rows; }) ==
            std::vector<UnreadableRow>{c.row});
    }
    CHECK(said == std::vector<UnreadableRow>{c.row});
    CHECK(test::RowsOf(db) == test::RowsOf(repaired));
    CHECK(Reader(db).Check().empty());
    CHECK(Reader(db).Render(Format::kText) == Render(repaired, Format::kText));
  }
}

TEST_CASE("a server-style rendering makes its extra families from the rows it left out, once the file is read") {
  TempDir dir;
  const test::UnreadableCase& c = test::UnreadableCases().front();
  const std::string db = SoundFileWith(dir, "m.db", c.mistake);
  const std::string sound = SoundFileWith(dir, "sound.db", "");
  Reader reader(db, Lenient());
  int calls = 0;
  auto rendering = reader.StartRender(Format::kText, [&](const SkippedRows& skipped) {
    ++calls;
    CHECK(skipped.listed == std::vector<UnreadableRow>{c.row});
    MemoryFamily errors;
    errors.spec.type = MetricType::kGauge;
    errors.spec.name = "read_errors";
    errors.spec.help = "Rows left out.";
    errors.spec.label_names = {"family"};
    for (const auto& [family, rows] : skipped.per_family) errors.samples.push_back({{family}, double(rows), 0});
    return std::vector<MemoryFamily>{errors};
  });
  std::string body, chunk;
  while (rendering->Next(&chunk)) body += chunk;
  CHECK(calls == 1);
  CHECK(rendering->skipped().listed == std::vector<UnreadableRow>{c.row});
  CHECK(body == Render(sound, Format::kText) + "# HELP read_errors Rows left out.\n# TYPE read_errors gauge\n"
                                               "read_errors{family=\"jobs\"} 1\n");
}

TEST_CASE("a lenient read lists the first SkippedRows::kMaxListed rows left out and counts them all") {
  TempDir dir;
  const std::string db = SoundFileWith(dir, "m.db", "");
  // 1500 series of jobs whose labels a wrong writer left unterminated.
  test::ExecSql(db,
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1500) "
                "INSERT INTO series (family_id, labels, value, created, updated) "
                "SELECT 1, CAST(printf('z%04d', i) AS BLOB), 1, 1700000000, 1700000000 FROM n");
  SkippedRows skipped;
  const std::string text = Reader(db, Lenient()).Render(Format::kText, &skipped);
  CHECK(text == Render(SoundFileWith(dir, "sound.db", ""), Format::kText));
  CHECK(skipped.listed.size() == SkippedRows::kMaxListed);
  CHECK(skipped.total() == 1500);
  CHECK(skipped.per_family == std::map<std::string, int64_t>{{"jobs", 1500}});
  CHECK(skipped.listed.front().key == "id=7");
  CHECK(Reader(db).Check().size() == 1500);  // a check lists them all
}

TEST_CASE("rows of expired series and of families a snapshot does not ask for are not reported, Check lists them; "
          "exemplars of buckets no series has are neither") {
  TempDir dir;
  const std::string db = SoundFileWith(dir, "m.db", "UPDATE series SET value = 'abc' WHERE id = 3");
  SkippedRows skipped;
  CHECK(Reader(db, Lenient()).Snapshot({"jobs"}, &skipped).size() == 1);
  CHECK(skipped.empty());
  CHECK(Reader(db, Lenient()).Snapshot({"temperature_celsius"}, &skipped).at(0).series.empty());
  CHECK(skipped.total() == 1);
  // Expired (its family's TTL passed since 1700000000): not shown anyway,
  // so not reported either; a check still finds it.
  test::ExecSql(db, "UPDATE families SET ttl_seconds = 60 WHERE id = 2");
  CHECK(Reader(db, Lenient()).Snapshot({"temperature_celsius"}, &skipped).at(0).series.empty());
  CHECK(skipped.empty());
  CHECK(Reader(db).Check().size() == 1);
  // An exemplar of a bucket the series does not have is never read: not
  // reported, not listed.
  test::ExecSql(db, "INSERT INTO exemplars VALUES (2, 9, x'61', 1, 1700000000)");
  CHECK(Reader(db, Lenient()).Snapshot({"jobs"}, &skipped).at(0).series.size() == 2);
  CHECK(skipped.empty());
  CHECK(Reader(db).Check().size() == 1);
  // Families(): an unreadable declaration is left out of the list.
  test::ExecSql(db, "UPDATE families SET gauge_mode = 'sometimes' WHERE id = 2");
  std::vector<FamilySummary> families = Reader(db, Lenient()).Families(&skipped);
  CHECK(families.size() == 4);
  REQUIRE(skipped.listed.size() == 1);
  CHECK(skipped.listed[0].problem == "malformed gauge mode \"sometimes\"");
  CHECK_THROWS_AS(Reader(db).Families(), DatabaseError);
}

TEST_CASE("what an unreadable row reports is one line of valid UTF-8, whatever bytes the file holds") {
  TempDir dir;
  const std::string db = SoundFileWith(dir, "m.db",
                                       "INSERT INTO families (name, type, help, unit, label_names, buckets, states, "
                                       "created) VALUES (CAST(x'6261640aff' AS TEXT), 'gauge\nx', '', '', '', '', x'', 0)");
  const std::vector<UnreadableRow> rows = Reader(db).Check();
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].family == "bad?\xEF\xBF\xBD");
  CHECK(rows[0].problem == "malformed type \"gauge?x\"");
  CHECK(rows[0].ToString() == "family 'bad?\xEF\xBF\xBD' (families id=6): malformed type \"gauge?x\"");
}

TEST_CASE("a per-process gauge folds its readable rows only; each unreadable row is reported") {
  TempDir dir;
  const std::string db = dir.File("m.db");
  Registry(db).Register<Gauge>(CheckFamilySpec([] {
    FamilySpec spec;
    spec.type = MetricType::kGauge;
    spec.name = "workers_busy";
    spec.help = "Busy workers.";
    spec.gauge_mode = GaugeMode::kSum;
    return spec;
  }())).Add({}).Set(5);
  // Rows of other processes (plain sum: alive or not): one sound, one with a
  // value of the wrong type, one whose labels are no tuple encoding.
  test::ExecSql(db,
                "INSERT INTO series (family_id, labels, writer_id, value, created, updated) VALUES "
                "(1, x'', 999, 7, 0, 0), (1, x'', 998, 'abc', 0, 0), (1, x'63', 997, 1, 0, 0)");
  SkippedRows skipped;
  CHECK(Reader(db, Lenient()).Render(Format::kText, &skipped) ==
        "# HELP workers_busy Busy workers.\n# TYPE workers_busy gauge\nworkers_busy 12\n");
  REQUIRE(skipped.listed.size() == 2);
  // In the order of the rows: by labels, then writer.
  CHECK(skipped.listed[0].problem == "value holds TEXT 'abc', not a number or NULL");
  CHECK(skipped.listed[1].problem == "labels are not a tuple encoding");
  CHECK(Reader(db).Check().size() == 2);
}

TEST_CASE("a series row with TEXT labels is left out before a batched writer's pending updates are merged: each "
          "series once") {
  TempDir dir;
  const std::string db = dir.File("m.db");
  Options batched;
  batched.write_mode = WriteMode::kBatched;
  batched.flush_interval_ms = 3600 * 1000;
  Registry registry(db, batched);
  Counter a = BuildCounter().Name("jobs").Help("Jobs.").LabelNames({"queue"}).Register(registry).WithLabelValues({"a"});
  a.Increment(1);
  registry.Flush();  // the row of queue="a" holds 1
  a.Increment(2);    // pending in the region
  // SQLite sorts TEXT before BLOBs: this row comes first, its bytes after
  // the pending key's. Merged as it is, it would have let the pending
  // update out on its own before the row of queue="a" came.
  test::ExecSql(db, "INSERT INTO series (family_id, labels, value, created, updated) VALUES (1, 'zzz', 5, 0, 0)");
  SkippedRows skipped;
  CHECK(Reader(db, Lenient()).Render(Format::kText, &skipped) ==
        "# HELP jobs_total Jobs.\n# TYPE jobs_total counter\njobs_total{queue=\"a\"} 3\n");
  REQUIRE(skipped.listed.size() == 1);
  CHECK(skipped.listed[0].problem == "labels holds TEXT 'zzz', not a BLOB");
}
