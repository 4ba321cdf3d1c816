// Runs promsqlite housekeeping on the served file on a timer, so that TTLs
// and dead processes' live gauges are cleaned up even when no long-lived
// writer does it. Uses the library's writer path (Registry::Housekeep):
// short batched transactions, never the scrapes' read-only connections.
#ifndef PROMSQLITE_SERVER_HOUSEKEEPER_H_
#define PROMSQLITE_SERVER_HOUSEKEEPER_H_

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace promsqlite_server {

class Housekeeper {
 public:
  // interval_s <= 0: does nothing.
  Housekeeper(std::string db_path, int interval_s);
  ~Housekeeper();  // stops the timer, waits for a pass in progress
  Housekeeper(const Housekeeper&) = delete;
  Housekeeper& operator=(const Housekeeper&) = delete;

 private:
  void Run();
  void Pass();

  const std::string db_path_;
  const int interval_s_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::string last_error_;  // logged once until it changes
  std::thread thread_;
};

}  // namespace promsqlite_server

#endif  // PROMSQLITE_SERVER_HOUSEKEEPER_H_
