// Opening SQLite connections the promsqlite way, and turning SQLite's
// exceptions into DatabaseError with the file's path.
#ifndef PROMSQLITE_SRC_STORE_DATABASE_H_
#define PROMSQLITE_SRC_STORE_DATABASE_H_

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Exception.h>
#include <sys/stat.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include "promsqlite/errors.h"
#include "promsqlite/options.h"

struct sqlite3_file;

namespace promsqlite::detail {

// Runs `f`, rethrowing SQLite failures as DatabaseError("PATH: DOING: why").
// promsqlite's own exceptions pass through unchanged.
template <typename F>
auto GuardSqlite(const std::string& path, const char* doing, F&& f) -> decltype(f()) {
  try {
    return std::forward<F>(f)();
  } catch (const Error&) {
    throw;
  } catch (const SQLite::Exception& e) {
    throw DatabaseError(path + ": " + doing + ": " + e.what());
  }
}

void SleepMilliseconds(int ms);

inline bool IsBusy(const SQLite::Exception& e) {
  int code = e.getErrorCode() & 0xff;
  return code == 5 /*SQLITE_BUSY*/ || code == 6 /*SQLITE_LOCKED*/;
}

// Runs `f` again while it fails with SQLITE_BUSY/SQLITE_LOCKED, until
// `timeout_ms` have passed. For the steps where SQLite reports BUSY at once
// instead of calling the busy handler (switching a fresh file to WAL while
// another process creates it, WAL recovery after a killed writer).
template <typename F>
auto RetryWhileBusy(int timeout_ms, F&& f) -> decltype(f()) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (int attempt = 1;; ++attempt) {
    try {
      return f();
    } catch (const SQLite::Exception& e) {
      if (!IsBusy(e) || std::chrono::steady_clock::now() >= deadline) throw;
    }
    SleepMilliseconds(attempt < 10 ? 1 : 5);
  }
}
// The settings of every connection that writes or checkpoints the file
// (docs/checkpoints.md): Options::synchronous, no automatic (PASSIVE)
// checkpoints, the WAL's size limit, and a WAL kept when the last writer
// closes. On a connection already in WAL mode (OpenDatabase has already
// turned off SQLite's checkpoint when the last connection closes).
void ConfigureWriter(SQLite::Database& db, const Options& options);

// Read-write (created when `create`) or read-only connection, which does
// not checkpoint when it closes (docs/checkpoints.md, "Closing"). A writable
// one checks first that this process may write the file, its -wal and -shm
// (SQLite would quietly open it read-only), and creates a missing file with
// exactly `file_mode` when that is not 0 (Options::file_mode).
std::unique_ptr<SQLite::Database> OpenDatabase(const std::string& path, bool writable, bool create,
                                               int busy_timeout_ms, unsigned file_mode = 0);

// Why `path` can never hold a promsqlite file, in one line that names the
// problem and what to do, or "" when nothing is wrong as far as the path
// tells: too long; a directory or device; in a folder that is a file; for
// a writer, in a folder it cannot reach or that does not exist, or (when
// it may create the file) on a read-only file system. A missing file in an
// existing folder is fine, and so is a missing folder for a reader (it reads
// as empty until both appear). Costs a few stat() calls.
std::string PathProblem(const std::string& path, bool writable, bool create);

// "PATH: cannot open for writing: ... read-only for this process (...)",
// naming `blocked` (the file, its -wal or -shm, or the folder), its mode and
// owners, and what to do about it (docs/permissions.md).
std::string ReadOnlyMessage(const std::string& path, const std::string& blocked);

// True while some process checkpoints the WAL of the database at `path`:
// it holds SQLite's checkpoint lock (byte 121 of the -shm file, which every
// checkpoint takes before SQLite's write lock and keeps to its end). Found
// in /proc/locks, so this takes no lock and opens no descriptor of the
// -shm file (closing one would drop this process's own SQLite locks on it).
// False where /proc/locks does not exist (not Linux). Costs one read of
// /proc/locks.
bool CheckpointInProgress(const std::string& path);

