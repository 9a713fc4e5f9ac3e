// Reading NDJSON (one JSON text per line) from a file descriptor with a bound on
// line length, so that input never makes memory grow without limit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "evt/status.h"

namespace evt {

// How much of an over-long line LineReader keeps (Line::head), for a dead letter.
inline constexpr std::size_t kTooLongHeadBytes = 64 * 1024;

// One line handed out by LineReader.
struct Line {
  std::uint64_t number = 0;  // 1-based line number in the input
  std::string_view text;     // without the newline (and without a trailing '\r');
                             // valid until the next call to Next()
  bool too_long = false;     // the line was longer than the bound; `text` is empty and
                             // the rest of the line was skipped, never buffered
  std::size_t length = 0;    // the line's full length in bytes (also when too_long)
  std::string_view head;     // too_long only: the line's first bytes, at most
                             // kTooLongHeadBytes; valid until the next call to Next()
};

// Splits a byte stream into lines. Blank (whitespace-only) lines are skipped but
// counted; a last line without a newline is returned like any other.
// Not thread-safe.
class LineReader {
 public:
  // Reads from `fd` (not owned, not closed). `max_line_bytes` bounds a line's length.
  LineReader(int fd, std::size_t max_line_bytes);

  enum class State { kLine, kEof, kWouldBlock, kError };

  // Fills `line` with the next non-blank line, calling read(2) at most once, so that
  // after poll(2) reported the fd readable the call never blocks. kLine: a line is
  // ready. kEof: input is finished. kWouldBlock: no full line yet (call again; for a
  // blocking fd simply loop). kError: read failed; see status().
  State Next(Line* line);

  // True when a complete line is already buffered (Next() will not read).
  bool HasBufferedLine() const;

  // Bytes read but not handed out as a line: after HasBufferedLine() turns false, the
  // start of an unfinished last line (empty while skipping an over-long one).
  std::string_view Unconsumed() const {
    return skipping_ ? std::string_view() : std::string_view(buf_).substr(start_);
  }

  // Gives back the bytes read but not handed out as a line, when the input is a regular
  // file: moves the file offset back to just after the last line handed out (or to the
  // start of an over-long line being skipped), so that the next reader of the same open
  // file starts on a line boundary, and forgets them; Next() then reports kEof. Returns
  // false and changes nothing when the input cannot seek (a pipe, a terminal, a socket).
  bool GiveBack();

  const Status& status() const { return status_; }

 private:
  bool FindLine(Line* line);
  void KeepHead(const char* p, std::size_t n);

  int fd_;
  std::size_t max_;
  std::string buf_;
  std::size_t start_ = 0;        // start of unconsumed bytes in buf_
  std::size_t scanned_ = 0;      // buf_[start_, scanned_) is known to hold no newline
  std::uint64_t line_no_ = 0;    // number of the last line handed out or skipped
  bool skipping_ = false;        // inside an over-long line, discarding to its newline
  std::size_t skipped_len_ = 0;  // bytes discarded so far of that line
  std::string head_;             // the first bytes of that line (kTooLongHeadBytes at most)
  bool eof_ = false;
  Status status_;
};

// Buffers output lines and writes them to a file descriptor with write(2), retrying
// partial writes and EINTR. Not thread-safe.
class LineWriter {
 public:
  explicit LineWriter(int fd, std::size_t flush_at = 64 * 1024) : fd_(fd), flush_at_(flush_at) {}
  ~LineWriter() { Flush(); }
  LineWriter(const LineWriter&) = delete;
  LineWriter& operator=(const LineWriter&) = delete;

  // Appends `text` and a newline; flushes when the buffer is past flush_at.
  Status WriteLine(std::string_view text);
  // Writes everything buffered. IOError (e.g. "Broken pipe") on failure; after a
  // failure every later call returns the same error.
  Status Flush();

 private:
  int fd_;
  std::size_t flush_at_;
  std::string buf_;
  Status status_;
};

}  // namespace evt
