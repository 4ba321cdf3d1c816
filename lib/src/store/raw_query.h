// A prepared SELECT read through SQLite's C API: for readers that walk
// every series and bucket row of a file (read/snapshot.cc), where a
// SQLite::Column per value (a shared_ptr copy each, and a call for its type
// and another for its value) made a 100k-series render 40% slower once each
// value's type was checked. Values are the current row's sqlite3_value
// (SQLite calls them unprotected: safe here, as every connection is used
// by one thread at a time), valid until the next Step() or Reset().
// Statements that write bind through RowStatement (store/sql_rows.h).
//
// Thread safety: none; the connection's owner serializes its use.
#ifndef PROMSQLITE_SRC_STORE_RAW_QUERY_H_
#define PROMSQLITE_SRC_STORE_RAW_QUERY_H_

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace SQLite {
class Database;
}

namespace promsqlite::detail {

class RawQuery {
 public:
  // Throws SQLite::Exception when `sql` cannot be prepared.
  RawQuery(SQLite::Database& db, const std::string& sql);
  ~RawQuery();
  RawQuery(const RawQuery&) = delete;
  RawQuery& operator=(const RawQuery&) = delete;

  // Binds the parameter named `name` (":family_id"); throws
  // std::logic_error when the statement has none of that name.
  void Bind(const char* name, int64_t value);
  // The next row; false at the end (the query is then reset). Throws
  // SQLite::Exception on failure.
  bool Step();
  // Back to before the first row, bindings kept.
  void Reset();

  sqlite3_value* Value(int column) const { return sqlite3_column_value(stmt_, column); }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

// The bytes of a TEXT or BLOB value (empty for others).
inline std::string_view BytesOf(sqlite3_value* value) {
  const void* data = sqlite3_value_blob(value);
  return data == nullptr ? std::string_view()
                         : std::string_view(static_cast<const char*>(data), static_cast<size_t>(sqlite3_value_bytes(value)));
}

}  // namespace promsqlite::detail

#endif  // PROMSQLITE_SRC_STORE_RAW_QUERY_H_
