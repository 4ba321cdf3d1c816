// A Registry is a process's writing connection to one shared promsqlite file.
//
// Open one per file and process (opening more is correct, only wasteful).
// Cost: opening creates or checks the schema in one transaction; each update
// through a child handle is one short write transaction.
//
// Thread safety: a Registry is a cheap copyable handle; all copies share one
// SQLite connection guarded by a mutex, so it is safe for concurrent use.
// In batched mode (Options::write_mode) the copies also share one set of
// pending updates and one flusher thread, stopped when the last copy goes.
// Process safety: any number of processes may open the same file. A process
// that fork()s may keep using the registry in both parent and child: the
// child notices it is one (a pthread_atfork handler, no system call per
// update) and opens its own connection. A child made with a raw clone()
// system call runs no fork handlers and must exec, not write.
#ifndef PROMSQLITE_REGISTRY_H_
#define PROMSQLITE_REGISTRY_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "promsqlite/exposition.h"
#include "promsqlite/family.h"
#include "promsqlite/housekeeping.h"
#include "promsqlite/options.h"
#include "promsqlite/unreadable_row.h"

namespace promsqlite {

namespace detail {
class Writer;
}  // namespace detail

class Registry {
 public:
  // Opens (creating when allowed) the file at `path`. Throws DatabaseError
  // when it is not a promsqlite file, is corrupt, or has a newer schema.
  explicit Registry(const std::string& path, const Options& options = Options());

  const std::string& path() const;

  // Declares a family from a spec (the builders call this).
  template <typename T>
  Family<T> Register(const FamilySpec& spec);

  // The stored declaration of the family exposing `name`: its own name, or
  // "x_total" for counter x, "x_info" for info x. Label names come sorted.
  std::optional<FamilySpec> Find(const std::string& name) const;

  // Removes the series of family `name` (as for Find) with exactly these
  // labels; true when it existed. A process still holding a handle to it
  // recreates it (from 0 plus its update) on its next update. Batched mode:
  // this registry's pending updates of the series are dropped with it;
  // another batched process's pending updates of it recreate it at their
  // flush, and readers show them meanwhile (docs/pending-regions.md).
  bool RemoveSeries(const std::string& name, const Labels& labels);

  // Removes the family `name` (as for Find) with all its series; true when
  // it existed. Handles held elsewhere write into rows no reader shows until
  // the family is declared again. Batched mode: as RemoveSeries.
  bool RemoveFamily(const std::string& name);

  // Writes every pending update now, in one transaction, waiting for the
  // write lock up to busy_timeout_ms: batched mode's, and in either mode
  // those kept because the lock was held (WaitingForLock). Throws
  // DatabaseError when that fails (the updates stay pending and are
  // retried by the next flush).
  void Flush();

  // Updates that were to be written at once (immediate mode; in batched
  // mode native histograms, per-process gauges, exemplars) but found the
  // write lock held past Options::update_lock_wait_ms, and wait for the
  // flush that writes them once it is free: how many, and the Unix time
  // of the oldest (0 when none). They survive a SIGKILL of this process
  // (its region holds them, until a recoverer writes them) unless the
  // region had no room for them (reported through on_background_error).
  // promsqlite-server shows every process's as
  // promsqlite_writer_updates_waiting. Cost: a mutex; safe from any thread.
  struct Waiting {
    int64_t updates = 0;
    double since = 0;
  };
  Waiting WaitingForLock() const;

  // Removes every series of family `name` but keeps its declaration; true
  // when the family exists. Batched mode: as RemoveSeries.
  bool ClearFamily(const std::string& name);

  // Removes every family, series and writer record from the file (its
  // schema stays). Series ids are never reused afterwards. Batched mode: as
  // RemoveSeries.
  void Wipe();

  // One bounded housekeeping pass (see HousekeepingReport): expired series
  // (TTL), live-mode gauge rows of dead processes, dead writer records, and
  // rows orphaned by removed families. Deletes in batches of short
  // transactions. Also runs by itself every
  // Options::housekeeping_interval_ms in long-lived writers.
  HousekeepingReport Housekeep();

  // Deletes every row of the file that readers cannot read (as
  // Reader::Check() lists them), in one write transaction: a declaration
  // with its family's series, a series with its bucket rows and exemplars,
  // a bucket or exemplar row alone. `before_delete` (when set) is called
  // inside that transaction with the rows found, before anything is
  // deleted (to say what will go); what it throws rolls the transaction
  // back and is rethrown. Returns the rows deleted; none (and no call) for
  // a sound file. Cost: a Reader::Check() inside a write transaction, which
  // other writers wait for.
  std::vector<UnreadableRow> DeleteUnreadableRows(
      const std::function<void(const std::vector<UnreadableRow>& rows)>& before_delete = {});

  // Renders everything in the file, including other processes' families,
  // from one consistent snapshot, with the pending updates of batched
  // writers' shared regions (docs/pending-regions.md); updates waiting in
  // process memory (PendingStore::kProcessMemory, native histograms,
  // per-process gauges, exemplars) are not in it: Flush() first.
  void Render(Format format, const Sink& sink) const;
  std::string Render(Format format) const;

 private:
  std::shared_ptr<detail::Writer> writer_;
};

}  // namespace promsqlite

#endif  // PROMSQLITE_REGISTRY_H_
