#include "read_errors.h"

#include <vector>

#include "log.h"

namespace promsqlite_server {

size_t ReadErrors::Record(const promsqlite::SkippedRows& skipped, double now,
                          std::chrono::steady_clock::time_point clock) {
  std::lock_guard<std::mutex> lock(mu_);
  last_ = skipped;
  last_time_ = now;
  for (auto it = logged_.begin(); it != logged_.end();) {
    if (clock - it->second >= kLogInterval) it = logged_.erase(it);
    else ++it;
  }
  if (skipped.empty()) return 0;
  // The listed rows by problem, each with how many rows have it and the
  // first one's key, in the order they were met.
  struct Group {
    Problem problem;
    int64_t rows = 0;
    std::string first_key;
  };
  std::vector<Group> groups;
  std::map<Problem, size_t> index;
  for (const promsqlite::UnreadableRow& row : skipped.listed) {
    Problem problem{row.table, row.family, row.problem};
    auto [at, added] = index.emplace(problem, groups.size());
    if (added) groups.push_back(Group{problem, 0, row.key});
    ++groups[at->second].rows;
  }
  size_t lines = 0, unsaid = 0;
  for (const Group& group : groups) {
    if (logged_.count(group.problem)) continue;
    if (lines == kMaxLinesPerScrape) {
      ++unsaid;
      continue;
    }
    ++lines;
    logged_.emplace(group.problem, clock);
    const auto& [table, family, problem] = group.problem;
    Log(LogLevel::kWarn, "rows of the file cannot be read: left out of the scrape",
        {{"family", family}, {"table", table}, {"problem", problem}, {"rows", std::to_string(group.rows)},
         {"first", group.first_key}, {"fix", "promsqlite check --repair"}});
  }
  const int64_t unlisted = skipped.total() - static_cast<int64_t>(skipped.listed.size());
  if ((unsaid > 0 || unlisted > 0) && clock - summary_logged_ >= kLogInterval) {
    summary_logged_ = clock;
    Log(LogLevel::kWarn, "more rows of the file cannot be read: see the landing page or promsqlite check",
        {{"rows", std::to_string(skipped.total())}, {"problems_not_logged", std::to_string(unsaid)},
         {"rows_not_listed", std::to_string(unlisted)}});
    ++lines;
  }
  return lines;
}

promsqlite::SkippedRows ReadErrors::Last(double* when) const {
  std::lock_guard<std::mutex> lock(mu_);
  *when = last_time_;
  return last_;
}

promsqlite::MemoryFamily ReadErrors::Metric(const promsqlite::SkippedRows& skipped) {
  promsqlite::MemoryFamily family;
  family.spec.type = promsqlite::MetricType::kGauge;
  family.spec.name = "promsqlite_file_read_errors";
  family.spec.help =
      "Rows of the file this scrape left out because they cannot be read, by family (promsqlite check lists them).";
  family.spec.label_names = {"family"};
  for (const auto& [name, rows] : skipped.per_family)
    family.samples.push_back({{name}, static_cast<double>(rows), 0});
  return family;
}

}  // namespace promsqlite_server
