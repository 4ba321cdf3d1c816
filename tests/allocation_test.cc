// The hot path: once a label tuple is known, looking it up again and
// updating it allocates nothing on the C++ heap. This binary counts every
// operator new.
#include <doctest/doctest.h>

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
