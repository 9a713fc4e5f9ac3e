// The durable work queue that evt-work consumes, independent of where it lives.
//
// A Queue hands out QueueSessions, one per thread. A session receives deliveries, takes
// the idempotency lease of an event, and ends each attempt with ONE atomic call that
// acknowledges the delivery and records everything the attempt decided (status, metrics,
// and the retry, dead letter or done record). A stream server implements it today
// (OpenQueue, broker_factory.h); nothing here names a store type, so an embedded SQLite
// file can implement it later.
//
// Errors: every call returns Unavailable when the store cannot be reached or refuses
// writes for now (out of memory); the session reconnects on its next call, see WithRetry.
// NotFound from Receive when the consumer group is gone (call EnsureGroup), Config when
// the store refuses for good (a key of the wrong type, credentials), and Internal for a
// reply that makes no sense.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "evt/dead_reason.h"
#include "evt/duration.h"
#include "evt/event.h"
#include "evt/outcome.h"
#include "evt/rfc3339.h"
#include "evt/status.h"

namespace evt {

// One entry handed to this consumer. It stays pending (owned by this consumer, not
// acknowledged) until a Finish* or Defer call ends it; if the consumer dies first, another
// one claims it (Claim).
struct Delivery {
  std::string id;               // the store's id of the entry, e.g. "1709012345678-0"
  std::string raw;              // the event JSON as stored (not yet validated)
  std::int64_t deliveries = 1;  // times it has been handed out, this time included
  std::string rejected;         // non-empty: the store already knows this entry cannot be an
                                // event (why, one line, e.g. an over-long input line); `raw`
                                // then holds what was kept of it
};

// The idempotency lease of an event's key, and what StartAttempt found out about the
// delivery before taking it.
enum class LeaseState {
  kAcquired,          // it is ours (new, expired, or already held by the same owner)
  kAlreadyDone,       // the key has a `done` record: record a duplicate, run nothing
  kBusy,              // another live owner holds it: try later (Defer)
  kFinished,          // StartAttempt only: this delivery's outcome was already committed (the
                      // group was re-created and handed it out again); it is now acknowledged:
                      // run nothing, record nothing
  kRunningElsewhere,  // StartAttempt only: the lease holder runs this very entry (it was
                      // handed out twice: claimed while its commit waited, or a re-created
                      // group): leave it pending, run nothing; the holder's commit
                      // acknowledges it, or a later claim runs it if the holder died
  kPoison,            // StartAttempt only: a handler already started `max_starts` times for
                      // this delivery without an outcome; the lease was not taken: dead-letter
                      // it as poison (FinishDead), run nothing
};
struct Lease {
  LeaseState state = LeaseState::kAcquired;
  Millis remaining{0};      // kBusy: how long the other owner's lease still lives
  std::int64_t starts = 0;  // StartAttempt: handler starts of this delivery so far (with
                            // this one when kAcquired); 0 when the store does not count
};

// What ended an attempt, for the status record, the metrics and a dead letter.
struct AttemptEnd {
  std::string delivery_id;      // Delivery::id
  std::string event_id;         // empty when the entry is not a valid event
  std::string event_type;       // empty when unknown
  std::string idempotency_key;  // the leased key; empty when no lease was taken
  std::string lease_owner;      // the owner given to TakeLease
  int attempt = 0;              // 1 for the first run, 2 for the first retry, ...
  bool ran = false;             // a handler ran in this attempt
  Millis duration{0};           // its wall time
  Category category = Category::kNone;
  std::string error;            // last error, one line (bounded by the store)
  UnixMillis occurred_at = -1;  // the event's occurred_at; -1 when unknown
  std::string correlation_id;   // the event's correlation_id, for log lines; empty: none
};

// One attempt-ending call (QueueSession::FinishAll): which one, and its arguments.
struct FinishCall {
  enum class Kind { kDone, kRetry, kDead, kDuplicate, kDefer };
  Kind kind = Kind::kDone;
  AttemptEnd end;                              // kDefer: only end.delivery_id is read
  DeadReason reason = DeadReason::kPermanent;  // kDead
  std::string raw;     // kRetry: the next event (next_raw); kDead: the event as delivered;
                       // kDefer: the event to hand out again (Delivery::raw)
  UnixMillis due = 0;  // kRetry, kDefer
};

// The single call of `call` on `session` (FinishDone, FinishRetry, ...).
class QueueSession;
Status FinishOne(QueueSession& session, const FinishCall& call);

// How much work a queue holds for one consumer group, counted at one moment.
struct QueueDepth {
  std::string queue;             // the queue's name
  std::string group;             // the consumer group counted
  std::int64_t undelivered = 0;  // entries not yet handed to the group (its backlog); -1 when
                                 // the store cannot count it now
  std::int64_t pending = 0;      // handed out and not yet ended, to any consumer of the group
  std::int64_t delayed = 0;      // scheduled for later: retries, deferrals, delayed emits
};

// What a worker reports in its heartbeat.
struct WorkerInfo {
  std::string host;
  int pid = 0;
  UnixMillis started_at = 0;
  int concurrency = 0;
  int in_flight = 0;
  Millis ttl{15000};  // the heartbeat record expires this long after the last one
};

// One thread's connection to a queue. Not thread-safe: one session per thread.
class QueueSession {
 public:
  virtual ~QueueSession() = default;

