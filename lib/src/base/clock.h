// Unix time in seconds, from an injected clock (tests) or the system's.
#ifndef PROMSQLITE_SRC_BASE_CLOCK_H_
#define PROMSQLITE_SRC_BASE_CLOCK_H_

#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>

namespace promsqlite::detail {

inline double NowSeconds(const std::function<double()>& clock) {
  if (clock) return clock();
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

// Unix seconds as whole seconds (floor) and nanoseconds (rounded, below
// 1e9), as google.protobuf.Timestamp holds a time: the protobuf
// exposition's exemplar timestamps and remote-write's (in ms) agree.
struct SecondsAndNanos {
  int64_t seconds = 0;
  int64_t nanos = 0;
};
inline SecondsAndNanos SplitSeconds(double timestamp) {
  double seconds = std::floor(timestamp);
  int64_t nanos = std::llround((timestamp - seconds) * 1e9);
  if (nanos >= 1000000000) {
    seconds += 1;
    nanos -= 1000000000;
  }
  return {static_cast<int64_t>(seconds), nanos};
}

}  // namespace promsqlite::detail

#endif  // PROMSQLITE_SRC_BASE_CLOCK_H_
