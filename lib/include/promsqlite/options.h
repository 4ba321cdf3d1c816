// Options for opening a promsqlite file.
#ifndef PROMSQLITE_OPTIONS_H_
#define PROMSQLITE_OPTIONS_H_

#include <cstddef>
#include <functional>
#include <string>

namespace promsqlite {

enum class Synchronous {
  // WAL + synchronous=NORMAL: a committed update survives a crash of the
  // process; a power loss may lose the last commits (never corrupts).
  kNormal,
  // WAL + synchronous=FULL: every commit is fsynced; survives power loss.
  kFull,
};

enum class WriteMode {
  // Every update is its own transaction, durable when the call returns.
  kImmediate,
  // Updates accumulate (where: Options::pending_store) and a background
  // thread writes all of them in one transaction every flush_interval_ms,
  // on Flush(), when the Registry is destroyed and at normal exit. With
  // PendingStore::kSharedFile (the default) an update whose call returned
  // survives a SIGKILL of the process and shows at the next scrape; with
  // kProcessMemory a SIGKILL loses the updates of the last interval and
  // readers see them once flushed. Either way a flush is all-or-nothing, so
  // a histogram is never half-applied and nothing is counted twice.
  kBatched,
};

// Batched mode: where a process's updates wait for their flush.
enum class PendingStore {
  // In a shared mapping of a file beside the database (FILE-pending/, one
  // per writer process, with the database's mode): an update whose call
  // returned survives a SIGKILL of its process (another writer, `promsqlite
  // housekeep` or the server's housekeeping applies it exactly once) and
  // every reader adds it at once. Counters, shared gauges, classic
  // histograms and summaries wait there; what a region cannot hold (native
  // histograms, per-process gauges, exemplars), and every update when the
  // region cannot be had (not made, full, no disk space for it: reported
  // once through on_background_error), is written at once or waits in
  // process memory: Options::immediate_outside_regions.
  kSharedFile,
  // In this process's memory: a SIGKILL loses the updates of the last
  // interval, and readers see them only once flushed.
  kProcessMemory,
};

// How a writer waits while another process holds the file's write lock
// (docs/write-lock.md).
enum class LockWait {
  // Queue in arrival order at a sidecar file next to the database
  // ("FILE-lock", created with the database's permission bits), woken
  // within microseconds of the previous writer's commit; poll like kPoll
  // when SQLite's lock is still taken by a writer outside the queue. Where
  // the sidecar cannot be created or opened for writing, behaves as kPoll.
  kFairQueue,
  // No sidecar: retry SQLite's lock every 10-300 us (jittered). Prompt, but
  // not fair under sustained contention.
  kPoll,
  // SQLite's own busy handler, which sleeps 1, 2, 5 ... 100 ms between
  // retries: a waiting writer loses milliseconds and can starve. Kept for
  // comparison (bench/run --baseline).
  kSqliteDefault,
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

  // How a writer waits for another process's write lock.
  // Default: LockWait::kFairQueue.
  LockWait lock_wait = LockWait::kFairQueue;

  // When a commit leaves the write-ahead log at least this many pages long
  // (of the file's page size, see page_size), the committing writer has it
  // checkpointed while holding the write lock (see docs/checkpoints.md).
  // 0 disables our checkpoints. Default: 4000 (about 4 MiB with the default
  // page size).
  int checkpoint_wal_pages = 4000;

  // Page size in bytes of a file this process creates: a power of two from
  // 512 to 65536. Every update writes each page it changes (one or two) to
  // the write-ahead log, and every byte of it reaches the disk before a
  // checkpoint, so small pages make updates cheaper and checkpoints shorter;
  // large pages suit long label sets. An existing file keeps its page size.
  // Default: 1024 (docs/checkpoints.md, "Page size").
  int page_size = 1024;

  // Default: WriteMode::kBatched, with PendingStore::kSharedFile and
  // immediate_outside_regions: counters, shared gauges, classic histograms
  // and summaries at nanoseconds, every other update (native histograms,
  // per-process gauges, exemplars) one transaction, and every update whose
  // call returned survives a SIGKILL of its process and shows at the next
  // scrape (docs/pending-regions.md). kImmediate: one transaction per
  // update, each durable when the call returns (with Synchronous::kFull,
  // also through a power loss).
  WriteMode write_mode = WriteMode::kBatched;

  // Batched mode: how often pending updates are written. Default: 1000.
  int flush_interval_ms = 1000;

  // Batched mode: where updates wait for their flush (docs/pending-regions.md).
  // Default: PendingStore::kSharedFile.
  PendingStore pending_store = PendingStore::kSharedFile;

  // Batched mode with PendingStore::kSharedFile: what becomes of an update
  // a region cannot hold (a native histogram's observation, a per-process
  // gauge's update, an exemplar; every update when the region cannot be
  // had: not made, full, or no disk space for it). true: written at once,
  // as in immediate mode (a transaction each; may wait for the write lock
  // and throw DatabaseError as immediate updates do), so that every update
  // whose call returned survives a SIGKILL and shows at the next scrape.
  // false: it waits in process memory for the flush (nanoseconds; a SIGKILL
  // loses it and readers see it once flushed). Default: true.
  bool immediate_outside_regions = true;

