#include "promsqlite/version.h"

#include <sqlite3.h>

#include "store/schema.h"

namespace promsqlite {

const char* Version() { return PROMSQLITE_VERSION; }
const char* SqliteVersion() { return sqlite3_libversion(); }
int SchemaVersion() { return detail::kSchemaVersion; }

}  // namespace promsqlite
