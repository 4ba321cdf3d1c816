// Helpers shared by the tests: temporary files, forked writers, running
// the independent validators in ../shared/tools.
#ifndef PROMSQLITE_TESTS_TEST_UTIL_H_
#define PROMSQLITE_TESTS_TEST_UTIL_H_

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "promsqlite/metric_type.h"

namespace promsqlite::test {

// Whether `part` occurs in `text`.
inline bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// A fresh directory, removed with everything in it when destroyed.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Runs `body` in `count` forked children (index 0..count-1) and waits for
// all; returns how many failed (threw, or exited non-zero).
int RunInChildren(int count, const std::function<void(int index)>& body);

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};
// Runs argv (no shell) with `input` on stdin.
CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& input = "");

// ../shared/tools/<name>, from PROMSQLITE_SHARED_TOOLS (set by meson).
std::string SharedTool(const std::string& name);

// check-exposition --format text --lint, or --format openmetrics, on `body`.
CommandResult CheckExposition(const std::string& body, bool openmetrics);

// Parses `body` with the official Python client's parser (text 0.0.4 or
// OpenMetrics) and returns one line per sample, sorted:
//   name{k="v",...} value     (labels sorted, values JSON-escaped)
CommandResult ParseWithPython(const std::string& body, bool openmetrics);

// The same line for an expected sample, to compare with ParseWithPython.
std::string SampleLine(const std::string& name, std::vector<std::pair<std::string, std::string>> labels,
                       double value);

// Every row of every table of an SQLite file as text (sorted), for "nothing
// was written" checks; "<no file>" when it does not exist.
std::string DumpDatabase(const std::string& path);

// Runs SQL on the file with plain sqlite3 (to fake other programs' files,
// newer schemas, stale writer records); throws on failure.
void ExecSql(const std::string& path, const std::string& sql);

// PRAGMA integrity_check of the file ("ok" when sound).
std::string IntegrityCheck(const std::string& path);

// Forks a process that runs `setup` and then waits to be killed; returns its
// pid once `setup` has returned (throws, after reaping it, when it threw).
// What `setup` holds (locks, open files) stays held until the caller kills
// and reaps the process.
pid_t StartPausedChild(const std::function<void()>& setup);

// SIGKILLs the process and reaps it; nothing for a pid <= 0 (one already
// reaped, say).
void KillAndReap(pid_t pid);

// A waitpid() status as a shell reports it: the exit code, or 128 + the
// number of the signal that ended the process.
int ExitCode(int wait_status);

// Waits up to `seconds` for child `pid` to end and reaps it: its ExitCode,
// or -1 when it is still running (not reaped).
int WaitForExit(pid_t pid, double seconds);

// Kills and reaps `pid` when the scope ends, however it ends (a failed
// REQUIRE or an exception must not leave a paused child behind).
struct KilledAtScopeEnd {
  pid_t pid;
  ~KilledAtScopeEnd() { KillAndReap(pid); }
};

// Forks a process that sets gauge `name` (declared in `mode`) to `value`
// in `db` and then waits to be killed; returns its pid once the value is in
// the file. The caller kills and reaps it.
pid_t StartGaugeWorker(const std::string& db, const std::string& name, GaugeMode mode, double value);

// What Prometheus must answer for a native histogram (default zero
// threshold) of `values` observed at `schema`: histogram_count,
// histogram_sum (added in the given order, as the observations were), and
// the bucket (lower, upper] holding the observation at Prometheus' rank
// 0.5 * count, where histogram_quantile(0.5, ...) interpolates.
struct NativeExpectation {
  size_t count = 0;
  double sum = 0;
  double median = 0;
  double lower = 0;
  double upper = 0;
};
NativeExpectation ExpectNative(std::vector<double> values, int schema);

// Long variants of reliability tests run when PROMSQLITE_LONG_TESTS=1.
bool LongTests();

// Decodes a protobuf exposition (length-delimited MetricFamily messages)
// with protoc --decode against our metrics.proto (PROMSQLITE_METRICS_PROTO,
// set by meson): protoc's text form of each message, one after another.
// Throws when the stream is malformed or protoc rejects a message.
std::string DecodeMetricFamilies(const std::string& delimited);

std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& content);

}  // namespace promsqlite::test

#endif  // PROMSQLITE_TESTS_TEST_UTIL_H_
