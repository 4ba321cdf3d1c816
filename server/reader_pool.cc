#include "reader_pool.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace promsqlite_server {

namespace {

const char* Kind(mode_t mode) {
  if (S_ISFIFO(mode)) return "a named pipe";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "not a file";
}

// A scrape serves what it can read: rows that cannot be read are left out
// and reported (read_errors.h), not a 500 for the whole file.
promsqlite::ReaderOptions ScrapeOptions() {
  promsqlite::ReaderOptions options;
  options.unreadable_rows = promsqlite::UnreadableRows::kSkip;
  return options;
}

}  // namespace

ReaderPool::ReaderPool(const std::string& path, int size) : path_(path), slots_(static_cast<size_t>(size)) {
  for (size_t i = 0; i < slots_.size(); ++i) {
    slots_[i].reader = std::make_unique<promsqlite::Reader>(path, ScrapeOptions());
    free_.push_back(i);
  }
}

ReaderPool::FileId ReaderPool::Identify() const {
  struct stat st;
  if (stat(path_.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    throw std::runtime_error(path_ + ": cannot look up the file: " + std::strerror(errno));
  }
  // A directory is left to the Reader, which says so.
  if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
    throw std::runtime_error(path_ + ": not a regular file (" + Kind(st.st_mode) + ")");
  return {st.st_dev, st.st_ino};
}

ReaderPool::Lease ReaderPool::Acquire() {
  const FileId file = Identify();
  size_t i;
  {
    std::unique_lock<std::mutex> lock(mu_);
    available_.wait(lock, [this] { return !free_.empty(); });
    i = free_.back();
    free_.pop_back();
  }
  // The slot is ours until released. A fresh Reader opens the file anew.
  Slot& slot = slots_[i];
  if (slot.used && slot.file != file) slot.reader = std::make_unique<promsqlite::Reader>(path_, ScrapeOptions());
  slot.file = file;
  slot.used = true;
  return Lease(this, i, slot.reader.get());
}

void ReaderPool::Release(size_t slot) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    free_.push_back(slot);
  }
  available_.notify_one();
}

}  // namespace promsqlite_server
