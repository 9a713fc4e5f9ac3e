#include "ops/secret_files.h"

#include <sys/stat.h>

#include <mutex>
#include <set>

#include "evt/log.h"

namespace evt {

bool ReadableByOthers(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && (st.st_mode & S_IROTH) != 0;
}

bool WarnIfReadableByOthers(const std::string& path) {
  if (path.empty() || !ReadableByOthers(path)) return false;
  static std::mutex mu;
  static std::set<std::string> warned;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (!warned.insert(path).second) return false;
  }
  Log(LogLevel::kWarn, "a file with secrets is readable by every user: chmod o-r it",
      {{"file", path}});
  return true;
}

}  // namespace evt
