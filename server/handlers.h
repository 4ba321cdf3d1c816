// The HTTP endpoints: /metrics, the landing page, /-/healthy, /-/ready, and
// the answers for everything else (401, 404, 405, 431).
#ifndef PROMSQLITE_SERVER_HANDLERS_H_
#define PROMSQLITE_SERVER_HANDLERS_H_

#include <httplib.h>

#include "basic_auth.h"
#include "reader_pool.h"
#include "self_metrics.h"

namespace promsqlite_server {

// What the handlers share; must outlive the server.
struct ServerContext {
  ReaderPool* readers;
  SelfMetrics* metrics;
  BasicAuth* auth;
};

void InstallHandlers(httplib::Server& server, ServerContext* context);

}  // namespace promsqlite_server

#endif  // PROMSQLITE_SERVER_HANDLERS_H_
