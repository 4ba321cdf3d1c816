// httplib's TaskQueue with a fixed number of workers and a bounded queue.
// httplib 0.11's own ThreadPool queues accepted connections without limit;
// here, once `max_queued` connections wait, the accept loop blocks, so
// further clients wait in the kernel's listen backlog instead of in memory.
//
// Thread safety: safe for concurrent use (httplib enqueues from its accept
// thread; workers run tasks).
#ifndef PROMSQLITE_SERVER_BOUNDED_POOL_H_
#define PROMSQLITE_SERVER_BOUNDED_POOL_H_

#include <httplib.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace promsqlite_server {

class BoundedPool : public httplib::TaskQueue {
 public:
  BoundedPool(size_t workers, size_t max_queued);
  ~BoundedPool() override;

  void enqueue(std::function<void()> fn) override;
  // Runs what is queued, then stops the workers (httplib calls it when
  // the server stops, so in-flight requests finish).
  void shutdown() override;

  // Connections accepted and waiting for a worker.
  size_t queued();

 private:
  void Work();

  const size_t max_queued_;
  std::mutex mu_;
  std::condition_variable work_ready_;
  std::condition_variable space_ready_;
  std::deque<std::function<void()>> tasks_;
  bool shutting_down_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace promsqlite_server

#endif  // PROMSQLITE_SERVER_BOUNDED_POOL_H_
