// Ending an attempt: the one atomic Finish* call, retried while the store is unreachable.
// The outcome of a handler that ran is journaled first (when the queue needs a journal),
// so that a stop or a crash before the commit loses nothing.
#include <thread>

#include "worker/worker_loop.h"

namespace evt {

Disposition DispositionOf(JournalOutcome o) {
  switch (o) {
    case JournalOutcome::kDone:
      return Disposition::kDone;
    case JournalOutcome::kRetry:
      return Disposition::kRetry;
    case JournalOutcome::kDead:
      return Disposition::kFailed;
    case JournalOutcome::kDuplicate:
      return Disposition::kDuplicate;
  }
  return Disposition::kFailed;
}

void WorkerLoop::Commit(QueueSession& session, const AttemptEnd& end, Disposition what,
                        DeadReason reason, const std::function<Status()>& op) {
  // The outcome is known: keep trying to record it until the shutdown grace is over.
  Status s = session.WithRetry(op, [this] {
    StoreDown();
    return grace_over_.load();
  });
  if (s.ok()) {
    observer_.OnAttemptEnded(end, what, reason);
    return;
  }
  ++stats_.abandoned;
  NoteEvent(
      LogLevel::kError,
      "could not record the outcome; the entry stays pending and will be claimed and run again",
      end, {{"outcome", DispositionName(what)}, {"error", s.message()}});
  observer_.OnAttemptEnded(end, Disposition::kAbandoned, reason);
}

Status WorkerLoop::CommitRecord(QueueSession& session, const JournalRecord& r) {
  switch (r.outcome) {
    case JournalOutcome::kDone:
      return session.FinishDone(r.end);
    case JournalOutcome::kRetry:
      return session.FinishRetry(r.end, r.next_raw, r.due);
    case JournalOutcome::kDead:
      return session.FinishDead(r.end, r.reason, r.raw);
    case JournalOutcome::kDuplicate:
      return session.FinishDuplicate(r.end);
  }
  return Status::Internal("unknown journaled outcome");
}

void WorkerLoop::Ended(const JournalRecord& record) {
  observer_.OnAttemptEnded(record.end, DispositionOf(record.outcome), record.reason);
}

// The outcome of a handler that ran, whose commit with its batch did not go through
// (CommitBatch): committed again until it is made. A queue that is not JournalFirst
// journals it now (its first attempt failed). Its key is not started again until then,
// and once it has found the store unreachable no thread reads new work; the lease is
// renewed meanwhile (the batch's LeaseHold). When the grace of a stop ends first, the
// outcome stays in the journal for the next start.
void WorkerLoop::CommitOutcome(QueueSession& session, PendingFinish& f) {
  JournalRecord& record = f.record;
  Status journaled = f.journaled ? Status::Ok() : Status::Unavailable("no journal");
  if (journal_ != nullptr && !queue_.JournalFirst()) {
    journaled = journal_->Append(&record);
    if (!journaled.ok()) {
      NoteEvent(LogLevel::kError, "could not journal the outcome; committing it without",
                record.end,
                {{"outcome", std::string(JournalOutcomeName(record.outcome))},
                 {"error", journaled.message()}});
    }
  }
  // A commit that finds the store unreachable holds every new read back until it is made:
  // when the store comes back, waiting commits go first.
  bool stalled = false;
  auto attempt = [&] {
    return session.WithRetry(
        [&] {
          Status r = CommitRecord(session, record);
          if (r.kind() == Status::Kind::kUnavailable && !stalled) {
            stalled = true;
            CommitStalled(+1);
          }
          return r;
        },
        [this] {
          StoreDown();
          return grace_over_.load();
        });
  };
  Status s = attempt();
  if (!s.ok() && s.kind() != Status::Kind::kUnavailable && journaled.ok()) {
    s = CommitStubborn(record, s, attempt);
  }
  if (stalled) CommitStalled(-1);
  if (s.ok()) {
    if (journaled.ok()) {
      if (Status rs = journal_->Retire(record.seq); !rs.ok()) {
        Note(LogLevel::kWarn, rs.message(), {{"consumer", consumer_}});
      }
    }
    Ended(record);
    return;
  }
  CommitFailed(record, journaled.ok(), s);
}

// A refusal that an operator must fix (a key of the wrong type, an ACL rule): the script
// wrote nothing, the entry stays pending and the outcome journaled. Try again, slowly,
// for as long as this worker lives, so the fix takes effect without running the handler
// again; the key stays held meanwhile. Said once, and once more when it goes through.
Status WorkerLoop::CommitStubborn(const JournalRecord& record, Status s,
                                  const std::function<Status()>& attempt) {
  const AttemptEnd& end = record.end;
  const std::string what(JournalOutcomeName(record.outcome));
  NoteEvent(LogLevel::kError,
            "could not record the outcome; the entry stays pending and the outcome stays in "
            "the journal; retrying until the store accepts it",
            end, {{"outcome", what}, {"error", s.message()}});
  Millis wait(250);
  while (!s.ok() && s.kind() != Status::Kind::kUnavailable && !grace_over_.load()) {
    for (Millis slept(0); slept < wait && !grace_over_.load(); slept += Millis(50)) {
      std::this_thread::sleep_for(Millis(50));
    }
    wait = std::min(wait * 2, Millis(5000));
    if (!grace_over_.load()) s = attempt();
  }
  if (s.ok()) NoteEvent(LogLevel::kWarn, "outcome recorded after all", end, {{"outcome", what}});
  return s;
}

void WorkerLoop::CommitFailed(const JournalRecord& record, bool journaled, const Status& s) {
  const AttemptEnd& end = record.end;
  const std::string what(JournalOutcomeName(record.outcome));
  if (!journaled) {
    ++stats_.abandoned;
    NoteEvent(
        LogLevel::kError,
        "could not record the outcome; the entry stays pending and will be claimed and run again",
        end, {{"outcome", what}, {"error", s.message()}});
    observer_.OnAttemptEnded(end, Disposition::kAbandoned, record.reason);
    return;
  }
  ++stats_.left_in_journal;
  observer_.OnAttemptEnded(end, Disposition::kJournaled, record.reason);
  if (s.kind() == Status::Kind::kUnavailable) {  // the grace of a stop is over
    NoteEvent(LogLevel::kDebug, "outcome left in the journal for the next start", end,
              {{"outcome", what}});
    return;
  }
  NoteEvent(LogLevel::kError,
            "could not record the outcome; it stays in the journal and is committed again at "
            "the next start",
            end, {{"outcome", what}, {"journal", journal_->path()}, {"error", s.message()}});
  std::lock_guard<std::mutex> lock(own_mu_);
  in_flight_ids_.insert(end.delivery_id);  // never handed out again by this worker
}

void WorkerLoop::KeyWaiting(const std::string& key, int delta) {
  std::lock_guard<std::mutex> lock(keys_mu_);
  if (delta > 0) {
    keys_waiting_.insert(key);
  } else {
    auto it = keys_waiting_.find(key);
    if (it != keys_waiting_.end()) keys_waiting_.erase(it);
  }
  keys_cv_.notify_all();
}

void WorkerLoop::CommitStalled(int delta) {
  std::lock_guard<std::mutex> lock(keys_mu_);
  commits_stalled_ += delta;
  keys_cv_.notify_all();
}

void WorkerLoop::WaitForCommits() {
  std::unique_lock<std::mutex> lock(keys_mu_);
  keys_cv_.wait_for(lock, Millis(200), [this] { return commits_stalled_ == 0 || Stopping(); });
}

// Holds a new attempt of `key` back while an earlier outcome of the same key waits to be
// committed: its lease may have lapsed in an outage, and the commit will make this one a
// duplicate. TryAgain when a stop comes first (the entry then stays pending).
Status WorkerLoop::WaitForKey(const std::string& key) {
  if (key.empty()) return Status::Ok();
  std::unique_lock<std::mutex> lock(keys_mu_);
  while (keys_waiting_.count(key) > 0) {
    if (Stopping()) {
      return Status::TryAgain("an earlier outcome of idempotency key " + key +
                              " waits to be committed");
    }
    keys_cv_.wait_for(lock, Millis(200));
  }
  return Status::Ok();
}

}  // namespace evt
