#include "store/store.h"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <thread>

#include "base/clock.h"
#include "base/process_identity.h"
#include "base/sample_suffix.h"
#include "declare/conflict.h"
#include "promsqlite/errors.h"
#include "store/connection.h"
#include "store/database.h"
#include "store/maintenance.h"
#include "store/native_buckets.h"
#include "store/schema.h"
#include "store/sql.h"
#include "store/sql_rows.h"
#include "store/write_gate.h"

namespace promsqlite::detail {
namespace {

int OnWalCommit(void* context, sqlite3*, const char*, int pages) {
  *static_cast<int*>(context) = pages;
  return SQLITE_OK;
}

// A series' key: what select_series and the deletes by key bind.
SeriesRow SeriesKey(int64_t family_id, std::string_view labels, int64_t writer_id) {
  SeriesRow key;
  key.family_id = family_id;
  key.labels = labels;
  key.writer_id = writer_id;
  return key;
}

// What the upserts bind: the cached id (none for per-process gauges, or when
// not known yet: AUTOINCREMENT chooses), the key, and the change.
SeriesRow SeriesChange(const SeriesRef& series, int64_t writer_id, double value, int64_t count, double now) {
  SeriesRow row = SeriesKey(series.family_id, series.labels, writer_id);
  const int64_t id = series.per_process ? 0 : series.cached_id->load(std::memory_order_relaxed);
  if (id > 0) row.id = id;
  row.value = value;
  row.count = count;
  row.created = row.updated = now;
  return row;
}

}  // namespace

Store::Store(std::string path, const Options& options) : path_(std::move(path)), options_(options) {
  const int page = options_.page_size;
  if (page < 512 || page > 65536 || (page & (page - 1)) != 0)
    throw InvalidArgument(path_ + ": page_size " + std::to_string(page) +
                          " must be a power of two from 512 to 65536");
  maintenance_ = std::make_unique<Maintenance>(
      path_, options_, [this](const std::atomic<bool>& stop) { return HousekeepPass(stop); });
  std::lock_guard<std::timed_mutex> lock(mu_);
  Conn();  // fail here, not on the first update, for a bad file
}

Store::~Store() {
  // A child that inherited the parent's connection must not close it
  // (closing would touch the parent's locks); leak it instead.
  if (fork_generation_ != ForkGeneration()) {
    if (conn_) conn_.release();
    AbandonInherited();
  }
  // Its threads first: the housekeeping thread uses the connection.
  maintenance_->StopHousekeeping();
  if (conn_) maintenance_->Close(conn_->wal_pages, gate_.get());
  else maintenance_->Stop();
}

Store::Connection& Store::Conn() {
  const uint64_t generation = ForkGeneration();
  if (conn_ && fork_generation_ == generation) return *conn_;
  if (conn_) conn_.release();  // inherited across fork(): never use or close it
  AbandonInherited();
  conn_ = GuardSqlite(path_, "cannot open for writing", [&] {
    auto db = OpenDatabase(path_, true, options_.create_if_missing, options_.busy_timeout_ms, options_.file_mode);
    // SQLite quietly opens a file it may not write read-only; say so now,
    // not at the first update.
    if (sqlite3_db_readonly(db->getHandle(), "main") == 1)
      throw DatabaseError(ReadOnlyMessage(path_, path_));
    // A few of these steps report SQLITE_BUSY at once instead of waiting in
    // the busy handler (e.g. while another process recovers the WAL of a
    // killed writer), so the whole sequence is retried.
    RetryWhileBusy(options_.busy_timeout_ms, [&] {
      // Refuse a foreign or newer file before changing anything in it. In a
      // read transaction: its three reads must see one state of a file
      // another process may be creating right now.
      int version;
      {
        SQLite::Transaction read(*db);
        version = CheckSchemaReadable(*db, path_);
      }
      // Only a file without pages yet takes it (before WAL mode writes the
      // first one); SQLite ignores it for an existing file.
      db->exec(sql::SetPageSize(options_.page_size));
      std::string mode = db->execAndGet(sql::kSetJournalModeWal).getString();
      if (mode != "wal")
        throw DatabaseError(path_ + ": cannot switch to WAL mode (journal_mode is " + mode + ")");
      ConfigureWriter(*db, options_);
      // A current schema needs no write: the transaction below would take
      // the write lock and append a page to the WAL (the user_version's)
      // at every open, a frame per run of the CLI.
      if (version == kSchemaVersion) return true;
      SQLite::Statement begin(*db, sql::kBeginWrite);
      Exec(begin);
      try {
        CreateOrCheckSchema(*db, path_);
        db->exec(sql::kCommit);
      } catch (...) {
        db->tryExec(sql::kRollback);
        throw;
      }
      return true;
    });
    auto c = std::make_unique<Connection>(std::move(db));
    sqlite3_wal_hook(c->db->getHandle(), &OnWalCommit, &c->wal_pages);
    if (options_.lock_wait != LockWait::kSqliteDefault)
      sqlite3_busy_handler(c->db->getHandle(), &PromptBusyHandler, c.get());
    return c;
  });
  // After the file exists, so that the sidecar takes its permission bits.
  if (options_.lock_wait == LockWait::kFairQueue) gate_ = WriteGate::Open(path_);
  fork_generation_ = generation;
  return *conn_;
}

int PromptBusyHandler(void* context, int attempts) {
  auto* c = static_cast<Store::Connection*>(context);
  auto now = std::chrono::steady_clock::now();
  if (now >= c->busy_deadline) return 0;
  // 10-30 us for the first 1000 attempts (~20 ms), then 100-300 us: prompt
  // enough to take a lock that a transaction of tens of microseconds frees,
  // jittered so that waiters do not retry in lockstep. 100-300 us while
  // writers that starved are queued at the gate: the gaps are theirs.
  thread_local uint64_t rng = 0x9e3779b97f4a7c15ull ^ static_cast<uint64_t>(getpid());
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  const bool yield = c->yield_to != nullptr && c->yield_to->Busy();
  const int base_us = attempts < 1000 && !yield ? 10 : 100;
  auto sleep = std::min<std::chrono::steady_clock::duration>(
      std::chrono::microseconds(base_us + static_cast<int>(rng % (2 * base_us))), c->busy_deadline - now);
  if (yield) {
    c->yield_to->SkipDeadServing();
    c->yield_to->WaitForRelease(sleep);  // back at once when the queue's turn ends
    c->yield_to->StepAside(c->busy_deadline);  // the holder is starving: its turn first
  }
  else std::this_thread::sleep_for(sleep);
  return 1;
}

namespace {
thread_local int t_wait_bound_ms = -1;  // Store::BoundedWait's; -1: none
}  // namespace

Store::BoundedWait::BoundedWait(int ms) : saved_(t_wait_bound_ms) {
  t_wait_bound_ms = saved_ >= 0 ? std::min(saved_, ms) : ms;
}

Store::BoundedWait::~BoundedWait() { t_wait_bound_ms = saved_; }

bool Store::WaitBounded() { return t_wait_bound_ms >= 0; }

int Store::WaitBoundMs() const {
  return t_wait_bound_ms >= 0 ? std::min(t_wait_bound_ms, options_.busy_timeout_ms) : options_.busy_timeout_ms;
}

LockBusy Store::LockTimeout(const char* doing, const std::string& why) const {
  const int waited = WaitBoundMs();
  return LockBusy(path_ + ": " + doing + ": the write lock stayed busy for " + std::to_string(waited) + " ms (" +
                  (waited < options_.busy_timeout_ms ? "Options::update_lock_wait_ms" : "Options::busy_timeout_ms") +
                  "): " + why);
}

double Store::Now() const { return NowSeconds(options_.clock); }

void Store::AbandonInherited() noexcept {
  gate_.reset();
  maintenance_->AbandonAfterFork();
  pass_waiting_.store(false, std::memory_order_relaxed);  // that pass was the parent's
}

void Store::StepAsideForPass() const {
  const auto until = std::chrono::steady_clock::now() + kPassPatience;
  while (pass_waiting_.load(std::memory_order_relaxed) && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::microseconds(20));
}

void Store::AfterCommit(Connection& c) noexcept { maintenance_->AfterCommit(c.wal_pages, gate_.get()); }

void Store::RunDueCheckpoint() noexcept { maintenance_->RunDueCheckpoint(gate_.get()); }

// This process's row in `writers`, made on its first per-process write.
// Requires a write transaction.
int64_t Store::WriterId(Connection& c) {
  if (c.writer_id != 0) return c.writer_id;
  if (c.pending_writer_id != 0) return c.pending_writer_id;
  ProcessIdentity self = SelfIdentity();
  WriterRow row;
  row.pid = self.pid;
  row.start_time = self.start_time;
  row.boot_id = self.boot_id;
  row.created = Now();
  Exec(c.insert_writer.Bind(row));
  c.select_writer.Bind(row);
  ResetOnExit reset{c.select_writer};
  c.select_writer.executeStep();
  return c.pending_writer_id = c.select_writer.getColumn(0).getInt64();
}

int64_t Store::WriterFor(Connection& c, const SeriesRef& series) {
  if (!series.per_process) return 0;
  return series.writer_id != 0 ? series.writer_id : WriterId(c);
}

int64_t Store::WriterIdOf(Connection& c, int64_t pid, int64_t start_time, const std::string& boot_id, double now) {
  WriterRow row;
  row.pid = pid;
  row.start_time = start_time;
  row.boot_id = boot_id;
  row.created = now;
  auto select = [&]() -> int64_t {
    c.select_writer.Bind(row);
    ResetOnExit reset{c.select_writer};
    return c.select_writer.executeStep() ? c.select_writer.getColumn(0).getInt64() : 0;
  };
  if (int64_t id = select()) return id;
  Exec(c.insert_writer.Bind(row));
  return select();
}

// The family `spec` names as the file has it (its id, 0 when it has none,
// and whether its help differs from a non-empty one of `spec`), after the
// family itself and every family that could expose one of its names were
// checked against it (declare/conflict.h has the rules): throws the
// DeclarationConflict of the first that conflicts.
int64_t Store::FindDeclared(Connection& c, const FamilySpec& spec, bool* help_differs) {
  int64_t id = 0;
  *help_differs = false;
  for (const std::string& name : ConflictCandidates(spec.name)) {
    FamilyRow key;
    key.name = name;
    c.select_family.Bind(key);
    ResetOnExit reset{c.select_family};
    if (!c.select_family.executeStep()) continue;
    auto [stored_id, stored] = ReadFamily(c.select_family, path_);
    if (std::optional<DeclarationConflict> conflict = FindConflict(stored, spec, path_)) throw *conflict;
    if (name != spec.name) continue;
    id = stored_id;
    *help_differs = !spec.help.empty() && stored.help != spec.help;
  }
  return id;
}

int64_t Store::Declare(const FamilySpec& spec) {
  // The common case, every process declaring its families at start: the
  // family is in the file already, as declared here. Checked by reading
  // (readers never wait in WAL mode), so a declaration never queues for
  // the write lock behind a writer that holds it (a process stopped in a
  // debugger, a long transaction of another program).
  bool help_differs = false;
  const int64_t declared = CheckDeclared(spec, &help_differs);
  if (declared != 0 && !help_differs) return declared;  // new help to store: a write
  const std::string doing = "cannot declare '" + spec.name + "'";
  return Run(doing.c_str(), [&](Connection& c) -> int64_t {
    Transaction txn(c, c.begin_write);
    const int64_t id = DeclareIn(c, spec);
    txn.Commit();
    AfterCommit(c);
    return id;
  });
}

int64_t Store::CheckDeclared(const FamilySpec& spec, bool* help_differs) {
  const std::string doing = "cannot declare '" + spec.name + "'";
  bool differs = false;
  if (help_differs == nullptr) help_differs = &differs;
  return RunRead(doing.c_str(), [&](Connection& c) -> int64_t {
    Transaction txn(c, c.begin_read);
    const int64_t id = FindDeclared(c, spec, help_differs);
    txn.Commit();
    return id;
  });
}

int64_t Store::DeclareIn(Connection& c, const FamilySpec& spec) {
  bool help_differs = false;
  int64_t id = FindDeclared(c, spec, &help_differs);
  if (help_differs) {
    FamilyRow help;
    help.id = id;
    help.help = spec.help;
    Exec(c.update_help.Bind(help));
  }
  if (id == 0) {
    FamilyRow row = EncodeFamily(spec);
    row.created = Now();
    Exec(c.insert_family.Bind(row));
    id = c.db->getLastInsertRowid();
  }
  return id;
}

int64_t Store::EnsureSeries(int64_t family_id, std::string_view labels, double initial_value, bool per_process) {
  return Run("cannot create series", [&](Connection& c) -> int64_t {
    auto select_id = [&](int64_t writer_id) -> int64_t {
      c.select_series.Bind(SeriesKey(family_id, labels, writer_id));
      ResetOnExit reset{c.select_series};
      return c.select_series.executeStep() ? c.select_series.getColumn(0).getInt64() : 0;
    };
    // The common case: another process made the shared series already.
    if (!per_process || c.writer_id != 0) {
      if (int64_t id = select_id(per_process ? c.writer_id : 0)) return id;
    }
    Transaction txn(c, c.begin_write);
    int64_t writer_id = per_process ? WriterId(c) : 0;
    SeriesRow row = SeriesKey(family_id, labels, writer_id);
    row.value = initial_value;
    row.created = row.updated = Now();
    Exec(c.insert_series.Bind(row));
    int64_t id = select_id(writer_id);
    txn.Commit();
    AfterCommit(c);
    return id;
  });
}

void Store::Add(const SeriesRef& series, double delta, const ExemplarWrite* exemplar) {
  Run("cannot update", [&](Connection& c) {
    Transaction txn(c, c.begin_write);
    const int64_t writer_id = WriterFor(c, series);
    Exec(c.add.Bind(SeriesChange(series, writer_id, delta, 0, Now())));
    if (exemplar) KeepExemplars(c, WrittenId(c, series, writer_id, nullptr), exemplar, 1);
    txn.Commit();
    AfterCommit(c);
  });
}

void Store::Set(const SeriesRef& series, double value) {
  Run("cannot update", [&](Connection& c) {
    Transaction txn(c, c.begin_write);
    Exec(c.set.Bind(SeriesChange(series, WriterFor(c, series), value, 0, Now())));
    txn.Commit();
    AfterCommit(c);
  });
}

// Adds `sum` and `count` to a distribution and `bucket_deltas[i]` to its
// buckets, inside the caller's transaction.
int64_t Store::ApplyObservations(Connection& c, const SeriesRef& series, double sum, int64_t count,
                                 const int64_t* bucket_deltas, size_t buckets, double now, int* schema) {
  RowStatement<SeriesRow>& observe = series.native.enabled ? c.observe_native : c.observe;
  const int64_t writer_id = WriterFor(c, series);
  Exec(observe.Bind(SeriesChange(series, writer_id, sum, count, now)));
  const int64_t id = WrittenId(c, series, writer_id, schema);
  for (size_t b = 0; b < buckets; ++b) {
    if (bucket_deltas[b] == 0) continue;
    Exec(c.bucket.Bind(BucketRow{id, static_cast<int64_t>(b), bucket_deltas[b]}));
  }
  return id;
}

int64_t Store::WrittenId(Connection& c, const SeriesRef& series, int64_t writer_id, int* schema) {
  c.select_series.Bind(SeriesKey(series.family_id, series.labels, writer_id));
  ResetOnExit reset{c.select_series};
  if (!c.select_series.executeStep())
    throw DatabaseError(path_ + ": the series just written is missing (family " + std::to_string(series.family_id) +
                        ")");
  const int64_t id = c.select_series.getColumn(0).getInt64();
  if (series.native.enabled && schema) {
    // NULL: never lowered, still the family's schema.
    SQLite::Column stored = c.select_series.getColumn(3);
    *schema = stored.isNull() ? series.native.schema : stored.getInt();
  }
  series.cached_id->store(id, std::memory_order_relaxed);
  return id;
}

void Store::KeepExemplars(Connection& c, int64_t id, const ExemplarWrite* exemplars, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    const ExemplarWrite& e = exemplars[i];
    Exec(c.exemplar.Bind(ExemplarRow{id, e.bucket, e.labels, e.value, e.timestamp}));
  }
}

