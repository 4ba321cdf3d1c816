// Rendering many series: promsqlite::Reader::Render (text format) of a
// file against prometheus-cpp's Collect + TextSerializer of the same series
// in memory, and the same file in the protobuf exposition. All write to a
// sink that only counts bytes.
#include <sys/stat.h>

#include <cstdio>

#include "benchmarks.h"
#include "populate.h"
#include "prometheus_cpp.h"
#include "promsqlite/promsqlite.h"

namespace bench {

int RunRender(const Flags& flags) {
  const std::string db = flags.Get("db", "");
  const int series = flags.Int("series", 100000);
  const int repeats = flags.Int("repeats", 3);
  if (db.empty()) throw std::invalid_argument("render needs --db FILE");
  struct stat st;
  if (stat(db.c_str(), &st) != 0) {
    double seconds = Populate(db, series);
    char took[32];
    std::snprintf(took, sizeof took, "%.1f", seconds);
    Note("render: populated " + std::to_string(series) + " series in " + took + " s");
  }

  promsqlite::Reader reader(db);  // reused, as the server's reader pool does
  size_t render_bytes = 0;
  size_t protobuf_bytes = 0;
  auto render_as = [&](promsqlite::Format format, size_t* bytes) {
    *bytes = 0;
    double start = NowSeconds();
    reader.Render(format, [&](std::string_view chunk) { *bytes += chunk.size(); });
    return (NowSeconds() - start) * 1e3;
  };
  auto render = [&] { return render_as(promsqlite::Format::kText, &render_bytes); };
  auto render_protobuf = [&] { return render_as(promsqlite::Format::kProtobuf, &protobuf_bytes); };
  PrometheusCppRegistry reference(series);
  size_t reference_bytes = 0;

  render();  // warm-up: opens the file, fills SQLite's page cache
  reference.SerializeMs(&reference_bytes);
  render_protobuf();
  std::vector<double> renders, serializes, protobuf_renders;
  // Text and protobuf back to back, in turns first: a render that follows
  // prometheus-cpp's serialization (which allocates ~7 MB of strings)
  // measured 10-25 ms slower than one that follows a render, whichever
  // format it was. prometheus-cpp's serializations then run back to back
  // too, in the same run.
  for (int r = 0; r < repeats; ++r) {
    if (r % 2 == 0) {
      renders.push_back(render());
      protobuf_renders.push_back(render_protobuf());
    } else {
      protobuf_renders.push_back(render_protobuf());
      renders.push_back(render());
    }
  }
  for (int r = 0; r < repeats; ++r) serializes.push_back(reference.SerializeMs(&reference_bytes));
  Note("render: " + std::to_string(series) + " counter series; promsqlite wrote " + std::to_string(render_bytes) +
       " bytes (protobuf: " + std::to_string(protobuf_bytes) + "), prometheus-cpp " +
       std::to_string(reference_bytes) + " bytes");
  ReportMedian("render_100k_protobuf_ms", protobuf_renders);
  Report("render_protobuf_vs_text_ratio", MedianRatio(protobuf_renders, renders));
  ReportMedian("render_100k_ms", renders);
  ReportMedian("prometheus_cpp_serialize_100k_ms", serializes);
  Report("render_vs_prometheus_cpp_ratio", MedianRatio(renders, serializes));
  return 0;
}

}  // namespace bench
