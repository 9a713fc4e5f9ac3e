#include "worker/outcome_journal.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <map>
#include <random>

#include "evt/event.h"
#include "worker/journal_codec.h"

namespace evt {
namespace {

std::string Errno() { return std::strerror(errno); }

// A journal past this size is rewritten with only its live records (see Rewrite).
constexpr off_t kRewriteBytes = 1 << 20;
// A journal with nothing live is cut to nothing once it is past this size. Not at every
// empty moment: ftruncate waits for the file system's running commit, which the
// fdatasync of another thread's Append has usually just started, and it holds mu_
// meanwhile (measured: 12 ms stalls at 4 threads). A retire line costs a write(2).
constexpr off_t kEmptyBytes = 256 << 10;

// Writes all of `data` at the end of `fd` (O_APPEND). On failure, cuts the file back to
// `size_before`, so a half-written line never stays in the middle of the journal.
bool WriteAll(int fd, const std::string& data, off_t size_before) {
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int saved = errno != 0 ? errno : ENOSPC;
      if (size_before >= 0) {
        [[maybe_unused]] int rc = ::ftruncate(fd, size_before);
      }
      errno = saved;
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  return true;
}

bool ReadAll(int fd, std::string* out) {
  out->clear();
  char buf[65536];
  off_t offset = 0;
  while (true) {
    ssize_t n = ::pread(fd, buf, sizeof buf, offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) return true;
    out->append(buf, static_cast<std::size_t>(n));
    offset += n;
  }
}

std::string RandomHex() {
  std::random_device rd;
  std::uint64_t v = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

void SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

bool EndsWith(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

}  // namespace

Result<std::string> DefaultStateDir(bool root, const char* xdg_state_home, const char* home) {
  if (root) return std::string("/var/lib/evt");
  // The XDG base directory spec: a relative path in the variable is invalid and ignored.
  if (xdg_state_home != nullptr && xdg_state_home[0] == '/') {
    return std::string(xdg_state_home) + "/evt";
  }
  if (home != nullptr && home[0] == '/') return std::string(home) + "/.local/state/evt";
  return Status::Config(
      "no state folder for the outcome journal: HOME is not set; give --state-dir or "
      "EVT_STATE_DIR");
}

Result<std::string> DefaultStateDir() {
  return DefaultStateDir(::geteuid() == 0, std::getenv("XDG_STATE_HOME"), std::getenv("HOME"));
}

Status PrepareStateDir(const std::string& dir) {
  auto fail = [&](const std::string& what) {
    return Status::Config("--state-dir " + dir + ": " + what + ": " + Errno());
  };
  if (dir.empty()) return Status::Config("--state-dir: must not be empty");
  // Parents as `mkdir -p` makes them; the state folder itself private to its user.
  for (std::size_t pos = dir.find('/', 1); pos != std::string::npos; pos = dir.find('/', pos + 1)) {
    const std::string parent = dir.substr(0, pos);
    if (::mkdir(parent.c_str(), 0755) != 0 && errno != EEXIST) return fail("cannot create");
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return fail("cannot create");
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return fail("cannot create");
  if (!S_ISDIR(st.st_mode)) {
    errno = ENOTDIR;
    return fail("cannot create");
  }
  // access() says yes to root everywhere; a real file tells the truth (read-only mounts).
  const std::string probe = dir + "/.probe-" + std::to_string(::getpid()) + "-" + RandomHex();
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return fail("cannot write");
  ::close(fd);
  ::unlink(probe.c_str());
  return Status::Ok();
}

std::string JournalScopeName(const std::string& scope) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(scope.data()), scope.size(), digest);
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 8; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 15]);
  }
  return out;
}

Result<std::unique_ptr<OutcomeJournal>> OutcomeJournal::Create(const std::string& dir,
                                                               const std::string& scope) {
  const std::string name = JournalScopeName(scope) + "-" + std::to_string(::getpid()) + "-" +
                           RandomHex().substr(0, 8) + ".journal";
  const std::string path = dir + "/" + name;
  // Created and locked under a name AdoptOrphans ignores, then renamed: no other worker can
  // take the lock of a new journal in the moment between its creation and its flock.
  const std::string tmp = dir + "/." + name + ".new";
  auto fail = [&](const std::string& what) -> Status {
    return Status::Config("--state-dir " + dir + ": " + what + " " + path + ": " + Errno());
  };
  int fd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return fail("cannot create");
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    Status s = fail("cannot lock");
    ::close(fd);
    ::unlink(tmp.c_str());
    return s;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Status s = fail("cannot create");
    ::close(fd);
    ::unlink(tmp.c_str());
    return s;
  }
  SyncDir(dir);
  return std::unique_ptr<OutcomeJournal>(new OutcomeJournal(fd, path, scope));
}

