// The co-process handler (evt-work --pipe -- COMMAND [ARGS...]): long-lived processes that
// take one event per line on stdin and answer one JSON line per event on stdout.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "evt/defaults.h"
#include "evt/handler.h"
#include "evt/status.h"

namespace evt {

struct PipeHandlerOptions {
  std::vector<std::string> argv;  // the co-process command; argv[0] searched in PATH
  int processes = 1;              // co-processes at most (--concurrency)
  Millis timeout = SharedDefaults::kHandlerTimeout;  // the reply to one event must come within
                                                     // this; 0 = no limit
  Millis kill_after =
      SharedDefaults::kKillAfter;  // a stopped co-process gets SIGTERM, then SIGKILL this later
  std::size_t max_output_bytes =
      SharedDefaults::kMaxOutputBytes;  // stderr forwarded per event, and the longest
                                        // reply line accepted
  int max_startup_failures = 5;         // co-processes in a row that end without one answer
                                        // before every Run reports `fatal`
  Millis restart_backoff_min{100};      // delay before restarting after the first such end,
  Millis restart_backoff_max{5000};     // doubling with each one in a row, up to this
};

// Protocol (evt-work(1), "CO-PROCESS HANDLER"): evt-work writes the event, one line of
// compact JSON, to a co-process's stdin and reads one line from its stdout:
//   {"status":"ok"}                                              done
//   {"status":"retry","error":"...","category":"...","retry_after_ms":N}   transient
//   {"status":"fail","error":"...","category":"..."}              permanent
// `error`, `category` (default dependency for retry, data for fail) and `retry_after_ms`
// are optional; other fields are ignored. One event at a time per co-process.
//
// Co-processes are started lazily, one per concurrent Run (at most `processes`), each in
// its own process group, without a shell, with PR_SET_PDEATHSIG(SIGKILL) tied to a thread
// this handler owns (so they die with the handler and with evt-work). When a co-process
// gives no reply within `timeout` (transient, timeout), a malformed reply (transient,
// crash), or exits (transient, crash), the event fails and the co-process's whole group
// is stopped; the next Run starts a new one, after a backoff when the last ones ended
// without answering anything. Output on stdout between events, or a co-process that
// exited between events, only restarts it.
//
// When `max_startup_failures` co-processes in a row end without answering one event
// (they die at start-up), across at least two different events or failed starts, Run
// returns `fatal` (also `interrupted`, category crash) with an error that says why, for
// this and every later call: the worker should stop rather than spin. One event that
// crashes every fresh co-process is not enough: it is retried and dead-lettered as usual.
//
// A co-process's stderr is read while an event is in flight and passed, line by line and
// up to max_output_bytes per event, to AttemptContext::on_stderr_line; what it writes
// between events is logged at the next event. The last stderr line is part of the error
// when it dies. Cancellation stops the co-process in flight (interrupted).
//
// Thread-safe. The destructor closes every co-process's stdin, gives them kill_after to
// exit, then stops their groups.
class PipeHandler : public Handler {
 public:
  // Config error when argv is empty or argv[0] is not an executable file; Usage error on
  // bad limits.
  static Result<std::unique_ptr<PipeHandler>> Create(PipeHandlerOptions options);
  ~PipeHandler() override;

  HandlerResult Run(const AttemptContext& ctx) override;

 private:
  struct State;
  explicit PipeHandler(PipeHandlerOptions options);

  PipeHandlerOptions options_;
  std::unique_ptr<State> state_;
};

}  // namespace evt
