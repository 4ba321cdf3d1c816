// Several forked worker processes write into one promsqlite file; the
// parent prints the merged exposition. Usage:
//   worker_pool [--db FILE] [--workers N] [--requests N] [--format text|openmetrics]
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include "promsqlite/promsqlite.h"

namespace {

int RunWorker(const std::string& db, int worker, int requests) {
  promsqlite::Registry registry(db);
  auto requests_total = promsqlite::BuildCounter()
                            .Name("demo_http_requests_total")
                            .Help("HTTP requests handled by the worker pool.")
                            .LabelNames({"method", "code"})
                            .Register(registry);
  auto latency = promsqlite::BuildHistogram()
                     .Name("demo_http_request_duration_seconds")
                     .Help("Request latency.")
                     .LabelNames({"method"})
                     .Register(registry);
  auto in_flight = promsqlite::BuildGauge()
                       .Name("demo_jobs_queued")
                       .Help("Jobs waiting in the shared queue.")
                       .Register(registry);
  auto build = promsqlite::BuildInfo().Name("demo_build").Help("Build of the demo.")
                   .LabelNames({"version", "commit"}).Register(registry);
  auto health = promsqlite::BuildEnum().Name("demo_pool_state").Help("State of the pool.")
                    .States({"starting", "serving", "draining"}).Register(registry);
  build.WithLabelValues({"0.1.0", "c0ffee"});
  health.WithLabelValues({}).Set("serving");
  promsqlite::Counter get_ok = requests_total.WithLabelValues({"GET", "200"});
  promsqlite::Counter post_err = requests_total.Add({{"method", "POST"}, {"code", "500"}});
  promsqlite::Histogram get_latency = latency.WithLabelValues({"GET"});
  promsqlite::Gauge queued = in_flight.WithLabelValues({});
  unsigned seed = static_cast<unsigned>(worker) * 7919u + 1;
  for (int i = 0; i < requests; ++i) {
    seed = seed * 1103515245u + 12345u;
    queued.Increment();
    get_ok.Increment();
    // A failed request and the slowest ones carry the id of their trace
    // (an exemplar: shown in OpenMetrics and protobuf, the latest of all
    // workers per series and bucket).
    const std::string trace_id = std::to_string(worker) + "-" + std::to_string(i);
    if (seed % 10 == 0) post_err.Increment(1, {{"trace_id", trace_id}});
    const double seconds = static_cast<double>(seed % 3000) / 1000.0;
    if (seconds > 2.5) get_latency.Observe(seconds, {{"trace_id", trace_id}});
    else get_latency.Observe(seconds);
    queued.Decrement();
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string db = "demo.db";
  int workers = 4, requests = 250;
  promsqlite::Format format = promsqlite::Format::kText;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "worker_pool: %s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--db") db = value();
    else if (arg == "--workers") workers = std::atoi(value().c_str());
    else if (arg == "--requests") requests = std::atoi(value().c_str());
    else if (arg == "--format") format = value() == "openmetrics" ? promsqlite::Format::kOpenMetrics
                                                                 : promsqlite::Format::kText;
    else {
      std::fprintf(stderr, "usage: worker_pool [--db FILE] [--workers N] [--requests N] [--format text|openmetrics]\n");
      return 2;
    }
  }
  try {
    for (int w = 0; w < workers; ++w) {
      pid_t pid = fork();
      if (pid == 0) _exit(RunWorker(db, w, requests));
      if (pid < 0) {
        std::perror("worker_pool: fork");
        return 1;
      }
    }
    int failed = 0;
    for (int w = 0; w < workers; ++w) {
      int status = 0;
      wait(&status);
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failed;
    }
    if (failed) {
      std::fprintf(stderr, "worker_pool: %d workers failed\n", failed);
      return 1;
    }
    promsqlite::Reader reader(db);
    reader.Render(format, [](std::string_view chunk) { std::cout.write(chunk.data(), chunk.size()); });
  } catch (const promsqlite::Error& e) {
    std::fprintf(stderr, "worker_pool: %s\n", e.what());
    return 1;
  }
  return 0;
}
