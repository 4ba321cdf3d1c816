// Deleting rows no reader can read (Registry::DeleteUnreadableRows): where
// each is, as read/row_checks.h finds it, and the deletes, inside the
// caller's write transaction (Store::WriteTransaction).
#ifndef PROMSQLITE_SRC_STORE_REPAIR_H_
#define PROMSQLITE_SRC_STORE_REPAIR_H_

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <vector>

namespace SQLite {
class Column;
class Database;
class Statement;
}  // namespace SQLite

namespace promsqlite::detail {

// A value as stored, of whatever type: a key column found with the wrong
// type is deleted by that value, not by a conversion of it.
struct StoredValue {
  int type = 0;  // SQLITE_INTEGER, SQLITE_FLOAT, SQLITE_TEXT, SQLITE_BLOB or SQLITE_NULL
  int64_t integer = 0;
  double real = 0;
  std::string bytes;  // TEXT and BLOB
};

StoredValue ReadStoredValue(const SQLite::Column& column);
StoredValue ReadStoredValue(sqlite3_value* value);

// "12", "2.5", "'abc'" (TEXT, at most 40 bytes shown), "x'0102'" (BLOB,
// at most 20 bytes), "NULL", as an UnreadableRow shows it.
std::string ShowStoredValue(const StoredValue& value);

// Binds `value` to the parameter named `name` of `statement`.
void BindStoredValue(SQLite::Statement& statement, const char* name, const StoredValue& value);

// Where an unreadable row is.
struct RowRef {
  enum Table { kFamilies, kSeries, kBucketCounts, kNativeBuckets, kExemplars };
  Table table = kSeries;
  // families.id or series.id; for the other tables, the series_id.
  int64_t id = 0;
  StoredValue sign = {};    // native_buckets
  StoredValue bucket = {};  // bucket_counts, native_buckets, exemplars
};

// Deletes each row, inside the caller's write transaction: a family with
// its series, a series with its child rows (by the triggers), a child row
// alone. Returns the number of rows deleted, the series that went with
// their family and their child rows not counted.
int64_t DeleteRows(SQLite::Database& db, const std::vector<RowRef>& rows);

}  // namespace promsqlite::detail

#endif  // PROMSQLITE_SRC_STORE_REPAIR_H_