  // Runs `op` (which calls this session) until it returns anything but Unavailable,
  // reconnecting with capped exponential backoff between tries, or until give_up() is true
  // (then the last Unavailable is returned). Logs once when the store becomes unreachable
  // and once when it is back; never spins.
  virtual Status WithRetry(const std::function<Status()>& op,
                           const std::function<bool()>& give_up) = 0;

  // Creates the consumer group if absent, starting at the queue's first entry (so events
  // queued before the first worker are processed), and registers the queue name.
  virtual Status EnsureGroup() = 0;

  // Up to `max` new entries, waiting up to `block` for the first. Appends to *out.
  virtual Status Receive(int max, Millis block, std::vector<Delivery>* out) = 0;

  // Takes over entries pending for another consumer for longer than `min_idle`, at most
  // `max`; their `deliveries` count this delivery. Never one that another session of the
  // same Queue handed out and is still on (until that session's next Receive or Claim).
  // Appends to *out.
  virtual Status Claim(Millis min_idle, int max, std::vector<Delivery>* out) = 0;

  // Entries already handed to THIS consumer name and not yet ended (left by an earlier run
  // of a worker with the same name, or in flight in this one), oldest first, with ids
  // after `after_id` ("0" = from the start), at most `max` looked at; their `deliveries`
  // count this delivery. An entry whose event is gone from the store is skipped. Appends
  // to *out and returns the id to page on after; "" when there are no more.
  virtual Result<std::string> ReceivePending(const std::string& after_id, int max,
                                             std::vector<Delivery>* out) = 0;

  // Takes the lease of `key` for `owner` for `ttl` (see LeaseState).
  virtual Result<Lease> TakeLease(const std::string& key, const std::string& owner, Millis ttl) = 0;
  // Gives the lease back if `owner` still holds it; the delivery stays pending.
  virtual Status ReleaseLease(const std::string& key, const std::string& owner) = 0;
  // Extends the lease of `key` to `ttl` from now if `owner` still holds it. Returns
  // whether it did (false: the lease is gone, done, or someone else's).
  virtual Result<bool> RenewLease(const std::string& key, const std::string& owner, Millis ttl) = 0;

  // Records that attempt `end.attempt` of the event started (status `running`).
  virtual Status MarkRunning(const AttemptEnd& end) = 0;

  // Starts attempt `attempt` of delivery `attempt.delivery_id`: TakeLease(
  // attempt.idempotency_key, attempt.lease_owner, ttl) and, when acquired,
  // MarkRunning(attempt), in one round trip where the store allows it. Before that, where
  // the store keeps them: kFinished when the delivery was already committed, kPoison when
  // it was started `max_starts` times already (max_starts <= 0: no limit). Only an
  // acquired lease counts a start: a refused or failed call (Unavailable) counts nothing.
  virtual Result<Lease> StartAttempt(const AttemptEnd& attempt, Millis ttl, int /*max_starts*/) {
    Result<Lease> lease = TakeLease(attempt.idempotency_key, attempt.lease_owner, ttl);
    if (!lease.ok() || lease->state != LeaseState::kAcquired) return lease;
    if (Status s = MarkRunning(attempt); !s.ok()) return s;
    return lease;
  }

  // The attempt-ending calls. Each is atomic: it acknowledges the delivery and writes the
  // status record and the metrics together with its own effect, or does nothing at all
  // (then the delivery stays pending: Unavailable when the store refuses writes for now,
  // Config when a key is of the wrong type). Each is safe to repeat after an unknown
  // result (Unavailable mid-call): once a delivery's outcome is committed, a repeated call
  // only acknowledges it and returns OK. The outcome is written even when there is
  // nothing left to acknowledge (the consumer group was deleted and re-created).
  //   FinishDone: writes the `done` record of the key (which also ends the lease).
  virtual Status FinishDone(const AttemptEnd& end) = 0;
  //   FinishRetry: schedules `next_raw` (the event with retry_count raised) for `due`,
  //   and releases the lease.
  virtual Status FinishRetry(const AttemptEnd& end, const std::string& next_raw,
                             UnixMillis due) = 0;
  //   FinishDead: appends a dead letter of `raw` with `reason` and releases the lease.
  //   `end.attempt` is the handler runs so far.
  virtual Status FinishDead(const AttemptEnd& end, DeadReason reason, const std::string& raw) = 0;
  //   FinishDuplicate: the key was already done; nothing ran.
  virtual Status FinishDuplicate(const AttemptEnd& end) = 0;
  //   Defer: the lease is busy; hand `raw` out again at `due` without counting an attempt.
  virtual Status Defer(const Delivery& delivery, UnixMillis due) = 0;
  // Several attempt-ending calls, in one round trip (or one transaction) where the store
  // allows it: (*out)[i] is what the single call of calls[i] would have returned. Each call
  // stays atomic on its own and is decided on its own: an error of one (a key of the wrong
  // type) says nothing of the others, and after a failure mid-way (Unavailable) some may
  // have been made; each is safe to repeat, as above. The default makes them one by one.
  virtual void FinishAll(const std::vector<FinishCall>& calls, std::vector<Status>* out);
  // Several StartAttempt calls with the same ttl and max_starts, in one round trip where
  // the store allows it, in order: (*out)[i] is what StartAttempt(attempts[i]) would have
  // returned. The default makes them one by one.
  virtual void StartAttempts(const std::vector<AttemptEnd>& attempts, Millis ttl, int max_starts,
                             std::vector<Result<Lease>>* out);
  //   Abandon: the attempt `end` stopped without an outcome (a shutdown cancelled its
  //   handler, or came before it started): gives the lease back; the delivery stays
  //   pending for a later run. When `end.ran` is false the handler never started, and a
  //   store that counts starts (StartAttempt's max_starts) takes this start back.
  virtual Status Abandon(const AttemptEnd& end) {
    return ReleaseLease(end.idempotency_key, end.lease_owner);
  }