void Store::Observe(const SeriesRef& series, double value, int bucket, const ExemplarWrite* exemplar) {
  Run("cannot update", [&](Connection& c) {
    Transaction txn(c, c.begin_write);
    int schema = 0;
    int64_t id = ApplyObservations(c, series, value, 1, nullptr, 0, Now(), &schema);
    if (bucket >= 0) Exec(c.bucket.Bind(BucketRow{id, bucket, 1}));  // only this one bucket changes
    // The bucket at the schema the file holds now, whatever this process
    // saw before: another process may have lowered it.
    if (series.native.enabled) ObserveNative(c, id, series, schema, value);
    if (exemplar) KeepExemplars(c, id, exemplar, 1);
    txn.Commit();
    AfterCommit(c);
  });
}

void Store::ApplyUpdates(Connection& c, const std::vector<BatchUpdate>& updates, double now) {
  for (const BatchUpdate& u : updates) {
    switch (u.kind) {
      case BatchUpdate::kAdd:
      case BatchUpdate::kSet: {
        RowStatement<SeriesRow>& s = u.kind == BatchUpdate::kAdd ? c.add : c.set;
        const int64_t writer_id = WriterFor(c, u.series);
        Exec(s.Bind(SeriesChange(u.series, writer_id, u.value, 0, now)));
        if (!u.exemplars.empty())
          KeepExemplars(c, WrittenId(c, u.series, writer_id, nullptr), u.exemplars.data(), u.exemplars.size());
        break;
      }
      case BatchUpdate::kObserve: {
        int schema = 0;
        int64_t id = ApplyObservations(c, u.series, u.value, u.count, u.bucket_deltas.data(),
                                       u.bucket_deltas.size(), now, &schema);
        if (u.series.native.enabled && !u.native.empty()) AddNativeBuckets(c, id, u.series, schema, u.native);
        KeepExemplars(c, id, u.exemplars.data(), u.exemplars.size());
        break;
      }
    }
  }
}

