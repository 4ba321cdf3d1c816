#include "populate.h"

#include <cstdio>

#include "benchmarks.h"
#include "promsqlite/promsqlite.h"

namespace bench {

double Populate(const std::string& path, int series) {
  double start = NowSeconds();
  promsqlite::Options options;
  options.write_mode = promsqlite::WriteMode::kBatched;
  options.pending_store = promsqlite::PendingStore::kProcessMemory;  // a file filled in one go, not a region
  options.flush_interval_ms = 3600 * 1000;  // one flush, at the end
  promsqlite::Registry registry(path, options);
  auto family = promsqlite::BuildCounter()
                    .Name(kManyFamily)
                    .Help("Requests by path.")
                    .LabelNames(ManyLabelNames())
                    .Register(registry);
  for (int i = 0; i < series; ++i) family.WithLabelValues(ManyLabelValues(i)).Increment(i % 7 + 1);
  registry.Flush();
  return NowSeconds() - start;
}

int RunPopulate(const Flags& flags) {
  const std::string db = flags.Get("db", "");
  const int series = flags.Int("series", 100000);
  if (db.empty()) throw std::invalid_argument("populate needs --db FILE");
  double seconds = Populate(db, series);
  char took[32];
  std::snprintf(took, sizeof took, "%.1f", seconds);
  Note("populate: " + std::to_string(series) + " series written to " + db + " in " + took + " s");
  return 0;
}

}  // namespace bench
