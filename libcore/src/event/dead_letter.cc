#include "evt/dead_letter.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/private_dir.h"

namespace evt {
namespace {

constexpr std::size_t kMaxRawBytes = 64 * 1024;

}  // namespace

std::string SerializeDeadLetter(const DeadLetter& d) {
  Json j;
  j["failed_at"] = FormatRfc3339Millis(d.failed_at);
  j["reason"] = DeadReasonName(d.reason);
  j["category"] = CategoryName(d.category);
  j["attempts"] = d.attempts;
  j["error"] = d.error;
  if (!d.consumer.empty()) j["consumer"] = d.consumer;
  if (d.event.is_object()) {
    auto id = d.event.find("event_id");
    if (id != d.event.end() && id->is_string()) j["event_id"] = *id;
    auto type = d.event.find("event_type");
    if (type != d.event.end() && type->is_string()) j["event_type"] = *type;
  }
  if (d.line != 0) j["line"] = d.line;
  if (!d.event.is_null()) {
    j["event"] = d.event;
  } else {
    j["raw"] = d.raw.size() > kMaxRawBytes ? d.raw.substr(0, kMaxRawBytes) : d.raw;
  }
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

DeadLetterSink::~DeadLetterSink() {
  if (owned_ && fd_ >= 0) ::close(fd_);
}

Status DeadLetterSink::Open(const std::string& path) {
  if (path.empty()) {
    fd_ = STDERR_FILENO;
    owned_ = false;
    name_ = "stderr";
    return Status::Ok();
  }
  // A missing folder is created as --spool's is (0700), and failures are worded alike.
  const std::size_t slash = path.find_last_of('/');
  if (slash != std::string::npos && slash > 0) {
    if (Status s = MakePrivateDirs(path.substr(0, slash), "--dlq " + path); !s.ok()) return s;
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IOError("--dlq " + path + ": cannot open: " + std::strerror(errno));
  fd_ = fd;
  owned_ = true;
  name_ = path;
  return Status::Ok();
}

Status DeadLetterSink::Append(const DeadLetter& d) {
  std::string line = SerializeDeadLetter(d);
  line.push_back('\n');
  // One write: O_APPEND makes the record land whole at the end, even with other writers.
  std::size_t off = 0;
  while (off < line.size()) {
    ssize_t n = ::write(fd_, line.data() + off, line.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::IOError("cannot write dead letter to " + name_ + ": " + std::strerror(errno));
    }
    off += static_cast<std::size_t>(n);
  }
  if (owned_ && ::fdatasync(fd_) != 0) {
    return Status::IOError("cannot sync dead-letter file " + name_ + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

}  // namespace evt