void Store::ApplyBatch(const std::vector<BatchUpdate>& updates, const PendingFlush* flush,
                       const std::vector<KeptWrite>* kept, int64_t* dropped) {
  Run("cannot flush", [&](Connection& c) {
    const double now = Now();
    Transaction txn(c, c.begin_write);
    // Kept records first: they were made before what waits in memory.
    if (kept != nullptr) {
      *dropped = 0;
      for (const KeptWrite& k : *kept)
        if (!ApplyKept(c, k, 0, now)) ++*dropped;
    }
    ApplyUpdates(c, updates, now);
    if (flush != nullptr) RecordPendingFlush(c, *flush, now);
    txn.Commit();
    AfterCommit(c);
  });
}

StoredSeries Store::Read(const SeriesRef& series, size_t buckets) {
  return RunRead("cannot read", [&](Connection& c) {
    StoredSeries out;
    out.bucket_counts.assign(buckets, 0);
    Transaction txn(c, c.begin_read);
    int64_t id = 0;
    {
      // A process that never wrote a per-process series has writer id 0,
      // which finds nothing: its value is 0.
      c.select_series.Bind(SeriesKey(series.family_id, series.labels,
                                     series.per_process ? (c.writer_id ? c.writer_id : -1) : 0));
      ResetOnExit reset{c.select_series};
      if (c.select_series.executeStep()) {
        out.exists = true;
        id = c.select_series.getColumn(0).getInt64();
        SQLite::Column value = c.select_series.getColumn(1);
        out.value = value.isNull() ? std::nan("") : value.getDouble();
        out.count = c.select_series.getColumn(2).getInt64();
      }
    }
    if (id != 0 && buckets > 0) {
      c.select_buckets.Bind(BucketRow{id, 0, 0});
      ResetOnExit reset{c.select_buckets};
      while (c.select_buckets.executeStep()) {
        int64_t b = c.select_buckets.getColumn(0).getInt64();
        if (b >= 0 && static_cast<size_t>(b) < buckets) out.bucket_counts[b] = c.select_buckets.getColumn(1).getInt64();
      }
    }
    txn.Commit();
    return out;
  });
}

