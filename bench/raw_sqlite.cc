#include "raw_sqlite.h"

#include <chrono>
#include <stdexcept>

#include "common.h"
#include "promsqlite/promsqlite.h"
#include "store/sql.h"  // the library's own statements (lib/src, an internal header)

namespace bench {
namespace {

double WallNow() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

namespace sql = promsqlite::detail::sql;

}  // namespace

RawStore::RawStore(const std::string& path) : path_(path) {
  Check(sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr), "open");
  sqlite3_busy_timeout(db_, 10000);
  for (const char* pragma : {sql::kSetJournalModeWal, sql::kSynchronousNormal})
    Check(sqlite3_exec(db_, pragma, nullptr, nullptr, nullptr), "pragmas");
  begin_ = Prepare(sql::kBeginWrite);
  commit_ = Prepare(sql::kCommit);
  add_ = Prepare(sql::kAddToSeries);
  observe_ = Prepare(sql::kObserveSeries);
  written_ = Prepare(sql::kSelectSeriesByKey);
  bucket_ = Prepare(sql::kAddToBucket);
  family_ = Prepare(sql::SelectFamilyByName());
  // The parameters by name, resolved once, as the library's binders do.
  // Every series here is shared: writer_id 0.
  for (sqlite3_stmt* s : {add_, observe_, written_})
    sqlite3_bind_int64(s, Param(s, ":writer_id"), 0);
  upsert_ = {Param(add_, ":id"),    Param(add_, ":family_id"), Param(add_, ":labels"),
             Param(add_, ":value"), Param(add_, ":count"),     Param(add_, ":created"),
             Param(add_, ":updated")};
  for (const char* name : {":id", ":family_id", ":labels", ":value", ":count", ":created", ":updated"}) {
    if (Param(observe_, name) != Param(add_, name))
      throw std::runtime_error(path_ + ": the upserts' parameters differ");
  }
  written_family_ = Param(written_, ":family_id");
  written_labels_ = Param(written_, ":labels");
  bucket_params_ = {Param(bucket_, ":series_id"), Param(bucket_, ":bucket"), Param(bucket_, ":count")};
}

RawStore::~RawStore() {
  for (sqlite3_stmt* s : {begin_, commit_, add_, observe_, written_, bucket_, family_}) sqlite3_finalize(s);
  sqlite3_close(db_);
}

void RawStore::Check(int rc, const char* what) {
  if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW) return;
  throw std::runtime_error(path_ + ": raw sqlite " + what + ": " + (db_ ? sqlite3_errmsg(db_) : "?"));
}

sqlite3_stmt* RawStore::Prepare(const std::string& text) {
  sqlite3_stmt* s = nullptr;
  Check(sqlite3_prepare_v3(db_, text.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr), "prepare");
  return s;
}

int RawStore::Param(sqlite3_stmt* s, const char* name) {
  const int index = sqlite3_bind_parameter_index(s, name);
  if (index == 0) throw std::runtime_error(path_ + ": no parameter " + name + " in " + sqlite3_sql(s));
  return index;
}

void RawStore::Step(sqlite3_stmt* s) {
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
  }
  sqlite3_reset(s);
  Check(rc, "step");
}

int64_t RawStore::FamilyId(const std::string& name) {
  sqlite3_bind_text(family_, Param(family_, ":name"), name.data(), static_cast<int>(name.size()), SQLITE_TRANSIENT);
  int64_t id = sqlite3_step(family_) == SQLITE_ROW ? sqlite3_column_int64(family_, sql::FamilyColumn("id")) : 0;
  sqlite3_reset(family_);
  if (id == 0) throw std::runtime_error(path_ + ": no family " + name);
  return id;
}

void RawStore::Begin() { Step(begin_); }
void RawStore::Commit() { Step(commit_); }

void RawStore::BindUpsert(sqlite3_stmt* s, int64_t id, int64_t family_id, const std::string& labels, double value,
                          int64_t count) {
  if (id > 0) sqlite3_bind_int64(s, upsert_.id, id);
  else sqlite3_bind_null(s, upsert_.id);
  sqlite3_bind_int64(s, upsert_.family_id, family_id);
  sqlite3_bind_blob(s, upsert_.labels, labels.data(), static_cast<int>(labels.size()), SQLITE_STATIC);
  sqlite3_bind_double(s, upsert_.value, value);
  sqlite3_bind_int64(s, upsert_.count, count);
  const double now = WallNow();
  sqlite3_bind_double(s, upsert_.created, now);
  sqlite3_bind_double(s, upsert_.updated, now);
}

int64_t RawStore::Add(int64_t id, int64_t family_id, const std::string& labels, double delta) {
  BindUpsert(add_, id, family_id, labels, delta, 0);
  Step(add_);
  return sqlite3_last_insert_rowid(db_);
}

int64_t RawStore::Observe(int64_t id, int64_t family_id, const std::string& labels, double value) {
  BindUpsert(observe_, id, family_id, labels, value, 1);
  Step(observe_);
  sqlite3_bind_int64(written_, written_family_, family_id);
  sqlite3_bind_blob(written_, written_labels_, labels.data(), static_cast<int>(labels.size()), SQLITE_STATIC);
  int64_t row = sqlite3_step(written_) == SQLITE_ROW ? sqlite3_column_int64(written_, 0) : 0;  // id
  Step(written_);
  return row;
}

void RawStore::Bucket(int64_t series_id, int bucket) {
  sqlite3_bind_int64(bucket_, bucket_params_.series_id, series_id);
  sqlite3_bind_int64(bucket_, bucket_params_.bucket, bucket);
  sqlite3_bind_int64(bucket_, bucket_params_.count, 1);
  Step(bucket_);
}

void CreatePromsqliteFile(const std::string& path, const std::string& counter_name,
                          const std::string& histogram_name) {
  promsqlite::Registry registry(path);
  promsqlite::BuildCounter().Name(counter_name).Help("Raw baseline.").LabelNames(HotLabelNames()).Register(registry);
  promsqlite::BuildHistogram().Name(histogram_name).Help("Raw baseline.").LabelNames(HotLabelNames()).Register(
      registry);
}

std::string RawLabels(const std::string& a, const std::string& b) {
  // Each value followed by a two-byte terminator, as in lib/src/base/tuple_codec.cc.
  return a + std::string("\0\x01", 2) + b + std::string("\0\x01", 2);
}

}  // namespace bench
