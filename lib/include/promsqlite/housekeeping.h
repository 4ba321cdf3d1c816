// What one housekeeping pass deleted: the result of Registry::Housekeep
// (the pass Options::housekeeping_interval_ms also runs by itself).
// registry.h includes this header.
#ifndef PROMSQLITE_HOUSEKEEPING_H_
#define PROMSQLITE_HOUSEKEEPING_H_

#include <cstdint>

namespace promsqlite {

// What one housekeeping pass deleted (and recovered).
struct HousekeepingReport {
  int64_t expired_series = 0;     // not updated within their family's TTL
  int64_t dead_process_series = 0;  // live-mode gauge rows of processes that are gone
  int64_t dead_writers = 0;       // writer records left without any row
  int64_t orphaned_series = 0;    // rows of families that were removed
  // Pending regions of batched writers that died (docs/pending-regions.md):
  // regions written and removed, and the series updates they held.
  int64_t recovered_regions = 0;
  int64_t recovered_updates = 0;
  // False when the pass stopped at its bound (kMaxBatches); run it again.
  bool complete = true;
};

}  // namespace promsqlite

#endif  // PROMSQLITE_HOUSEKEEPING_H_
