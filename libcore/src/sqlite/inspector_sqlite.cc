// QueueInspector on one SQLite file: queue counts, groups, heartbeats, the DLQ, the minute
// metrics and the status of one event. Every call is one read transaction (a consistent
// snapshot); nothing is written. The SQLite publisher writes no status row either: before
// a worker records an event, it is `queued` while its entry is in `stream` or `delayed`.
#include "sqlite/inspector_sqlite.h"

#include "evt/event.h"
#include "evt/rfc3339.h"
#include "sqlite/admin_sqlite.h"
#include "sqlite/sqlite_names.h"

namespace evt {
namespace {

// The event object of `text` when its `field` is `want` (an event without a key is its
// own key), else null.
Json Matching(const std::string& text, const std::string& field, const std::string& want) {
  Result<Json> doc = ParseJson(text);
  if (!doc.ok() || !doc->is_object()) return Json();
  auto str = [&](const char* name) {
    auto it = doc->find(name);
    return it != doc->end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  std::string got = str(field.c_str());
  if (got.empty() && field == "idempotency_key") got = str("event_id");
  return got == want ? std::move(*doc) : Json();
}

EventStatus Queued(const std::string& queue, const Json& doc) {
  EventStatus st;
  st.queue = queue;
  st.status = "queued";
  auto str = [&](const char* name) {
    auto it = doc.find(name);
    return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  st.event_id = str("event_id");
  st.fields["event_type"] = str("event_type");
  st.fields["idempotency_key"] = str("idempotency_key");
  if (st.fields["idempotency_key"].empty()) st.fields["idempotency_key"] = st.event_id;
  if (std::string at = str("occurred_at"); !at.empty()) st.fields["occurred_at"] = at;
  return st;
}

constexpr const char* kRecordColumns[] = {
    "event_type", "idempotency_key", "attempts",    "consumer",        "stream_id",
    "started_at", "updated_at",      "finished_at", "next_attempt_at", "duration_ms",
    "error",      "category",        "reason"};

class SqliteInspector : public QueueInspector {
 public:
  SqliteInspector(std::unique_ptr<SqliteDb> db, BrokerConfig broker, std::string ns)
      : db_(std::move(db)), broker_(std::move(broker)), ns_(std::move(ns)) {}

  Result<std::vector<std::string>> ListQueues() override {
    std::vector<std::string> out;
    Status s = db_->Read([&] {
      Query q = db_->Prepare("SELECT name FROM queues WHERE ns = ?1 ORDER BY name");
      q.Bind(ns_);
      while (true) {
        Result<bool> row = q.Step();
        if (!row.ok() || !*row) return row.status();
        out.push_back(q.Text(0));
      }
    });
    if (!s.ok()) return s;
    return out;
  }

  Result<QueueState> ReadQueue(const std::string& queue, UnixMillis since_ms) override {
    QueueState st;
    st.queue = queue;
    Status s = db_->Read([&] {
      Result<std::int64_t> qid = FindSqliteQueue(*db_, ns_, queue);
      if (!qid.ok() || *qid < 0) return qid.status();
      Query q = db_->Prepare(
          "SELECT (SELECT count(*) FROM stream WHERE qid = ?1), (SELECT count(*) FROM delayed "
          "WHERE qid = ?1), (SELECT count(*) FROM dlq WHERE qid = ?1), (SELECT count(*) FROM "
          "dlq WHERE qid = ?1 AND failed_ms >= ?2)");
      q.Bind(*qid).Bind(since_ms);
      Result<bool> row = q.Step();
      if (!row.ok()) return row.status();
      st.length = q.Int(0);
      st.delayed = q.Int(1);
      st.dlq.size = q.Int(2);
      st.dlq.added_since = q.Int(3);
      if (Status g = ReadGroups(*qid, &st); !g.ok()) return g;
      return ReadConsumers(*qid, &st);
    });
    if (!s.ok()) return s;
    return st;
  }

  Result<MinuteMetrics> ReadMetrics(const std::string& queue, std::int64_t first,
                                    std::int64_t last) override {
    MinuteMetrics out;
    Status s = db_->Read([&] {
      Result<std::int64_t> qid = FindSqliteQueue(*db_, ns_, queue);
      if (!qid.ok() || *qid < 0) return qid.status();
      Query q = db_->Prepare(
          "SELECT minute, field, value FROM metrics WHERE qid = ?1 AND minute BETWEEN ?2 AND ?3");
      q.Bind(*qid).Bind(first).Bind(last);
      while (true) {
        Result<bool> row = q.Step();
        if (!row.ok() || !*row) return row.status();
        out[q.Int(0)][q.Text(1)] += q.Int(2);
      }
    });
    if (!s.ok()) return s;
    return out;
  }

  Result<EventStatus> FindEvent(const std::string& queue, const std::string& event_id) override {
    return Find(queue, "event_id", event_id);
  }

  Result<EventStatus> FindByKey(const std::string& queue, const std::string& key) override {
    return Find(queue, "idempotency_key", key);
  }

  std::string Describe() const override { return broker_.redacted; }

 private:
  Status ReadGroups(std::int64_t qid, QueueState* st) {
    Query q = db_->Prepare(
        "SELECT g.name, (SELECT count(*) FROM stream s WHERE s.qid = g.qid AND s.id > "
        "g.last_id), (SELECT count(*) FROM pending p WHERE p.qid = g.qid AND p.grp = g.name), "
        "(SELECT min(s.added_ms) FROM stream s WHERE s.qid = g.qid AND (s.id > g.last_id OR "
        "s.id IN (SELECT p.id FROM pending p WHERE p.qid = g.qid AND p.grp = g.name))) FROM "
        "groups g WHERE g.qid = ?1 ORDER BY g.name");
    q.Bind(qid);
    while (true) {
      Result<bool> row = q.Step();
      if (!row.ok() || !*row) return row.status();
      GroupState g;
      g.name = q.Text(0);
      g.undelivered = q.Int(1);
      g.pending = q.Int(2);
      g.oldest_ms = q.IsNull(3) ? -1 : q.Int(3);
      st->groups.push_back(std::move(g));
    }
  }

  Status ReadConsumers(std::int64_t qid, QueueState* st) {
    Query q = db_->Prepare(
        "SELECT consumer, host, pid, concurrency, in_flight, heartbeat_at FROM workers WHERE "
        "qid = ?1 AND expires_ms > ?2 ORDER BY consumer");
    q.Bind(qid).Bind(NowUnixMillis());
    while (true) {
      Result<bool> row = q.Step();
      if (!row.ok() || !*row) return row.status();
      ConsumerState c;
      c.name = q.Text(0);
      c.host = q.Text(1);
      c.pid = static_cast<int>(q.Int(2));
      c.concurrency = static_cast<int>(q.Int(3));
      c.in_flight = static_cast<int>(q.Int(4));
      c.heartbeat_at = q.Text(5);
      st->consumers.push_back(std::move(c));
    }
  }

  Result<EventStatus> Find(const std::string& queue, const std::string& field,
                           const std::string& want) {
    EventStatus st;
    bool found = false;
    Status s = db_->Read([&] {
      Result<std::int64_t> qid = FindSqliteQueue(*db_, ns_, queue);
      if (!qid.ok() || *qid < 0) return qid.status();
      Result<bool> r = ReadRecord(*qid, queue, field, want, &st);
      if (r.ok() && !*r) r = ScanQueued(*qid, queue, field, want, &st);
      if (!r.ok()) return r.status();
      found = *r;
      return Status::Ok();
    });
    if (!s.ok()) return s;
    if (!found) {
      return Status::NotFound(field == "event_id"
                                  ? "no event " + want + " in queue " + queue
                                  : "no event with idempotency key " + want + " in queue " + queue);
    }
    return st;
  }

  // The status record of the event (by id, or the latest non-duplicate with the key).
  Result<bool> ReadRecord(std::int64_t qid, const std::string& queue, const std::string& field,
                          const std::string& want, EventStatus* out) {
    const bool by_id = field == "event_id";
    Query q = by_id ? db_->Prepare(
                          "SELECT event_id, status, event_type, idempotency_key, attempts, "
                          "consumer, stream_id, started_at, updated_at, finished_at, "
                          "next_attempt_at, duration_ms, error, category, reason FROM events "
                          "WHERE qid = ?1 AND event_id = ?2")
                    : db_->Prepare(
                          "SELECT event_id, status, event_type, idempotency_key, attempts, "
                          "consumer, stream_id, started_at, updated_at, finished_at, "
                          "next_attempt_at, duration_ms, error, category, reason FROM events "
                          "WHERE qid = ?1 AND idempotency_key = ?2 ORDER BY status = "
                          "'duplicate', updated_at DESC LIMIT 1");
    q.Bind(qid).Bind(want);
    Result<bool> row = q.Step();
    if (!row.ok() || !*row) return row;
    out->queue = queue;
    out->event_id = q.Text(0);
    out->status = q.Text(1);
    for (int i = 0; i < 13; ++i) {
      if (!q.IsNull(i + 2)) out->fields[kRecordColumns[i]] = q.Text(i + 2);
    }
    return true;
  }

  // The entry of a queued event: the stream, newest first, then the delayed table.
  Result<bool> ScanQueued(std::int64_t qid, const std::string& queue, const std::string& field,
                          const std::string& want, EventStatus* out) {
    {
      Query q = db_->Prepare(
          "SELECT id, added_ms, event FROM stream WHERE qid = ?1 AND instr(event, ?2) > 0 "
          "ORDER BY id DESC");
      q.Bind(qid).Bind(want);
      while (true) {
        Result<bool> row = q.Step();
        if (!row.ok()) return row;
        if (!*row) break;
        Json doc = Matching(q.Text(2), field, want);
        if (doc.is_null()) continue;
        *out = Queued(queue, doc);
        out->fields["stream_id"] = SqliteEntryId(q.Int(1), q.Int(0));
        out->fields["queued_at"] = FormatRfc3339Millis(q.Int(1));
        return true;
      }
    }
    Query q = db_->Prepare(
        "SELECT due_ms, event FROM delayed WHERE qid = ?1 AND instr(event, ?2) > 0 ORDER BY "
        "due_ms");
    q.Bind(qid).Bind(want);
    while (true) {
      Result<bool> row = q.Step();
      if (!row.ok() || !*row) return row;
      Json doc = Matching(q.Text(1), field, want);
      if (doc.is_null()) continue;
      *out = Queued(queue, doc);
      out->delayed = true;
      out->fields["due_at"] = FormatRfc3339Millis(q.Int(0));
      return true;
    }
  }

  std::unique_ptr<SqliteDb> db_;
  BrokerConfig broker_;
  std::string ns_;
};

}  // namespace

Result<std::unique_ptr<QueueInspector>> OpenSqliteInspector(const BrokerConfig& broker,
                                                            const std::string& ns) {
  Result<std::unique_ptr<SqliteDb>> db = OpenExistingSqlite(broker);
  if (!db.ok()) return db.status();
  return std::unique_ptr<QueueInspector>(
      std::make_unique<SqliteInspector>(std::move(*db), broker, ns));
}

}  // namespace evt
