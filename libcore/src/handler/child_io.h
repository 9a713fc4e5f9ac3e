// PRIVATE: the parent's side of a child's pipes (subprocess.cc): bounded capture of
// stdout and stderr, stderr split into lines, and writes to stdin without SIGPIPE.
#pragma once

#include <signal.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "base/fd.h"

namespace evt {

// Bytes read from a pipe at once; the buffer given to Capture::ReadAvailable holds this.
inline constexpr std::size_t kCaptureChunk = 64 * 1024;

// Splits stderr into lines for the callback, each bounded to kMaxStderrLine.
class LineSplitter {
 public:
  explicit LineSplitter(const std::function<void(std::string_view)>& sink) : sink_(sink) {}

  void Feed(std::string_view data);
  // Passes on the text after the last newline, if any.
  void Finish();

 private:
  const std::function<void(std::string_view)>& sink_;
  std::string line_;
};

// One pipe we read from: keeps the first `max` bytes and counts the rest.
struct Capture {
  Fd fd;
  std::string* kept;
  std::uint64_t* total;
  LineSplitter* lines;    // may be null
  bool* ends_in_newline;  // may be null: set from the last byte read

  // Reads what is available now into `buf` (kCaptureChunk bytes). Closes fd at EOF or on
  // a read error.
  void ReadAvailable(char* buf, std::size_t max);
};

// Writing to a pipe whose reader is gone raises SIGPIPE, which kills the process unless it
// is ignored. Rather than require that of every program linking libcore, the writes
// block SIGPIPE in this thread and consume the one they caused, if any.
class SigpipeBlock {
 public:
  SigpipeBlock();
  ~SigpipeBlock();
  SigpipeBlock(const SigpipeBlock&) = delete;
  SigpipeBlock& operator=(const SigpipeBlock&) = delete;

  // After an EPIPE: drop the SIGPIPE it queued (a thread-directed signal), unless one
  // was already pending before we started, which is someone else's to deliver.
  void ConsumePending();

 private:
  sigset_t set_;
  sigset_t old_;
  bool was_pending_ = false;
};

}  // namespace evt
