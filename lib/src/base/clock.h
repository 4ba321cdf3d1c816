// Unix time in seconds, from an injected clock (tests) or the system's.
#ifndef PROMSQLITE_SRC_BASE_CLOCK_H_
#define PROMSQLITE_SRC_BASE_CLOCK_H_

#include <chrono>
#include <functional>

namespace promsqlite::detail {

inline double NowSeconds(const std::function<double()>& clock) {
  if (clock) return clock();
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

}  // namespace promsqlite::detail

#endif  // PROMSQLITE_SRC_BASE_CLOCK_H_
