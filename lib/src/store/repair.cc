#include "store/repair.h"

#include <SQLiteCpp/Column.h>
#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>

#include "base/float_format.h"
#include "store/sql.h"

namespace promsqlite::detail {

StoredValue ReadStoredValue(const SQLite::Column& column) {
  StoredValue value;
  value.type = column.getType();
  switch (value.type) {
    case SQLITE_INTEGER: value.integer = column.getInt64(); break;
    case SQLITE_FLOAT: value.real = column.getDouble(); break;
    case SQLITE_TEXT:
    case SQLITE_BLOB:
      value.bytes.assign(static_cast<const char*>(column.getBlob()), static_cast<size_t>(column.getBytes()));
      break;
    default: break;
  }
  return value;
}

StoredValue ReadStoredValue(sqlite3_value* from) {
  StoredValue value;
  value.type = sqlite3_value_type(from);
  switch (value.type) {
    case SQLITE_INTEGER: value.integer = sqlite3_value_int64(from); break;
    case SQLITE_FLOAT: value.real = sqlite3_value_double(from); break;
    case SQLITE_TEXT:
    case SQLITE_BLOB:
      if (const void* data = sqlite3_value_blob(from))
        value.bytes.assign(static_cast<const char*>(data), static_cast<size_t>(sqlite3_value_bytes(from)));
      break;
    default: break;
  }
  return value;
}

std::string ShowStoredValue(const StoredValue& value) {
  static constexpr char kHex[] = "0123456789abcdef";
  switch (value.type) {
    case SQLITE_INTEGER: return std::to_string(value.integer);
    case SQLITE_FLOAT: return FormatGoFloat(value.real);
    case SQLITE_TEXT: {
      // One line, printable ASCII: a message must not carry what it reports on.
      std::string out = "'";
      for (size_t i = 0; i < value.bytes.size() && i < 40; ++i) {
        const unsigned char c = static_cast<unsigned char>(value.bytes[i]);
        out += c >= 0x20 && c < 0x7f && c != '\'' ? static_cast<char>(c) : '?';
      }
      return out + (value.bytes.size() > 40 ? "...'" : "'");
    }
    case SQLITE_BLOB: {
      std::string out = "x'";
      for (size_t i = 0; i < value.bytes.size() && i < 20; ++i) {
        const unsigned char c = static_cast<unsigned char>(value.bytes[i]);
        out += kHex[c >> 4];
        out += kHex[c & 15];
      }
      return out + (value.bytes.size() > 20 ? "...'" : "'");
    }
    default: return "NULL";
  }
}

void BindStoredValue(SQLite::Statement& statement, const char* name, const StoredValue& value) {
  switch (value.type) {
    case SQLITE_INTEGER: statement.bind(name, static_cast<int64_t>(value.integer)); break;
    case SQLITE_FLOAT: statement.bind(name, value.real); break;
    case SQLITE_TEXT: statement.bind(name, value.bytes); break;
    case SQLITE_BLOB:
      statement.bind(name, value.bytes.empty() ? "" : value.bytes.data(), static_cast<int>(value.bytes.size()));
      break;
    default: statement.bind(name); break;
  }
}

int64_t DeleteRows(SQLite::Database& db, const std::vector<RowRef>& rows) {
  SQLite::Statement family_series(db, sql::kDeleteFamilySeries), family(db, sql::kDeleteFamily),
      series(db, sql::kDeleteSeriesById), bucket(db, sql::kDeleteBucketRow), native(db, sql::kDeleteNativeBucketRow),
      exemplar(db, sql::kDeleteExemplarRow);
  int64_t deleted = 0;
  auto run = [&](SQLite::Statement& s) {
    const int changed = s.exec();
    s.reset();
    s.clearBindings();
    return changed;
  };
  for (const RowRef& row : rows) {
    switch (row.table) {
      case RowRef::kFamilies:
        family_series.bind(":family_id", static_cast<int64_t>(row.id));
        run(family_series);
        family.bind(":id", static_cast<int64_t>(row.id));
        deleted += run(family);
        break;
      case RowRef::kSeries:
        series.bind(":id", static_cast<int64_t>(row.id));
        deleted += run(series);
        break;
      case RowRef::kBucketCounts:
        bucket.bind(":series_id", static_cast<int64_t>(row.id));
        BindStoredValue(bucket, ":bucket", row.bucket);
        deleted += run(bucket);
        break;
      case RowRef::kNativeBuckets:
        native.bind(":series_id", static_cast<int64_t>(row.id));
        BindStoredValue(native, ":sign", row.sign);
        BindStoredValue(native, ":bucket", row.bucket);
        deleted += run(native);
        break;
      case RowRef::kExemplars:
        exemplar.bind(":series_id", static_cast<int64_t>(row.id));
        BindStoredValue(exemplar, ":bucket", row.bucket);
        deleted += run(exemplar);
        break;
    }
  }
  return deleted;
}

}  // namespace promsqlite::detail
