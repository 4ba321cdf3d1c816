// One-line logs on stderr in the logfmt style of Prometheus exporters:
//   ts=2024-05-01T12:00:00.123Z level=error msg="scrape failed" err="..."
//
// Thread safety: safe for concurrent use; each line is written with one
// write(2) so lines from different threads never interleave.
#ifndef PROMSQLITE_SERVER_LOG_H_
#define PROMSQLITE_SERVER_LOG_H_

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace promsqlite_server {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

// Parses "debug", "info", "warn" or "error"; false for anything else.
bool ParseLogLevel(std::string_view name, LogLevel* level);

// Lines below `level` are dropped. Default: kInfo.
void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);

// Logs msg and key=value pairs; values are quoted when they need it.
void Log(LogLevel level, std::string_view msg,
         std::initializer_list<std::pair<std::string_view, std::string_view>> fields = {});

}  // namespace promsqlite_server

#endif  // PROMSQLITE_SERVER_LOG_H_
