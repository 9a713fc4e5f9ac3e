// evt-work's loop on the stdio transport: events in on a file descriptor, one result line
// per event out, dead letters to a DeadLetterSink.
#pragma once

#include <cstdint>
#include <string>

#include "evt/dead_letter.h"
#include "evt/duration.h"
#include "evt/handler.h"
#include "evt/retry.h"
#include "evt/status.h"

namespace evt {

struct WorkerOptions {
  int concurrency = 1;           // handlers running at once (--concurrency)
  RetryPolicy retry;             // backoff and --max-retries
  Millis shutdown_grace{30000};  // after SIGTERM, how long in-flight handlers may finish
  std::size_t max_event_bytes = kDefaultMaxEventBytes;  // bound on an input line
  std::uint64_t seed = 0;                               // jitter seed; 0 = random
  std::string consumer;  // name in logs and dead letters; empty = host:pid
};

struct WorkerStats {
  std::uint64_t events = 0;       // valid events read
  std::uint64_t done = 0;         // finished successfully
  std::uint64_t failed = 0;       // dead letters: permanent or retries exhausted
  std::uint64_t duplicate = 0;    // skipped: their idempotency key had already succeeded
  std::uint64_t invalid = 0;      // input lines rejected (dead letters with reason invalid)
  std::uint64_t interrupted = 0;  // read but not finished at shutdown (dead letters)
  std::uint64_t retries = 0;      // retry attempts scheduled
};

// Runs the stdio worker until input ends and every event has an outcome, or until a stop
// signal (see signals.h) has been handled: then it reads no more, lets running handlers
// finish within shutdown_grace, cancels the rest, and records every event that was read
// but not finished as a dead letter with reason `interrupted`. Nothing read is lost.
//
// Per event: runs `handler` on up to `concurrency` threads; retries transient failures
// after BackoffDelay() while other events keep flowing (retry_count is raised on each
// retry); writes one result line to `out_fd`:
//   {"event_id","event_type","idempotency_key","status","attempts","duration_ms"
//    [,"reason","error","category"]}
// status: done | failed | duplicate | interrupted; for an invalid line:
//   {"line":N,"status":"invalid","error":"..."}.
// An idempotency key that succeeded is not run again in the same run (`duplicate`); an
// event whose key is in flight waits for that outcome.
//
// Returns OK; InvalidArgument when some input lines were rejected (exit 65); IOError when
// reading input, writing results or writing a dead letter failed.
// REQUIRES: InstallStopSignals() has been called.
Status RunStdioWorker(int in_fd, int out_fd, Handler& handler, DeadLetterSink& dlq,
                      const WorkerOptions& options, WorkerStats* stats);

}  // namespace evt
