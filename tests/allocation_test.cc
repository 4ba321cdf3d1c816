// The hot path: once a label tuple is known, looking it up again and
// updating it allocates nothing on the C++ heap. This binary counts every
// operator new.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "promsqlite/promsqlite.h"
#include "test_util.h"

namespace {
std::atomic<long> g_allocations{0};
}

void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

using namespace promsqlite;

TEST_CASE("looking up a known label tuple and updating it does not allocate") {
  test::TempDir dir;
  Registry registry(dir.File("m.db"));
  auto counters = BuildCounter().Name("c").LabelNames({"method", "code"}).Register(registry);
  auto histograms = BuildHistogram().Name("h").LabelNames({"route"}).Register(registry);
  auto gauges = BuildGauge().Name("g").LabelNames({"k"}).Register(registry);
  const Labels by_name = {{"code", "200"}, {"method", "GET"}};
  // First use: validation, the series row and the cache entry are made here.
  counters.WithLabelValues({"GET", "200"}).Increment();
  counters.Add(by_name).Increment();
  histograms.WithLabelValues({"/api"}).Observe(0.2);
  gauges.WithLabelValues({"x"}).Set(1);

  long before = g_allocations.load();
  for (int i = 0; i < 100; ++i) {
    counters.WithLabelValues({"GET", "200"}).Increment();
    counters.Add(by_name).Increment(2);
    histograms.WithLabelValues({"/api"}).Observe(0.3);
    gauges.WithLabelValues({"x"}).Set(i);
  }
  long allocations = g_allocations.load() - before;
  CHECK(allocations == 0);
  CHECK(counters.WithLabelValues({"GET", "200"}).Value() == 302);
}

// SQLite runs a statement with RETURNING with a statement journal whose
// 64 KiB buffer it allocates and frees on every call (where glibc then
// trimmed the heap, every observe paid two brk() calls and page faults).
// The largest single allocation SQLite made during 100 immediate updates
// of each kind (counter, classic and native histogram) stays far below it.
TEST_CASE("an immediate update makes SQLite allocate no statement journal") {
  test::TempDir dir;
  Registry registry(dir.File("m.db"));
  auto counter = BuildCounter().Name("c").Register(registry).WithLabelValues({});
  auto histogram = BuildHistogram().Name("h").Register(registry).WithLabelValues({});
  auto native = BuildHistogram().Name("n").NativeHistogram(1.1).Register(registry).WithLabelValues({});
  counter.Increment();
  histogram.Observe(0.2);
  native.Observe(0.2);  // first uses: the series rows and statements exist now

  sqlite3_int64 current = 0, largest = 0;
  REQUIRE(sqlite3_status64(SQLITE_STATUS_MALLOC_SIZE, &current, &largest, 1) == SQLITE_OK);
  for (int i = 0; i < 100; ++i) {
    counter.Increment();
    histogram.Observe(0.001 * i);
    native.Observe(0.001 * (i + 1));
  }
  REQUIRE(sqlite3_status64(SQLITE_STATUS_MALLOC_SIZE, &current, &largest, 0) == SQLITE_OK);
  INFO("largest single SQLite allocation: " << largest << " bytes");
  CHECK(largest > 0);          // SQLite's memory statistics are on (its default)
  CHECK(largest < 16 * 1024);  // a statement journal's buffer is 64 KiB
  CHECK(histogram.Value().count == 101);
  CHECK(native.Value().count == 101);
}
