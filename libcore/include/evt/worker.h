// evt-work's loops: on the stdio transport (events in on a file descriptor, one result line
// per event out, dead letters to a DeadLetterSink) and on a durable queue (queue.h).
#pragma once

#include <cstdint>
#include <string>

#include "evt/broker.h"
#include "evt/broker_factory.h"
#include "evt/clock.h"
#include "evt/dead_letter.h"
#include "evt/duration.h"
#include "evt/handler.h"
#include "evt/queue.h"
#include "evt/retry.h"
#include "evt/status.h"

namespace evt {

struct WorkerOptions {
  int concurrency = 1;           // handlers running at once (--concurrency)
  RetryPolicy retry;             // backoff and --max-retries
  Millis shutdown_grace{30000};  // after SIGTERM, how long in-flight handlers may finish
  std::size_t max_event_bytes = kDefaultMaxEventBytes;  // bound on an input line
  std::uint64_t seed = 0;                               // jitter seed; 0 = random
  std::string consumer;         // name in logs and dead letters; empty = host:pid
  Clock* clock = &RealClock();  // time of backoff, grace and leases; not owned, outlives the run
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
// but not finished as a dead letter with reason `interrupted`. Nothing read is lost. Lines
// read ahead of a regular file but not taken yet are given back instead: the file offset
// is left just after the last line taken (LineReader::GiveBack).
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
// reading input, writing results or writing a dead letter failed. Events that failed or
// were interrupted are counted in `stats`, not in the Status: ExitCodeForStdioRun()
// (exit_code.h) turns both into the exit code (123 for them).
// REQUIRES: InstallStopSignals() has been called.
Status RunStdioWorker(int in_fd, int out_fd, Handler& handler, DeadLetterSink& dlq,
                      const WorkerOptions& options, WorkerStats* stats);

// Usage error when a --dlq file is given with a durable broker (there, dead letters go to
// the queue's own dead-letter store); OK otherwise.
Status ValidateDlqPath(const BrokerConfig& broker, const std::string& dlq_path);

// evt-work's loop on a durable queue (queue.h). The fields of WorkerOptions mean the same
// here (max_event_bytes: larger entries are invalid; concurrency: handler threads, each with
// its own QueueSession), so one struct carries every flag of both loops.
struct QueueWorkerOptions : WorkerOptions {
  Millis lease_ttl{131000};  // idempotency lease: handler timeout + kill-after + 1s
  Millis claim_after{0};     // --claim-after: claim entries pending this long elsewhere;
                             // 0 = timeout + 30s (DeriveQueueWorkerOptions)
  Millis heartbeat{5000};    // --heartbeat: interval of the liveness record
  Millis retention{7LL * 24 * 3600 * 1000};  // --retention: stream history kept at least
  Millis trim_interval{60000};               // how often history is trimmed
  Millis move_interval{100};                 // how often due retries are moved into the queue
  Millis receive_block{500};                 // how long an idle thread waits for a new entry
  Millis busy_retry_max{1000};               // a busy lease is tried again after at most this
  std::string state_dir;  // --state-dir: the outcome journal's folder (created 0700);
                          // empty = /var/lib/evt for root, else $XDG_STATE_HOME/evt or
                          // $HOME/.local/state/evt
};

// Fills the options that follow from the handler's limits: lease_ttl = timeout +
// kill_after + 1s (so a lease outlives any run of the handler; 24h when timeout is 0, no
// limit), and claim_after, when 0, = timeout + 30s (24h + 30s for no limit). Usage error
// when a duration that must be positive is not.
Status DeriveQueueWorkerOptions(Millis timeout, Millis kill_after, QueueWorkerOptions* o);

// Counters of a queue worker run. Thread-safe snapshot after RunQueueWorker returns.
struct QueueWorkerStats {
  std::uint64_t attempts = 0;   // handler runs
  std::uint64_t done = 0;       // committed done
  std::uint64_t retries = 0;    // committed retries
  std::uint64_t failed = 0;     // committed dead letters (permanent, exhausted, poison, invalid)
  std::uint64_t duplicate = 0;  // committed duplicates
  std::uint64_t deferred = 0;   // busy leases put back for later
  std::uint64_t claimed = 0;    // entries taken over from other consumers
  std::uint64_t abandoned = 0;  // left pending at shutdown, for another worker to claim
  std::uint64_t resumed = 0;    // this consumer's own pending entries taken up again
  std::uint64_t replayed = 0;   // outcomes from the journals of stopped workers committed
  std::uint64_t left_in_journal = 0;  // outcomes not committed at exit, kept in the journal
};

// Runs the queue worker until a stop signal (signals.h) has been handled, or until an error
// that retrying cannot fix (bad credentials: Config). At start, before it reads new work,
// it commits the outcomes left in the journals of this host's stopped workers of the same
// queue (Queue::Scope) and takes up this consumer's own pending entries (a restart under
// the same consumer name resumes at once). Then `concurrency` threads each loop:
// claim one entry pending elsewhere longer than claim_after (one free thread looks every
// claim_after / 3) or else receive one new entry (so nothing is read that no thread is free
// to run), take its idempotency lease, run `handler`, append the outcome to the journal
// (fdatasync), and end the attempt with one atomic Finish* call. One more thread moves due
// retries, heartbeats, renews held leases and trims history.
// Rules (DESIGN.md, "Delivery semantics"):
//  - done key → FinishDuplicate, nothing runs; busy lease → Defer; an entry whose handler
//    started max_retries + 1 times without an outcome → dead letter `poison` (a refused
//    lease counts nothing); an outcome already committed → acknowledged only; an invalid
//    entry → dead letter `invalid` (a newer schema_version: `permanent`, category data).
//  - transient failure with retries left → FinishRetry at now + BackoffDelay, with
//    retry_count raised; else dead letter `retries_exhausted`; permanent → `permanent`.
//  - store unreachable: every call is retried with backoff (QueueSession::WithRetry), a
//    finished handler's outcome is kept (journaled) and its commit retried, never the
//    handler. Leases held are renewed meanwhile. When the store is back, waiting commits go
//    first: no thread reads new work while one waits, and a key whose outcome waits is
//    not started again.
//  - stop: no more reads; in-flight handlers get shutdown_grace, then are cancelled (the
//    attempt stays pending, its lease released); an outcome whose commit could not be made
//    before the grace ended stays in the journal for the next start (one log line says
//    how many and where).
// Returns OK after a stop; Config/Internal when the store refuses the worker for good;
// Config when the state folder cannot be created or written.
// REQUIRES: InstallStopSignals() has been called; `queue` and `handler` outlive the call.
Status RunQueueWorker(Queue& queue, Handler& handler, const QueueWorkerOptions& options,
                      QueueWorkerStats* stats);

// RunQueueWorker on the queue `queue` of the durable broker `broker` (OpenQueue,
// broker_factory.h); queue.consumer, when empty, is options.consumer. Usage error when the
// queue options are invalid; otherwise as RunQueueWorker.
Status RunDurableWorker(const BrokerConfig& broker, QueueOptions queue, Handler& handler,
                        const QueueWorkerOptions& options, QueueWorkerStats* stats);

}  // namespace evt
