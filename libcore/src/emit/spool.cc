#include "evt/spool.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "base/fd.h"
#include "base/private_dir.h"
#include "evt/log.h"
#include "evt/ndjson.h"

namespace evt {
namespace {

// Spool lines were validated when they were appended, under that run's --max-event-bytes;
// reading them back must not refuse a big one a generous run let in.
constexpr std::size_t kMaxSpoolLine = std::size_t{64} * 1024 * 1024 + 4096;

Status Errno(const std::string& what, const std::string& path) {
  return Status::IOError(what + " " + path + ": " + std::strerror(errno));
}

Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("cannot write", path);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return Status::Ok();
}

// Holds the exclusive flock on DIR/lock while it lives.
class DirLock {
 public:
  static Result<std::unique_ptr<DirLock>> Take(const std::string& dir) {
    std::string path = dir + "/lock";
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return Errno("cannot open", path);
    auto lock = std::unique_ptr<DirLock>(new DirLock(fd));
    while (::flock(fd, LOCK_EX) != 0) {
      if (errno != EINTR) return Errno("cannot lock", path);
    }
    return lock;
  }

 private:
  explicit DirLock(int fd) : fd_(fd) {}
  Fd fd_;  // closing it releases the lock
};

// Opens `path` for appending (and reading its last byte), creating it 0600. Sets *created when it
// did not exist.
Result<int> OpenForAppend(const std::string& path, bool* created) {
  *created = false;
  int fd = ::open(path.c_str(), O_RDWR | O_APPEND | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    fd = ::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
      *created = true;
      if (::fchmod(fd, 0600) != 0) {
        Status s = Errno("cannot chmod", path);
        ::close(fd);
        return s;
      }
    }
  }
  if (fd < 0) return Errno("cannot open", path);
  return fd;
}

// Appends `text` to DIR/<name> durably, all or nothing: on any failure (a full disk, an
// I/O error) the file is cut back to its size before the call, so that no line the caller
// reports as not kept is ever read back and sent. A file whose last line was torn by a
// crash gets a newline first, so that the new lines never glue onto it.
Status AppendDurably(const std::string& dir, const std::string& name, std::string text) {
  const std::string path = dir + "/" + name;
  bool created = false;
  Result<int> opened = OpenForAppend(path, &created);
  if (!opened.ok()) return opened.status();
  Fd fd(*opened);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return Errno("cannot stat", path);
  const off_t before = st.st_size;
  if (before > 0) {
    char last = '\n';
    if (::pread(fd.get(), &last, 1, before - 1) == 1 && last != '\n') text.insert(0, "\n");
  }
  Status s = WriteAll(fd.get(), text, path);
  if (s.ok() && ::fsync(fd.get()) != 0) s = Errno("cannot fsync", path);
  if (!s.ok()) {
    // Best effort: shrinking needs no room. Should it fail too, the file may hold part of
    // the batch, and the message says so.
    if (::ftruncate(fd.get(), before) != 0 || ::fsync(fd.get()) != 0) {
      return Status::IOError(s.message() + "; and cannot cut " + path + " back to " +
                             std::to_string(before) + " bytes (" + std::strerror(errno) +
                             "): part of the batch may be in it");
    }
    return s;
  }
  return created ? SyncDir(dir) : Status::Ok();
}

}  // namespace

std::string SpoolLine(const Publication& entry) {
  if (entry.due_ms == 0) return Serialize(entry.event);
  Json envelope = Json::object();
  envelope["due_at"] = FormatRfc3339Millis(entry.due_ms);
  envelope["event"] = entry.event.doc;
  return envelope.dump();
}

Result<Publication> ParseSpoolLine(std::string_view line) {
  Result<Json> parsed = ParseJson(line);  // linear on wide objects, unlike Json::parse
  if (!parsed.ok() || !parsed->is_object()) return Status::InvalidArgument("not a JSON object");
  Json& doc = *parsed;
  EventDefaults defaults;
  defaults.max_event_bytes = kMaxSpoolLine;
  Publication p;
  if (!doc.contains("event_type") && doc.contains("event") && doc.contains("due_at")) {
    if (!doc["due_at"].is_string()) return Status::InvalidArgument("due_at: not a string");
    Result<UnixMillis> due = ParseRfc3339(doc["due_at"].get<std::string>());
    if (!due.ok()) return Status::InvalidArgument("due_at: " + due.status().message());
    Result<Event> ev = MakeEvent(std::move(doc["event"]), defaults);
    if (!ev.ok()) return ev.status();
    p.event = std::move(*ev);
    p.due_ms = *due;
    return p;
  }
  Result<Event> ev = MakeEvent(std::move(doc), defaults);
  if (!ev.ok()) return ev.status();
  p.event = std::move(*ev);
  return p;
}

