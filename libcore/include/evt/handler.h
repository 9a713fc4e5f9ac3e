// Handler: what evt-work runs for each event. One implementation per kind
// (handler_exec.h, handler_http.h, handler_pipe.h), the same outcomes for all.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <string_view>

#include "evt/duration.h"
#include "evt/event.h"
#include "evt/outcome.h"

namespace evt {

// A one-way "stop now" flag that blocking code can also poll(2): fd() becomes readable
// once Cancel() has been called and stays so. Thread-safe.
class Cancellation {
 public:
  Cancellation();
  ~Cancellation();
  Cancellation(const Cancellation&) = delete;
  Cancellation& operator=(const Cancellation&) = delete;

  void Cancel();
  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }
  int fd() const { return fd_; }

 private:
  std::atomic<bool> cancelled_{false};
  int fd_ = -1;  // eventfd
};

// What one attempt is about.
struct AttemptContext {
  const Event* event = nullptr;          // not owned; outlives the call
  int attempt = 1;                       // 1 for the first run, 2 for the first retry, ...
  const Cancellation* cancel = nullptr;  // may be null; when cancelled the attempt is
                                         // stopped and reported as interrupted
  // Called with each line the handler writes to stderr (without the newline), from the
  // calling thread. May be empty.
  std::function<void(std::string_view)> on_stderr_line;
};

// The result of one attempt.
struct HandlerResult {
  Outcome outcome = Outcome::kDone;
  Category category = Category::kNone;
  std::string error;         // one line, at most ~1 KiB, empty when done
  Millis duration{0};        // wall time of the attempt
  bool interrupted = false;  // stopped through AttemptContext::cancel
  std::string output;        // the handler's stdout, up to the capture bound
  Millis retry_after{0};     // transient only: wait at least this long before the retry
                             // (an HTTP Retry-After, a pipe reply's retry_after_ms)
  bool fatal = false;        // the handler cannot run any event (a co-process that dies at
                             // start-up again and again): stop the worker with `error`;
                             // this event was not really attempted (also `interrupted`)
};

class Handler {
 public:
  virtual ~Handler() = default;
  // Runs one attempt for ctx.event. Thread-safe: called from several threads at once.
  // Never throws; a failure to start is a transient `dependency` result.
  virtual HandlerResult Run(const AttemptContext& ctx) = 0;
};

}  // namespace evt
