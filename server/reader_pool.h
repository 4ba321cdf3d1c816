// A fixed set of promsqlite::Readers lent to requests, so parallel scrapes
// render in parallel (a Reader serializes its calls) while the number of
// open SQLite connections stays bounded.
//
// Thread safety: safe for concurrent use.
#ifndef PROMSQLITE_SERVER_READER_POOL_H_
#define PROMSQLITE_SERVER_READER_POOL_H_

#include <sys/types.h>

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
    Lease(ReaderPool* pool, size_t slot, promsqlite::Reader* reader) : pool_(pool), slot_(slot), reader_(reader) {}
    Lease(Lease&& other) noexcept : pool_(other.pool_), slot_(other.slot_), reader_(other.reader_) {
      other.reader_ = nullptr;
    }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (reader_) pool_->Release(slot_);
    }
    promsqlite::Reader* operator->() const { return reader_; }
    promsqlite::Reader& operator*() const { return *reader_; }

   private:
    ReaderPool* pool_;
    size_t slot_;
    promsqlite::Reader* reader_;
  };

  // Waits for a free Reader. Throws std::runtime_error naming the file when
  // the path cannot be a promsqlite file: not a regular file (opening a FIFO
  // would block forever), or not even looked up (a folder the server may not
  // enter), which a Reader would take for a missing file and serve as empty.
  // A Reader whose file was replaced on disk (renamed over, or deleted and
  // created again) is renewed first: it would go on reading the old file.
  Lease Acquire();

  const std::string& path() const { return path_; }

 private:
  // Which file the path named: device and inode, {0, 0} when missing.
  struct FileId {
    dev_t device = 0;
    ino_t inode = 0;
    bool operator!=(const FileId& o) const { return device != o.device || inode != o.inode; }
  };
  struct Slot {
    std::unique_ptr<promsqlite::Reader> reader;
    FileId file;
    bool used = false;
  };

  FileId Identify() const;
  void Release(size_t slot);

  const std::string path_;
  std::vector<Slot> slots_;
  std::mutex mu_;
  std::condition_variable available_;
  std::vector<size_t> free_;
};

}  // namespace promsqlite_server

#endif  // PROMSQLITE_SERVER_READER_POOL_H_
