// A dead-letter file as a QueueAdmin. A stdio evt-work appends records with O_APPEND while
// this runs, so a purge never rewrites a line it did not read as it is now: it deletes a
// line only when its text is still the one listed, and copies what was appended since it
// read the file into the new file before the rename (a record appended in the last
// instant before the rename is the one window left; evt-dlq(1) says to purge a file no
// worker is writing).
#include "admin/admin_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <set>

#include "evt/log.h"

namespace evt {
namespace {

Status ReadAll(int fd, const std::string& name, std::string* out) {
  char buf[65536];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::IOError(name + ": cannot read: " + std::strerror(errno));
    if (n == 0) return Status::Ok();
    out->append(buf, static_cast<std::size_t>(n));
  }
}

Status WriteAll(int fd, const std::string& name, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::IOError(name + ": cannot write: " + std::strerror(errno));
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return Status::Ok();
}

bool Blank(std::string_view s) { return s.find_first_not_of(" \t\r") == std::string_view::npos; }

// Splits `text` into lines (without '\n'); a last line without a newline counts.
std::vector<std::string_view> SplitLines(std::string_view text) {
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

std::string Folder(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

class FileAdmin : public QueueAdmin {
 public:
  explicit FileAdmin(std::string path) : path_(std::move(path)) {}

  Status Load() {
    std::string text;
    if (path_ == "-") {
      if (Status s = ReadAll(STDIN_FILENO, "stdin", &text); !s.ok()) return s;
    } else {
      int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        const int e = errno;
        if (e == ENOENT) return Status::NotFound(path_ + ": no such file");
        return Status::IOError(path_ + ": cannot open: " + std::strerror(e));
      }
      Status s = ReadAll(fd, path_, &text);
      ::close(fd);
      if (!s.ok()) return s;
    }
    std::vector<std::string_view> lines = SplitLines(text);
    for (std::size_t i = 0; i < lines.size(); ++i) {
      if (Blank(lines[i])) continue;
      const std::string number = std::to_string(i + 1);
      Result<Json> j = ParseJson(lines[i]);
      Result<DeadLetterRecord> r =
          j.ok() ? DeadLetterFromJson(*j) : Result<DeadLetterRecord>(j.status());
      if (!r.ok()) {
        Log(LogLevel::kWarn, Describe() + " line " + number + ": " + r.status().message());
        continue;
      }
      r->id = number;
      texts_[i + 1] = std::string(lines[i]);
      records_.push_back(std::move(*r));
    }
    return Status::Ok();
  }

  std::string Describe() const override { return path_ == "-" ? "stdin" : path_; }

  Result<std::vector<DeadLetterRecord>> ListDeadLetters(const RecordFilter& filter) override {
    std::vector<DeadLetterRecord> out;
    for (const DeadLetterRecord& r : records_) {
      if (filter.limit != 0 && out.size() >= filter.limit) break;
      if (RecordMatches(filter, r)) out.push_back(r);
    }
    return out;
  }

  Result<std::int64_t> PurgeDeadLetters(const std::vector<std::string>& ids) override {
    if (path_ == "-") return Status::Usage("cannot purge standard input: name the file");
    std::set<std::size_t> doomed;
    for (const std::string& id : ids) {
      char* end = nullptr;
      const unsigned long long n = std::strtoull(id.c_str(), &end, 10);
      if (!id.empty() && *end == '\0' && texts_.count(n) != 0) doomed.insert(n);
    }
    if (doomed.empty()) return std::int64_t{0};
    return Rewrite(doomed);
  }

  Result<bool> MoveDeadLetter(const std::string&, const std::string&, const std::string&,
                              bool) override {
    return NoQueue();
  }
  Status Enqueue(const std::string&) override { return NoQueue(); }
  Result<std::vector<HistoryRecord>> ReadHistory(const RecordFilter&) override { return NoQueue(); }

  Result<std::vector<bool>> DoneKeys(const std::vector<std::string>& keys) override {
    return std::vector<bool>(keys.size(), false);
  }

  Status AppendAudit(const AuditRecord& a) override {
    if (path_ == "-") return Status::Ok();
    Json j;
    j["at"] = FormatRfc3339Millis(a.at);
    j["action"] = a.action;
    j["id"] = a.id;
    j["user"] = a.user;
    j["host"] = a.host;
    j["source"] = a.source;
    if (!a.target.empty()) j["target"] = a.target;
    j["filters"] = a.filters;
    j["count"] = a.count;
    if (a.action == "replay") {
      j["skipped"] = a.skipped;
      j["failed"] = a.failed;
    }
    if (!a.note.empty()) j["note"] = a.note;
    const std::string name = path_ + ".audit";
    int fd = ::open(name.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return Status::IOError(name + ": cannot open: " + std::strerror(errno));
    Status s = WriteAll(fd, name, j.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n");
    if (s.ok() && ::fdatasync(fd) != 0) {
      s = Status::IOError(name + ": cannot sync: " + std::strerror(errno));
    }
    ::close(fd);
    return s;
  }

 private:
  Status NoQueue() const {
    return Status::Usage(Describe() + " is a dead-letter file, not a queue: give --broker");
  }

  // Writes the file again without the lines in `doomed` whose text is unchanged; see the
  // file comment.
  Result<std::int64_t> Rewrite(const std::set<std::size_t>& doomed) {
    int in = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (in < 0) return Status::IOError(path_ + ": cannot open: " + std::strerror(errno));
    std::string text;
    Status s = ReadAll(in, path_, &text);
    struct stat st {};
    if (s.ok() && ::fstat(in, &st) != 0) s = Status::IOError(path_ + ": cannot stat");
    if (!s.ok()) {
      ::close(in);
      return s;
    }
    std::string kept;
    std::int64_t deleted = 0;
    std::vector<std::string_view> lines = SplitLines(text);
    for (std::size_t i = 0; i < lines.size(); ++i) {
      auto it = texts_.find(i + 1);
      if (doomed.count(i + 1) != 0 && it != texts_.end() && it->second == lines[i]) {
        ++deleted;
        continue;
      }
      kept.append(lines[i]).push_back('\n');
    }
    if (!text.empty() && text.back() != '\n' && !kept.empty()) kept.pop_back();
    std::string tmp = path_ + ".tmp.XXXXXX";
    int out = ::mkstemp(tmp.data());
    if (out < 0) {
      ::close(in);
      return Status::IOError(path_ +
                             ": cannot create a temporary file beside it: " + std::strerror(errno));
    }
    ::fchmod(out, st.st_mode & 07777);
    s = WriteAll(out, tmp, kept);
    // What a worker appended after the read above goes into the new file as well.
    off_t done = static_cast<off_t>(text.size());
    while (s.ok()) {
      std::string more;
      if (::lseek(in, done, SEEK_SET) < 0) break;
      s = ReadAll(in, path_, &more);
      if (!s.ok() || more.empty()) break;
      done += static_cast<off_t>(more.size());
      s = WriteAll(out, tmp, more);
    }
    if (s.ok() && ::fsync(out) != 0) s = Status::IOError(tmp + ": cannot sync");
    ::close(out);
    ::close(in);
    if (s.ok() && ::rename(tmp.c_str(), path_.c_str()) != 0) {
      s = Status::IOError(path_ + ": cannot replace: " + std::strerror(errno));
    }
    if (!s.ok()) {
      ::unlink(tmp.c_str());
      return s;
    }
    int dir = ::open(Folder(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {
      ::fsync(dir);
      ::close(dir);
    }
    return deleted;
  }

  std::string path_;
  std::vector<DeadLetterRecord> records_;
  std::map<std::size_t, std::string> texts_;  // line number -> its text, as listed
};

}  // namespace

Result<std::unique_ptr<QueueAdmin>> OpenFileAdmin(const std::string& path) {
  auto admin = std::make_unique<FileAdmin>(path);
  if (Status s = admin->Load(); !s.ok()) return s;
  return std::unique_ptr<QueueAdmin>(std::move(admin));
}

}  // namespace evt
