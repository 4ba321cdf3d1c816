#include "test_util.h"

#include "declare/native_histogram.h"
#include "promsqlite/promsqlite.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace promsqlite::test {

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "promsqlite-test-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

int RunInChildren(int count, const std::function<void(int index)>& body) {
  std::vector<pid_t> pids;
  for (int i = 0; i < count; ++i) {
    std::fflush(nullptr);
    pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
      int code = 0;
      try {
        body(i);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "child %d: %s\n", i, e.what());
        code = 1;
      }
      _exit(code);
    }
    pids.push_back(pid);
  }
  int failed = 0;
  for (pid_t pid : pids) {
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failed;
  }
  return failed;
}

CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& input) {
  TempDir dir;
  std::string in_path = dir.File("stdin"), out_path = dir.File("out");
  WriteFile(in_path, input);
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    int in = open(in_path.c_str(), O_RDONLY);
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(in, 0);
    dup2(out, 1);
    dup2(out, 2);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    std::fprintf(stderr, "cannot run %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  CommandResult result;
  result.exit_code = ExitCode(status);
  result.output = ReadFile(out_path);
  return result;
}

std::string SharedTool(const std::string& name) {
  const char* dir = std::getenv("PROMSQLITE_SHARED_TOOLS");
  std::string path = std::string(dir ? dir : "../shared/tools") + "/" + name;
  if (access(path.c_str(), X_OK) != 0)
    throw std::runtime_error("validator " + path + " is missing: the tests need ../shared/tools beside the project");
  return path;
}

std::string DecodeMetricFamilies(const std::string& delimited) {
  const char* proto = std::getenv("PROMSQLITE_METRICS_PROTO");
  if (proto == nullptr) throw std::runtime_error("PROMSQLITE_METRICS_PROTO is set by meson");
  std::string path(proto);
  std::string dir = path.substr(0, path.rfind('/')), file = path.substr(path.rfind('/') + 1);
  std::string out;
  size_t pos = 0;
  while (pos < delimited.size()) {
    uint64_t length = 0;
    int shift = 0;
    while (true) {
      if (pos >= delimited.size() || shift > 63) throw std::runtime_error("truncated length prefix");
      unsigned char byte = static_cast<unsigned char>(delimited[pos++]);
      length |= static_cast<uint64_t>(byte & 0x7f) << shift;
      shift += 7;
      if (!(byte & 0x80)) break;
    }
    if (length > delimited.size() - pos) throw std::runtime_error("message longer than the stream");
    CommandResult decoded = RunCommand({"protoc", "--proto_path=" + dir, "--decode=io.prometheus.client.MetricFamily", file},
                                       delimited.substr(pos, length));
    if (decoded.exit_code != 0) throw std::runtime_error("protoc --decode failed: " + decoded.output);
    out += decoded.output;
    pos += length;
  }
  return out;
}

CommandResult CheckExposition(const std::string& body, bool openmetrics) {
  if (openmetrics) return RunCommand({SharedTool("check-exposition"), "--format", "openmetrics", "-"}, body);
  return RunCommand({SharedTool("check-exposition"), "--format", "text", "--lint", "-"}, body);
}

CommandResult ParseWithPython(const std::string& body, bool openmetrics) {
  const char* script = std::getenv("PROMSQLITE_PARSE_SAMPLES");
  return RunCommand({"/usr/bin/python3", script ? script : "parse_samples.py", openmetrics ? "openmetrics" : "text"},
                    body);
}

namespace {

// json.dumps(v, ensure_ascii=False): escapes quote, backslash and control
// characters; everything else (UTF-8) is kept.
std::string JsonString(const std::string& v) {
  std::string out = "\"";
  for (unsigned char c : v) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

// Python's repr() of a float: shortest round-trip digits, ".0" for
// integral values below 1e16, exponent form outside [1e-4, 1e16).
std::string PythonRepr(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*e", precision - 1, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  std::string sci = buf;  // d.ddde±XX
  size_t e = sci.find('e');
  std::string mantissa = sci.substr(0, e);
  int exponent = std::atoi(sci.c_str() + e + 1);
  bool negative = mantissa[0] == '-';
  std::string digits;
  for (char c : mantissa) if (std::isdigit(static_cast<unsigned char>(c))) digits += c;
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  std::string out = negative ? "-" : "";
  if (exponent < -4 || exponent >= 16) {
    out += digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char exp[16];
    std::snprintf(exp, sizeof exp, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
    return out + exp;
  }
  if (exponent < 0) return out + "0." + std::string(-exponent - 1, '0') + digits;
  if (static_cast<int>(digits.size()) <= exponent + 1)
    return out + digits + std::string(exponent + 1 - digits.size(), '0') + ".0";
  return out + digits.substr(0, exponent + 1) + "." + digits.substr(exponent + 1);
}

}  // namespace

std::string SampleLine(const std::string& name, std::vector<std::pair<std::string, std::string>> labels,
                       double value) {
  std::sort(labels.begin(), labels.end());
  std::string out = name + "{";
  for (size_t i = 0; i < labels.size(); ++i) out += (i ? "," : "") + labels[i].first + "=" + JsonString(labels[i].second);
  return out + "} " + PythonRepr(value);
}

namespace {

std::vector<std::vector<std::string>> Query(sqlite3* db, const std::string& sql) {
  std::vector<std::vector<std::string>> rows;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK)
    throw std::runtime_error(std::string("query failed: ") + sqlite3_errmsg(db));
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    std::vector<std::string> row;
    for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
      const void* blob = sqlite3_column_blob(stmt, i);
      int bytes = sqlite3_column_bytes(stmt, i);
      row.push_back(sqlite3_column_type(stmt, i) == SQLITE_NULL
                        ? "NULL"
                        : std::string(static_cast<const char*>(blob ? blob : ""), static_cast<size_t>(bytes)));
    }
    rows.push_back(std::move(row));
  }
  sqlite3_finalize(stmt);
  return rows;
}

}  // namespace