  // How long an update written at once (immediate mode; in batched mode
  // what a region cannot hold) waits for the write lock before it is kept
  // instead: a record in this process's region of pending updates, which
  // survives a SIGKILL of the process (a recoverer writes it), written by
  // the next flush once the lock is free (in memory when the region has no
  // room, reported once). Later updates of the same series are kept too
  // until then, so that every series' updates are written in the order
  // they were made. So another process holding the lock (stopped in a
  // debugger, a sqlite3 shell in BEGIN IMMEDIATE) neither stalls the caller
  // longer nor makes an update raise; until one gets the lock again, the
  // next updates try it once without waiting. Also bounds a declaration
  // that must write (a new family, new help: checked by reading, then kept
  // likewise), a new series' row, and the background flusher's wait. Said
  // once per hold through on_background_error, again when it ends;
  // Registry::WaitingForLock and promsqlite-server's
  // promsqlite_writer_updates_waiting tell what waits. Only errors no wait
  // cures (a read-only or corrupt file, a newer schema) still throw.
  // Negative: wait busy_timeout_ms, then throw DatabaseError with nothing
  // written. Default: 100.
  int update_lock_wait_ms = 100;

  // PendingStore::kSharedFile: the size of this process's region of pending
  // updates, a sparse file whose pages are allocated as series are first
  // updated (about 140 bytes per counter or gauge, 230 + 24 per bucket per
  // histogram, plus its labels). A region of 4 MiB or more whose slots
  // mostly belong to series no longer used (label churn) is replaced by a
  // fresh one for the live series after a flush (docs/pending-regions.md,
  // Rotation). Series beyond it are written at once or
  // wait in process memory (immediate_outside_regions), reported once
  // through on_background_error. Default: 64 MiB.
  size_t pending_region_bytes = size_t{64} << 20;

  // Called when background work fails: a batched flush (the updates stay
  // pending and are retried) or an opportunistic housekeeping pass. Runs on
  // the thread that did the work. Default: empty, which prints one line to
  // stderr per failure.
  std::function<void(const std::string& message)> on_background_error;

  // A writer that has been running this long has a housekeeping pass (as
  // Registry::Housekeep) run, and again every interval after that: the first
  // commit after the interval starts it on a background thread of the
  // process, batch by batch, so no update waits for more than one batch
  // (docs/write-lock.md); short-lived processes never do. 0: never.
  // Default: 60000.
  int housekeeping_interval_ms = 60000;

  // The time writes are stamped with (Unix seconds): series' created and
  // updated times, which TTLs compare against. For tests. Default: empty,
  // the system clock.
  std::function<double()> clock;

  // Longest a checkpoint waits for readers (a scrape in progress) before it
  // gives up and leaves the rest to a later commit. It holds the write lock
  // meanwhile, so this bounds how long a checkpoint can stall writers.
  // Default: 20.
  int checkpoint_busy_timeout_ms = 20;

  // Permission bits (e.g. 0660) of the file when this process creates it,
  // applied exactly, whatever the umask; SQLite gives the -wal and -shm
  // files the same mode. An existing file keeps its mode. Must include
  // owner read and write (0600) and nothing above 0777. See
  // docs/permissions.md. Default: 0, SQLite's default (0644 minus the umask).
  unsigned file_mode = 0;
};

// What a Reader does with a row of the file it cannot read (UnreadableRow:
// written by another program, wrongly).
enum class UnreadableRows {
  // The read throws DatabaseError naming the file, the row and the problem
  // (and `promsqlite check`, which lists such rows).
  kFail,
  // The read leaves out what the row makes unreadable and shows everything
  // else: the row of an exemplar; the whole series for a series row or one
  // of its bucket rows (a histogram without a bucket would be wrong, not
  // just short); the whole family for its declaration. Each row left out is
  // reported to the caller (Reader::Render's `skipped`, ...). For servers,
  // as node_exporter's textfile collector serves the files it can read.
  kSkip,
};

// How a Reader opens a file.
struct ReaderOptions {
  // The time TTLs are judged against (Unix seconds). Default: empty, the
  // system clock.
  std::function<double()> clock;

  // How long a read waits for a lock held by a writer that is recovering or
  // checkpointing. Default: 5000.
  int busy_timeout_ms = 5000;

  // How long a read waits, before it takes its snapshot, while a writer
  // process checkpoints the file. A checkpoint holds SQLite's write lock
  // until every snapshot reading the WAL has ended: a scrape that starts
  // meanwhile makes the writers wait a whole scrape longer, and the WAL grow
  // when the checkpoint gives up (docs/checkpoints.md). Checkpoints of
  // promsqlite writers end within Options::checkpoint_busy_timeout_ms
  // (default 20) plus their disk writes. 0 or less: never wait. Default: 100.
  int checkpoint_wait_ms = 100;

  // What a read does with a row it cannot read. Default:
  // UnreadableRows::kFail (tests and tools see a broken file at once;
  // promsqlite-server and `promsqlite dump` choose kSkip).
  UnreadableRows unreadable_rows = UnreadableRows::kFail;
};

}  // namespace promsqlite

#endif  // PROMSQLITE_OPTIONS_H_
