#include "reader_pool.h"

namespace promsqlite_server {

ReaderPool::ReaderPool(const std::string& path, int size) : path_(path) {
  for (int i = 0; i < size; ++i) {
    readers_.push_back(std::make_unique<promsqlite::Reader>(path));
    free_.push_back(readers_.back().get());
  }
}

ReaderPool::Lease ReaderPool::Acquire() {
  std::unique_lock<std::mutex> lock(mu_);
  available_.wait(lock, [this] { return !free_.empty(); });
  promsqlite::Reader* reader = free_.back();
  free_.pop_back();
  return Lease(this, reader);
}

void ReaderPool::Release(promsqlite::Reader* reader) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    free_.push_back(reader);
  }
  available_.notify_one();
}

}  // namespace promsqlite_server
