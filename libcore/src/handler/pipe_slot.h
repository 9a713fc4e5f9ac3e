// PRIVATE: one co-process place of PipeHandler (handler_pipe.h): the exchange of one event
// line for one reply line, the stderr it writes meanwhile, and its end.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "evt/duration.h"
#include "evt/handler.h"
#include "handler/coprocess.h"

namespace evt {

// The longest stderr text of a co-process kept for an error message.
inline constexpr std::size_t kMaxPipeErrorText = 500;

// Where stderr lines go: to the attempt in flight (bounded), or to the log between events.
struct StderrSink {
  const AttemptContext* ctx = nullptr;  // null: between events
  std::size_t budget = 0;               // bytes still forwarded to ctx
  pid_t pid = 0;
  std::string* last_line = nullptr;  // the last non-blank line, for errors

  void Line(std::string_view line);
};

// How one exchange of an event for a reply ended.
enum class Exchange { kReply, kClosed, kTimeout, kCancelled, kTooLong };

// One co-process place. Used by one Run at a time.
struct PipeSlot {
  using Clock = std::chrono::steady_clock;

  std::unique_ptr<Coprocess> proc;
  bool answered = false;              // the current process answered at least one event
  std::string out;                    // stdout read and not yet consumed as a reply
  std::string err_partial;            // stderr after the last newline
  std::string last_stderr;            // the current process's last non-blank stderr line
  Clock::time_point restart_after{};  // no new process before this

  // Takes `started` as the slot's process, with a clean slate.
  void Adopt(std::unique_ptr<Coprocess> started);

  // Reads what stderr holds now into lines. False at EOF or on an error.
  bool ReadStderr(StderrSink* sink);

  // Passes on the stderr text after the last newline, if any.
  void FlushStderr(StderrSink* sink);

  // Reads what stdout holds now. Returns bytes read; 0 at EOF (stdout closed); -1 when
  // nothing is available.
  ssize_t ReadStdout();

  // Between events: reads what stderr holds and returns why the process must be replaced
  // (it exited, or wrote to stdout unasked), or null when it is fit for the next event.
  const char* CheckIdle(StderrSink* sink);

  // Writes `line` (one event) and waits for one reply line, which it moves to *reply;
  // reads stderr meanwhile (a co-process blocked on a full stderr pipe would never
  // answer). What follows the reply stays in `out`.
  Exchange Ask(const std::string& line, std::optional<Clock::time_point> deadline,
               const Cancellation* cancel, std::size_t max_reply, StderrSink* sink,
               std::string* reply);

  // Stops the process (its group) and reads the rest of its stderr into `sink`. Returns a
  // description of how it ended ("exit 1", "killed by signal 9 (SIGKILL)").
  std::string End(Millis kill_after, StderrSink* sink);
};

// Milliseconds from now until `until` for poll(2): -1 without a time, 0 once passed.
int PollMillisUntil(std::optional<std::chrono::steady_clock::time_point> until);

}  // namespace evt
