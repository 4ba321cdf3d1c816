// Options for opening a promsqlite file.
#ifndef PROMSQLITE_OPTIONS_H_
#define PROMSQLITE_OPTIONS_H_

namespace promsqlite {

enum class Synchronous {
  // WAL + synchronous=NORMAL: a committed update survives a crash of the
  // process; a power loss may lose the last commits (never corrupts).
  kNormal,
  // WAL + synchronous=FULL: every commit is fsynced; survives power loss.
  kFull,
};

// How a Registry opens the shared file for writing.
struct Options {
  // Create the file (and the schema) when it does not exist.
  // Default: true.
  bool create_if_missing = true;

  // Durability of each commit. Default: Synchronous::kNormal.
  Synchronous synchronous = Synchronous::kNormal;

  // How long a writer waits for another process's write lock before an
  // update fails with DatabaseError. Contention normally waits microseconds.
  // Default: 10000 (10 s).
  int busy_timeout_ms = 10000;

  // When a commit leaves the write-ahead log at least this many pages long
  // (4 KiB each), the committing writer checkpoints it while holding the
  // write lock (see docs/checkpoints.md). 0 disables our checkpoints.
  // Default: 1000 (about 4 MiB).
  int checkpoint_wal_pages = 1000;

  // Longest a checkpoint waits for readers (a scrape in progress) before it
  // gives up and leaves the rest to a later commit. Default: 200.
  int checkpoint_busy_timeout_ms = 200;
};

// How a Reader opens a file.
struct ReaderOptions {
  // How long a read waits for a lock held by a writer that is recovering or
  // checkpointing. Default: 5000.
  int busy_timeout_ms = 5000;
};

}  // namespace promsqlite

#endif  // PROMSQLITE_OPTIONS_H_
