// A structured view of a promsqlite file at one moment: its families, their
// series and values. For bridges that hand the values to another client
// library's exposition (the Python binding's collector) rather than
// rendering text themselves. Get one with Reader::Snapshot.
//
// Thread safety: plain values that share nothing with the file or the
// Reader. Cost: the whole result is held in memory, so ask for the
// families you need, or use Reader::Render (streamed) for a whole large
// file.
#ifndef PROMSQLITE_SNAPSHOT_H_
#define PROMSQLITE_SNAPSHOT_H_

#include <string>
#include <vector>

#include "promsqlite/family.h"

namespace promsqlite {

struct SeriesSnapshot {
  // In the order of FamilySnapshot::spec.label_names.
  std::vector<std::string> label_values;
  // Counter and gauge: the value (per-process gauges already combined by
  // their GaugeMode). Histogram and summary: the sum of the observations.
  // Enum: the index of the current state in spec.states. Info: 1.
  double value = 0;
  // Histogram and summary: the number of observations; otherwise 0.
  double count = 0;
  // Histogram: the cumulative count of each bound of spec.buckets, then of
  // +Inf (== count). Empty for the other types.
  std::vector<double> cumulative_counts;
  // Unix seconds when the series was first written; 0: unknown.
  double created = 0;
};

struct FamilySnapshot {
  // As stored: label names sorted by name; a gauge in GaugeMode kAll or
  // kLiveAll has a last label "pid", the writer process of each series.
  FamilySpec spec;
  std::vector<SeriesSnapshot> series;  // sorted by label values
};

}  // namespace promsqlite

#endif  // PROMSQLITE_SNAPSHOT_H_
