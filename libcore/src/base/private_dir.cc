#include "base/private_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace evt {
namespace {

std::string Parent(const std::string& path) {
  std::size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

Status SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::IOError("cannot open folder " + dir + ": " + std::strerror(errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return Status::IOError("cannot fsync folder " + dir + ": " + std::strerror(err));
  return Status::Ok();
}

Status MakePrivateDirs(const std::string& dir, const std::string& option) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) return Status::IOError(option + ": " + dir + " is not a folder");
    return Status::Ok();
  }
  if (errno != ENOENT && errno != ENOTDIR) {
    return Status::IOError(option + ": cannot use folder " + dir + ": " + std::strerror(errno));
  }
  std::string parent = Parent(dir);
  if (parent != dir) {
    if (Status s = MakePrivateDirs(parent, option); !s.ok()) return s;
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Status::IOError(option + ": cannot create folder " + dir + ": " + std::strerror(errno));
  }
  if (::chmod(dir.c_str(), 0700) != 0) {
    return Status::IOError(option + ": cannot chmod folder " + dir + ": " + std::strerror(errno));
  }
  if (Status s = SyncDir(parent); !s.ok()) return Status::IOError(option + ": " + s.message());
  return Status::Ok();
}

}  // namespace evt
