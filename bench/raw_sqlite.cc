#include "raw_sqlite.h"

#include <chrono>
#include <stdexcept>

#include "common.h"
#include "promsqlite/promsqlite.h"

namespace bench {
namespace {

double WallNow() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

// Shaped like lib/src/store/store.cc's Upsert(), so the baseline does the
// same work per row as the library's statement. Schema version 2 keys
// series by (family_id, labels, writer_id), writer_id 0 for shared series;
// version 1 had no writer_id.
std::string Upsert(bool has_writer_id, const std::string& set, const char* tail = "") {
  const char* writer_column = has_writer_id ? ", writer_id" : "";
  const char* writer_value = has_writer_id ? ", 0" : "";
  return std::string("INSERT INTO series (id, family_id, labels") + writer_column +
         ", value, count, created, updated) VALUES (?1, ?2, ?3" + writer_value +
         ", ?4, ?5, ?6, ?6) ON CONFLICT (id) DO UPDATE SET " + set + " ON CONFLICT (family_id, labels" +
         writer_column + ") DO UPDATE SET " + set + tail;
}

}  // namespace

RawStore::RawStore(const std::string& path) : path_(path) {
  Check(sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr), "open");
  sqlite3_busy_timeout(db_, 10000);
  Check(sqlite3_exec(db_, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL", nullptr, nullptr, nullptr),
        "pragmas");
  sqlite3_stmt* columns = Prepare("SELECT count(*) FROM pragma_table_info('series') WHERE name = 'writer_id'");
  bool has_writer_id = sqlite3_step(columns) == SQLITE_ROW && sqlite3_column_int(columns, 0) > 0;
  sqlite3_finalize(columns);
  begin_ = Prepare("BEGIN IMMEDIATE");
  commit_ = Prepare("COMMIT");
  add_ = Prepare(Upsert(has_writer_id, "value = value + excluded.value, updated = excluded.updated"));
  observe_ = Prepare(Upsert(
      has_writer_id, "value = value + excluded.value, count = count + excluded.count, updated = excluded.updated"));
  written_ = Prepare(std::string("SELECT id FROM series WHERE family_id = ?1 AND labels = ?2") +
                     (has_writer_id ? " AND writer_id = 0" : ""));
  bucket_ = Prepare(
      "INSERT INTO bucket_counts (series_id, bucket, count) VALUES (?1, ?2, ?3) "
      "ON CONFLICT (series_id, bucket) DO UPDATE SET count = count + excluded.count");
  family_ = Prepare("SELECT id FROM families WHERE name = ?1");
}

RawStore::~RawStore() {
  for (sqlite3_stmt* s : {begin_, commit_, add_, observe_, written_, bucket_, family_}) sqlite3_finalize(s);
  sqlite3_close(db_);
}

void RawStore::Check(int rc, const char* what) {
  if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW) return;
  throw std::runtime_error(path_ + ": raw sqlite " + what + ": " + (db_ ? sqlite3_errmsg(db_) : "?"));
}

sqlite3_stmt* RawStore::Prepare(const std::string& sql) {
  sqlite3_stmt* s = nullptr;
  Check(sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr), "prepare");
  return s;
}

void RawStore::Step(sqlite3_stmt* s) {
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
  }
  sqlite3_reset(s);
  Check(rc, "step");
}

int64_t RawStore::FamilyId(const std::string& name) {
  sqlite3_bind_text(family_, 1, name.data(), static_cast<int>(name.size()), SQLITE_TRANSIENT);
  int64_t id = sqlite3_step(family_) == SQLITE_ROW ? sqlite3_column_int64(family_, 0) : 0;
  sqlite3_reset(family_);
  if (id == 0) throw std::runtime_error(path_ + ": no family " + name);
  return id;
}

void RawStore::Begin() { Step(begin_); }
void RawStore::Commit() { Step(commit_); }

int64_t RawStore::Add(int64_t id, int64_t family_id, const std::string& labels, double delta) {
  if (id > 0) sqlite3_bind_int64(add_, 1, id);
  else sqlite3_bind_null(add_, 1);
  sqlite3_bind_int64(add_, 2, family_id);
  sqlite3_bind_blob(add_, 3, labels.data(), static_cast<int>(labels.size()), SQLITE_STATIC);
  sqlite3_bind_double(add_, 4, delta);
  sqlite3_bind_int64(add_, 5, 0);
  sqlite3_bind_double(add_, 6, WallNow());
  Step(add_);
  return sqlite3_last_insert_rowid(db_);
}

int64_t RawStore::Observe(int64_t id, int64_t family_id, const std::string& labels, double value) {
  if (id > 0) sqlite3_bind_int64(observe_, 1, id);
  else sqlite3_bind_null(observe_, 1);
  sqlite3_bind_int64(observe_, 2, family_id);
  sqlite3_bind_blob(observe_, 3, labels.data(), static_cast<int>(labels.size()), SQLITE_STATIC);
  sqlite3_bind_double(observe_, 4, value);
  sqlite3_bind_int64(observe_, 5, 1);
  sqlite3_bind_double(observe_, 6, WallNow());
  Step(observe_);
  sqlite3_bind_int64(written_, 1, family_id);
  sqlite3_bind_blob(written_, 2, labels.data(), static_cast<int>(labels.size()), SQLITE_STATIC);
  int64_t row = sqlite3_step(written_) == SQLITE_ROW ? sqlite3_column_int64(written_, 0) : 0;
  Step(written_);
  return row;
}

void RawStore::Bucket(int64_t series_id, int bucket) {
  sqlite3_bind_int64(bucket_, 1, series_id);
  sqlite3_bind_int64(bucket_, 2, bucket);
  sqlite3_bind_int64(bucket_, 3, 1);
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
