// A native histogram's non-empty buckets as the protobuf exposition and
// remote-write 1.0 carry them: spans of consecutive bucket indices (the
// first offset from index 0, each later one from the end of the previous
// span) and the count deltas (each bucket's count minus the previous
// one's, the first from 0). The one implementation for the renderer and
// remote-write.
#ifndef PROMSQLITE_SRC_BASE_NATIVE_SPANS_H_
#define PROMSQLITE_SRC_BASE_NATIVE_SPANS_H_

#include <cstdint>
#include <utility>
#include <vector>

namespace promsqlite::detail {

struct BucketSpan {
  int32_t offset = 0;
  uint32_t length = 0;
};

// `buckets`: (index, count) sorted by index. Replaces *spans and *deltas.
inline void SpansAndDeltas(const std::vector<std::pair<int32_t, int64_t>>& buckets, std::vector<BucketSpan>* spans,
                           std::vector<int64_t>* deltas) {
  spans->clear();
  deltas->clear();
  int64_t next_index = 0, previous_count = 0;
  for (size_t i = 0; i < buckets.size();) {
    size_t start = i;
    while (i + 1 < buckets.size() && buckets[i + 1].first == buckets[i].first + 1) ++i;
    ++i;
    spans->push_back({static_cast<int32_t>(buckets[start].first - next_index), static_cast<uint32_t>(i - start)});
    next_index = static_cast<int64_t>(buckets[i - 1].first) + 1;
    for (size_t j = start; j < i; ++j) {
      deltas->push_back(buckets[j].second - previous_count);
      previous_count = buckets[j].second;
    }
  }
}

}  // namespace promsqlite::detail

#endif  // PROMSQLITE_SRC_BASE_NATIVE_SPANS_H_
