// evt-work's loop: RunWorker runs a handler for every event a Queue (queue.h) hands out,
// on any transport: the stdio one (stdio_queue.h: events in on a file descriptor, one
// result line per event out, dead letters to a file) or a durable store (OpenQueue,
// broker_factory.h). The loop writes nothing itself: it reports each step to a
// WorkerObserver (worker_observer.h; LogObserver, log_observer.h, writes the log lines).
#pragma once

#include <cstdint>
#include <string>

#include "evt/broker.h"
#include "evt/clock.h"
#include "evt/dead_letter.h"
#include "evt/duration.h"
#include "evt/event.h"
#include "evt/handler.h"
#include "evt/queue.h"
#include "evt/retry.h"
#include "evt/status.h"
#include "evt/worker_observer.h"

namespace evt {

// Every flag of the worker, for every transport. The durable-store fields are ignored by a
// queue that does not need them (the stdio one keeps no journal, leases nothing remote).
struct WorkerOptions {
  int concurrency = 1;           // handler threads, each with its own QueueSession
  int batch = 64;                // --batch: most entries a thread takes in one read
                                 // (BatchSizer, worker_rules.h); 1 = one at a time
  RetryPolicy retry;             // backoff and --max-retries
  Millis shutdown_grace{30000};  // after SIGTERM, how long in-flight handlers may finish
  std::size_t max_event_bytes = kDefaultMaxEventBytes;  // larger entries are invalid
  std::uint64_t seed = 0;                               // jitter seed; 0 = random
  std::string consumer;         // name in logs and dead letters; empty = host:pid
  Clock* clock = &RealClock();  // time of backoff, grace and leases; not owned, outlives the run
  Millis lease_ttl{131000};     // idempotency lease: handler timeout + kill-after + 1s
  Millis claim_after{0};        // --claim-after: claim entries pending this long elsewhere;
                                // 0 = timeout + 30s (DeriveWorkerOptions)
  Millis heartbeat{5000};       // --heartbeat: interval of the liveness record
  Millis retention{7LL * 24 * 3600 * 1000};  // --retention: stream history kept at least
  Millis trim_interval{60000};               // how often history is trimmed
  Millis move_interval{100};                 // how often due retries are moved into the queue
  Millis receive_block{500};                 // how long an idle thread waits for a new entry
  Millis busy_retry_max{1000};               // a busy lease is tried again after at most this
  bool burst = false;                        // --burst: end the run once everything due is done
  Millis burst_max_wait{0};        // --burst-max-wait: also wait for events scheduled (retries)
                                   // due up to this long after the start of the run
  Millis burst_store_wait{30000};  // --burst-store-wait: a burst whose store stays
                                   // unreachable this long ends (Unavailable, exit 69)
  std::string state_dir;  // --state-dir: the outcome journal's folder (created 0700), for a
                          // queue that needs one (Queue::NeedsJournal); empty = /var/lib/evt
                          // for root, else $XDG_STATE_HOME/evt or $HOME/.local/state/evt
};

// Fills the options that follow from the handler's limits: lease_ttl = timeout +
// kill_after + 1s (so a lease outlives any run of the handler; 24h when timeout is 0, no
// limit), and claim_after, when 0, = timeout + 30s (24h + 30s for no limit). Usage error
// when a duration that must be positive is not.
Status DeriveWorkerOptions(Millis timeout, Millis kill_after, WorkerOptions* o);

// Usage error when a --dlq file is given with a durable broker (there, dead letters go to
// the queue's own dead-letter store); OK otherwise.
Status ValidateDlqPath(const BrokerConfig& broker, const std::string& dlq_path);

// Usage error when --burst is given with --broker - (a stdio run always ends when its input
// does), or --burst-max-wait without --burst or below 0; OK otherwise.
Status ValidateBurst(const BrokerConfig& broker, const WorkerOptions& o);

// Counters of a run, filled when RunWorker returns.
struct WorkerStats {
  std::uint64_t events = 0;           // valid events received (first deliveries)
  std::uint64_t attempts = 0;         // handler runs
  std::uint64_t done = 0;             // committed done
  std::uint64_t retries = 0;          // committed retries
  std::uint64_t failed = 0;           // dead letters: permanent, exhausted, poison, newer schema
  std::uint64_t invalid = 0;          // dead letters: not an event (invalid)
  std::uint64_t duplicate = 0;        // committed duplicates: their key had already succeeded
  std::uint64_t interrupted = 0;      // read but not finished at the end (Queue::EndRun)
  std::uint64_t deferred = 0;         // busy leases put back for later
  std::uint64_t claimed = 0;          // entries taken over from other consumers
  std::uint64_t abandoned = 0;        // left pending at shutdown (cancelled, or not committed)
  std::uint64_t resumed = 0;          // this consumer's own pending entries taken up again
  std::uint64_t replayed = 0;         // outcomes from the journals of stopped workers committed
  std::uint64_t left_in_journal = 0;  // outcomes not committed at exit, kept in the journal
};

// The worker loop. Runs until the queue drains (Queue::Drained: the stdio input ended and
// every event has an outcome; with options.burst on a durable queue: nothing new, own
// pending or claimable is left, no thread is busy, and no scheduled event is due by the
// start + burst_max_wait: BurstDrained, worker_rules.h), until a stop signal (signals.h)
// has been handled, or until an error that retrying cannot fix (bad credentials: Config;
// the queue's output failed: IOError; the handler kind cannot go on: Unavailable).
//
// At start, for a queue that needs a journal (Queue::NeedsJournal), before it reads new
// work, it commits the outcomes left in the journals of this host's stopped workers of the
// same queue (Queue::Scope) and takes up this consumer's own pending entries (a restart
// under the same consumer name resumes at once). Then `concurrency` threads each loop:
// claim one entry pending elsewhere longer than claim_after (one free thread looks every
// claim_after / 3) or else receive one new entry (so nothing is read that no thread is free
// to run), take its idempotency lease (StartAttempt), run `handler`, decide the outcome
// (DecideAction, worker_rules.h), append it to the journal (fdatasync) when there is one,
// and end the attempt with one atomic Finish* call. One more thread moves due retries,
// heartbeats, renews held leases and trims history.
// Rules (DESIGN.md, "Delivery semantics"; DecideAction):
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
//  - stop: no more reads (Queue::Stop); in-flight handlers get shutdown_grace, then are
//    cancelled (Queue::Abandon: the attempt stays pending, its lease released); an outcome
//    whose commit could not be made before the grace ended stays in the journal for the
//    next start. Queue::EndRun then ends the run (the stdio queue records what it read and
//    did not finish as `interrupted` dead letters).
// Returns OK after a stop or a drain; the queue's EndRun error (IOError, InvalidArgument
// when input was rejected) or the error that stopped the loop; Config when the state
// folder cannot be created or written. `stats` is filled in every case.
// REQUIRES: InstallStopSignals() has been called; everything outlives the call.
Status RunWorker(Queue& queue, Handler& handler, const WorkerOptions& options,
                 WorkerObserver& observer, WorkerStats* stats);

// RunWorker on the stdio queue (OpenStdioQueue, stdio_queue.h) of `in_fd`, `out_fd` and
// `dlq`, with a LogObserver (log_observer.h): the whole stdio run of evt-work(1). Events
// that failed or were interrupted are counted in `stats`, not in the Status:
// ExitCodeForStdioRun() (exit_code.h) turns both into the exit code (123 for them).
Status RunStdioWorker(int in_fd, int out_fd, Handler& handler, DeadLetterSink& dlq,
                      const WorkerOptions& options, WorkerStats* stats);

}  // namespace evt