namespace {

// Opens and locks the journal `path` of a process that is gone. -1 when its process lives,
// the file is gone, or the name no longer means the file locked.
int LockOrphan(const std::string& path, off_t* size) {
  int fd = ::open(path.c_str(), O_RDWR | O_APPEND | O_CLOEXEC);
  if (fd < 0) return -1;  // gone meanwhile
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);  // its process lives
    return -1;
  }
  // The lock is ours; make sure the name still means this file (its owner or another
  // adopter may have removed it between our open and our lock).
  struct stat by_fd {};
  struct stat by_name {};
  if (::fstat(fd, &by_fd) != 0 || ::stat(path.c_str(), &by_name) != 0 ||
      by_fd.st_ino != by_name.st_ino || by_fd.st_dev != by_name.st_dev) {
    ::close(fd);
    return -1;
  }
  *size = by_fd.st_size;
  return fd;
}

// The whole lines of `fd`; a torn last line is cut off, so that what is appended stays on
// lines of its own. False when the file cannot be read or cut.
bool ReadWholeLines(int fd, std::string* text) {
  if (!ReadAll(fd, text)) return false;
  std::size_t whole = text->rfind('\n');
  whole = whole == std::string::npos ? 0 : whole + 1;
  if (whole < text->size() && ::ftruncate(fd, static_cast<off_t>(whole)) != 0) return false;
  text->resize(whole);
  return true;
}

Result<std::vector<std::string>> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return Status::IOError("--state-dir " + dir + ": cannot read: " + Errno());
  while (dirent* e = ::readdir(d)) names.emplace_back(e->d_name);
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

std::unique_ptr<OutcomeJournal> OutcomeJournal::Adopt(int fd, const std::string& path,
                                                      const std::string& scope) {
  std::string text;
  if (!ReadWholeLines(fd, &text)) {
    ::close(fd);  // left as it is for a later start
    return nullptr;
  }
  JournalContents contents = ParseJournal(text, scope);
  std::unique_ptr<OutcomeJournal> j(new OutcomeJournal(fd, path, scope));
  j->next_seq_ = contents.max_seq + 1;
  j->size_ = static_cast<off_t>(text.size());
  for (auto& [seq, r] : contents.live) j->live_.emplace(seq, std::move(r));
  if (j->live_.empty()) {
    j->Close();  // nothing to replay: removed
    return nullptr;
  }
  return j;
}

Result<std::vector<std::unique_ptr<OutcomeJournal>>> OutcomeJournal::AdoptOrphans(
    const std::string& dir, const std::string& scope) {
  const std::string prefix = JournalScopeName(scope) + "-";
  Result<std::vector<std::string>> names = ListDir(dir);
  if (!names.ok()) return names.status();
  std::vector<std::unique_ptr<OutcomeJournal>> out;
  for (const std::string& name : *names) {
    // Journals of this scope are adopted; an empty one of another scope, whose worker is
    // gone, is only removed, so that killed workers of other queues leave no litter.
    if (!EndsWith(name, ".journal") || name.size() < prefix.size() ||
        name[prefix.size() - 1] != '-' || name.front() == '.') {
      continue;
    }
    const std::string path = dir + "/" + name;
    off_t size = 0;
    const int fd = LockOrphan(path, &size);
    if (fd < 0) continue;
    if (name.rfind(prefix, 0) != 0) {
      if (size == 0) ::unlink(path.c_str());
      ::close(fd);
      continue;
    }
    if (std::unique_ptr<OutcomeJournal> j = Adopt(fd, path, scope)) out.push_back(std::move(j));
  }
  return out;
}

OutcomeJournal::~OutcomeJournal() { Close(); }

void OutcomeJournal::Close() {
  std::lock_guard<std::mutex> lock(mu_);
  if (fd_ < 0) return;
  // Unlinked while still locked: an adopter that opened it meanwhile sees the name gone.
  if (live_.empty()) ::unlink(path_.c_str());
  ::close(fd_);
  fd_ = -1;
}

Status OutcomeJournal::WriteLine(const std::string& json) { return WriteText(JournalLine(json)); }

