#include "render_stream.h"

#include <exception>

namespace promsqlite_server {

namespace {
// Thrown through the library's Render to stop it when nobody reads anymore.
struct Cancelled {};
}  // namespace

RenderStream::RenderStream(ReaderPool::Lease lease, promsqlite::Format format,
                           std::vector<promsqlite::MemoryFamily> extra)
    : lease_(std::move(lease)), extra_(std::move(extra)), thread_([this, format] { Produce(format); }) {}

RenderStream::~RenderStream() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

void RenderStream::Produce(promsqlite::Format format) {
  std::string error;
  try {
    lease_->Render(format, [this](std::string_view chunk) {
      if (chunk.empty()) return;
      std::unique_lock<std::mutex> lock(mu_);
      changed_.wait(lock, [this] { return cancelled_ || queue_.size() < kMaxQueuedChunks; });
      if (cancelled_) throw Cancelled();
      queue_.emplace_back(chunk);
      produced_any_ = true;
      changed_.notify_all();
    }, extra_);
  } catch (const Cancelled&) {
    error = "cancelled";
  } catch (const std::exception& e) {
    error = e.what();
    if (error.empty()) error = "unknown error";
  } catch (...) {
    error = "unknown error";
  }
  std::lock_guard<std::mutex> lock(mu_);
  done_ = true;
  error_ = error;
  changed_.notify_all();
}

bool RenderStream::WaitForStart(std::string* error) {
  std::unique_lock<std::mutex> lock(mu_);
  changed_.wait(lock, [this] { return done_ || !queue_.empty(); });
  if (done_ && !produced_any_ && !error_.empty()) {
    *error = error_;
    return false;
  }
  return true;
}

bool RenderStream::Next(std::string* chunk, std::string* error) {
  std::unique_lock<std::mutex> lock(mu_);
  changed_.wait(lock, [this] { return done_ || !queue_.empty(); });
  if (!queue_.empty()) {
    *chunk = std::move(queue_.front());
    queue_.pop_front();
    changed_.notify_all();
    return true;
  }
  *error = error_;
  return false;
}

}  // namespace promsqlite_server