Result<Spool> Spool::Open(const std::string& dir) {
  if (dir.empty()) return Status::Usage("--spool: empty folder name");
  std::string clean = dir;
  while (clean.size() > 1 && clean.back() == '/') clean.pop_back();
  if (Status s = MakePrivateDirs(clean, "--spool " + dir); !s.ok()) return s;
  // A folder this process cannot write to is found now, while a run can still do without it
  // (publish straight to a reachable broker), not when an outage needs it.
  const std::string lock = clean + "/lock";
  Fd fd(::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (fd.get() < 0) return Errno("--spool " + dir + ": cannot create", lock);
  return Spool(clean);
}

Status Spool::Append(const std::vector<Publication>& entries) {
  if (entries.empty()) return Status::Ok();
  std::string text;
  for (const Publication& p : entries) {
    text += SpoolLine(p);
    text += '\n';
  }
  Result<std::unique_ptr<DirLock>> lock = DirLock::Take(dir_);
  if (!lock.ok()) return lock.status();
  return AppendDurably(dir_, "spool.ndjson", std::move(text));
}

namespace {

// Reads the next `round` readable lines of the spool into *pending; an unreadable line is
// moved to DIR/rejected.ndjson. Sets *eof at the end of the file.
Status ReadRound(LineReader* reader, const std::string& dir, std::size_t round,
                 std::vector<Publication>* pending, bool* eof) {
  Line line;
  while (pending->size() < round) {
    LineReader::State st = reader->Next(&line);
    if (st == LineReader::State::kWouldBlock) continue;
    if (st == LineReader::State::kEof) {
      *eof = true;
      return Status::Ok();
    }
    if (st == LineReader::State::kError) return reader->status();
    Result<Publication> p =
        line.too_long ? Result<Publication>(Status::InvalidArgument(
                            "line longer than " + std::to_string(kMaxSpoolLine) + " bytes"))
                      : ParseSpoolLine(line.text);
    if (p.ok()) {
      pending->push_back(std::move(*p));
      continue;
    }
    std::string keep = line.too_long ? std::string("{}") : std::string(line.text);
    if (Status s = AppendDurably(dir, "rejected.ndjson", keep + "\n"); !s.ok()) {
      // Nothing was moved: the line stays in the spool for a later flush.
      return Status::IOError("spool line " + std::to_string(line.number) + " is unreadable (" +
                             p.status().message() + ") and cannot be set aside in " + dir +
                             "/rejected.ndjson: " + s.message());
    }
    Log(LogLevel::kError, "spool line unreadable, moved to " + dir + "/rejected.ndjson",
        {{"line", line.number}, {"error", p.status().message()}});
  }
  return Status::Ok();
}

// Replaces the spool file `path` with what was not accepted, in order: pending[accepted..],
// then the lines `reader` has not read yet. Durable once it returns OK.
Status KeepUnsent(const std::string& dir, const std::string& path, LineReader* reader,
                  const std::vector<Publication>& pending, std::size_t accepted) {
  const std::string tmp = path + ".tmp";
  Fd out(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (out.get() < 0) return Errno("cannot create", tmp);
  std::string text;
  for (std::size_t i = accepted; i < pending.size(); ++i) text += SpoolLine(pending[i]) + "\n";
  Line line;
  while (true) {
    LineReader::State st = reader->Next(&line);
    if (st == LineReader::State::kWouldBlock) continue;
    if (st == LineReader::State::kEof) break;
    if (st == LineReader::State::kError) return reader->status();
    if (!line.too_long) text.append(line.text).append("\n");
    if (text.size() >= (1 << 20)) {
      if (Status w = WriteAll(out.get(), text, tmp); !w.ok()) return w;
      text.clear();
    }
  }
  if (Status w = WriteAll(out.get(), text, tmp); !w.ok()) return w;
  if (::fsync(out.get()) != 0) return Errno("cannot fsync", tmp);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Errno("cannot rename", tmp);
  return SyncDir(dir);
}

}  // namespace

Status Spool::Flush(EventPublisher* publisher, std::size_t round, std::size_t* sent) {
  *sent = 0;
  Result<std::unique_ptr<DirLock>> lock = DirLock::Take(dir_);
  if (!lock.ok()) return lock.status();
  const std::string path = file();
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return errno == ENOENT ? Status::Ok() : Errno("cannot open", path);
  LineReader reader(fd.get(), kMaxSpoolLine);
  std::vector<Publication> pending;
  bool eof = false;
  while (!eof) {
    pending.clear();
    if (Status r = ReadRound(&reader, dir_, round, &pending, &eof); !r.ok()) return r;
    std::size_t accepted = 0;
    Status s = pending.empty() ? Status::Ok() : publisher->Publish(pending, &accepted);
    *sent += accepted;
    if (s.ok()) continue;
    if (Status k = KeepUnsent(dir_, path, &reader, pending, accepted); !k.ok()) {
      ::unlink((path + ".tmp").c_str());  // the spool file is as it was: nothing lost
      return Status(s.kind(), s.message() + "; and " + k.message() + " (the " +
                                  std::to_string(*sent) + " event(s) sent go again next time)");
    }
    return s;
  }
  if (::unlink(path.c_str()) != 0) return Errno("cannot remove", path);
  return SyncDir(dir_);
}

}  // namespace evt
