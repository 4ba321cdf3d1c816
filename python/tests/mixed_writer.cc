// A C++ writer for python/tests/test_mixed_writers.py: the same families the
// Python side declares, updated through the library.
//   mixed_writer DB COUNT            COUNT increments and observations
//   mixed_writer DB 1 conflict       declares mixed_jobs as a gauge: exit 3
#include <cstdio>
#include <cstdlib>
#include <string>

#include "promsqlite/promsqlite.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: mixed_writer DB COUNT [conflict]\n");
    return 2;
  }
  try {
    promsqlite::Registry registry(argv[1]);
    if (argc > 3 && std::string(argv[3]) == "conflict") {
      promsqlite::BuildGauge().Name("mixed_jobs").LabelNames({"queue"}).Register(registry);
      return 0;
    }
    auto jobs = promsqlite::BuildCounter().Name("mixed_jobs_total").Help("Jobs processed.")
                    .LabelNames({"queue"}).Register(registry).WithLabelValues({"fast"});
    // The Python client's default buckets, which the Python side declares.
    auto seconds = promsqlite::BuildHistogram().Name("mixed_seconds").Help("Job time.")
                       .Buckets({.005, .01, .025, .05, .075, .1, .25, .5, .75, 1, 2.5, 5, 7.5, 10})
                       .Register(registry).WithLabelValues({});
    auto inflight = promsqlite::BuildGauge().Name("mixed_inflight").Help("Jobs in flight.")
                        .Register(registry).WithLabelValues({});
    for (int i = 0, n = std::atoi(argv[2]); i < n; ++i) {
      inflight.Increment();
      jobs.Increment();
      seconds.Observe(0.3);
      inflight.Decrement();
    }
  } catch (const promsqlite::DeclarationConflict& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 3;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
