// The push library (libpromsqlite_push: the Pushgateway and remote-write
// clients, with libprotobuf, snappy, cpp-httplib and OpenSSL behind it),
// loaded when push or remote-write runs, not when the tool starts. Linked
// into the tool, those libraries made every run pay for them: 41 % of an
// increment's time went to the dynamic loader resolving their symbols and
// 7 % to OpenSSL's initialisation (about 3 ms of CPU per call of
// `promsqlite inc` here, against 1.5 ms for the rest of the run).
//
// Shared builds load it with dlopen() by its soname, found the way the
// tool's own libpromsqlite is (the tool's RUNPATH in the build tree,
// LD_LIBRARY_PATH, ld.so.cache), and look up the three functions of
// promsqlite/push.h the commands call. Static builds (default_library=static)
// link it as before: an archive costs no loading.
//
// Thread safety: PushLibrary() may be called from one thread at a time (the
// tool has one). Cost: the first call loads the library and its
// dependencies (a few milliseconds); later calls return the same table.
#ifndef PROMSQLITE_CLI_PUSH_LIBRARY_H_
#define PROMSQLITE_CLI_PUSH_LIBRARY_H_

#include <stdexcept>
#include <string>

#include "promsqlite/push.h"

namespace promsqlite::cli {

// The functions of promsqlite/push.h that the push commands call.
struct PushFunctions {
  std::string (*read_secret_file)(const std::string& path);
  void (*push_to_gateway)(Reader& reader, const PushOptions& options);
  RemoteWriteResult (*remote_write)(Reader& reader, const RemoteWriteOptions& options);
};

// The library could not be loaded, or lacks one of the functions; what()
// names the library, why, and what to install.
class PushUnavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Loads the push library on first use. Throws PushUnavailable.
const PushFunctions& PushLibrary();

}  // namespace promsqlite::cli

#endif  // PROMSQLITE_CLI_PUSH_LIBRARY_H_
