// The remote-write agent of promsqlite-server (--remote-write.url): sends
// the whole file to a remote-write 1.0 receiver at once and then every
// interval, on a thread of its own, while the server keeps serving
// /metrics. One send is one snapshot (promsqlite::RemoteWrite), retried
// with exponential backoff after transient failures (--remote-write.retries);
// a send that still fails is logged and counted, and the next interval
// sends the file's state again (nothing is queued: the file is the state).
// When the server stops, one last send carries what changed since the
// previous one (one attempt, no retries: shutdown waits at most one
// --remote-write.timeout for it).
//
// Thread safety: owns its thread; the destructor stops it, waiting for a
// send in progress (at most its timeouts and backoff) and the last send.
#ifndef PROMSQLITE_SERVER_REMOTE_WRITE_AGENT_H_
#define PROMSQLITE_SERVER_REMOTE_WRITE_AGENT_H_

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "options.h"
#include "self_metrics.h"

namespace promsqlite_server {

class RemoteWriteAgent {
 public:
  // Does nothing when options.remote_write_url is empty.
  RemoteWriteAgent(const ServerOptions& options, SelfMetrics* metrics);
  ~RemoteWriteAgent();
  RemoteWriteAgent(const RemoteWriteAgent&) = delete;
  RemoteWriteAgent& operator=(const RemoteWriteAgent&) = delete;

 private:
  void Run();
  // `last`: the send at shutdown, made once, without retries.
  void Send(bool last);

  const ServerOptions options_;
  SelfMetrics* metrics_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::string last_error_;  // logged at warn once until it changes
  std::thread thread_;
};

}  // namespace promsqlite_server

#endif  // PROMSQLITE_SERVER_REMOTE_WRITE_AGENT_H_
