// One delivery of a batch whose lease is answered (worker_batch.cc): decide (DecideAction,
// worker_rules.h), run the handler, decide again, then act on the decision; the calls that
// end the attempt wait in the batch for its commit.
#include "worker/worker_loop.h"

namespace evt {
namespace {

struct InFlight {
  std::atomic<int>& n;
  explicit InFlight(std::atomic<int>& c) : n(c) { ++n; }
  ~InFlight() { --n; }
};

FinishCall::Kind CallKindOf(JournalOutcome o) {
  switch (o) {
    case JournalOutcome::kDone:
      return FinishCall::Kind::kDone;
    case JournalOutcome::kRetry:
      return FinishCall::Kind::kRetry;
    case JournalOutcome::kDead:
      return FinishCall::Kind::kDead;
    case JournalOutcome::kDuplicate:
      return FinishCall::Kind::kDuplicate;
  }
  return FinishCall::Kind::kDone;
}

}  // namespace

void WorkerLoop::Attempt(QueueSession& session, BatchEntry& e, std::mt19937_64& rng, Batch& batch) {
  InFlight in_flight(in_flight_);
  AttemptFacts facts;
  if (!e.event) {
    // Not an event this worker can run: a dead letter now, kept whole for a replay.
    facts.parse = e.parse;
    Act(session, DecideAction(facts, rules_, rng), e.end, nullptr, e.d(), batch);
    return;
  }
  if (!e.go) return;
  const Event& ev = *e.event;
  facts.lease = &e.lease;
  facts.attempt = e.end.attempt;
  Decision decision = DecideAction(facts, rules_, rng);
  if (decision.action != Action::kRun) {
    Act(session, decision, e.end, &ev, e.d(), batch);
    return;
  }
  if (grace_over_) {
    // The grace of a stop ended before this handler of the batch could start.
    AbandonAttempt(session, e.end);
    return;
  }
  HandlerResult r = RunHandler(ev, e.end);
  facts.result = &r;
  Act(session, DecideAction(facts, rules_, rng), e.end, &ev, e.d(), batch);
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
// ran (invalid, poison) is committed without.
void WorkerLoop::DeadLetter(DeadReason reason, JournalRecord record, const Delivery& d,
                            Batch& batch) {
  if (record.end.ran) {
    record.outcome = JournalOutcome::kDead;
    record.reason = reason;
    record.raw = d.raw;
    AddOutcome(batch, std::move(record));
  } else {
    FinishCall call;
    call.kind = FinishCall::Kind::kDead;
    call.end = record.end;
    call.reason = reason;
    call.raw = d.raw;
    AddCall(batch, std::move(call), Disposition::kFailed, reason);
  }
  ++(reason == DeadReason::kInvalid ? stats_.invalid : stats_.failed);
}

// The outcome of a handler that ran joins the batch, whose commit journals it first (when
// the queue journals first). Its key waits meanwhile.
void WorkerLoop::AddOutcome(Batch& batch, JournalRecord record) {
  PendingFinish f;
  f.outcome = true;
  f.call.kind = CallKindOf(record.outcome);
  f.call.end = record.end;
  f.call.reason = record.reason;
  f.call.raw = record.outcome == JournalOutcome::kRetry ? record.next_raw : record.raw;
  f.call.due = record.due;
  f.what = DispositionOf(record.outcome);
  f.reason = record.reason;
  KeyWaiting(record.end.idempotency_key, +1);
  ++commits_waiting_;
  f.record = std::move(record);
  batch.push_back(std::move(f));
}

void WorkerLoop::AddCall(Batch& batch, FinishCall call, Disposition what, DeadReason reason) {
  PendingFinish f;
  f.call = std::move(call);
  f.what = what;
  f.reason = reason;
  batch.push_back(std::move(f));
}

void WorkerLoop::AbandonAttempt(QueueSession& session, const AttemptEnd& end) {
  ++stats_.abandoned;
  // One try: an expired lease does the same job a little later.
  session.WithRetry([&] { return session.Abandon(end); }, [] { return true; });
  observer_.OnAttemptEnded(end, Disposition::kAbandoned, DeadReason::kInterrupted);
}

void WorkerLoop::Act(QueueSession& session, const Decision& decision, AttemptEnd& end,
                     const Event* ev, const Delivery& d, Batch& batch) {
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
      AddOutcome(batch, std::move(record));
      ++stats_.done;
      return;
    case Action::kRetry: {
      Event next = *ev;
      next.set_retry_count(ev->retry_count() + 1);
      record.outcome = JournalOutcome::kRetry;
      record.next_raw = Serialize(next);
      record.due = options_.clock->WallNow() + decision.delay.count();
      AddOutcome(batch, std::move(record));
      ++stats_.retries;
      return;
    }
    case Action::kDeadLetter:
      DeadLetter(decision.reason, std::move(record), d, batch);
      return;
    case Action::kDuplicate: {
      FinishCall call;
      call.kind = FinishCall::Kind::kDuplicate;
      call.end = end;
      AddCall(batch, std::move(call), Disposition::kDuplicate, DeadReason::kPermanent);
      ++stats_.duplicate;
      return;
    }
    case Action::kDefer: {
      FinishCall call;
      call.kind = FinishCall::Kind::kDefer;
      call.end = end;  // the call reads only its delivery id, the observer all of it
      call.raw = d.raw;
      call.due = options_.clock->WallNow() + decision.delay.count();
      AddCall(batch, std::move(call), Disposition::kDeferred, DeadReason::kPermanent);
      ++stats_.deferred;
      return;
    }
    case Action::kAbandon:
      AbandonAttempt(session, end);
      return;
  }
}

}  // namespace evt
