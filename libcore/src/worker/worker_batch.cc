// A batch: the deliveries one thread took in one read. Their leases are asked for in one
// store call (StartAttempts), their handlers run one after another (worker_attempt.cc),
// and the calls that end them are committed together once the last one is decided: one
// journal write and fdatasync for their outcomes, then one FinishAll. What the batch's commit could
// not make goes the slow way, one call at a time, retried while the store is unreachable
// (worker_commit.cc).
#include "worker/worker_loop.h"

namespace evt {

void WorkerLoop::ProcessBatch(QueueSession& session, const std::vector<Delivery>& got,
                              std::mt19937_64& rng) {
  std::vector<BatchEntry> es(got.size());
  for (std::size_t i = 0; i < got.size(); ++i) Prepare(got[i], &es[i]);
  LeaseAll(session, es);
  Batch batch;
  for (BatchEntry& e : es) Attempt(session, e, rng, batch);
  CommitBatch(session, batch);
}

void WorkerLoop::Prepare(const Delivery& entry, BatchEntry* e) {
  e->entry = &entry;
  e->end.delivery_id = entry.id;
  // An entry without event_id takes its identity and time from the queue's defaults: the
  // same on every delivery, not made up anew by each consumer. From then on the event
  // carries it, so that a defer, a retry or a dead letter, which re-add it, keep it too.
  EventDefaults defaults = queue_.EntryDefaults(entry);
  defaults.max_event_bytes = options_.max_event_bytes;
  Result<Event> parsed = entry.rejected.empty()
                             ? ParseEvent(entry.raw, defaults)
                             : Result<Event>(Status::InvalidArgument(entry.rejected));
  if (!parsed.ok()) {
    e->parse = parsed.status();
    return;
  }
  if (parsed->event_id() == defaults.event_id) {
    e->carried = entry;
    e->carried.raw = Serialize(*parsed);
  }
  const Event& ev = *parsed;
  if (entry.deliveries == 1) ++stats_.events;
  AttemptEnd& end = e->end;
  end.event_id = ev.event_id();
  end.event_type = ev.event_type();
  end.idempotency_key = ev.idempotency_key();
  end.correlation_id = ev.correlation_id();
  end.attempt = static_cast<int>(std::min<std::int64_t>(ev.retry_count() + 1, 1 << 30));
  Result<UnixMillis> occurred = ParseRfc3339(ev.occurred_at());
  end.occurred_at = occurred.ok() ? *occurred : -1;
  end.lease_owner = consumer_ + " " + e->d().id;
  e->event.emplace(std::move(*parsed));
}

// Starts the attempts of the batch's events (StartAttempts, in one call), retried while
// the store is unreachable: an answered one is not asked again. Only a handler that
// started counts towards poison: a refused lease (the store out of memory) is
// Unavailable, waited out here, and counts nothing.
void WorkerLoop::LeaseAll(QueueSession& session, std::vector<BatchEntry>& es) {
  std::vector<std::size_t> unanswered;
  for (std::size_t i = 0; i < es.size(); ++i) {
    if (es[i].event) unanswered.push_back(i);
  }
  if (unanswered.empty()) return;
  const int max_starts = options_.retry.max_retries + 1;
  Status s = session.WithRetry(
      [&] {
        std::vector<AttemptEnd> ask;
        for (std::size_t i : unanswered) {
          if (Status w = WaitForKey(es[i].end.idempotency_key); !w.ok()) return w;
          ask.push_back(es[i].end);
        }
        std::vector<Result<Lease>> answers;
        session.StartAttempts(ask, options_.lease_ttl, max_starts, &answers);
        std::vector<std::size_t> left;
        Status last;
        for (std::size_t k = 0; k < unanswered.size(); ++k) {
          BatchEntry& e = es[unanswered[k]];
          if (answers[k].ok()) {
            e.lease = *answers[k];
            e.go = Leased(e, Status::Ok());
          } else if (answers[k].status().kind() == Status::Kind::kUnavailable) {
            left.push_back(unanswered[k]);
            last = answers[k].status();
          } else {
            Leased(e, answers[k].status());
          }
        }
        unanswered = std::move(left);
        return last;
      },
      [this] { return GiveUpRead(); });
  // A stop came while the store was down: what is not answered stays pending.
  for (std::size_t i : unanswered) Leased(es[i], s.ok() ? Status::Unavailable("stopped") : s);
}

// Takes StartAttempt's answer `s` (OK: e.lease) for e. True when there is something to
// decide: false when the lease could not be asked for (the entry stays pending for a later
// claim), or the delivery's outcome is already recorded, or another consumer runs it.
bool WorkerLoop::Leased(BatchEntry& e, const Status& s) {
  const AttemptEnd& end = e.end;
  if (!s.ok()) {
    ++stats_.abandoned;
    Note(LogLevel::kWarn, "left pending: could not take the idempotency lease",
         {{"event_id", end.event_id}, {"consumer", consumer_}, {"error", s.message()}});
    observer_.OnAttemptEnded(end, Disposition::kAbandoned, DeadReason::kInterrupted);
    return false;
  }
  if (e.lease.state == LeaseState::kFinished) {
    // One line per entry of the history a re-created group hands out again: debug only.
    Note(LogLevel::kDebug,
         "outcome already recorded (handed out again by a re-created group): acknowledged, not run",
         {{"event_id", end.event_id}, {"stream_id", end.delivery_id}, {"consumer", consumer_}});
    return false;
  }
  if (e.lease.state == LeaseState::kRunningElsewhere) {
    // A copy (Defer) would run it twice; its holder's commit acknowledges this delivery.
    Note(LogLevel::kDebug, "another consumer runs this entry; left pending for it",
         {{"event_id", end.event_id}, {"stream_id", end.delivery_id}, {"consumer", consumer_}});
    return false;
  }
  if (e.lease.state == LeaseState::kAcquired) {
    // Renewed while the batch runs and while its outcome waits to be committed.
    e.hold = std::make_unique<LeaseHold>(leases_, end.idempotency_key, end.lease_owner);
  }
  return true;
}

// The batch's outcomes journaled in one write and one fdatasync, then one FinishAll; what did not
// go through is committed again alone (CommitOutcome, Commit), after the rest is told.
void WorkerLoop::CommitBatch(QueueSession& session, Batch& batch) {
  if (batch.empty()) return;
  std::vector<JournalRecord*> outcomes;
  for (PendingFinish& f : batch) {
    if (f.outcome) outcomes.push_back(&f.record);
  }
  if (journal_ != nullptr && queue_.JournalFirst() && !outcomes.empty()) {
    if (Status s = journal_->Append(outcomes); s.ok()) {
      for (PendingFinish& f : batch) f.journaled = f.outcome;
    } else {
      Note(LogLevel::kError, "could not journal the outcomes; committing them without",
           {{"consumer", consumer_}, {"error", s.message()}});
    }
  }
  std::vector<FinishCall> calls;
  calls.reserve(batch.size());
  for (const PendingFinish& f : batch) calls.push_back(f.call);
  std::vector<Status> made;
  session.FinishAll(calls, &made);
  std::vector<std::uint64_t> retire;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (made[i].ok() && batch[i].journaled) retire.push_back(batch[i].record.seq);
  }
  if (!retire.empty()) {
    if (Status rs = journal_->Retire(retire); !rs.ok()) {
      Note(LogLevel::kWarn, rs.message(), {{"consumer", consumer_}});
    }
  }
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (made[i].ok()) Finished(batch[i]);
  }
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (made[i].ok()) continue;
    PendingFinish& f = batch[i];
    if (f.outcome) {
      CommitOutcome(session, f);
    } else {
      Commit(session, f.call.end, f.what, f.reason, [&] { return FinishOne(session, f.call); });
    }
  }
  for (PendingFinish& f : batch) {
    if (!f.outcome) continue;
    --commits_waiting_;
    KeyWaiting(f.record.end.idempotency_key, -1);
  }
}

// A call of the batch that was made (its journal record already retired).
void WorkerLoop::Finished(PendingFinish& f) {
  if (!f.outcome) {
    observer_.OnAttemptEnded(f.call.end, f.what, f.reason);
    return;
  }
  Ended(f.record);
}

}  // namespace evt
