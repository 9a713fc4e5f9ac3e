// The worker's rules in one pure function: from what is known about one delivery (its
// parse, the answer to its lease, the handler's result) to what the worker does with it.
// Every transport shares them (DESIGN.md, "Delivery semantics"; evt-work(1)).
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <random>
#include <string>

#include "evt/dead_reason.h"
#include "evt/duration.h"
#include "evt/handler.h"
#include "evt/outcome.h"
#include "evt/queue.h"
#include "evt/retry.h"
#include "evt/rfc3339.h"
#include "evt/status.h"

namespace evt {

// What the worker does with a delivery.
enum class Action {
  kRun,         // go on: take the lease (no lease yet) or run the handler (lease acquired)
  kNone,        // record nothing: its outcome is already committed, or another consumer
                // runs this very entry (LeaseState kFinished, kRunningElsewhere)
  kDone,        // commit done (FinishDone)
  kRetry,       // schedule it again after `delay` with retry_count raised (FinishRetry)
  kDeadLetter,  // dead-letter it with `reason` (FinishDead)
  kDuplicate,   // its key is already done: record a duplicate, run nothing
  kDefer,       // its key is busy elsewhere: hand it out again after `delay`
  kAbandon,     // stopped before an outcome (shutdown): release the lease, leave it pending
};

// What is known about one delivery. Later facts win over earlier ones: a handler result
// decides once there is one, else the lease, else the parse.
struct AttemptFacts {
  Status parse;                           // OK, or why the entry is not an event to run
  const Lease* lease = nullptr;           // StartAttempt's answer; null before it
  const HandlerResult* result = nullptr;  // the handler's result; null when none ran
  int attempt = 1;                        // handler runs of the event with this one
};

// The knobs of the rules.
struct RuleOptions {
  RetryPolicy retry;            // backoff and max_retries
  Millis busy_retry_max{1000};  // a busy key is tried again after at most this
};

struct Decision {
  Action action = Action::kRun;
  DeadReason reason = DeadReason::kPermanent;  // kDeadLetter
  Category category = Category::kNone;         // kDeadLetter: the category recorded
  std::string error;                           // kDeadLetter: the error recorded
  Millis delay{0};                             // kRetry, kDefer: wait this long
};

// The rules:
//  - not an event: dead letter `invalid`, category data; a newer schema_version: `permanent`
//    (a newer producer, not garbage: kept whole for a newer worker);
//  - lease: done key → duplicate; busy → defer for the lease's remaining life, at least
//    50 ms and at most busy_retry_max; poison (started max_retries + 1 times without an
//    outcome) → dead letter `poison`, category crash; already committed or run elsewhere →
//    nothing;
//  - handler: interrupted → abandon; done → done; transient with retries left (attempt <=
//    max_retries) → retry after max(BackoffDelay(attempt - 1), Retry-After) (Retry-After
//    is a floor under the backoff, never a way round it); transient without →
//    `retries_exhausted`; permanent → `permanent`.
// Pure: the only randomness is `rng` (the jitter of the backoff).
Decision DecideAction(const AttemptFacts& facts, const RuleOptions& options, std::mt19937_64& rng);

std::string_view ActionName(Action a);  // "run", "none", "done", "retry", "dead_letter", ...

// What a thread of an `evt-work --burst` run knows when its read found nothing: whether
// the whole loop was quiet during its look (no thread received or finished an entry, none
// holds one, no outcome waits to be committed), and the due time of the earliest
// scheduled event (QueueSession::NextDue, read at the start of the look).
struct BurstFacts {
  bool received_nothing = false;       // the look's claim and receive found nothing
  bool quiet = false;                  // no entry received or finished during the look
  int busy = 0;                        // entries held by threads (running or committing)
  int commits_waiting = 0;             // outcomes not yet committed
  std::optional<UnixMillis> next_due;  // earliest scheduled event; nullopt = none
  UnixMillis started_at = 0;           // wall time the run started
  Millis max_wait{0};                  // --burst-max-wait
};

// The burst run is drained (ends) when nothing was received, the loop was quiet and idle,
// and no scheduled event is due by started_at + max_wait (one due earlier, even one due
// before the run started, is waited for: the housekeeper moves it into the queue). Pure.
bool BurstDrained(const BurstFacts& f);

// How many entries a handler thread takes in one read (a batch, worker_batch.cc: one call
// for their leases, their handlers one after another, one journal sync and one call for
// their outcomes): as many as its handler gets through in about kBatchTarget, judged from
// the time an entry took in its recent batches, between 1 and `max` (--batch). A slow
// handler (a backup script) gets one entry at a time, so no entry waits behind another's
// run; a quick one (a co-process answering in 50 us) gets up to `max`, so the store's
// round trips and the journal's sync are shared by many entries. The first read takes 1.
class BatchSizer {
 public:
  static constexpr std::chrono::microseconds kBatchTarget{10000};
  explicit BatchSizer(int max) : max_(max < 1 ? 1 : max) {}
  int next() const { return next_; }
  // A batch of `entries` took `d` from its leases to its commit.
  void Took(std::size_t entries, std::chrono::steady_clock::duration d);

 private:
  int max_;
  double per_entry_us_ = 0;  // a moving average; 0 before the first batch
  int next_ = 1;
};

}  // namespace evt
