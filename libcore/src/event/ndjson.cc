#include "evt/ndjson.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace evt {
namespace {

constexpr std::size_t kReadChunk = 64 * 1024;

bool IsBlank(std::string_view s) {
  for (char c : s) {
    if (c != ' ' && c != '\t' && c != '\r') return false;
  }
  return true;
}

}  // namespace

LineReader::LineReader(int fd, std::size_t max_line_bytes) : fd_(fd), max_(max_line_bytes) {}

bool LineReader::HasBufferedLine() const {
  return buf_.find('\n', std::max(start_, scanned_)) != std::string::npos ||
         (eof_ && start_ < buf_.size());
}

void LineReader::KeepHead(const char* p, std::size_t n) {
  if (head_.size() < kTooLongHeadBytes)
    head_.append(p, std::min(n, kTooLongHeadBytes - head_.size()));
}

// Looks for the next complete line in buf_. While skipping an over-long line, discards
// bytes up to its newline (keeping its head) and then reports it once as too_long. The
// search for a newline starts where the previous one gave up, so a long line costs time
// linear in its length however many reads it takes.
bool LineReader::FindLine(Line* line) {
  while (true) {
    std::size_t nl = buf_.find('\n', std::max(start_, scanned_));
    scanned_ = nl == std::string::npos ? buf_.size() : nl;
    if (skipping_) {
      const std::size_t end = nl == std::string::npos ? buf_.size() : nl;
      KeepHead(buf_.data() + start_, end - start_);
      skipped_len_ += end - start_;
      if (nl == std::string::npos) {
        buf_.clear();
        start_ = scanned_ = 0;
        if (!eof_) return false;  // at EOF the over-long last line ends here
      } else {
        start_ = nl + 1;
      }
      skipping_ = false;
      *line = Line{++line_no_, {}, true, skipped_len_, head_};
      return true;
    }
    std::size_t end = nl;
    if (nl == std::string::npos) {
      std::size_t pending = buf_.size() - start_;
      if (pending > max_) {
        // Too long already: stop buffering it and skip to its end.
        skipping_ = true;
        skipped_len_ = 0;
        head_.clear();
        continue;
      }
      if (!eof_ || pending == 0) return false;
      end = buf_.size();  // last line without a newline
    }
    std::string_view text(buf_.data() + start_, end - start_);
    start_ = (nl == std::string::npos) ? buf_.size() : nl + 1;
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    ++line_no_;
    if (text.size() > max_) {
      *line = Line{line_no_, {}, true, text.size(), text.substr(0, kTooLongHeadBytes)};
      return true;
    }
    if (IsBlank(text)) continue;
    *line = Line{line_no_, text, false, text.size(), {}};
    return true;
  }
}

LineReader::State LineReader::Next(Line* line) {
  if (!status_.ok()) return State::kError;
  if (FindLine(line)) return State::kLine;
  if (eof_) return State::kEof;
  // Compact before reading so the buffer stays bounded by max_ + one chunk.
  if (start_ > 0) {
    buf_.erase(0, start_);
    scanned_ = scanned_ > start_ ? scanned_ - start_ : 0;
    start_ = 0;
  }
  std::size_t old = buf_.size();
  buf_.resize(old + kReadChunk);
  ssize_t n;
  do {
    n = ::read(fd_, buf_.data() + old, kReadChunk);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    buf_.resize(old);
    if (errno == EAGAIN || errno == EWOULDBLOCK) return State::kWouldBlock;
    status_ = Status::IOError(std::string("read: ") + std::strerror(errno));
    return State::kError;
  }
  buf_.resize(old + static_cast<std::size_t>(n));
  if (n == 0) eof_ = true;
  if (FindLine(line)) return State::kLine;
  return eof_ ? State::kEof : State::kWouldBlock;
}

bool LineReader::GiveBack() {
  // Only a regular file: lseek "works" on some devices without meaning a position.
  struct stat st;
  if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) return false;
  const std::size_t unconsumed = (buf_.size() - start_) + (skipping_ ? skipped_len_ : 0);
  if (unconsumed > 0 && ::lseek(fd_, -static_cast<off_t>(unconsumed), SEEK_CUR) < 0) {
    return false;
  }
  buf_.clear();
  start_ = scanned_ = 0;
  skipping_ = false;
  skipped_len_ = 0;
  head_.clear();
  eof_ = true;  // what follows belongs to the next reader
  return true;
}

Status LineWriter::WriteLine(std::string_view text) {
  if (!status_.ok()) return status_;
  buf_.append(text);
  buf_.push_back('\n');
  if (buf_.size() >= flush_at_) return Flush();
  return Status::Ok();
}

Status LineWriter::Flush() {
  if (!status_.ok()) return status_;
  std::size_t off = 0;
  while (off < buf_.size()) {
    ssize_t n = ::write(fd_, buf_.data() + off, buf_.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      status_ = Status::IOError(std::string("write: ") + std::strerror(errno));
      buf_.clear();
      return status_;
    }
    off += static_cast<std::size_t>(n);
  }
  buf_.clear();
  return Status::Ok();
}

}  // namespace evt
