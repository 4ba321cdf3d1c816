// A row of a promsqlite file that readers cannot read: written by another
// program against docs/schema.md, but wrongly (labels that are not a tuple
// encoding, a value of the wrong type, a declaration no writer would make).
// Reader::Check() lists them, a Reader with UnreadableRows::kSkip leaves
// them out and reports them, Registry::DeleteUnreadableRows() deletes them.
// reader.h and registry.h include this header.
#ifndef PROMSQLITE_UNREADABLE_ROW_H_
#define PROMSQLITE_UNREADABLE_ROW_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace promsqlite {

// One unreadable row. Plain data; every string is valid UTF-8 on one line
// (bytes of the file that are not are shown as U+FFFD or '?').
struct UnreadableRow {
  // The table: "families", "series", "bucket_counts", "native_buckets" or
  // "exemplars".
  std::string table;
  // Its primary key, as "column=value" pairs: "id=12" (families, series),
  // "series_id=12 bucket=3" (bucket_counts, exemplars),
  // "series_id=12 sign=1 bucket=-4" (native_buckets).
  std::string key;
  // The stored name of the family the row belongs to (a counter's without
  // "_total").
  std::string family;
  // What is wrong, e.g. "labels hold 1 value for 2 label names (path,
  // method)" or "value is TEXT 'abc', not a number".
  std::string problem;

  // "series id=12 of family 'jobs': " + problem.
  std::string ToString() const;
};

inline bool operator==(const UnreadableRow& a, const UnreadableRow& b) {
  return a.table == b.table && a.key == b.key && a.family == b.family && a.problem == b.problem;
}

// The rows one read left out (ReaderOptions::unreadable_rows kSkip).
struct SkippedRows {
  // The most rows listed: a file of a million broken rows must not cost
  // each read a million reports. The counts below count every row.
  static constexpr size_t kMaxListed = 1000;

  // The rows left out, in the order the read met them (families by name,
  // series by labels), the first kMaxListed of them.
  std::vector<UnreadableRow> listed;
  // Rows left out per family (UnreadableRow::family), listed or not.
  std::map<std::string, int64_t> per_family;

  bool empty() const { return per_family.empty(); }
  int64_t total() const {
    int64_t sum = 0;
    for (const auto& family : per_family) sum += family.second;
    return sum;
  }
  void clear() {
    listed.clear();
    per_family.clear();
  }
};

}  // namespace promsqlite

#endif  // PROMSQLITE_UNREADABLE_ROW_H_