Status OutcomeJournal::WriteText(const std::string& lines) {
  if (fd_ < 0) return Status::IOError("outcome journal " + path_ + ": closed");
  const off_t size_before = size_;  // O_APPEND, and no one else writes the file
  if (!WriteAll(fd_, lines, size_before)) {
    return Status::IOError("outcome journal " + path_ + ": cannot write: " + Errno());
  }
  size_ = size_before + static_cast<off_t>(lines.size());
  return Status::Ok();
}

// Writes the live records to a new file that takes this one's name (and, locked before
// the rename, its place): a journal that never empties, under steady load, stays small.
Status OutcomeJournal::Rewrite() {
  const std::string tmp = path_ + ".new";  // not a journal name: no adopter looks at it
  auto fail = [&](const char* what) {
    return Status::IOError("outcome journal " + tmp + ": cannot " + what + ": " + Errno());
  };
  int fd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return fail("create");
  std::string text;
  for (const auto& [seq, r] : live_) {
    text += JournalLine(JournalOutcomeJson(r, scope_));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0 || !WriteAll(fd, text, -1) || ::fdatasync(fd) != 0 ||
      ::rename(tmp.c_str(), path_.c_str()) != 0) {
    Status s = fail("write");
    ::close(fd);
    ::unlink(tmp.c_str());
    return s;
  }
  ::close(fd_);
  fd_ = fd;
  size_ = static_cast<off_t>(text.size());
  synced_ = written_;  // every line written so far is live, and so in the synced new file
  sync_cv_.notify_all();
  return Status::Ok();
}

// Group commit: one fdatasync covers every line written before it started, so threads
// that finish at once wait for one sync, not for one each.
bool OutcomeJournal::SyncLocked(std::unique_lock<std::mutex>& lock, std::uint64_t mine) {
  while (synced_ < mine && failed_ < mine) {
    if (syncing_) {
      sync_cv_.wait(lock);
      continue;
    }
    syncing_ = true;
    const std::uint64_t upto = written_;
    const int fd = fd_;
    lock.unlock();
    const bool ok = ::fdatasync(fd) == 0;
    const std::string error = ok ? std::string() : Errno();
    lock.lock();
    syncing_ = false;
    if (ok) {
      synced_ = std::max(synced_, upto);
    } else {
      failed_ = std::max(failed_, upto);
      sync_error_ = error;
    }
    sync_cv_.notify_all();
  }
  return failed_ < mine;
}

Status OutcomeJournal::Append(JournalRecord* record) {
  return Append(std::vector<JournalRecord*>{record});
}

Status OutcomeJournal::Append(const std::vector<JournalRecord*>& records) {
  std::unique_lock<std::mutex> lock(mu_);
  std::string lines;
  std::uint64_t seq = next_seq_;
  for (JournalRecord* r : records) {
    r->seq = seq++;
    lines += JournalLine(JournalOutcomeJson(*r, scope_));
  }
  if (Status s = WriteText(lines); !s.ok()) return s;
  next_seq_ = seq;
  // Live before the sync, so that a Retire cannot empty the file now.
  for (JournalRecord* r : records) live_.emplace(r->seq, *r);
  if (SyncLocked(lock, ++written_)) return Status::Ok();
  // Not on disk for sure: committed without the journal (the lines may stay in the file;
  // replaying them later is harmless).
  for (JournalRecord* r : records) live_.erase(r->seq);
  return Status::IOError("outcome journal " + path_ + ": cannot sync: " + sync_error_);
}

Status OutcomeJournal::Retire(std::uint64_t seq) { return Retire(std::vector<std::uint64_t>{seq}); }

Status OutcomeJournal::Retire(const std::vector<std::uint64_t>& seqs) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string lines;
  for (std::uint64_t seq : seqs) {
    if (live_.erase(seq) > 0) lines += JournalLine(JournalRetireJson(seq));
  }
  if (lines.empty()) return Status::Ok();
  if (live_.empty() && size_ > kEmptyBytes) {
    // Nothing left to replay: compact to nothing instead of recording the retires.
    if (fd_ >= 0 && ::ftruncate(fd_, 0) == 0) {
      size_ = 0;
      return Status::Ok();
    }
  } else if (!live_.empty() && size_ > kRewriteBytes && !syncing_ && fd_ >= 0 && Rewrite().ok()) {
    return Status::Ok();  // the new file holds only what is live
  }
  return WriteText(lines);
}

std::vector<JournalRecord> OutcomeJournal::Live() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<JournalRecord> out;
  out.reserve(live_.size());
  for (const auto& [seq, r] : live_) out.push_back(r);
  return out;
}

std::size_t OutcomeJournal::live_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return live_.size();
}

}  // namespace evt