std::string DumpDatabase(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return "<no file>";
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    throw std::runtime_error("cannot open " + path);
  }
  std::string out;
  for (const auto& table : Query(db, "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")) {
    std::vector<std::string> lines;
    for (const auto& row : Query(db, "SELECT * FROM \"" + table[0] + "\"")) {
      std::string line = table[0] + ":";
      for (const std::string& field : row) line += " [" + field + "]";
      lines.push_back(line);
    }
    std::sort(lines.begin(), lines.end());
    for (const std::string& line : lines) out += line + "\n";
  }
  sqlite3_close(db);
  return out;
}

void ExecSql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open(path.c_str(), &db);
  char* error = nullptr;
  if (rc == SQLITE_OK) rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  std::string message = error ? error : sqlite3_errmsg(db);
  sqlite3_free(error);
  sqlite3_close(db);
  if (rc != SQLITE_OK) throw std::runtime_error("sql on " + path + ": " + message);
}

std::string IntegrityCheck(const std::string& path) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  std::string result;
  try {
    for (const auto& row : Query(db, "PRAGMA integrity_check")) result += (result.empty() ? "" : "; ") + row[0];
  } catch (const std::exception& e) {
    result = e.what();
  }
  sqlite3_close(db);
  return result;
}

NativeExpectation ExpectNative(std::vector<double> values, int schema) {
  NativeExpectation e;
  e.count = values.size();
  for (double v : values) e.sum += v;
  std::sort(values.begin(), values.end());
  e.median = values.at(static_cast<size_t>(std::ceil(0.5 * static_cast<double>(values.size()))) - 1);
  int sign;
  int32_t index;
  if (!detail::NativeBucketOf(e.median, schema, kDefaultNativeZeroThreshold, &sign, &index))
    throw std::runtime_error("the median " + std::to_string(e.median) + " falls in the zero bucket");
  e.lower = detail::NativeUpperBound(index - 1, schema);
  e.upper = detail::NativeUpperBound(index, schema);
  return e;
}

void KillAndReap(pid_t pid) {
  if (pid <= 0) return;  // kill(0 or -1) would reach the test's process group, or every process
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
}

int ExitCode(int wait_status) {
  return WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 128 + WTERMSIG(wait_status);
}

int WaitForExit(pid_t pid, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  for (;;) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) return ExitCode(status);
    if (std::chrono::steady_clock::now() >= deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

pid_t StartPausedChild(const std::function<void()>& setup) {
  int ready[2];
  if (pipe(ready) != 0) throw std::runtime_error("pipe failed");
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    close(ready[0]);
    try {
      setup();
    } catch (...) {
      _exit(1);
    }
    char ok = 1;
    if (write(ready[1], &ok, 1) != 1) _exit(1);
    pause();
    _exit(0);
  }
  close(ready[1]);
  char ok = 0;
  bool started = read(ready[0], &ok, 1) == 1;
  close(ready[0]);
  if (!started) {
    waitpid(pid, nullptr, 0);
    throw std::runtime_error("the child's setup failed");
  }
  return pid;
}

pid_t StartGaugeWorker(const std::string& db, const std::string& name, GaugeMode mode, double value) {
  return StartPausedChild([&] {
    Registry registry(db);
    BuildGauge().Name(name).Help("A per-process gauge.").Mode(mode).Register(registry).WithLabelValues({}).Set(value);
  });
}

bool LongTests() {
  const char* value = std::getenv("PROMSQLITE_LONG_TESTS");
  return value && std::string(value) == "1";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

}  // namespace promsqlite::test
