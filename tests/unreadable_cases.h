// Rows another program wrote wrongly (docs/schema.md, "Rows readers cannot
// read"), one case per kind, on a sound file of every metric type: shared
// by the library's, the CLI's and the server's tests of what a reader does
// with them.
#ifndef PROMSQLITE_TESTS_UNREADABLE_CASES_H_
#define PROMSQLITE_TESTS_UNREADABLE_CASES_H_

#include <string>
#include <vector>

#include "promsqlite/unreadable_row.h"

namespace promsqlite::test {

// Writes the same file every time (a fixed clock; ids in this order):
// families jobs (1, counter, label queue), temperature_celsius (2, gauge),
// latency_seconds (3, histogram with buckets 0.1 and 1 and a native
// histogram), mode (4, enum), build (5, info); series jobs{queue="a"} (1,
// with an exemplar), jobs{queue="b"} (2), temperature_celsius (3),
// latency_seconds (4: buckets 0 and 1, native buckets -4, -1 and 1, an
// exemplar in bucket 1), mode (5), build{version="1.0"} (6).
void WriteSoundFile(const std::string& path);

struct UnreadableCase {
  std::string name;
  bool core;             // one of the kinds issue 27 names (the CLI and server tests run these)
  std::string mistake;   // SQL a wrong writer ran on the sound file
  std::string served_as;    // SQL that makes a sound file what a lenient read shows ("": the sound file)
  std::string repaired_as;  // SQL that makes a sound file what DeleteUnreadableRows leaves
  UnreadableRow row;     // what Check() and a lenient read report
};

const std::vector<UnreadableCase>& UnreadableCases();

// Every row of every table but sqlite_sequence (which keeps the highest id
// ever given, deleted or not), as test::DumpDatabase gives them.
std::string RowsOf(const std::string& path);

}  // namespace promsqlite::test

#endif  // PROMSQLITE_TESTS_UNREADABLE_CASES_H_
