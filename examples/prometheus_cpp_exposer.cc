// An application that already serves prometheus-cpp metrics adds a
// promsqlite file to the same endpoint. Usage:
//   prometheus_cpp_exposer [FILE [HOST:PORT]]   (default: app.db 127.0.0.1:9187)
// Serves until killed; `promsqlite inc jobs_total --db app.db` from any
// shell shows up at the next scrape.
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/registry.h>
#include <promsqlite/prometheus_cpp.h>

#include <chrono>
#include <memory>
#include <thread>

int main(int argc, char** argv) {
  prometheus::Exposer exposer(argc > 2 ? argv[2] : "127.0.0.1:9187");
  auto registry = std::make_shared<prometheus::Registry>();  // this process's in-memory metrics
  auto& ticks = prometheus::BuildCounter().Name("app_ticks_total").Help("Seconds this process ran.")
                    .Register(*registry).Add({});
  // Every process's metrics: whatever the processes writing the file put there.
  auto file = std::make_shared<promsqlite::FileCollectable>(argc > 1 ? argv[1] : "app.db");
  exposer.RegisterCollectable(registry);
  exposer.RegisterCollectable(file);  // /metrics: the registry's families, then the file's
  for (;;) {
    ticks.Increment();
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}
