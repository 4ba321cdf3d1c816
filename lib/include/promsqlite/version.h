// Versions of promsqlite and of the SQLite library it runs on.
#ifndef PROMSQLITE_VERSION_H_
#define PROMSQLITE_VERSION_H_

namespace promsqlite {

// promsqlite's version, e.g. "0.1.0".
const char* Version();

// sqlite3_libversion() of the SQLite linked in, e.g. "3.40.1". Versions
// before 3.51.3 have the WAL-reset race described in docs/checkpoints.md.
const char* SqliteVersion();

// The schema version this build writes (see docs/schema.md).
int SchemaVersion();

}  // namespace promsqlite

#endif  // PROMSQLITE_VERSION_H_
