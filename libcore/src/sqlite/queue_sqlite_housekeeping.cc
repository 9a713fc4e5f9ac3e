// The SQLite queue's housekeeping (due events, heartbeats, retention) and the Queue that
// hands out sessions.
#include <algorithm>

#include "evt/event.h"
#include "evt/metrics.h"
#include "sqlite/queue_sqlite.h"
#include "sqlite/queue_sqlite_session.h"

namespace evt {
namespace {

constexpr std::int64_t kDayMs = 24LL * 3600 * 1000;

}  // namespace

// Checked with a read first: the housekeeper of every worker looks ten times a second.
Result<int> SqliteQueueSession::MoveDue(int max) {
  if (Status s = Ready(); !s.ok()) return s;
  const UnixMillis now = NowUnixMillis();
  bool due = false;
  Status s = db_.Read([&] {
    Query q = db_.Prepare("SELECT EXISTS(SELECT 1 FROM delayed WHERE qid = ?1 AND due_ms <= ?2)");
    q.Bind(qid_).Bind(now);
    Result<bool> row = q.Step();
    if (!row.ok()) return row.status();
    due = *row && q.Int(0) == 1;
    return Status::Ok();
  });
  if (!s.ok()) return s;
  if (!due) return 0;
  int moved = 0;
  // One transaction: the same rows (by due time, then sequence) are copied and deleted,
  // so each moves exactly once however many workers run this.
  s = Write([&] {
    Status r = db_.Prepare(
                      "INSERT INTO stream(qid, added_ms, event) SELECT qid, ?2, event FROM "
                      "delayed WHERE qid = ?1 AND due_ms <= ?2 ORDER BY due_ms, seq LIMIT ?3")
                   .Bind(qid_)
                   .Bind(now)
                   .Bind(std::max(1, max))
                   .Run();
    if (!r.ok()) return r;
    moved = static_cast<int>(db_.Changes());
    return db_
        .Prepare(
            "DELETE FROM delayed WHERE seq IN (SELECT seq FROM delayed WHERE qid = ?1 AND "
            "due_ms <= ?2 ORDER BY due_ms, seq LIMIT ?3)")
        .Bind(qid_)
        .Bind(now)
        .Bind(std::max(1, max))
        .Run();
  });
  if (!s.ok()) return s;
  return moved;
}

Result<std::optional<UnixMillis>> SqliteQueueSession::NextDue() {
  if (Status s = Ready(); !s.ok()) return s;
  std::optional<UnixMillis> due;
  Status s = db_.Read([&] {
    Query q = db_.Prepare("SELECT MIN(due_ms) FROM delayed WHERE qid = ?1");
    q.Bind(qid_);
    Result<bool> row = q.Step();
    if (!row.ok()) return row.status();
    if (*row && !q.IsNull(0)) due = q.Int(0);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return due;
}

Status SqliteQueueSession::Heartbeat(const WorkerInfo& info) {
  return Write([&] {
    const UnixMillis now = NowUnixMillis();
    Status s = db_.Prepare(
                      "INSERT INTO workers(qid, consumer, host, pid, started_at, concurrency, "
                      "in_flight, heartbeat_ms, heartbeat_at, expires_ms) VALUES(?1, ?2, ?3, ?4, "
                      "?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT DO UPDATE SET host = excluded.host, "
                      "pid = excluded.pid, started_at = excluded.started_at, concurrency = "
                      "excluded.concurrency, in_flight = excluded.in_flight, heartbeat_ms = "
                      "excluded.heartbeat_ms, heartbeat_at = excluded.heartbeat_at, expires_ms = "
                      "excluded.expires_ms")
                   .Bind(qid_)
                   .Bind(consumer_)
                   .Bind(info.host)
                   .Bind(info.pid)
                   .Bind(FormatRfc3339Millis(info.started_at))
                   .Bind(info.concurrency)
                   .Bind(info.in_flight)
                   .Bind(now)
                   .Bind(FormatRfc3339Millis(now))
                   .Bind(now + info.ttl.count())
                   .Run();
    if (!s.ok()) return s;
    // Consumers silent for a day are gone for good.
    return db_.Prepare("DELETE FROM workers WHERE qid = ?1 AND heartbeat_ms < ?2")
        .Bind(qid_)
        .Bind(now - kDayMs)
        .Run();
  });
}

Status SqliteQueueSession::Leave() {
  return Write([&] {
    return db_.Prepare("DELETE FROM workers WHERE qid = ?1 AND consumer = ?2")
        .Bind(qid_)
        .Bind(consumer_)
        .Run();
  });
}

// Drops stream entries below the oldest one any group still needs (undelivered or
// pending) and older than `retention`; and, as Redis does by key expiry, the idempotency
// records, statuses, delivery marks and metrics whose time is up. Dead letters never.
Result<std::int64_t> SqliteQueueSession::Trim(Millis retention) {
  std::int64_t trimmed = 0;
  Status s = Write([&] {
    const UnixMillis now = NowUnixMillis();
    Status r = db_.Prepare(
                      "DELETE FROM stream WHERE qid = ?1 AND added_ms < ?2 AND EXISTS(SELECT 1 "
                      "FROM groups WHERE qid = ?1) AND id <= (SELECT min(last_id) FROM groups "
                      "WHERE qid = ?1) AND id < coalesce((SELECT min(id) FROM pending WHERE qid "
                      "= ?1), 9223372036854775807)")
                   .Bind(qid_)
                   .Bind(now - std::max<std::int64_t>(0, retention.count()))
                   .Run();
    if (!r.ok()) return r;
    trimmed = db_.Changes();
    for (const char* sql : {"DELETE FROM idem WHERE qid = ?1 AND expires_ms <= ?2",
                            "DELETE FROM events WHERE qid = ?1 AND expires_ms <= ?2",
                            "DELETE FROM marks WHERE qid = ?1 AND expires_ms <= ?2"}) {
      if (r = db_.Prepare(sql).Bind(qid_).Bind(now).Run(); !r.ok()) return r;
    }
    return db_.Prepare("DELETE FROM metrics WHERE qid = ?1 AND minute < ?2")
        .Bind(qid_)
        .Bind(MetricsMinute(now - kMetricsTtlSeconds * 1000))
        .Run();
  });
  if (!s.ok()) return s;
  return trimmed;
}

namespace {

class SqliteQueue : public Queue {
 public:
  explicit SqliteQueue(SqliteQueueOptions o) : options_(std::move(o)) {
    consumer_ = options_.consumer.empty() ? DefaultConsumerName() : options_.consumer;
  }
  std::unique_ptr<QueueSession> OpenSession() override {
    return std::make_unique<SqliteQueueSession>(options_, consumer_);
  }
  const std::string& consumer() const override { return consumer_; }
  std::string Describe() const override {
    return options_.broker.redacted + " queue " + options_.queue + " group " + options_.group;
  }
  // A commit is a local transaction (synchronous=NORMAL: durable against a crash of the
  // process once it returns): an fdatasync of the journal before it would only double
  // the cost of each outcome. A commit that fails (busy past busy_timeout, a full disk)
  // journals the outcome then.
  bool JournalFirst() const override { return false; }
  std::string Scope() const override {
    return "sqlite " + options_.broker.path + " ns " + options_.ns + " queue " + options_.queue +
           " group " + options_.group;
  }

 private:
  SqliteQueueOptions options_;
  std::string consumer_;
};

}  // namespace

std::unique_ptr<Queue> MakeSqliteQueue(SqliteQueueOptions options) {
  return std::make_unique<SqliteQueue>(std::move(options));
}

}  // namespace evt
