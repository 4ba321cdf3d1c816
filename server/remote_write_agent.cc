#include "remote_write_agent.h"

#include <sys/time.h>

#include <chrono>

#include "log.h"

#ifdef PROMSQLITE_HAVE_PUSH
#include "promsqlite/push.h"
#endif

namespace promsqlite_server {

RemoteWriteAgent::RemoteWriteAgent(const ServerOptions& options, SelfMetrics* metrics)
    : options_(options), metrics_(metrics) {
  if (options_.remote_write.url.empty()) return;
  metrics_->EnableRemoteWrite();
  thread_ = std::thread([this] { Run(); });
}

RemoteWriteAgent::~RemoteWriteAgent() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void RemoteWriteAgent::Run() {
  Log(LogLevel::kInfo, "remote-write agent started",
      {{"url", options_.remote_write.url}, {"interval", std::to_string(options_.remote_write_interval_s) + "s"}});
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    lock.unlock();
    Send(false);
    lock.lock();
    wake_.wait_for(lock, std::chrono::duration<double>(options_.remote_write_interval_s), [&] { return stopping_; });
  }
  lock.unlock();
  // What writers added since the previous send would otherwise reach the
  // receiver only when (if) this host's server runs again.
  Send(true);
}

void RemoteWriteAgent::Send(bool last) {
#ifdef PROMSQLITE_HAVE_PUSH
  promsqlite::RemoteWriteOptions write = options_.remote_write;
  if (last) write.retries = 0;
  try {
    // A Reader per send: nothing is held open between sends.
    promsqlite::Reader reader(options_.db_path);
    promsqlite::RemoteWriteResult sent = promsqlite::RemoteWrite(reader, write);
    timeval tv;
    gettimeofday(&tv, nullptr);
    metrics_->RecordRemoteWrite(sent.samples, sent.histograms, true,
                                static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6);
    Log(last ? LogLevel::kInfo : LogLevel::kDebug,
        last ? "remote-write sent the file's last state" : "remote-write sent",
        {{"samples", std::to_string(sent.samples)},
         {"histograms", std::to_string(sent.histograms)},
         {"exemplars", std::to_string(sent.exemplars)}});
    if (!last_error_.empty()) Log(LogLevel::kInfo, "remote-write works again", {{"url", write.url}});
    last_error_.clear();
  } catch (const std::exception& e) {
    metrics_->RecordRemoteWrite(0, 0, false, 0);
    std::string error = e.what();
    // A 4xx other than 429 says this request is wrong: it was not retried,
    // and the next interval sends the file's state anew (remote-write spec).
    int status = 0;
    if (auto* push = dynamic_cast<const promsqlite::PushError*>(&e)) status = push->status();
    bool refused = status >= 400 && status < 500 && status != 429;
    if (last) Log(LogLevel::kWarn, "remote-write of the file's last state failed", {{"err", error}});
    else if (error != last_error_)
      Log(refused ? LogLevel::kError : LogLevel::kWarn,
          refused ? "remote-write refused: this send is dropped, not retried; the next interval sends the file again"
                  : "remote-write failed; will send again",
          {{"err", error}});
    last_error_ = error;
  }
#endif
}

}  // namespace promsqlite_server