  // Housekeeping, safe to run from several workers at once.
  // Moves up to `max` scheduled events that are due into the queue, each exactly once.
  // Returns how many moved.
  virtual Result<int> MoveDue(int max) = 0;
  // The due time of the earliest scheduled event (a retry, a deferral, a delayed emit), or
  // nullopt when none is scheduled (evt-work --burst waits for those due within its run).
  // The default (a store that schedules nothing) says none.
  virtual Result<std::optional<UnixMillis>> NextDue() { return std::optional<UnixMillis>(); }
  // The queue's depth for this worker's group: a few counts, cheap enough to read every
  // heartbeat (the /metrics gauges). nullopt from a store that keeps no count (the default:
  // a stream of lines read once).
  virtual Result<std::optional<QueueDepth>> Depth() { return std::optional<QueueDepth>(); }
  // Records this worker as alive (see WorkerInfo) / removes that record at a clean exit.
  virtual Status Heartbeat(const WorkerInfo& info) = 0;
  virtual Status Leave() = 0;
  // Drops history older than `retention` that no consumer group still needs: never an
  // entry that is undelivered or pending for any group. Returns how many were dropped.
  virtual Result<std::int64_t> Trim(Millis retention) = 0;
};

// A queue: the factory of sessions. Thread-safe. REQUIRES: it outlives its sessions.
class Queue {
 public:
  virtual ~Queue() = default;
  // A new session; it connects lazily, on its first call.
  virtual std::unique_ptr<QueueSession> OpenSession() = 0;
  // This worker's consumer name, for logs and records.
  virtual const std::string& consumer() const = 0;
  // The broker's redacted URL and the queue ("<url> queue default group workers"), for
  // messages; never holds a password.
  virtual std::string Describe() const = 0;
  // Where this queue's deliveries are committed, stable across restarts and without
  // credentials (the store's address, namespace, queue and group):
  // outcome journals (--state-dir) are replayed only into the queue of the same scope.
  virtual std::string Scope() const = 0;

  // Capabilities and the end of a run; the defaults are those of a durable store.
  //
  // Whether a Finish* call can fail for a while (a store that can be unreachable): then
  // the worker journals each outcome (fdatasync) before committing it, and needs a state
  // folder. False for a queue whose Finish* calls cannot fail transiently.
  virtual bool NeedsJournal() const { return true; }
  // Whether each outcome is journaled before its first commit attempt (true: a store over
  // the network, whose commit can block for a whole I/O timeout), or only once a commit
  // attempt has failed (false: a local store, whose commit is as quick and as durable
  // against a crash of the process as the journal's fdatasync). Either way an outcome
  // whose commit waits for the store is in the journal, and a stop leaves it there.
  virtual bool JournalFirst() const { return true; }
  // The defaults that complete an entry without event_id or occurred_at: the same on every
  // delivery of it (ForStreamEntry, event.h), not made up anew by each consumer.
  virtual EventDefaults EntryDefaults(const Delivery& delivery) const {
    return ForStreamEntry(delivery.id);
  }
  // A stop was asked for: Receive returns at once and hands out nothing more. Entries
  // already handed out may still be finished. Thread-safe.
  virtual void Stop() {}
  // True once nothing will ever be handed out again: the input ended and nothing is
  // pending, scheduled or waiting (a stream of events that ends). A durable store that
  // always may receive more never drains. Thread-safe.
  virtual bool Drained() const { return false; }
  // Ends the run, after every session has ended. A queue that keeps nothing beyond the
  // run records every entry it read or handed out and did not see finished as a dead
  // letter `interrupted`, and adds their number to *interrupted; a durable store keeps
  // them pending (for a later run) and adds nothing. Returns what went wrong with the
  // queue's own input or output during the run (IOError), or InvalidArgument when it
  // rejected input; OK otherwise.
  virtual Status EndRun(std::uint64_t* /*interrupted*/) { return Status::Ok(); }
};

}  // namespace evt
