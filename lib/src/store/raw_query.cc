#include "store/raw_query.h"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Exception.h>

#include <stdexcept>

namespace promsqlite::detail {

RawQuery::RawQuery(SQLite::Database& db, const std::string& sql) : db_(db.getHandle()) {
  const int rc = sqlite3_prepare_v2(db_, sql.c_str(), static_cast<int>(sql.size()), &stmt_, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt_);
    throw SQLite::Exception(db_, rc);
  }
}

RawQuery::~RawQuery() { sqlite3_finalize(stmt_); }

void RawQuery::Bind(const char* name, int64_t value) {
  const int at = sqlite3_bind_parameter_index(stmt_, name);
  if (at == 0) throw std::logic_error(std::string("RawQuery: no parameter ") + name + " in " + sqlite3_sql(stmt_));
  const int rc = sqlite3_bind_int64(stmt_, at, value);
  if (rc != SQLITE_OK) throw SQLite::Exception(db_, rc);
}

bool RawQuery::Step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  sqlite3_reset(stmt_);
  if (rc == SQLITE_DONE) return false;
  throw SQLite::Exception(db_, rc);
}

void RawQuery::Reset() { sqlite3_reset(stmt_); }

}  // namespace promsqlite::detail
