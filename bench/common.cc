#include "common.h"

#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>

namespace bench {

Flags::Flags(int argc, char** argv) {
  for (int i = 0; i + 1 < argc; i += 2) {
    std::string name = argv[i];
    if (name.rfind("--", 0) != 0) throw std::invalid_argument("expected --flag value, got " + name);
    values_[name.substr(2)] = argv[i + 1];
  }
  if (argc % 2 != 0) throw std::invalid_argument(std::string("flag without a value: ") + argv[argc - 1]);
}

std::string Flags::Get(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

int Flags::Int(const std::string& name, int fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : std::stoi(it->second);
}

double Flags::Double(const std::string& name, double fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : std::stod(it->second);
}

double NowSeconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

int64_t NowNanos() {
  using namespace std::chrono;
  return duration_cast<nanoseconds>(steady_clock::now().time_since_epoch()).count();
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

double MedianRatio(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> ratios;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) ratios.push_back(a[i] / b[i]);
  return Median(ratios);
}

double Percentile(std::vector<double>& values, double fraction) {
  if (values.empty()) return 0;
  size_t rank = static_cast<size_t>(fraction * static_cast<double>(values.size()));
  if (rank >= values.size()) rank = values.size() - 1;
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(rank), values.end());
  return values[rank];
}

void Report(const std::string& key, double value) {
  std::printf("%s: %.6g\n", key.c_str(), value);
  std::fflush(stdout);
}

void Note(const std::string& text) {
  std::printf("# %s\n", text.c_str());
  std::fflush(stdout);
}

namespace {

void NoteRepeats(const std::string& key, const std::vector<double>& values) {
  std::string line = key + " repeats:";
  char buf[32];
  for (double v : values) {
    std::snprintf(buf, sizeof buf, " %.4g", v);
    line += buf;
  }
  Note(line);
}

}  // namespace

void ReportMedian(const std::string& key, const std::vector<double>& values) {
  NoteRepeats(key, values);
  Report(key, Median(values));
}

double CallsPerSecond(double seconds, int chunk, const std::function<void()>& op) {
  int64_t calls = 0;
  double start = NowSeconds(), elapsed = 0;
  do {
    for (int i = 0; i < chunk; ++i) op();
    calls += chunk;
    elapsed = NowSeconds() - start;
  } while (elapsed < seconds);
  return static_cast<double>(calls) / elapsed;
}

const std::vector<std::string>& HotLabelNames() {
  static const std::vector<std::string> names = {"method", "code"};
  return names;
}

const std::vector<std::string>& HotLabelValues() {
  static const std::vector<std::string> values = {"GET", "200"};
  return values;
}

const std::vector<std::string>& ManyLabelNames() {
  static const std::vector<std::string> names = {"method", "path"};
  return names;
}

std::vector<std::string> ManyLabelValues(int i) { return {"GET", "/api/v1/items/" + std::to_string(i)}; }

void RemoveDatabase(const std::string& db) {
  for (const char* suffix : {"", "-wal", "-shm", "-lock"}) unlink((db + suffix).c_str());
}

uint32_t ReadU32At(const std::string& path, long offset) {
  uint32_t word = 0;
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return 0;
  if (std::fseek(f, offset, SEEK_SET) != 0 || std::fread(&word, sizeof word, 1, f) != 1) word = 0;
  std::fclose(f);
  return word;
}

bool WriteLatencies(const std::string& path, double elapsed, const std::vector<float>& latencies_us) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return false;
  uint64_t count = latencies_us.size();
  bool written = std::fwrite(&count, sizeof count, 1, f) == 1 && std::fwrite(&elapsed, sizeof elapsed, 1, f) == 1 &&
                 std::fwrite(latencies_us.data(), sizeof(float), count, f) == count;
  return std::fclose(f) == 0 && written;
}

std::vector<float> ReadLatencies(const std::string& path, double* elapsed) {
  FILE* f = std::fopen(path.c_str(), "rb");
  uint64_t count = 0;
  if (!f || std::fread(&count, sizeof count, 1, f) != 1 || std::fread(elapsed, sizeof *elapsed, 1, f) != 1) {
    if (f) std::fclose(f);
    throw std::runtime_error("cannot read " + path);
  }
  std::vector<float> latencies(count);
  bool complete = std::fread(latencies.data(), sizeof(float), count, f) == count;
  std::fclose(f);
  if (!complete) throw std::runtime_error("short " + path);
  return latencies;
}

promsqlite::LockWait LockWaitFlag(const std::string& name) {
  if (name == "fair") return promsqlite::LockWait::kFairQueue;
  if (name == "poll") return promsqlite::LockWait::kPoll;
  if (name == "sqlite") return promsqlite::LockWait::kSqliteDefault;
  throw std::runtime_error("--lock-wait must be fair, poll or sqlite, not '" + name + "'");
}

promsqlite::Options WithLockWait(promsqlite::LockWait wait) {
  promsqlite::Options options;
  options.write_mode = promsqlite::WriteMode::kImmediate;  // a transaction per update: what meets the lock
  options.lock_wait = wait;
  return options;
}

void* MapShared(size_t bytes) {
  void* memory = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) throw std::runtime_error("mmap of shared memory failed");
  return memory;
}

std::map<std::string, double> ParseSamples(const std::string& text) {
  std::map<std::string, double> samples;
  size_t line = 0;
  while (line < text.size()) {
    size_t end = text.find('\n', line);
    if (end == std::string::npos) end = text.size();
    if (text[line] != '#' && end > line) {
      // The value follows the name, or the closing brace of the labels.
      size_t brace = text.find('}', line);
      size_t space = text.find(' ', brace != std::string::npos && brace < end ? brace : line);
      if (space != std::string::npos && space < end)
        samples[text.substr(line, space - line)] = std::strtod(text.c_str() + space + 1, nullptr);
    }
    line = end + 1;
  }
  return samples;
}

pid_t ForkChild(const std::function<int()>& body) {
  std::fflush(nullptr);  // or the child would print our buffered output again
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid > 0) return pid;
  int code = 1;
  try {
    code = body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench child %d: %s\n", getpid(), e.what());
  }
  std::fflush(nullptr);
  std::exit(code);  // a normal exit, as a real short-lived worker's
}

void WaitChild(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) throw std::runtime_error("waitpid failed");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error("a benchmark child (pid " + std::to_string(pid) + ") failed");
}

}  // namespace bench