std::optional<std::pair<int64_t, FamilySpec>> Store::FindFamily(const std::string& name) {
  return RunRead("cannot read", [&](Connection& c) -> std::optional<std::pair<int64_t, FamilySpec>> {
    auto lookup = [&](const std::string& candidate) -> std::optional<std::pair<int64_t, FamilySpec>> {
      FamilyRow key;
      key.name = candidate;
      c.select_family.Bind(key);
      ResetOnExit reset{c.select_family};
      if (!c.select_family.executeStep()) return std::nullopt;
      return ReadFamily(c.select_family, path_);
    };
    if (auto found = lookup(name)) return found;
    // The exposed names of counters and infos carry a suffix the family lacks.
    for (MetricType type : {MetricType::kCounter, MetricType::kInfo}) {
      const std::string_view suffix = FamilyNameSuffix(type);
      const size_t n = suffix.size();
      if (name.size() <= n || name.compare(name.size() - n, n, suffix) != 0) continue;
      auto found = lookup(name.substr(0, name.size() - n));
      if (found && found->second.type == type) return found;
    }
    return std::nullopt;
  });
}

bool Store::RemoveSeries(int64_t family_id, std::string_view labels) {
  return Run("cannot remove series", [&](Connection& c) {
    Transaction txn(c, c.begin_write);
    Exec(c.delete_series.Bind(SeriesKey(family_id, labels, 0)));  // its child rows go by the triggers
    bool removed = c.db->getChanges() > 0;
    txn.Commit();
    AfterCommit(c);
    return removed;
  });
}

