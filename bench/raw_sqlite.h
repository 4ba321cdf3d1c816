// The "raw SQLite" baselines: sqlite3 used directly, as a program that knew
// promsqlite's schema would use it, with no library in between. They run on
// a file whose schema promsqlite itself created (so the table layout cannot
// drift from the library's), with the library's own statements
// (lib/src/store/sql.h), prepared once and bound by parameter indexes
// resolved once: the physical limit of each write.
#ifndef PROMSQLITE_BENCH_RAW_SQLITE_H_
#define PROMSQLITE_BENCH_RAW_SQLITE_H_

#include <sqlite3.h>

#include <cstdint>
#include <string>

namespace bench {

class RawStore {
 public:
  // Opens an existing promsqlite file: WAL, synchronous=NORMAL, SQLite's
  // default automatic checkpoints.
  explicit RawStore(const std::string& path);
  ~RawStore();
  RawStore(const RawStore&) = delete;
  RawStore& operator=(const RawStore&) = delete;

  int64_t FamilyId(const std::string& name);

  void Begin();  // BEGIN IMMEDIATE
  void Commit();
  // The library's `add` (sql::kAddToSeries): value += delta, keyed by id,
  // then (family, labels, writer 0).
  // `id` 0 lets SQLite choose. Returns the last inserted row's id (the
  // new row's, when this call inserted one).
  int64_t Add(int64_t id, int64_t family_id, const std::string& labels, double delta);
  // The library's `observe` upsert (sum and count, sql::kObserveSeries),
  // the query for the row it wrote (by its key, sql::kSelectSeriesByKey),
  // and the bucket upsert (sql::kAddToBucket).
  int64_t Observe(int64_t id, int64_t family_id, const std::string& labels, double value);
  void Bucket(int64_t series_id, int bucket);

 private:
  sqlite3_stmt* Prepare(const std::string& text);
  int Param(sqlite3_stmt* s, const char* name);  // its index; throws when `s` has none of that name
  void Step(sqlite3_stmt* s);  // to completion, then reset
  void Check(int rc, const char* what);
  // The series upserts' parameters (the same in add_ and observe_).
  void BindUpsert(sqlite3_stmt* s, int64_t id, int64_t family_id, const std::string& labels, double value,
                  int64_t count);

  std::string path_;
  sqlite3* db_ = nullptr;
  sqlite3_stmt *begin_ = nullptr, *commit_ = nullptr, *add_ = nullptr, *observe_ = nullptr,
               *written_ = nullptr, *bucket_ = nullptr, *family_ = nullptr;
  struct {
    int id, family_id, labels, value, count, created, updated;
  } upsert_{};
  int written_family_ = 0, written_labels_ = 0;
  struct {
    int series_id, bucket, count;
  } bucket_params_{};
};

// Creates a promsqlite file at `path` through the library, declaring a
// counter `counter_name` and a default-bucket histogram `histogram_name`
// with HotLabelNames(), so that RawStore has the real schema to write to.
void CreatePromsqliteFile(const std::string& path, const std::string& counter_name,
                          const std::string& histogram_name);

// A labels blob as long as promsqlite's encoding of `values` (the raw
// baselines only need rows of the same size).
std::string RawLabels(const std::string& a, const std::string& b);

}  // namespace bench

#endif  // PROMSQLITE_BENCH_RAW_SQLITE_H_
