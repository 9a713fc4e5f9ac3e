// The SQLite queue's attempts: the idempotency lease, StartAttempt, and the attempt-ending
// calls. Each is one write transaction: every row it writes, or none.
#include <algorithm>

#include "evt/metrics.h"
#include "sqlite/queue_sqlite_session.h"
#include "sqlite/sqlite_names.h"

namespace evt {
namespace {

constexpr std::size_t kMaxErrorBytes = 1024;
// Life of a delivery's commit marker and start count, as in Redis (fin:, run:).
constexpr std::int64_t kDeliveryMarkTtlMs = 24LL * 3600 * 1000;

// A bounded error text, cut on a UTF-8 character boundary.
std::string Bounded(const std::string& s) {
  if (s.size() <= kMaxErrorBytes) return s;
  std::size_t n = kMaxErrorBytes;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n) + "...";
}

bool EndsWith(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

}  // namespace

Result<bool> SqliteQueueSession::Committed(std::int64_t row, UnixMillis now) {
  Query q = db_.Prepare(
      "SELECT 1 FROM marks WHERE qid = ?1 AND id = ?2 AND fin IS NOT NULL AND expires_ms > ?3");
  q.Bind(qid_).Bind(row).Bind(now);
  return q.Step();
}

Status SqliteQueueSession::WriteRunning(const AttemptEnd& a, UnixMillis now) {
  if (a.event_id.empty()) return Status::Ok();
  return db_
      .Prepare(
          "INSERT INTO events(qid, event_id, status, event_type, idempotency_key, attempts, "
          "consumer, stream_id, started_at, expires_ms) VALUES(?1, ?2, 'running', ?3, ?4, "
          "?5, ?6, ?7, ?8, ?9) ON CONFLICT DO UPDATE SET status = 'running', event_type = "
          "excluded.event_type, idempotency_key = excluded.idempotency_key, attempts = "
          "excluded.attempts, consumer = excluded.consumer, stream_id = excluded.stream_id, "
          "started_at = excluded.started_at, expires_ms = excluded.expires_ms")
      .Bind(qid_)
      .Bind(a.event_id)
      .Bind(a.event_type)
      .Bind(a.idempotency_key)
      .Bind(a.attempt)
      .Bind(consumer_)
      .Bind(a.delivery_id)
      .Bind(FormatRfc3339Millis(now))
      .Bind(now + options_.idempotency_ttl.count())
      .Run();
}

// The lease rules of queue.h, in the caller's write transaction. With `attempt`, also
// the commit marker (kFinished), the poison count and the `running` status.
Result<Lease> SqliteQueueSession::LeaseStep(const AttemptEnd& a, Millis ttl, int max_starts,
                                            bool attempt) {
  const UnixMillis now = NowUnixMillis();
  const std::int64_t row = SqliteRowId(a.delivery_id);
  Lease lease;
  if (attempt) {
    Result<bool> done = Committed(row, now);
    if (!done.ok()) return done.status();
    if (*done) {
      if (Status s = Ack(row); !s.ok()) return s;
      lease.state = LeaseState::kFinished;
      return lease;
    }
  }
  {
    Query q = db_.Prepare(
        "SELECT state, owner, expires_ms FROM idem WHERE qid = ?1 AND key = ?2 AND expires_ms > "
        "?3");
    q.Bind(qid_).Bind(a.idempotency_key).Bind(now);
    Result<bool> found = q.Step();
    if (!found.ok()) return found.status();
    if (*found && q.Text(0) == "done") {
      lease.state = LeaseState::kAlreadyDone;
      return lease;
    }
    if (*found && q.Text(1) != a.lease_owner) {
      // Owners are "<consumer> <entry id>": does the holder run this very entry?
      const bool same = attempt && EndsWith(q.Text(1), " " + a.delivery_id);
      lease.state = same ? LeaseState::kRunningElsewhere : LeaseState::kBusy;
      lease.remaining = Millis(std::max<std::int64_t>(0, q.Int(2) - now));
      return lease;
    }
  }
  if (attempt) {
    Query q =
        db_.Prepare("SELECT starts FROM marks WHERE qid = ?1 AND id = ?2 AND expires_ms > ?3");
    q.Bind(qid_).Bind(row).Bind(now);
    Result<bool> found = q.Step();
    if (!found.ok()) return found.status();
    lease.starts = *found ? q.Int(0) : 0;
    if (max_starts > 0 && lease.starts >= max_starts) {
      lease.state = LeaseState::kPoison;
      return lease;
    }
  }
  Status s = db_.Prepare(
                    "INSERT INTO idem(qid, key, state, owner, expires_ms) VALUES(?1, ?2, "
                    "'running', ?3, ?4) ON CONFLICT DO UPDATE SET state = 'running', owner = "
                    "excluded.owner, expires_ms = excluded.expires_ms")
                 .Bind(qid_)
                 .Bind(a.idempotency_key)
                 .Bind(a.lease_owner)
                 .Bind(now + std::max<std::int64_t>(1, ttl.count()))
                 .Run();
  if (!s.ok() || !attempt) return s.ok() ? Result<Lease>(lease) : Result<Lease>(s);
  s = db_.Prepare(
             "INSERT INTO marks(qid, id, starts, fin, expires_ms) VALUES(?1, ?2, ?3, NULL, ?4) "
             "ON CONFLICT DO UPDATE SET starts = excluded.starts, fin = NULL, expires_ms = "
             "excluded.expires_ms")
          .Bind(qid_)
          .Bind(row)
          .Bind(lease.starts + 1)
          .Bind(now + kDeliveryMarkTtlMs)
          .Run();
  if (!s.ok()) return s;
  lease.starts += 1;
  if (s = WriteRunning(a, now); !s.ok()) return s;
  return lease;
}

Result<Lease> SqliteQueueSession::TakeLease(const std::string& key, const std::string& owner,
                                            Millis ttl) {
  AttemptEnd a;
  a.idempotency_key = key;
  a.lease_owner = owner;
  Lease lease;
  Status s = Write([&] {
    Result<Lease> r = LeaseStep(a, ttl, 0, false);
    if (r.ok()) lease = *r;
    return r.ok() ? Status::Ok() : r.status();
  });
  if (!s.ok()) return s;
  return lease;
}

Result<Lease> SqliteQueueSession::StartAttempt(const AttemptEnd& a, Millis ttl, int max_starts) {
  if (SqliteRowId(a.delivery_id) < 0) return NotAnEntryId(a.delivery_id);
  Lease lease;
  Status s = Write([&] {
    Result<Lease> r = LeaseStep(a, ttl, max_starts, true);
    if (r.ok()) lease = *r;
    return r.ok() ? Status::Ok() : r.status();
  });
  if (!s.ok()) return s;
  return lease;
}

Status SqliteQueueSession::MarkRunning(const AttemptEnd& end) {
  return Write([&] { return WriteRunning(end, NowUnixMillis()); });
}

Status SqliteQueueSession::FinishDone(const AttemptEnd& end) {
  return Finish({Mode::kDone, &end, DeadReason::kPermanent, nullptr, 0, 0});
}
Status SqliteQueueSession::FinishRetry(const AttemptEnd& end, const std::string& next_raw,
                                       UnixMillis due) {
  return Finish({Mode::kRetry, &end, DeadReason::kPermanent, &next_raw, due, 0});
}
Status SqliteQueueSession::FinishDead(const AttemptEnd& end, DeadReason reason,
                                      const std::string& raw) {
  return Finish({Mode::kDead, &end, reason, &raw, 0, 0});
}
Status SqliteQueueSession::FinishDuplicate(const AttemptEnd& end) {
  return Finish({Mode::kDuplicate, &end, DeadReason::kPermanent, nullptr, 0, 0});
}
Status SqliteQueueSession::Defer(const Delivery& delivery, UnixMillis due) {
  AttemptEnd end;
  end.delivery_id = delivery.id;
  return Finish({Mode::kDefer, &end, DeadReason::kPermanent, &delivery.raw, due, 0});
}

// Fields left NULL keep what the row had (as HSET keeps the fields it is not given).
Status SqliteQueueSession::WriteStatus(const Finishing& f) {
  const AttemptEnd& e = *f.end;
  if (e.event_id.empty() || f.mode == Mode::kDefer) return Status::Ok();
  const char* status = f.mode == Mode::kDone        ? "done"
                       : f.mode == Mode::kRetry     ? "retrying"
                       : f.mode == Mode::kDuplicate ? "duplicate"
                                                    : "failed";
  const bool failing = f.mode == Mode::kRetry || f.mode == Mode::kDead;
  Query q = db_.Prepare(
      "INSERT INTO events(qid, event_id, status, event_type, idempotency_key, consumer, "
      "stream_id, updated_at, attempts, duration_ms, next_attempt_at, finished_at, error, "
      "category, reason, expires_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, "
      "?13, ?14, ?15, ?16) ON CONFLICT DO UPDATE SET status = excluded.status, event_type = "
      "excluded.event_type, idempotency_key = excluded.idempotency_key, consumer = "
      "excluded.consumer, stream_id = excluded.stream_id, updated_at = excluded.updated_at, "
      "attempts = coalesce(excluded.attempts, attempts), duration_ms = "
      "coalesce(excluded.duration_ms, duration_ms), next_attempt_at = "
      "coalesce(excluded.next_attempt_at, next_attempt_at), finished_at = "
      "coalesce(excluded.finished_at, finished_at), error = coalesce(excluded.error, error), "
      "category = coalesce(excluded.category, category), reason = coalesce(excluded.reason, "
      "reason), expires_ms = excluded.expires_ms");
  q.Bind(qid_).Bind(e.event_id).Bind(std::string(status)).Bind(e.event_type);
  q.Bind(e.idempotency_key).Bind(consumer_).Bind(e.delivery_id).Bind(FormatRfc3339Millis(f.now));
  e.attempt > 0 ? q.Bind(e.attempt) : q.BindNull();
  e.ran ? q.Bind(static_cast<std::int64_t>(e.duration.count())) : q.BindNull();
  f.mode == Mode::kRetry ? q.Bind(FormatRfc3339Millis(f.due)) : q.BindNull();
  f.mode != Mode::kRetry ? q.Bind(FormatRfc3339Millis(f.now)) : q.BindNull();
  failing ? q.Bind(Bounded(e.error)) : q.BindNull();
  failing ? q.Bind(std::string(CategoryName(e.category))) : q.BindNull();
  f.mode == Mode::kDead ? q.Bind(std::string(DeadReasonName(f.reason))) : q.BindNull();
  q.Bind(f.now + options_.idempotency_ttl.count());
  return q.Run();
}

Status SqliteQueueSession::WriteMetrics(const Finishing& f) {
  if (f.mode == Mode::kDefer) return Status::Ok();
  const AttemptEnd& e = *f.end;
  AttemptMetrics am;
  am.event_type = e.event_type;
  am.end = f.mode == Mode::kDone        ? AttemptMetrics::End::kDone
           : f.mode == Mode::kRetry     ? AttemptMetrics::End::kRetry
           : f.mode == Mode::kDuplicate ? AttemptMetrics::End::kDuplicate
                                        : AttemptMetrics::End::kFailed;
  am.ran = e.ran;
  am.duration = e.duration;
  am.category = e.category;
  am.reason = f.reason;
  am.occurred_at = e.occurred_at;
  am.now = f.now;
  for (const auto& [field, amount] : MetricIncrements(am)) {
    Status s = db_.Prepare(
                      "INSERT INTO metrics(qid, minute, field, value) VALUES(?1, ?2, ?3, ?4) "
                      "ON CONFLICT DO UPDATE SET value = value + excluded.value")
                   .Bind(qid_)
                   .Bind(MetricsMinute(f.now))
                   .Bind(field)
                   .Bind(amount)
                   .Run();
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

Status SqliteQueueSession::WriteEffect(const Finishing& f, std::int64_t row) {
  const AttemptEnd& e = *f.end;
  Status s;
  if (f.mode == Mode::kDone) {
    s = db_.Prepare(
               "INSERT INTO idem(qid, key, state, owner, expires_ms) VALUES(?1, ?2, 'done', '', "
               "?3) ON CONFLICT DO UPDATE SET state = 'done', owner = '', expires_ms = "
               "excluded.expires_ms")
            .Bind(qid_)
            .Bind(e.idempotency_key)
            .Bind(f.now + options_.idempotency_ttl.count())
            .Run();
  } else if (f.mode == Mode::kRetry || f.mode == Mode::kDefer) {
    // A deferral writes no marker; as with ZADD, deferring the same event again moves it
    // instead of doubling it. (A repeated retry is stopped by the marker.)
    if (f.mode == Mode::kDefer) {
      s = db_.Prepare("DELETE FROM delayed WHERE qid = ?1 AND event = ?2")
              .Bind(qid_)
              .Bind(*f.raw)
              .Run();
    }
    if (s.ok()) {
      s = db_.Prepare("INSERT INTO delayed(qid, due_ms, event) VALUES(?1, ?2, ?3)")
              .Bind(qid_)
              .Bind(f.due)
              .Bind(*f.raw)
              .Run();
    }
  } else if (f.mode == Mode::kDead) {
    s = db_.Prepare(
               "INSERT INTO dlq(qid, event, reason, error, category, attempts, failed_at, "
               "consumer, stream_id, failed_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)")
            .Bind(qid_)
            .Bind(*f.raw)
            .Bind(std::string(DeadReasonName(f.reason)))
            .Bind(Bounded(e.error))
            .Bind(std::string(CategoryName(e.category)))
            .Bind(e.attempt)
            .Bind(FormatRfc3339Millis(f.now))
            .Bind(consumer_)
            .Bind(e.delivery_id)
            .Bind(f.now)
            .Run();
  }
  if (!s.ok()) return s;
  if ((f.mode == Mode::kRetry || f.mode == Mode::kDead) && !e.lease_owner.empty()) {
    s = db_.Prepare(
               "DELETE FROM idem WHERE qid = ?1 AND key = ?2 AND state = 'running' AND owner = ?3")
            .Bind(qid_)
            .Bind(e.idempotency_key)
            .Bind(e.lease_owner)
            .Run();
    if (!s.ok()) return s;
  }
  if (f.mode == Mode::kDefer) return Status::Ok();  // no outcome: no marker
  static const char* const kModes[] = {"done", "retry", "dead", "duplicate", "defer"};
  return db_
      .Prepare(
          "INSERT INTO marks(qid, id, starts, fin, expires_ms) VALUES(?1, ?2, 0, ?3, ?4) "
          "ON CONFLICT DO UPDATE SET starts = 0, fin = excluded.fin, expires_ms = "
          "excluded.expires_ms")
      .Bind(qid_)
      .Bind(row)
      .Bind(std::string(kModes[static_cast<int>(f.mode)]))
      .Bind(f.now + kDeliveryMarkTtlMs)
      .Run();
}

// In the caller's write transaction: when the delivery's marker exists only the
// acknowledgement, else the status, the metrics, the effect, the marker and the
// acknowledgement. The outcome is written even when nothing is pending any more.
Status SqliteQueueSession::FinishStep(const Finishing& finishing, std::int64_t row) {
  Finishing f = finishing;
  f.now = NowUnixMillis();
  // A Defer too: once the delivery's outcome is committed it schedules nothing.
  Result<bool> done = Committed(row, f.now);
  if (!done.ok()) return done.status();
  if (*done) return Ack(row);
  if (Status s = WriteStatus(f); !s.ok()) return s;
  if (Status s = WriteMetrics(f); !s.ok()) return s;
  if (Status s = WriteEffect(f, row); !s.ok()) return s;
  return Ack(row);
}

Status SqliteQueueSession::NotAnEntryId(const std::string& id) {
  return Status::Internal(db_.options().what + ": not an entry id: " + id);
}

// One transaction (FinishStep).
Status SqliteQueueSession::Finish(const Finishing& finishing) {
  const std::int64_t row = SqliteRowId(finishing.end->delivery_id);
  if (row < 0) return NotAnEntryId(finishing.end->delivery_id);
  return Write([&] { return FinishStep(finishing, row); });
}

}  // namespace evt
