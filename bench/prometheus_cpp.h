// The same workloads on prometheus-cpp (Debian's prometheus-cpp-dev), the
// in-memory C++ client promsqlite is compared with.
#ifndef PROMSQLITE_BENCH_PROMETHEUS_CPP_H_
#define PROMSQLITE_BENCH_PROMETHEUS_CPP_H_

#include <cstddef>
#include <memory>

namespace bench {

// A counter child with HotLabelValues(), held.
class PrometheusCppCounter {
 public:
  PrometheusCppCounter();
  ~PrometheusCppCounter();
  // Nanoseconds per Counter::Increment, measured for `seconds`.
  double IncrementNs(double seconds);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// `series` counter children with ManyLabelValues(i), each incremented once.
class PrometheusCppRegistry {
 public:
  explicit PrometheusCppRegistry(int series);
  ~PrometheusCppRegistry();
  // Milliseconds for Registry::Collect + TextSerializer into a sink that
  // only counts bytes (returned in *bytes).
  double SerializeMs(size_t* bytes);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace bench

#endif  // PROMSQLITE_BENCH_PROMETHEUS_CPP_H_
