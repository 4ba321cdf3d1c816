// Files full of counter series, for the render, server and WAL benchmarks.
#ifndef PROMSQLITE_BENCH_POPULATE_H_
#define PROMSQLITE_BENCH_POPULATE_H_

#include <string>

namespace bench {

// Counter family kManyFamily: `series` children ManyLabelValues(0..series-1),
// child i at value i % 7 + 1, written through the public API (batched mode,
// one Flush). Returns the seconds it took.
double Populate(const std::string& path, int series);

constexpr const char* kManyFamily = "bench_http_requests";

}  // namespace bench

#endif  // PROMSQLITE_BENCH_POPULATE_H_
