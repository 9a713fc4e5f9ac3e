// One delivery, from receipt to the call that ends it: parse, lease, run, decide
// (DecideAction, worker_rules.h), then act on the decision.
#include "worker/worker_loop.h"

namespace evt {
namespace {

struct InFlight {
  std::atomic<int>& n;
  explicit InFlight(std::atomic<int>& c) : n(c) { ++n; }
  ~InFlight() { --n; }
};

// Registers a held lease with the housekeeper for as long as it lives.
class LeaseHold {
 public:
  LeaseHold(HeldLeases& leases, std::string key, std::string owner)
      : leases_(leases), key_(std::move(key)), owner_(std::move(owner)) {
    leases_.Add(key_, owner_);
  }
  ~LeaseHold() { leases_.Remove(key_, owner_); }
  LeaseHold(const LeaseHold&) = delete;
  LeaseHold& operator=(const LeaseHold&) = delete;

 private:
  HeldLeases& leases_;
  const std::string key_, owner_;
};

}  // namespace

void WorkerLoop::Process(QueueSession& session, const Delivery& entry, std::mt19937_64& rng) {
  InFlight in_flight(in_flight_);
  AttemptEnd end;
  end.delivery_id = entry.id;
  // An entry without event_id takes its identity and time from the queue's defaults: the
  // same on every delivery, not made up anew by each consumer. From then on the event
  // carries it, so that a defer, a retry or a dead letter, which re-add it, keep it too.
  EventDefaults defaults = queue_.EntryDefaults(entry);
  defaults.max_event_bytes = options_.max_event_bytes;
  Result<Event> parsed = entry.rejected.empty()
                             ? ParseEvent(entry.raw, defaults)
                             : Result<Event>(Status::InvalidArgument(entry.rejected));
  Delivery carried;
  if (parsed.ok() && parsed->event_id() == defaults.event_id) {
    carried = entry;
    carried.raw = Serialize(*parsed);
  }
  const Delivery& d = carried.id.empty() ? entry : carried;
  AttemptFacts facts;
  if (!parsed.ok()) {
    // Not an event this worker can run: a dead letter now, kept whole for a replay.
    facts.parse = parsed.status();
    Act(session, DecideAction(facts, rules_, rng), end, nullptr, d);
    return;
  }
  const Event& ev = *parsed;
  if (entry.deliveries == 1) ++stats_.events;
  end.event_id = ev.event_id();
  end.event_type = ev.event_type();
  end.idempotency_key = ev.idempotency_key();
  end.correlation_id = ev.correlation_id();
  end.attempt = static_cast<int>(std::min<std::int64_t>(ev.retry_count() + 1, 1 << 30));
  Result<UnixMillis> occurred = ParseRfc3339(ev.occurred_at());
  end.occurred_at = occurred.ok() ? *occurred : -1;
  end.lease_owner = consumer_ + " " + d.id;
  Lease lease;
  if (!StartLease(session, end, &lease)) return;
  facts.lease = &lease;
  facts.attempt = end.attempt;
  Decision decision = DecideAction(facts, rules_, rng);
  if (decision.action != Action::kRun) {
    Act(session, decision, end, &ev, d);
    return;
  }
  // Renewed while the handler runs and while its outcome waits to be committed.
  LeaseHold hold(leases_, end.idempotency_key, end.lease_owner);
  HandlerResult r = RunHandler(ev, end);
  facts.result = &r;
  Act(session, DecideAction(facts, rules_, rng), end, &ev, d);
}

// Takes the lease of end.idempotency_key (StartAttempt). False when nothing is to be done
// with the delivery: the lease could not be asked for before a stop, or the delivery's
// outcome is already recorded, or another consumer runs it.
bool WorkerLoop::StartLease(QueueSession& session, AttemptEnd& end, Lease* lease) {
  // Only a handler that started counts towards poison: a refused lease (the store out of
  // memory) is Unavailable, waited out here, and counts nothing.
  const int max_starts = options_.retry.max_retries + 1;
  Status s = session.WithRetry(
      [&] {
        if (Status w = WaitForKey(end.idempotency_key); !w.ok()) return w;
        Result<Lease> r = session.StartAttempt(end, options_.lease_ttl, max_starts);
        if (r.ok()) *lease = *r;
        return r.ok() ? Status::Ok() : r.status();
      },
      [this] { return GiveUpRead(); });
  if (!s.ok()) {
    // Nothing ran: the entry stays pending for a later claim.
    ++stats_.abandoned;
    Note(LogLevel::kWarn, "left pending: could not take the idempotency lease",
         {{"event_id", end.event_id}, {"consumer", consumer_}, {"error", s.message()}});
    observer_.OnAttemptEnded(end, Disposition::kAbandoned, DeadReason::kInterrupted);
    return false;
  }
  if (lease->state == LeaseState::kFinished) {
    // One line per entry of the history a re-created group hands out again: debug only.
    Note(LogLevel::kDebug,
         "outcome already recorded (handed out again by a re-created group): acknowledged, not run",
         {{"event_id", end.event_id}, {"stream_id", end.delivery_id}, {"consumer", consumer_}});
    return false;
  }
  if (lease->state == LeaseState::kRunningElsewhere) {
    // A copy (Defer) would run it twice; its holder's commit acknowledges this delivery.
    Note(LogLevel::kDebug, "another consumer runs this entry; left pending for it",
         {{"event_id", end.event_id}, {"stream_id", end.delivery_id}, {"consumer", consumer_}});
    return false;
  }
  return true;
}

HandlerResult WorkerLoop::RunHandler(const Event& ev, AttemptEnd& end) {
  AttemptContext ctx;
  ctx.event = &ev;
  ctx.attempt = end.attempt;
  ctx.cancel = &cancel_;
  ctx.on_stderr_line = [&](std::string_view text) { observer_.OnHandlerOutput(end, text); };
  observer_.OnAttemptStarted(end);
  ++stats_.attempts;
  HandlerResult r = handler_.Run(ctx);
  end.ran = true;
  end.duration = r.duration;
  end.category = r.category;
  end.error = r.error;
  observer_.OnHandlerEnded(end, r);
  if (r.fatal) {
    // The handler kind cannot go on (a co-process that dies at start-up again and again):
    // stop the worker rather than fail every event; this one stays pending.
    Fatal(Status::Unavailable("handler: " + r.error));
  }
  return r;
}

// A dead letter: the outcome of a handler that ran is journaled first; an entry that never
// ran (invalid, poison) is committed at once.
void WorkerLoop::DeadLetter(QueueSession& session, DeadReason reason, JournalRecord record,
                            const Delivery& d) {
  if (record.end.ran) {
    record.outcome = JournalOutcome::kDead;
    record.reason = reason;
    record.raw = d.raw;
    CommitOutcome(session, std::move(record));
  } else {
    const AttemptEnd& end = record.end;
    Commit(session, end, Disposition::kFailed, reason,
           [&] { return session.FinishDead(end, reason, d.raw); });
  }
  ++(reason == DeadReason::kInvalid ? stats_.invalid : stats_.failed);
}

void WorkerLoop::Act(QueueSession& session, const Decision& decision, AttemptEnd& end,
                     const Event* ev, const Delivery& d) {
  if (decision.action == Action::kDeadLetter) {
    end.category = decision.category;
    end.error = decision.error;
  }
  if (decision.action == Action::kDuplicate) {
    end.attempt = 0;
    end.lease_owner.clear();
  }
  observer_.OnDecided(end, decision);
  JournalRecord record;
  record.end = end;
  switch (decision.action) {
    case Action::kRun:
    case Action::kNone:
      return;
    case Action::kDone:
      record.outcome = JournalOutcome::kDone;
      CommitOutcome(session, std::move(record));
      ++stats_.done;
      return;
    case Action::kRetry: {
      Event next = *ev;
      next.set_retry_count(ev->retry_count() + 1);
      record.outcome = JournalOutcome::kRetry;
      record.next_raw = Serialize(next);
      record.due = options_.clock->WallNow() + decision.delay.count();
      CommitOutcome(session, std::move(record));
      ++stats_.retries;
      return;
    }
    case Action::kDeadLetter:
      DeadLetter(session, decision.reason, std::move(record), d);
      return;
    case Action::kDuplicate:
      Commit(session, end, Disposition::kDuplicate, DeadReason::kPermanent,
             [&] { return session.FinishDuplicate(end); });
      ++stats_.duplicate;
      return;
    case Action::kDefer:
      Commit(session, end, Disposition::kDeferred, DeadReason::kPermanent,
             [&] { return session.Defer(d, options_.clock->WallNow() + decision.delay.count()); });
      ++stats_.deferred;
      return;
    case Action::kAbandon:
      ++stats_.abandoned;
      // One try: an expired lease does the same job a little later.
      session.WithRetry([&] { return session.Abandon(end); }, [] { return true; });
      observer_.OnAttemptEnded(end, Disposition::kAbandoned, DeadReason::kInterrupted);
      return;
  }
}

}  // namespace evt
