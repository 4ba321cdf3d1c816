#include "store/database.h"

#include <sys/stat.h>

#include <chrono>
#include <thread>

namespace promsqlite::detail {

void SleepMilliseconds(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

std::unique_ptr<SQLite::Database> OpenDatabase(const std::string& path, bool writable, bool create,
                                               int busy_timeout_ms) {
  struct stat st;
  if (stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    throw DatabaseError(path + ": is a directory, not a promsqlite database");
  if (!create && stat(path.c_str(), &st) != 0)
    throw DatabaseError(path + ": no such file (and create_if_missing is false)");
  int flags = writable ? SQLite::OPEN_READWRITE : SQLite::OPEN_READONLY;
  if (writable && create) flags |= SQLite::OPEN_CREATE;
  // FULLMUTEX is not needed: every connection is guarded by its owner's mutex.
  flags |= SQLite::OPEN_NOMUTEX;
  return GuardSqlite(path, "cannot open", [&] {
    return RetryWhileBusy(busy_timeout_ms, [&] {
      auto db = std::make_unique<SQLite::Database>(path, flags, busy_timeout_ms);
      // Fails here, not on first use, for files that are not databases at all.
      db->exec("SELECT count(*) FROM sqlite_schema");
      return db;
    });
  });
}

}  // namespace promsqlite::detail
