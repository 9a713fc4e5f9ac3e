// The SQLite queue's batch calls (FinishAll, StartAttempts) and Abandon. A batch is ONE
// write transaction, so N items cost one commit instead of N (one write lock, one append
// to the WAL, and with ?sync=full one fsync). The items are made in order inside it, each
// seeing the ones before, exactly as the single calls would one after another. When the
// transaction fails as a whole (the file busy past busy_timeout, the disk full, an error
// of one item) nothing of it was written, and the items are made again one by one, so
// that each gets its own answer (queue.h: each call is decided on its own).
#include "sqlite/queue_sqlite_session.h"
#include "sqlite/sqlite_names.h"

namespace evt {
namespace {

// Calls make(i, down) for each i in `items`, in order: make stores the answer of item i
// and returns its Status. `down` is OK until an item answers Unavailable (the file refuses
// writes for now, not that item); from then on make(i, down) stores `down` without trying,
// rather than waiting for the lock once more for each item.
template <typename F>
void OneByOne(const std::vector<std::size_t>& items, F make) {
  Status down;
  for (std::size_t i : items) {
    Status s = make(i, down);
    if (down.ok() && s.kind() == Status::Kind::kUnavailable) down = s;
  }
}

}  // namespace

SqliteQueueSession::Finishing SqliteQueueSession::FinishingOf(const FinishCall& c) {
  Finishing f;
  f.end = &c.end;  // a deferral reads nothing of it but delivery_id, as Defer
  f.reason = c.reason;
  f.raw = &c.raw;
  f.due = c.due;
  switch (c.kind) {
    case FinishCall::Kind::kDone:
      f.mode = Mode::kDone;
      break;
    case FinishCall::Kind::kRetry:
      f.mode = Mode::kRetry;
      break;
    case FinishCall::Kind::kDead:
      f.mode = Mode::kDead;
      break;
    case FinishCall::Kind::kDuplicate:
      f.mode = Mode::kDuplicate;
      break;
    case FinishCall::Kind::kDefer:
      f.mode = Mode::kDefer;
      break;
  }
  return f;
}

void SqliteQueueSession::FinishAll(const std::vector<FinishCall>& calls, std::vector<Status>* out) {
  out->assign(calls.size(), Status::Ok());
  std::vector<std::size_t> items;  // those with an entry id: the others fail alone
  std::vector<std::int64_t> rows(calls.size(), -1);
  for (std::size_t i = 0; i < calls.size(); ++i) {
    rows[i] = SqliteRowId(calls[i].end.delivery_id);
    if (rows[i] < 0) {
      (*out)[i] = NotAnEntryId(calls[i].end.delivery_id);
    } else {
      items.push_back(i);
    }
  }
  if (items.empty()) return;
  Status all = Write([&] {
    for (std::size_t i : items) {
      if (Status s = FinishStep(FinishingOf(calls[i]), rows[i]); !s.ok()) return s;
    }
    return Status::Ok();
  });
  if (all.ok()) return;
  OneByOne(items, [&](std::size_t i, const Status& down) {
    (*out)[i] = down.ok() ? Finish(FinishingOf(calls[i])) : down;
    return (*out)[i];
  });
}

void SqliteQueueSession::StartAttempts(const std::vector<AttemptEnd>& attempts, Millis ttl,
                                       int max_starts, std::vector<Result<Lease>>* out) {
  out->assign(attempts.size(), Lease{});
  std::vector<std::size_t> items;
  for (std::size_t i = 0; i < attempts.size(); ++i) {
    if (SqliteRowId(attempts[i].delivery_id) < 0) {
      (*out)[i] = NotAnEntryId(attempts[i].delivery_id);
    } else {
      items.push_back(i);
    }
  }
  if (items.empty()) return;
  std::vector<Lease> leases(attempts.size());
  Status all = Write([&] {
    for (std::size_t i : items) {
      Result<Lease> r = LeaseStep(attempts[i], ttl, max_starts, true);
      if (!r.ok()) return r.status();
      leases[i] = *r;
    }
    return Status::Ok();
  });
  if (all.ok()) {
    for (std::size_t i : items) (*out)[i] = leases[i];
    return;
  }
  OneByOne(items, [&](std::size_t i, const Status& down) {
    (*out)[i] = down.ok() ? StartAttempt(attempts[i], ttl, max_starts) : Result<Lease>(down);
    return (*out)[i].status();
  });
}

// Gives the lease back if the owner still holds it and, when the handler never started,
// takes this attempt's start back (never below 0). Only a release that happened takes a
// start back, so a repeated Abandon takes back one.
Status SqliteQueueSession::Abandon(const AttemptEnd& end) {
  const std::int64_t row = end.ran ? -1 : SqliteRowId(end.delivery_id);
  return Write([&] {
    Status s = db_.Prepare(
                      "DELETE FROM idem WHERE qid = ?1 AND key = ?2 AND state = 'running' AND "
                      "owner = ?3")
                   .Bind(qid_)
                   .Bind(end.idempotency_key)
                   .Bind(end.lease_owner)
                   .Run();
    if (!s.ok() || row < 0 || db_.Changes() == 0) return s;
    return db_
        .Prepare("UPDATE marks SET starts = starts - 1 WHERE qid = ?1 AND id = ?2 AND starts > 0")
        .Bind(qid_)
        .Bind(row)
        .Run();
  });
}

}  // namespace evt
