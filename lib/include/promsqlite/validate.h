// The library's own input checks, for tools that must reject bad input
// before writing anything (the CLI declares, creates and updates in three
// steps, and a rejected value must not leave a declared family behind).
// The handles run exactly these checks themselves.
#ifndef PROMSQLITE_VALIDATE_H_
#define PROMSQLITE_VALIDATE_H_

#include <string>

#include "promsqlite/family.h"

namespace promsqlite {

// Returns `spec` as Register would store it (suffixes stripped, unit
// appended, default buckets); throws InvalidArgument when it is invalid.
FamilySpec CheckFamilySpec(FamilySpec spec);

// Throws InvalidArgument unless `labels` names exactly spec.label_names
// and every value is acceptable.
void CheckLabels(const FamilySpec& spec, const Labels& labels);

enum class Update {
  kCounterIncrement,  // finite, >= 0
  kGaugeAdd,          // not NaN
  kGaugeSet,          // anything
  kObserve,           // not NaN
};
// Throws InvalidArgument when `value` is not acceptable for `update` on
// family `name`.
void CheckValue(const std::string& name, Update update, double value);

// Throws InvalidArgument unless `exemplar` is acceptable as an exemplar's
// labels for family `name` (see Exemplars in promsqlite/metrics.h).
void CheckExemplar(const std::string& name, const Labels& exemplar);

}  // namespace promsqlite

#endif  // PROMSQLITE_VALIDATE_H_
