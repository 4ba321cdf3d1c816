// The declaration-conflict rules, as pure functions of two declarations:
// may a family declared as `spec` join a file that already declares
// `stored`? The store looks up the stored families that could clash
// (ConflictCandidates), and throws what FindConflict returns. Both specs are
// normalized (declare/validate's NormalizeSpec; a spec read from the file
// is too).
#ifndef PROMSQLITE_SRC_DECLARE_CONFLICT_H_
#define PROMSQLITE_SRC_DECLARE_CONFLICT_H_

#include <optional>
#include <set>
#include <string>

#include "promsqlite/errors.h"
#include "promsqlite/family.h"

namespace promsqlite::detail {

// The family names whose declarations can conflict with a family named
// `name`: `name` itself (the same family) and every name that differs from
// it by one sample-name suffix (base/sample_suffix.h), either way: those
// may expose a name that `name` exposes too (counter "x" and gauge
// "x_total"). Sorted, so conflicts are found in one order everywhere.
std::set<std::string> ConflictCandidates(const std::string& name);

// Every name a family of `type` named `name` puts into an exposition: its
// own and its samples' (a counter's "_total" and "_created", ...).
std::set<std::string> ExposedNames(MetricType type, const std::string& name);

// True when `a` and `b` declare the same family: type, label names (in any
// order), unit, buckets (as the file stores them: Go-formatted), states,
// gauge mode, TTL and native histogram (schema, zero threshold, maximum
// buckets). Name and help are not compared.
bool SameDeclaration(const FamilySpec& a, const FamilySpec& b);

// What declaring `spec` meets in the file at `path`, which declares
// `stored`: for the same name, a conflict unless SameDeclaration (a new
// help text is no conflict); for another name, a conflict when both would
// expose one name. nullopt: no conflict.
std::optional<DeclarationConflict> FindConflict(const FamilySpec& stored, const FamilySpec& spec,
                                                const std::string& path);

// A declaration as conflict messages show it, e.g.
// "histogram h{a,b} buckets=[1,2] ttl=60s".
std::string DescribeDeclaration(const FamilySpec& spec);

}  // namespace promsqlite::detail

#endif  // PROMSQLITE_SRC_DECLARE_CONFLICT_H_