// The same question asked through the -shm descriptor SQLite itself holds
// open for a connection that has read the file: one fcntl(F_OFD_GETLK)
// (which takes no lock, sees every process's locks, our own included, and
// never closes anything), instead of reading /proc/locks, whose cost grows
// with every lock on the host (a scrape beside 64 live writers spent a
// fifth of its time there). The descriptor is found once, by scanning
// /proc/self/fd for the -shm file's inode, and checked against the file by
// its inode at every look; until a connection has one (before its first
// read) or where F_OFD_GETLK is missing, CheckpointInProgress answers.
// Thread safety: none (a reader's, under its lock). Cost: two stat calls
// and one fcntl per look.
class CheckpointProbe {
 public:
  bool InProgress(const std::string& path);
  // Whether the last look went through SQLite's descriptor (tests).
  bool through_descriptor() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// Waits while a checkpoint is in progress (through `probe` when not null,
// else CheckpointInProgress), polling every 100 us, at most `bound`. A
// reader calls it before it takes a snapshot: a RESTART checkpoint holds
// SQLite's write lock until every snapshot that reads the WAL has ended, so
// a snapshot taken meanwhile makes the writers wait a whole scrape longer,
// and the WAL grow when the checkpoint gives up (docs/checkpoints.md).
void WaitWhileCheckpointing(const std::string& path, std::chrono::milliseconds bound,
                            CheckpointProbe* probe = nullptr);

// A read-only connection for one snapshot of a file in WAL mode whose -wal
// is gone. SQLite deletes the -wal and -shm when the last connection
// without SQLITE_FCNTL_PERSIST_WAL closes (a writer in another language,
// e.g. Python's sqlite3, cannot set it); a read-only open then creates them
// anew, as this process's files, or, in a folder it may not write, fails
// ("attempt to write a readonly database"). Readers never write: the
// database file alone holds every commit then, and is read "immutable"
// while SQLite's SHARED lock on it, taken through SQLite's own VFS, keeps a
// writer closing last from checkpointing into it and deleting a new -wal
// (docs/permissions.md).
//
// Thread safety: none (one Reader's connection). Fork: a child must not
// destroy its parent's (it would drop the parent's lock); it leaks it.
// Cost: a few stat() calls and an open; a new connection per snapshot.
class WalFreeRead {
 public:
  // nullptr when the file has its -wal and -shm (or a -wal and a -shm this
  // process may create), or is no WAL file: OpenDatabase opens it then.
  // Waits (at most `busy_timeout_ms`) while a writer closing last deletes
  // them, or a writer creates them.
  static std::unique_ptr<WalFreeRead> Open(const std::string& path, int busy_timeout_ms);
  ~WalFreeRead();
  WalFreeRead(const WalFreeRead&) = delete;
  WalFreeRead& operator=(const WalFreeRead&) = delete;

  SQLite::Database& db() { return *db_; }
  // After the snapshot: throws DatabaseError when a writer that began
  // meanwhile may have checkpointed into the file during the read (its WAL
  // reached the checkpoint threshold within one read; the read is then
  // not one snapshot). The next read finds the -wal and reads it.
  void CheckUnchanged() const;

 private:
  WalFreeRead() = default;
  std::string path_;
  sqlite3_file* file_ = nullptr;  // holds the SHARED lock
  struct stat at_start_ {};
  std::unique_ptr<SQLite::Database> db_;
};

// True while a process other than this one has the database at `path`
// open (found in /proc/locks: every connection holds a read lock on a byte
// of the -shm file while it is open). When none has, the next to open the
// file rebuilds the WAL's index by reading the whole WAL. False where
// /proc/locks does not exist. Costs one read of /proc/locks.
bool OthersHaveItOpen(const std::string& path);

}  // namespace promsqlite::detail

#endif  // PROMSQLITE_SRC_STORE_DATABASE_H_
