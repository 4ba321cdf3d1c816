// Serving a promsqlite file from a prometheus-cpp Exposer, alongside the
// process's own in-memory prometheus-cpp metrics:
//
//   prometheus::Exposer exposer("127.0.0.1:8080");
//   auto registry = std::make_shared<prometheus::Registry>();   // in-memory metrics
//   auto file = std::make_shared<promsqlite::FileCollectable>("/var/lib/app/metrics.db");
//   exposer.RegisterCollectable(registry);
//   exposer.RegisterCollectable(file);   // one /metrics: both, the file's after
//
// Each Collect() reads one consistent snapshot of the whole file
// (Reader::Snapshot) and converts it to prometheus::MetricFamily values
// showing exactly what promsqlite's text 0.0.4 renderer shows: counters as
// NAME_total, info families as gauge NAME_info with value 1, enums
// (stateset) as gauge NAME with one series per state, the state in label
// NAME, 1 for the state that is set and 0 for the others; histograms with
// cumulative buckets ending in +Inf; summaries with _sum and _count only.
// Label names are in promsqlite's order (sorted by name, the state label
// last). prometheus-cpp has no _created: creation times are not shown.
//
// A family name that the Exposer's other collectables also use would be
// exposed twice (an invalid exposition): keep the names apart.
//
// Part of the separate library promsqlite_prometheus_cpp (link it in
// addition to promsqlite and prometheus-cpp-core); it exists only when
// prometheus-cpp was found at build time.
//
// Thread safety: Collect() may be called from any number of threads at
// once (the Exposer's); the reads are serialized by one Reader. Process
// safety: reads never block the processes writing the file. Cost: one read
// transaction and a copy of the whole file in memory per Collect().
#ifndef PROMSQLITE_PROMETHEUS_CPP_H_
#define PROMSQLITE_PROMETHEUS_CPP_H_

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "promsqlite/options.h"
#include "promsqlite/reader.h"

namespace promsqlite {

class FileCollectable : public prometheus::Collectable {
 public:
  // Receives one line per failed Collect(), naming the file and the reason.
  using ErrorCallback = std::function<void(const std::string& message)>;

  // Nothing is opened here: a file that does not exist yet collects as
  // empty and is read once a writer creates it. `on_error` is called (on
  // the collecting thread) when the file exists but cannot be read (not a
  // promsqlite file, corrupt, a newer schema, no permission); that
  // Collect() then returns nothing. With `options.unreadable_rows`
  // UnreadableRows::kSkip, a row of the file that cannot be read leaves out
  // only its part (see UnreadableRows), and `on_error` is called with a line
  // that says how many rows and names the first; otherwise such a row fails
  // the Collect() as above. Default `on_error`: empty, which prints one line
  // to stderr per failure.
  explicit FileCollectable(std::string path, ErrorCallback on_error = nullptr,
                           ReaderOptions options = ReaderOptions());
  ~FileCollectable() override;

  // Never throws (it runs on the Exposer's threads): every failure goes to
  // the error callback, and an exception thrown by the callback itself is
  // swallowed.
  std::vector<prometheus::MetricFamily> Collect() const override;

  const std::string& path() const { return reader_->path(); }

 private:
  std::unique_ptr<Reader> reader_;  // Collect() is const; Reader serializes itself
  ErrorCallback on_error_;
};

// The conversion Collect() uses, for a snapshot taken elsewhere. Families
// without series are left out, as the text renderer leaves them out.
// Throws std::bad_alloc only.
std::vector<prometheus::MetricFamily> ToMetricFamilies(const std::vector<FamilySnapshot>& snapshot);

}  // namespace promsqlite

#endif  // PROMSQLITE_PROMETHEUS_CPP_H_
