// The one place where names, labels and values are checked against the
// data model. Every failure throws InvalidArgument naming the metric, the
// offending item and the rule.
#ifndef PROMSQLITE_SRC_DECLARE_VALIDATE_H_
#define PROMSQLITE_SRC_DECLARE_VALIDATE_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "promsqlite/family.h"

namespace promsqlite::detail {

// Longest label value or help text accepted, in bytes.
constexpr size_t kMaxLabelValueBytes = 64 * 1024;
constexpr size_t kMaxHelpBytes = 64 * 1024;

bool IsValidMetricName(std::string_view name);
bool IsValidLabelName(std::string_view name);
bool IsValidUtf8(std::string_view text);

// Validates `spec` and returns it in canonical form: counter "_total" and
// info "_info" suffixes stripped, unit suffix appended, default buckets
// filled in, a trailing +Inf bucket dropped.
FamilySpec NormalizeSpec(FamilySpec spec);

// A label value of family `family`, label `label`.
void ValidateLabelValue(const std::string& family, std::string_view label,
                        std::string_view value);

// Throws unless `labels` names exactly `declared` (first an undeclared
// label, then a missing one is reported).
void ValidateLabelNames(const std::string& family, const std::vector<std::string>& declared,
                        const Labels& labels);

// The same check, without allocating when the labels are right (the hot
// path): `sorted_names` are the declared names sorted, as Labels keys are;
// messages list `declared` in declaration order.
void RequireLabelNames(const std::string& family, const std::vector<std::string>& sorted_names,
                       const std::vector<std::string>& declared, const Labels& labels);

// "a, b", or "none".
std::string JoinNames(const std::vector<std::string>& names);

// The most characters (code points) an exemplar's label names and values
// may have together: OpenMetrics' limit, which the official clients enforce.
constexpr size_t kMaxExemplarCharacters = 128;

// An exemplar's labels for `what` (e.g. "Counter.Increment", or "" to
// leave it out of the message): valid label names not starting with "__"
// names, UTF-8 values, at most kMaxExemplarCharacters in all.
void ValidateExemplar(const std::string& family, const char* what, const Labels& exemplar);

// `what` is e.g. "Counter.Increment"; rejects NaN (and infinities unless
// allowed) and negative values when `non_negative`.
void ValidateValue(const std::string& family, const char* what, double value,
                   bool allow_infinite, bool non_negative);

}  // namespace promsqlite::detail

#endif  // PROMSQLITE_SRC_DECLARE_VALIDATE_H_
