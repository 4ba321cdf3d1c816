#include "housekeeper.h"

#include <sys/stat.h>

#include <chrono>

#include "log.h"
#include "promsqlite/promsqlite.h"

namespace promsqlite_server {

Housekeeper::Housekeeper(std::string db_path, int interval_s)
    : db_path_(std::move(db_path)), interval_s_(interval_s) {
  if (interval_s_ > 0) thread_ = std::thread([this] { Run(); });
}

Housekeeper::~Housekeeper() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Housekeeper::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!wake_.wait_for(lock, std::chrono::seconds(interval_s_), [&] { return stopping_; })) {
    lock.unlock();
    Pass();
    lock.lock();
  }
}

void Housekeeper::Pass() {
  struct stat st;
  if (stat(db_path_.c_str(), &st) != 0) return;  // no writer has created it yet
  try {
    promsqlite::Options options;
    options.write_mode = promsqlite::WriteMode::kImmediate;  // it writes nothing of its own
    options.create_if_missing = false;
    options.housekeeping_interval_ms = 0;  // this pass is the housekeeping
    promsqlite::HousekeepingReport r = promsqlite::Registry(db_path_, options).Housekeep();
    last_error_.clear();
    Log(LogLevel::kDebug, "housekeeping",
        {{"expired_series", std::to_string(r.expired_series)},
         {"dead_process_series", std::to_string(r.dead_process_series)},
         {"dead_writers", std::to_string(r.dead_writers)},
         {"orphaned_series", std::to_string(r.orphaned_series)},
         {"recovered_regions", std::to_string(r.recovered_regions)},
         {"recovered_updates", std::to_string(r.recovered_updates)},
         {"complete", r.complete ? "true" : "false"}});
  } catch (const std::exception& e) {
    // A file we cannot write (permissions, a broken file that scrapes
    // already report): say so once, keep serving.
    if (last_error_ != e.what()) Log(LogLevel::kWarn, "housekeeping failed", {{"err", e.what()}});
    last_error_ = e.what();
  }
}

}  // namespace promsqlite_server
