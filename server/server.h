// Runs promsqlite-server with parsed options until SIGTERM or SIGINT.
#ifndef PROMSQLITE_SERVER_SERVER_H_
#define PROMSQLITE_SERVER_SERVER_H_

#include "options.h"

namespace promsqlite_server {

// Returns the process exit status: 0 after a clean shutdown, 1 when the
// server cannot start (web config, TLS files, listen address).
int RunServer(const ServerOptions& options);

}  // namespace promsqlite_server

#endif  // PROMSQLITE_SERVER_SERVER_H_
