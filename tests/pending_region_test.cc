// store/pending_region: the shared mapping of a batched writer's pending
// updates, read by others and after its owner's death.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>

#include <atomic>
#include <thread>
#include <vector>

#include "store/pending_region.h"
#include "test_util.h"

namespace promsqlite::detail {
namespace {

using test::TempDir;

std::string NewDatabase(const TempDir& dir) {
  std::string path = dir.File("db");
  test::WriteFile(path, "");
  return path;
}

std::vector<PendingSlotView> ReadOnly(const std::string& db, bool* alive = nullptr) {
  std::vector<std::string> problems;
  std::vector<RegionFile> files = RegionFile::OpenAll(db, &problems);
  REQUIRE(problems.empty());
  REQUIRE(files.size() == 1);
  if (alive) *alive = files[0].OwnerAlive();
  std::vector<PendingSlotView> slots;
  std::string error;
  REQUIRE_MESSAGE(files[0].Read(&slots, &error, true), error);
  return slots;
}

// What a slot holds for a reader whose SQLite snapshot has `committed`.
PendingCell Visible(const PendingSlotView& v, uint64_t committed) { return v.Unflushed(committed); }

TEST_CASE("pending region: a retired slot stages its last updates, forwards later ones, and reads as released") {
  TempDir dir;
  std::string db = NewDatabase(dir);
  auto old_region = PendingRegion::Create(db, 1 << 20);
  SlotHead* old_slot = old_region->NewSlot(PendingKind::kDistribution, "latency_seconds", "s=\"1\"", 2);
  REQUIRE(old_slot != nullptr);
  CHECK(PendingRegion::Observe(old_slot, 0.5, 0));
  CHECK(PendingRegion::Observe(old_slot, 3, 1));
  CHECK(PendingRegion::Family(old_slot) == "latency_seconds");
  CHECK(PendingRegion::Labels(old_slot) == "s=\"1\"");
  CHECK(PendingRegion::Buckets(old_slot) == 2);
  CHECK(PendingRegion::Kind(old_slot) == PendingKind::kDistribution);

  auto fresh = PendingRegion::Create(db, 1 << 20);
  SlotHead* successor = fresh->NewSlot(PendingKind::kDistribution, "latency_seconds", "s=\"1\"", 2);
  PendingCell last = old_region->Retire(old_slot, successor, old_region->committed() + 1);
  CHECK(last.count == 2);
  CHECK(last.value == 3.5);
  CHECK(last.buckets == std::vector<int64_t>{1, 1});
  // An updater still holding the old slot lands in its successor.
  CHECK(PendingRegion::Observe(old_slot, 1, 1));
  CHECK(PendingRegion::Latest(old_slot) == successor);
  CHECK(fresh->Pending(successor).count == 1);
  // Readers see the retired slot as a complete staging: exactly the last
  // updates, before and not after the commit of its generation.
  std::vector<std::string> problems;
  std::vector<RegionFile> files = RegionFile::OpenAll(db, &problems);
  REQUIRE(files.size() == 2);
  for (const RegionFile& file : files) {
    if (file.name() != old_region->name()) continue;
    std::vector<PendingSlotView> slots;
    std::string error;
    REQUIRE(file.Read(&slots, &error, true));
    REQUIRE(slots.size() == 1);
    CHECK(Visible(slots[0], 0).count == 2);
    CHECK(Visible(slots[0], 1).count == 0);
  }
  old_region->Committed(1, {});
  old_region->Remove();
  old_region->Release();
  // Released: an update through the old slot says so instead of writing.
  CHECK_FALSE(PendingRegion::Add(old_slot, 1));
  CHECK_FALSE(PendingRegion::Observe(old_slot, 1, 0));
  CHECK(fresh->Pending(successor).count == 1);
}

TEST_CASE("pending region: updates, staging and commit as seen by another reader") {
  TempDir dir;
  std::string db = NewDatabase(dir);
  auto region = PendingRegion::Create(db, 1 << 20);
  SlotHead* counter = region->NewSlot(PendingKind::kCounter, "jobs_total", "a=\"1\"", 0);
  SlotHead* gauge = region->NewSlot(PendingKind::kGauge, "temperature", "", 0);
  SlotHead* histogram = region->NewSlot(PendingKind::kDistribution, "latency_seconds", "", 3);
  REQUIRE(counter != nullptr);
  REQUIRE(histogram != nullptr);
  PendingRegion::Add(counter, 1.5);
  PendingRegion::Add(counter, 2);
  PendingRegion::Add(gauge, 4);
  PendingRegion::Set(gauge, 10);
  PendingRegion::Add(gauge, 1);
  PendingRegion::Observe(histogram, 0.2, 1);
  PendingRegion::Observe(histogram, 7, 2);

  auto slots = ReadOnly(db);
  REQUIRE(slots.size() == 3);
  CHECK(slots[0].family == "jobs_total");
  CHECK(slots[0].labels == "a=\"1\"");
  CHECK(slots[0].kind == PendingKind::kCounter);
  CHECK(slots[0].live.value == 3.5);
  CHECK(slots[1].live.has_set);
  CHECK(slots[1].live.value == 11);
  CHECK(slots[2].live.count == 2);
  CHECK(slots[2].live.value == 7.2);
  CHECK(slots[2].live.buckets == std::vector<int64_t>{0, 1, 1});

  // Stage generation 1: moved into staged; an update after it is live.
  PendingCell staged = region->Stage(histogram, 1);
  CHECK(staged.count == 2);
  PendingRegion::Observe(histogram, 0.1, 0);
  slots = ReadOnly(db);
  CHECK(slots[2].staged_generation == 1);
  CHECK(Visible(slots[2], 0).count == 3);  // a snapshot without the flush
  CHECK(Visible(slots[2], 1).count == 1);  // a snapshot with it
  CHECK(region->Pending(histogram).count == 3);

  // A failed flush leaves it staged; the retry merges the newer updates.
  staged = region->Stage(histogram, 1);
  CHECK(staged.count == 3);
  CHECK(staged.buckets == std::vector<int64_t>{1, 1, 1});
  region->Committed(1, {histogram});
  CHECK(region->committed() == 1);
  slots = ReadOnly(db);
  CHECK(slots[2].staged_generation == 0);
  CHECK(Visible(slots[2], 1).empty());
  CHECK(region->Pending(histogram).empty());

  // Nothing to stage: empty.
  CHECK(region->Stage(histogram, 2).empty());
  // A Set staged then an Add: the Add lands on the staged Set.
  PendingCell gauge_cell = region->Stage(gauge, 2);
  CHECK(gauge_cell.has_set);
  CHECK(gauge_cell.value == 11);
  PendingRegion::Add(gauge, 2);
  PendingCell seen = region->Pending(gauge);
  CHECK(seen.has_set);
  CHECK(seen.value == 13);
}

TEST_CASE("pending region: a full region gives no slot; the file is sparse and goes on Remove") {
  TempDir dir;
  std::string db = NewDatabase(dir);
  auto region = PendingRegion::Create(db, 8192);
  int made = 0;
  while (region->NewSlot(PendingKind::kCounter, "c_total", "n=\"" + std::to_string(made) + "\"", 0)) ++made;
  CHECK(made > 10);
  CHECK(made < 8192 / 64);
  std::string path = region->path();
  CHECK(access(path.c_str(), F_OK) == 0);
  region->Remove();
  CHECK(access(path.c_str(), F_OK) != 0);
}

TEST_CASE("pending region: an owner killed inside an observation or a staging leaves a consistent slot") {
  for (RegionCrashPoint point : {RegionCrashPoint::kInsideObserve, RegionCrashPoint::kInsideStage}) {
    CAPTURE(static_cast<int>(point));
    TempDir dir;
    std::string db = NewDatabase(dir);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      auto region = PendingRegion::Create(db, 1 << 20);
      SlotHead* h = region->NewSlot(PendingKind::kDistribution, "h", "", 2);
      for (int i = 0; i < 10; ++i) PendingRegion::Observe(h, 1, i % 2);
      if (point == RegionCrashPoint::kInsideStage) {
        region->Stage(h, 1);  // staged 10, then 5 more live
        for (int i = 0; i < 5; ++i) PendingRegion::Observe(h, 1, 0);
      }
      SetRegionCrashPointForTest(point);
      if (point == RegionCrashPoint::kInsideObserve) PendingRegion::Observe(h, 100, 1);
      else region->Stage(h, 1);
      _exit(0);  // not reached
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFSIGNALED(status));
    bool alive = true;
    auto slots = ReadOnly(db, &alive);
    CHECK_FALSE(alive);
    REQUIRE(slots.size() == 1);
    PendingCell total = Visible(slots[0], 0);
    int64_t in_buckets = total.buckets[0] + total.buckets[1];
    CHECK(total.count == in_buckets);
    if (point == RegionCrashPoint::kInsideObserve) {
      // The unfinished observation is not there at all.
      CHECK(total.count == 10);
      CHECK(total.value == 10);
    } else {
      // Every returned observation exactly once, in staged or live.
      CHECK(total.count == 15);
      CHECK(total.value == 15);
    }
  }
}

TEST_CASE("pending region: a live owner's region answers OwnerAlive") {
  TempDir dir;
  std::string db = NewDatabase(dir);
  auto region = PendingRegion::Create(db, 1 << 16);
  std::vector<std::string> problems;
  auto files = RegionFile::OpenAll(db, &problems);
  REQUIRE(files.size() == 1);
  CHECK(files[0].OwnerAlive());
}

TEST_CASE("pending region: readers see count equal to the buckets' sum while threads observe and stage") {
  TempDir dir;
  std::string db = NewDatabase(dir);
  auto region = PendingRegion::Create(db, 1 << 20);
  SlotHead* h = region->NewSlot(PendingKind::kDistribution, "h", "", 4);
  std::atomic<bool> stop{false};
  std::atomic<int64_t> returned{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20000; ++i) {
        PendingRegion::Observe(h, 1, (i + t) % 4);
        returned.fetch_add(1);
      }
    });
  }
  // The flusher: stages and commits generations while the threads run.
  std::atomic<uint64_t> committed_count{0};
  std::thread flusher([&] {
    uint64_t generation = 0;
    while (!stop.load()) {
      PendingCell staged = region->Stage(h, generation + 1);
      if (!staged.empty()) {
        committed_count.fetch_add(static_cast<uint64_t>(staged.count));
        region->Committed(++generation, {h});
      }
      std::this_thread::yield();
    }
  });
  int inconsistent = 0, reads = 0;
  std::vector<std::string> problems;
  auto files = RegionFile::OpenAll(db, &problems);
  REQUIRE(files.size() == 1);
  // Reads until the threads are done, and at least 100 times (they may be
  // done before the first read).
  while (returned.load() < 60000 || reads < 100) {
    // As a snapshot does: the committed generation first, then the slot,
    // then the header again (a commit in between means "read again").
    uint64_t committed_before = files[0].Committed();
    std::vector<PendingSlotView> slots;
    std::string error;
    REQUIRE(files[0].Read(&slots, &error, true));  // the slot also when nothing is pending
    if (files[0].Committed() != committed_before) continue;
    PendingCell seen = Visible(slots[0], committed_before);
    ++reads;
    int64_t sum = 0;
    for (int64_t b : seen.buckets) sum += b;
    if (sum != seen.count) ++inconsistent;
  }
  for (auto& t : threads) t.join();
  stop = true;
  flusher.join();
  PendingCell rest = region->Stage(h, region->committed() + 1);
  CHECK(inconsistent == 0);
  CHECK(reads > 0);
  // Nothing lost or doubled between the flusher's generations and the rest.
  CHECK(static_cast<int64_t>(committed_count.load()) + rest.count == 60000);
}

}  // namespace
}  // namespace promsqlite::detail

