// A fixed set of promsqlite::Readers lent to requests, so parallel scrapes
// render in parallel (a Reader serializes its calls) while the number of
// open SQLite connections stays bounded.
//
// Thread safety: safe for concurrent use.
#ifndef PROMSQLITE_SERVER_READER_POOL_H_
#define PROMSQLITE_SERVER_READER_POOL_H_

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "promsqlite/reader.h"

namespace promsqlite_server {

class ReaderPool {
 public:
  ReaderPool(const std::string& path, int size);

  // A Reader on loan; given back when the lease is destroyed.
  class Lease {
   public:
    Lease(ReaderPool* pool, promsqlite::Reader* reader) : pool_(pool), reader_(reader) {}
    Lease(Lease&& other) noexcept : pool_(other.pool_), reader_(other.reader_) { other.reader_ = nullptr; }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (reader_) pool_->Release(reader_);
    }
    promsqlite::Reader* operator->() const { return reader_; }
    promsqlite::Reader& operator*() const { return *reader_; }

   private:
    ReaderPool* pool_;
    promsqlite::Reader* reader_;
  };

  // Waits for a free Reader.
  Lease Acquire();

  const std::string& path() const { return path_; }

 private:
  void Release(promsqlite::Reader* reader);

  const std::string path_;
  std::vector<std::unique_ptr<promsqlite::Reader>> readers_;
  std::mutex mu_;
  std::condition_variable available_;
  std::vector<promsqlite::Reader*> free_;
};

}  // namespace promsqlite_server

#endif  // PROMSQLITE_SERVER_READER_POOL_H_