// Deletes the family's series (their child rows go by the triggers) and,
// when `family_too`, its families row, in one transaction; true when the
// last delete changed a row.
bool Store::DeleteFamilyRows(const char* doing, int64_t family_id, bool family_too) {
  return Run(doing, [&](Connection& c) {
    Transaction txn(c, c.begin_write);
    SeriesRow of_family;
    of_family.family_id = family_id;
    Exec(c.delete_family_series.Bind(of_family));
    if (family_too) {
      FamilyRow family;
      family.id = family_id;
      Exec(c.delete_family.Bind(family));
    }
    bool changed = c.db->getChanges() > 0;
    txn.Commit();
    AfterCommit(c);
    return changed;
  });
}

bool Store::RemoveFamily(int64_t family_id) {
  return DeleteFamilyRows("cannot remove family", family_id, true);
}

void Store::ClearFamily(int64_t family_id) {
  DeleteFamilyRows("cannot clear family", family_id, false);
}

void Store::Wipe() {
  Run("cannot wipe", [&](Connection& c) {
    Transaction txn(c, c.begin_write);
    // sqlite_sequence stays: ids are never reused, so cached ids elsewhere
    // can never name a new row. Writer records stay for running processes'
    // next per-process writes; housekeeping drops those of dead ones.
    c.db->exec(sql::kWipe);
    txn.Commit();
    AfterCommit(c);
  });
}

void Store::WriteTransaction(const char* doing, const std::function<void(SQLite::Database&)>& f) {
  Run(doing, [&](Connection& c) {
    Transaction txn(c, c.begin_write);
    f(*c.db);
    txn.Commit();
    AfterCommit(c);
  });
}

void Store::WithConnection(const std::function<void(SQLite::Database&)>& f) {
  std::lock_guard<std::timed_mutex> lock(mu_);
  Connection& c = GuardSqlite(path_, "cannot open", [&]() -> Connection& { return Conn(); });
  f(*c.db);
}

}  // namespace promsqlite::detail
