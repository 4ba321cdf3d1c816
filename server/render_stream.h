// Renders a file on a thread of its own into a short queue of chunks that
// the HTTP response drains. This turns the library's push-style Render into
// the pull-style body httplib wants, and lets the handler wait for the first
// chunk before it commits to a status: a file that fails before any byte is
// ready answers 500 with the error, not a truncated 200.
//
// Memory stays flat: the producer blocks while kMaxQueuedChunks chunks wait.
// The snapshot's read transaction stays open until the last chunk is taken,
// so a stalled client is cut off by the server's write timeout.
//
// Thread safety: one consumer thread; the producer is internal.
#ifndef PROMSQLITE_SERVER_RENDER_STREAM_H_
#define PROMSQLITE_SERVER_RENDER_STREAM_H_

#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "promsqlite/exposition.h"
#include "reader_pool.h"

namespace promsqlite_server {

class RenderStream {
 public:
  // Starts rendering the lease's file, then `extra`, in `format`.
  RenderStream(ReaderPool::Lease lease, promsqlite::Format format,
               std::vector<promsqlite::MemoryFamily> extra);
  // Stops the render if it is still running and waits for its thread.
  ~RenderStream();
  RenderStream(const RenderStream&) = delete;
  RenderStream& operator=(const RenderStream&) = delete;

  // Waits until output is ready or the render ended. False with *error when
  // it failed before producing any output.
  bool WaitForStart(std::string* error);

  // Takes the next chunk. False at the end; *error is then non-empty when
  // the render failed part way.
  bool Next(std::string* chunk, std::string* error);

 private:
  void Produce(promsqlite::Format format);

  static constexpr size_t kMaxQueuedChunks = 4;

  ReaderPool::Lease lease_;
  std::vector<promsqlite::MemoryFamily> extra_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<std::string> queue_;
  bool produced_any_ = false;
  bool done_ = false;
  bool cancelled_ = false;
  std::string error_;
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace promsqlite_server

#endif  // PROMSQLITE_SERVER_RENDER_STREAM_H_
