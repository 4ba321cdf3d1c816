#include "store/database.h"

#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

namespace promsqlite::detail {

void SleepMilliseconds(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

namespace {

uint32_t BigEndian32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// A database file cut short (a copy interrupted, a disk filled up while
// someone else wrote it) opens fine and fails only on the pages that are
// gone, maybe after a writer has added to it. Its header says how long it
// should be; trust that only when it is marked valid and no WAL could hold
// the missing pages (a crash in the middle of a checkpoint).
void RejectTruncated(const std::string& path, const struct stat& st) {
  struct stat wal;
  if (st.st_size < 100 || (stat((path + "-wal").c_str(), &wal) == 0 && wal.st_size > 0)) return;
  unsigned char header[100];
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return;  // SQLite will report why
  size_t got = std::fread(header, 1, sizeof header, f);
  std::fclose(f);
  if (got != sizeof header || std::memcmp(header, "SQLite format 3", 16) != 0) return;
  uint32_t page_size = (uint32_t{header[16]} << 8) | header[17];
  if (page_size == 1) page_size = 65536;
  uint32_t pages = BigEndian32(header + 28);
  bool size_valid = BigEndian32(header + 24) == BigEndian32(header + 92) && pages > 0;
  int64_t expected = int64_t{pages} * page_size;
  if (size_valid && st.st_size < expected)
    throw DatabaseError(path + ": database file is truncated (" + std::to_string(st.st_size) + " of " +
                        std::to_string(expected) + " bytes)");
}

}  // namespace

std::unique_ptr<SQLite::Database> OpenDatabase(const std::string& path, bool writable, bool create,
                                               int busy_timeout_ms) {
  struct stat st;
  if (stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    throw DatabaseError(path + ": is a directory, not a promsqlite database");
  bool exists = stat(path.c_str(), &st) == 0;
  if (!create && !exists) throw DatabaseError(path + ": no such file (and create_if_missing is false)");
  if (exists) RejectTruncated(path, st);
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
