// What a snapshot is made of: one record per family and per series, handed
// to a visitor. read/ produces them (from the file, or from in-memory
// families); the renderers and Reader::Snapshot consume them. Plain data:
// nothing here knows SQLite or an exposition format.
#ifndef PROMSQLITE_SRC_MODEL_RECORDS_H_
#define PROMSQLITE_SRC_MODEL_RECORDS_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "promsqlite/family.h"

namespace promsqlite::detail {

struct FamilyRecord {
  int64_t id = 0;
  FamilySpec spec;  // label_names sorted by name, as stored
};

// A native histogram's buckets (see docs/schema.md): indices at `schema`,
// each list sorted by index, no zero counts.
struct NativeBuckets {
  int32_t schema = 0;
  int64_t zero_count = 0;
  std::vector<std::pair<int32_t, int64_t>> positive, negative;  // (index, count)
};

// An exemplar of a counter series (bucket 0) or of a histogram bucket (its
// index; the number of bounds for +Inf).
struct ExemplarRecord {
  int64_t bucket = 0;
  std::vector<std::string> names, values;  // its labels, sorted by name
  double value = 0;
  double timestamp = 0;  // Unix seconds
};

struct SeriesRecord {
  std::vector<std::string> label_values;  // in the order of spec.label_names
  double value = 0;                       // counter/gauge value, distribution sum, enum index
  int64_t count = 0;                      // distribution observations
  double created = 0;                     // Unix seconds; 0: unknown (no _created)
  std::vector<int64_t> bucket_counts;     // histograms: per bound, not cumulative
  NativeBuckets native;                   // histograms with a native histogram
  std::vector<ExemplarRecord> exemplars;  // counters, histograms: sorted by bucket

  // The exemplar of `bucket`, or null.
  const ExemplarRecord* ExemplarOf(int64_t bucket) const {
    for (const ExemplarRecord& e : exemplars)
      if (e.bucket == bucket) return &e;
    return nullptr;
  }
};

class SnapshotVisitor {
 public:
  virtual ~SnapshotVisitor() = default;
  virtual void Family(const FamilyRecord& family) = 0;
  // Called for each series of the family last passed to Family().
  virtual void Series(const FamilyRecord& family, const SeriesRecord& series) = 0;
  // After the last family; the caller calls it (after any in-memory families).
  virtual void End() = 0;
};

}  // namespace promsqlite::detail

#endif  // PROMSQLITE_SRC_MODEL_RECORDS_H_
