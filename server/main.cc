// promsqlite-server: serves a promsqlite file on /metrics the way Prometheus
// exporters do. See Usage() in options.cc for flags and exit statuses.
#include <cstdio>
#include <string>

#include "log.h"
#include "options.h"
#include "promsqlite/version.h"
#include "server.h"

int main(int argc, char** argv) {
  using namespace promsqlite_server;
  ServerOptions options;
  std::string error;
  switch (ParseFlags(argc, argv, &options, &error)) {
    case ParseResult::kHelp:
      std::fputs(Usage().c_str(), stdout);
      return 0;
    case ParseResult::kVersion:
      std::printf("promsqlite-server %s (SQLite %s)\n", promsqlite::Version(), promsqlite::SqliteVersion());
      return 0;
    case ParseResult::kUsageError:
      std::fprintf(stderr, "promsqlite-server: %s\n", error.c_str());
      return 2;
    case ParseResult::kRun:
      break;
  }
  SetLogLevel(options.log_level);
  return RunServer(options);
}
