#include "ops/metrics_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "base/fd.h"

namespace evt {
namespace {

Status Fail(const std::string& path, const char* what) {
  return Status::IOError(path + ": " + what + ": " + std::strerror(errno));
}

std::string Folder(const std::string& path) {
  std::size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

Status WriteAll(int fd, std::string_view text, const std::string& path) {
  while (!text.empty()) {
    ssize_t n = write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Fail(path, "write");
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  return Status::Ok();
}

}  // namespace

Status WriteFileAtomically(const std::string& path, std::string_view text) {
  // A name that starts with '.' and does not end in .prom, so that the textfile collector
  // never reads a half-written temporary file.
  const std::string folder = Folder(path);
  std::string name = path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
  std::string tmpl = folder + "/." + name + ".XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  Fd fd(mkostemp(buf.data(), O_CLOEXEC));
  if (!fd.valid()) return Fail(path, "cannot create a temporary file");
  const std::string tmp(buf.data());
  Status s = WriteAll(fd.get(), text, path);
  if (s.ok() && fchmod(fd.get(), 0644) != 0) s = Fail(path, "chmod");
  if (s.ok() && fsync(fd.get()) != 0) s = Fail(path, "fsync");
  if (s.ok() && rename(tmp.c_str(), path.c_str()) != 0) s = Fail(path, "rename");
  if (!s.ok()) unlink(tmp.c_str());
  return s;
}

}  // namespace evt
