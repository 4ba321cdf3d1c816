#include "process_stats.h"

#include <dirent.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

namespace promsqlite_server {

namespace {

bool ReadFile(const char* path, std::string* out) {
  std::ifstream in(path);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

// Seconds since the epoch at boot, the base of /proc/self/stat's starttime.
double BootTime() {
  std::string stat;
  if (!ReadFile("/proc/stat", &stat)) return 0;
  size_t pos = stat.find("\nbtime ");
  if (pos == std::string::npos) return 0;
  return std::strtod(stat.c_str() + pos + 7, nullptr);
}

}  // namespace

bool ReadProcessStats(ProcessStats* stats, std::string* error) {
  std::string stat;
  if (!ReadFile("/proc/self/stat", &stat)) {
    *error = "cannot read /proc/self/stat";
    return false;
  }
  // The command name (field 2) is in parentheses and may hold spaces and
  // parentheses itself: fields are counted from the last ')'.
  size_t close = stat.rfind(')');
  if (close == std::string::npos) {
    *error = "cannot parse /proc/self/stat";
    return false;
  }
  std::istringstream fields(stat.substr(close + 2));
  std::vector<std::string> f;  // f[0] is field 3 (state)
  for (std::string word; fields >> word;) f.push_back(word);
  if (f.size() < 22) {
    *error = "cannot parse /proc/self/stat";
    return false;
  }
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  stats->cpu_seconds = (std::strtod(f[11].c_str(), nullptr) + std::strtod(f[12].c_str(), nullptr)) / ticks;
  stats->start_time_seconds = BootTime() + std::strtod(f[19].c_str(), nullptr) / ticks;
  stats->virtual_bytes = std::strtod(f[20].c_str(), nullptr);
  stats->resident_bytes = std::strtod(f[21].c_str(), nullptr) * page;

  if (DIR* dir = opendir("/proc/self/fd")) {
    double n = 0;
    while (dirent* entry = readdir(dir)) {
      if (entry->d_name[0] != '.') ++n;
    }
    closedir(dir);
    stats->open_fds = n - 1;  // not the one opendir itself holds
  }

  std::string limits;
  if (ReadFile("/proc/self/limits", &limits)) {
    size_t pos = limits.find("Max open files");
    if (pos != std::string::npos) {
      std::istringstream line(limits.substr(pos + 14));
      std::string soft;
      line >> soft;
      stats->max_fds = soft == "unlimited" ? 0 : std::strtod(soft.c_str(), nullptr);
    }
  }
  return true;
}

}  // namespace promsqlite_server
