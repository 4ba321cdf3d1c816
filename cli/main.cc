// promsqlite: the command-line tool. Errors are one line on stderr and an
// exit code from commands.h.
#include <cstdio>

#include "args.h"
#include "commands.h"
#include "promsqlite/promsqlite.h"

int main(int argc, char** argv) {
  using namespace promsqlite::cli;
  try {
    Args args = ParseArgs(argc, argv);
    if (args.show_version) {
      std::printf("promsqlite %s (SQLite %s, schema %d)\n", promsqlite::Version(), promsqlite::SqliteVersion(),
                  promsqlite::SchemaVersion());
      return kExitOk;
    }
    if (args.show_help) {
      std::fputs(Usage(args.command).c_str(), stdout);
      return kExitOk;
    }
    return RunCommand(args);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "promsqlite: %s (see 'promsqlite --help')\n", e.what());
    return kExitUsage;
  } catch (const NotFound& e) {
    std::fprintf(stderr, "promsqlite: %s\n", e.what());
    return kExitInvalid;
  } catch (const promsqlite::InvalidArgument& e) {
    std::fprintf(stderr, "promsqlite: %s\n", InToolWords(e.what()).c_str());
    return kExitInvalid;
  } catch (const promsqlite::DeclarationConflict& e) {
    std::fprintf(stderr, "promsqlite: %s\n", InToolWords(e.what()).c_str());
    return kExitInvalid;
  } catch (const promsqlite::Error& e) {
    std::fprintf(stderr, "promsqlite: %s\n", InToolWords(e.what()).c_str());
    return kExitDatabaseError;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "promsqlite: %s\n", e.what());
    return kExitDatabaseError;
  }
}
