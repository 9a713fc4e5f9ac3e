// The SQLite queue: reading (groups, new, pending and claimed entries), leases and
// housekeeping. The attempt-ending calls are in queue_sqlite_finish.cc.
#include "sqlite/queue_sqlite.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "sqlite/queue_sqlite_session.h"
#include "sqlite/sqlite_names.h"

namespace evt {

SqliteQueueSession::SqliteQueueSession(const SqliteQueueOptions& o, const std::string& consumer)
    : options_(o),
      consumer_(consumer),
      db_(SqliteOptionsFor(o.broker, std::min(o.io_timeout, Millis(5000)), o.backoff_max)) {}

Status SqliteQueueSession::WithRetry(const std::function<Status()>& op,
                                     const std::function<bool()>& give_up) {
  return db_.Retrying(op, give_up);
}

Status SqliteQueueSession::Ready() {
  if (Status s = db_.Open(); !s.ok()) return s;
  if (qid_ != 0) return Status::Ok();
  Result<std::int64_t> id = SqliteQueueId(db_, options_.ns, options_.queue);
  if (!id.ok()) return id.status();
  qid_ = *id;
  return Status::Ok();
}

Status SqliteQueueSession::Write(const std::function<Status()>& body) {
  if (Status s = Ready(); !s.ok()) return s;
  return db_.Write(body);
}

Status SqliteQueueSession::EnsureGroup() {
  return Write([&] {
    return db_
        .Prepare(
            "INSERT INTO groups(qid, name, last_id, created_ms) VALUES(?1, ?2, 0, ?3) "
            "ON CONFLICT DO NOTHING")
        .Bind(qid_)
        .Bind(options_.group)
        .Bind(NowUnixMillis())
        .Run();
  });
}

Status SqliteQueueSession::GroupExists() {
  Query q = db_.Prepare("SELECT 1 FROM groups WHERE qid = ?1 AND name = ?2");
  q.Bind(qid_).Bind(options_.group);
  Result<bool> row = q.Step();
  if (!row.ok()) return row.status();
  if (!*row) {
    return Status::NotFound(db_.options().what + ": consumer group " + options_.group +
                            " of queue " + options_.queue + " does not exist");
  }
  return Status::Ok();
}

// A read without the write lock, so that idle workers polling the file never hold up
// the busy ones.
Result<bool> SqliteQueueSession::HasNew() {
  if (Status s = Ready(); !s.ok()) return s;
  bool has = false;
  Status s = db_.Read([&] {
    if (Status g = GroupExists(); !g.ok()) return g;
    Query q = db_.Prepare(
        "SELECT EXISTS(SELECT 1 FROM stream WHERE qid = ?1 AND id > "
        "(SELECT last_id FROM groups WHERE qid = ?1 AND name = ?2))");
    q.Bind(qid_).Bind(options_.group);
    Result<bool> row = q.Step();
    if (!row.ok()) return row.status();
    has = *row && q.Int(0) == 1;
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return has;
}

Status SqliteQueueSession::TakeNew(int max, std::vector<Delivery>* out) {
  if (Status g = GroupExists(); !g.ok()) return g;
  const UnixMillis now = NowUnixMillis();
  std::int64_t last = -1;
  {
    Query q = db_.Prepare(
        "SELECT id, added_ms, event FROM stream WHERE qid = ?1 AND id > "
        "(SELECT last_id FROM groups WHERE qid = ?1 AND name = ?2) ORDER BY id LIMIT ?3");
    q.Bind(qid_).Bind(options_.group).Bind(std::max(1, max));
    while (true) {
      Result<bool> row = q.Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      last = q.Int(0);
      out->push_back(Delivery{SqliteEntryId(q.Int(1), last), q.Text(2), 1, {}});
    }
  }
  if (last < 0) return Status::Ok();
  for (Delivery& d : *out) {  // REQUIRES: *out held nothing before
    Query q = db_.Prepare(
        "INSERT INTO pending(qid, grp, id, consumer, delivered_ms, deliveries) "
        "VALUES(?1, ?2, ?3, ?4, ?5, 1) ON CONFLICT DO UPDATE SET consumer = excluded.consumer, "
        "delivered_ms = excluded.delivered_ms, deliveries = deliveries + 1 RETURNING deliveries");
    q.Bind(qid_).Bind(options_.group).Bind(SqliteRowId(d.id)).Bind(consumer_).Bind(now);
    Result<bool> row = q.Step();
    if (!row.ok()) return row.status();
    if (*row) d.deliveries = q.Int(0);
    if (Status s = q.Run(); !s.ok()) return s;
  }
  return db_.Prepare("UPDATE groups SET last_id = ?3 WHERE qid = ?1 AND name = ?2")
      .Bind(qid_)
      .Bind(options_.group)
      .Bind(last)
      .Run();
}

Status SqliteQueueSession::Receive(int max, Millis block, std::vector<Delivery>* out) {
  const auto deadline = std::chrono::steady_clock::now() + block;
  Millis nap(2);
  while (true) {
    Result<bool> has = HasNew();
    if (!has.ok()) return has.status();
    if (*has) {
      std::vector<Delivery> got;
      Status s = Write([&] {
        got.clear();
        return TakeNew(max, &got);
      });
      if (!s.ok()) return s;
      if (!got.empty()) {
        for (Delivery& d : got) out->push_back(std::move(d));
        return Status::Ok();
      }
      continue;  // another consumer took them first
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return Status::Ok();
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(nap, deadline - now));
    nap = std::min(nap * 2, Millis(50));
  }
}

Status SqliteQueueSession::Redeliver(Query& q, std::vector<Delivery>* out, std::string* last) {
  struct Row {
    std::int64_t id, deliveries, added_ms;
    bool gone;
    std::string event;
  };
  std::vector<Row> rows;
  while (true) {
    Result<bool> row = q.Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    rows.push_back(Row{q.Int(0), q.Int(1), q.Int(2), q.IsNull(3), q.Text(3)});
  }
  const UnixMillis now = NowUnixMillis();
  for (Row& r : rows) {
    *last = SqliteEntryId(r.gone ? 0 : r.added_ms, r.id);
    if (r.gone) {  // deleted from the stream while pending: nothing left to run
      if (Status s = Ack(r.id); !s.ok()) return s;
      continue;
    }
    Status s = db_.Prepare(
                      "UPDATE pending SET consumer = ?4, delivered_ms = ?5, deliveries = "
                      "deliveries + 1 WHERE qid = ?1 AND grp = ?2 AND id = ?3")
                   .Bind(qid_)
                   .Bind(options_.group)
                   .Bind(r.id)
                   .Bind(consumer_)
                   .Bind(now)
                   .Run();
    if (!s.ok()) return s;
    out->push_back(
        Delivery{SqliteEntryId(r.added_ms, r.id), std::move(r.event), r.deliveries + 1, {}});
  }
  return Status::Ok();
}

Status SqliteQueueSession::Ack(std::int64_t row) {
  return db_.Prepare("DELETE FROM pending WHERE qid = ?1 AND grp = ?2 AND id = ?3")
      .Bind(qid_)
      .Bind(options_.group)
      .Bind(row)
      .Run();
}

Result<bool> SqliteQueueSession::HasIdle(UnixMillis before) {
  if (Status s = Ready(); !s.ok()) return s;
  bool has = false;
  Status s = db_.Read([&] {
    Query q = db_.Prepare(
        "SELECT EXISTS(SELECT 1 FROM pending WHERE qid = ?1 AND grp = ?2 AND consumer <> ?3 "
        "AND delivered_ms <= ?4)");
    q.Bind(qid_).Bind(options_.group).Bind(consumer_).Bind(before);
    Result<bool> row = q.Step();
    if (!row.ok()) return row.status();
    has = *row && q.Int(0) == 1;
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return has;
}

Status SqliteQueueSession::TakeIdle(UnixMillis before, int max, std::vector<Delivery>* out) {
  Query q = db_.Prepare(
      "SELECT p.id, p.deliveries, s.added_ms, s.event FROM pending p LEFT JOIN stream s "
      "ON s.id = p.id WHERE p.qid = ?1 AND p.grp = ?2 AND p.consumer <> ?3 AND "
      "p.delivered_ms <= ?4 ORDER BY p.id LIMIT ?5");
  q.Bind(qid_).Bind(options_.group).Bind(consumer_).Bind(before).Bind(std::max(1, max));
  std::string last;
  return Redeliver(q, out, &last);
}

// Only entries of OTHER consumers: this consumer's own are taken up by ReceivePending,
// and one of this process's threads may be running them right now.
Status SqliteQueueSession::Claim(Millis min_idle, int max, std::vector<Delivery>* out) {
  const UnixMillis before = NowUnixMillis() - min_idle.count();
  Result<bool> has = HasIdle(before);
  if (!has.ok()) return has.status();
  if (!*has) return Status::Ok();
  std::vector<Delivery> got;
  Status s = Write([&] {
    got.clear();
    return TakeIdle(before, max, &got);
  });
  if (!s.ok()) return s;
  for (Delivery& d : got) out->push_back(std::move(d));
  return Status::Ok();
}

Result<std::string> SqliteQueueSession::ReceivePending(const std::string& after_id, int max,
                                                       std::vector<Delivery>* out) {
  std::vector<Delivery> got;
  std::string last;
  const std::int64_t after = std::max<std::int64_t>(0, SqliteRowId(after_id));
  Status s = Write([&] {
    got.clear();
    last.clear();
    if (Status g = GroupExists(); !g.ok()) return g;
    Query q = db_.Prepare(
        "SELECT p.id, p.deliveries, s.added_ms, s.event FROM pending p LEFT JOIN stream s "
        "ON s.id = p.id WHERE p.qid = ?1 AND p.grp = ?2 AND p.consumer = ?3 AND p.id > ?4 "
        "ORDER BY p.id LIMIT ?5");
    q.Bind(qid_).Bind(options_.group).Bind(consumer_).Bind(after).Bind(std::max(1, max));
    return Redeliver(q, &got, &last);
  });
  if (!s.ok()) return s;
  for (Delivery& d : got) out->push_back(std::move(d));
  return last;
}

Status SqliteQueueSession::ReleaseLease(const std::string& key, const std::string& owner) {
  return Write([&] {
    return db_
        .Prepare(
            "DELETE FROM idem WHERE qid = ?1 AND key = ?2 AND state = 'running' AND "
            "owner = ?3")
        .Bind(qid_)
        .Bind(key)
        .Bind(owner)
        .Run();
  });
}

Result<bool> SqliteQueueSession::RenewLease(const std::string& key, const std::string& owner,
                                            Millis ttl) {
  bool renewed = false;
  Status s = Write([&] {
    const UnixMillis now = NowUnixMillis();
    Status r = db_.Prepare(
                      "UPDATE idem SET expires_ms = ?4 WHERE qid = ?1 AND key = ?2 AND state = "
                      "'running' AND owner = ?3 AND expires_ms > ?5")
                   .Bind(qid_)
                   .Bind(key)
                   .Bind(owner)
                   .Bind(now + std::max<std::int64_t>(1, ttl.count()))
                   .Bind(now)
                   .Run();
    renewed = r.ok() && db_.Changes() == 1;
    return r;
  });
  if (!s.ok()) return s;
  return renewed;
}

}  // namespace evt