namespace promsqlite::detail {
namespace {

TEST_CASE("pending region: a region being made is never listed; an abandoned one is removed") {
  // A recoverer that listed a region before its owner held the lock took
  // it for dead and wrote what it held by then, while the owner flushed
  // the same updates (found by the batched destroy-while-flushing test).
  TempDir dir;
  std::string db = NewDatabase(dir);
  auto region = PendingRegion::Create(db, 1 << 16);
  const std::string folder = PendingRegion::Folder(db);
  const std::string making = folder + "/.making-w-1-2-deadbeef.region";
  test::WriteFile(making, std::string(4096, '\0'));
  std::vector<std::string> problems;
  auto files = RegionFile::OpenAll(db, &problems);
  REQUIRE(files.size() == 1);
  CHECK(files[0].name() == region->name());
  CHECK(RegionFile::RemoveAbandoned(db, 60) == 0);  // too recent: its maker may be at work
  struct timespec old[2] = {{time(nullptr) - 3600, 0}, {time(nullptr) - 3600, 0}};
  REQUIRE(utimensat(AT_FDCWD, making.c_str(), old, 0) == 0);
  CHECK(RegionFile::RemoveAbandoned(db, 60) == 1);
  CHECK(access(making.c_str(), F_OK) != 0);
  CHECK(access(region->path().c_str(), F_OK) == 0);  // a named region is never touched
}

}  // namespace
}  // namespace promsqlite::detail
