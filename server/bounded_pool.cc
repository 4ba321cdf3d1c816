#include "bounded_pool.h"

namespace promsqlite_server {

BoundedPool::BoundedPool(size_t workers, size_t max_queued) : max_queued_(max_queued) {
  for (size_t i = 0; i < workers; ++i) threads_.emplace_back([this] { Work(); });
}

BoundedPool::~BoundedPool() { shutdown(); }

void BoundedPool::enqueue(std::function<void()> fn) {
  std::unique_lock<std::mutex> lock(mu_);
  space_ready_.wait(lock, [this] { return shutting_down_ || tasks_.size() < max_queued_; });
  // After shutdown a task still runs here: it owns an accepted socket that
  // only the task closes.
  if (shutting_down_) {
    lock.unlock();
    fn();
    return;
  }
  tasks_.push_back(std::move(fn));
  work_ready_.notify_one();
}

void BoundedPool::shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shutting_down_ && threads_.empty()) return;
    shutting_down_ = true;
  }
  work_ready_.notify_all();
  space_ready_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

size_t BoundedPool::queued() {
  std::lock_guard<std::mutex> lock(mu_);
  return tasks_.size();
}

void BoundedPool::Work() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_ready_.wait(lock, [this] { return shutting_down_ || !tasks_.empty(); });
      if (tasks_.empty()) return;  // shutting down with nothing left
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    space_ready_.notify_one();
    task();
  }
}

}  // namespace promsqlite_server
