// The SQLite queue's depth for the /metrics gauges (QueueSession::Depth): three counts in
// one read, each over an index of the queue's rows.
#include "sqlite/queue_sqlite_session.h"

namespace evt {

Result<std::optional<QueueDepth>> SqliteQueueSession::Depth() {
  if (Status s = Ready(); !s.ok()) return s;
  QueueDepth d;
  d.queue = options_.queue;
  d.group = options_.group;
  Status s = db_.Read([&] {
    Query q = db_.Prepare(
        "SELECT (SELECT count(*) FROM stream s WHERE s.qid = ?1 AND s.id > coalesce((SELECT "
        "g.last_id FROM groups g WHERE g.qid = ?1 AND g.name = ?2), 0)), (SELECT count(*) FROM "
        "pending p WHERE p.qid = ?1 AND p.grp = ?2), (SELECT count(*) FROM delayed WHERE qid = "
        "?1)");
    q.Bind(qid_).Bind(options_.group);
    Result<bool> row = q.Step();
    if (!row.ok()) return row.status();
    if (!*row) return Status::Internal("queue depth: no row");
    d.undelivered = q.Int(0);
    d.pending = q.Int(1);
    d.delayed = q.Int(2);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return std::optional<QueueDepth>(std::move(d));
}

}  // namespace evt
