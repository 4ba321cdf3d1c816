// The README's example: declare, update from several processes, render.
#include <promsqlite/promsqlite.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

int main(int argc, char** argv) {
  promsqlite::Registry registry(argc > 1 ? argv[1] : "quickstart.db");  // created on first use
  auto requests = promsqlite::BuildCounter().Name("http_requests_total")
                      .Help("Requests served.").LabelNames({"method", "code"}).Register(registry);
  auto latency = promsqlite::BuildHistogram().Name("http_request_duration_seconds")
                     .Help("Request latency.").Buckets({0.01, 0.1, 1}).Register(registry);
  promsqlite::Counter ok = requests.WithLabelValues({"GET", "200"});  // keep handles: no lookup later
  promsqlite::Histogram seconds = latency.WithLabelValues({});

  for (int worker = 0; worker < 4; ++worker) {
    if (fork() == 0) {  // every process adds to the same series
      for (int i = 0; i < 1000; ++i) { ok.Increment(); seconds.Observe(0.05); }
      _exit(0);
    }
  }
  while (wait(nullptr) > 0) {}
  std::fputs(registry.Render(promsqlite::Format::kText).c_str(), stdout);
}
