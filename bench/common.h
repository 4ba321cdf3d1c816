// What every benchmark of promsqlite-bench shares: flags, clocks, medians,
// the "key: value" lines bench/run collects, the label sets both clients
// get, and forked children.
#ifndef PROMSQLITE_BENCH_COMMON_H_
#define PROMSQLITE_BENCH_COMMON_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "promsqlite/options.h"

namespace bench {

// "--name value" pairs after the subcommand.
class Flags {
 public:
  Flags(int argc, char** argv);
  std::string Get(const std::string& name, const std::string& fallback) const;
  int Int(const std::string& name, int fallback) const;
  double Double(const std::string& name, double fallback) const;

 private:
  std::map<std::string, std::string> values_;
};

// Monotonic clock.
double NowSeconds();
int64_t NowNanos();

double Median(std::vector<double> values);
// The median of a[i] / b[i]: for two sides measured back to back in each
// repeat, this cancels the shared machine's slow drifts, which a ratio of
// two medians does not.
double MedianRatio(const std::vector<double>& a, const std::vector<double>& b);
// The value below which `fraction` of `values` lie (nearest rank).
double Percentile(std::vector<double>& values, double fraction);

// A figure: "key: value", the line bench/run collects.
void Report(const std::string& key, double value);
// Context for people ("# ..."), e.g. every repeat behind a median.
void Note(const std::string& text);
// Every repeat as a note ("# key repeats: ..."), then their median as the
// figure `key`.
void ReportMedian(const std::string& key, const std::vector<double>& values);

// Calls `op` in chunks of `chunk` until `seconds` have passed (the clock is
// read once per chunk, so it costs nothing per call); returns calls/s.
double CallsPerSecond(double seconds, int chunk, const std::function<void()>& op);

// The single label set of the "held handle" benchmarks, in declared order.
const std::vector<std::string>& HotLabelNames();
const std::vector<std::string>& HotLabelValues();
// The label values of series `i` of the many-series benchmarks
// (names: ManyLabelNames()).
const std::vector<std::string>& ManyLabelNames();
std::vector<std::string> ManyLabelValues(int i);

// "fair" (default), "poll" or "sqlite": Options::lock_wait by name.
promsqlite::LockWait LockWaitFlag(const std::string& name);
// Immediate-mode Options with that lock_wait.
promsqlite::Options WithLockWait(promsqlite::LockWait wait);

// Deletes a database file with its -wal, -shm and -lock (the write gate's
// sidecar), for a benchmark that must start from a fresh file.
void RemoveDatabase(const std::string& db);

// The native-endian 32-bit word at `offset` of a file; 0 when the file or
// the word is missing.
uint32_t ReadU32At(const std::string& path, long offset);

// A child's per-call latencies (microseconds) over `elapsed` seconds, handed
// to the parent through a file; WriteLatencies returns false on failure,
// ReadLatencies throws.
bool WriteLatencies(const std::string& path, double elapsed, const std::vector<float>& latencies_us);
std::vector<float> ReadLatencies(const std::string& path, double* elapsed);

// `bytes` of zeroed memory shared with the children forked afterwards
// (MAP_SHARED | MAP_ANONYMOUS): what a child writes there survives its
// SIGKILL. Never unmapped (the benchmark's process ends soon after).
void* MapShared(size_t bytes);

// The samples of a text-format exposition: "name{labels}" (as written) ->
// value, comment lines skipped.
std::map<std::string, double> ParseSamples(const std::string& text);

// Forks a child that runs `body` and exits with its return value (1 when
// it throws, after printing why).
pid_t ForkChild(const std::function<int()>& body);
// Waits for `pid`; throws unless it exited with status 0.
void WaitChild(pid_t pid);

}  // namespace bench

#endif  // PROMSQLITE_BENCH_COMMON_H_
