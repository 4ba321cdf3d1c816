#include "prometheus_cpp.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <ostream>
#include <streambuf>

#include "common.h"

namespace bench {
namespace {

prometheus::Labels ToLabels(const std::vector<std::string>& names, const std::vector<std::string>& values) {
  prometheus::Labels labels;
  for (size_t i = 0; i < names.size(); ++i) labels[names[i]] = values[i];
  return labels;
}

// Discards what it is given, counting bytes: the same sink promsqlite's
// render gets, so neither side pays for keeping the output.
class CountingBuffer : public std::streambuf {
 public:
  size_t bytes = 0;

 protected:
  std::streamsize xsputn(const char*, std::streamsize n) override {
    bytes += static_cast<size_t>(n);
    return n;
  }
  int_type overflow(int_type c) override {
    if (c != traits_type::eof()) ++bytes;
    return traits_type::not_eof(c);
  }
};

}  // namespace

struct PrometheusCppCounter::State {
  prometheus::Registry registry;
  prometheus::Counter* child = nullptr;
};

PrometheusCppCounter::PrometheusCppCounter() : state_(std::make_unique<State>()) {
  auto& family =
      prometheus::BuildCounter().Name("bench_requests_total").Help("Requests.").Register(state_->registry);
  state_->child = &family.Add(ToLabels(HotLabelNames(), HotLabelValues()));
}

PrometheusCppCounter::~PrometheusCppCounter() = default;

double PrometheusCppCounter::IncrementNs(double seconds) {
  prometheus::Counter& child = *state_->child;
  return 1e9 / CallsPerSecond(seconds, 4096, [&] { child.Increment(); });
}

struct PrometheusCppRegistry::State {
  prometheus::Registry registry;
};

PrometheusCppRegistry::PrometheusCppRegistry(int series) : state_(std::make_unique<State>()) {
  auto& family = prometheus::BuildCounter()
                     .Name("bench_http_requests_total")
                     .Help("Requests by path.")
                     .Register(state_->registry);
  for (int i = 0; i < series; ++i) family.Add(ToLabels(ManyLabelNames(), ManyLabelValues(i))).Increment();
}

PrometheusCppRegistry::~PrometheusCppRegistry() = default;

double PrometheusCppRegistry::SerializeMs(size_t* bytes) {
  CountingBuffer buffer;
  std::ostream out(&buffer);
  double start = NowSeconds();
  prometheus::TextSerializer().Serialize(out, state_->registry.Collect());
  double ms = (NowSeconds() - start) * 1e3;
  *bytes = buffer.bytes;
  return ms;
}

}  // namespace bench
