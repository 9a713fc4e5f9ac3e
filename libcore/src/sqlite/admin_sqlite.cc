// QueueAdmin on one SQLite file: dead letters are rows of `dlq`, the history is `stream`,
// done keys are `idem` rows, audit records rows of `audit`. A replay's move is one write
// transaction: the copy into the queue and the deletion of the dead letter happen together
// or not at all, and two replays of the same dead letter cannot both copy it.
#include "sqlite/admin_sqlite.h"

#include <sys/stat.h>

#include <map>

#include "evt/rfc3339.h"
#include "sqlite/sqlite_names.h"

namespace evt {
namespace {

DeadLetterRecord RecordFromRow(const Query& q) {
  // Columns: id, event, reason, error, category, attempts, failed_at, consumer, stream_id,
  // failed_ms.
  DeadLetterRecord r;
  r.id = SqliteEntryId(q.Int(9), q.Int(0));
  Result<UnixMillis> failed = ParseRfc3339(q.Text(6));
  r.letter.failed_at = failed.ok() ? *failed : q.Int(9);
  r.letter.reason = DeadReasonFromName(q.Text(2));
  const std::string category = q.Text(4);
  r.letter.category = category.empty() ? Category::kNone : ParseCategory(category);
  r.letter.error = q.Text(3);
  r.letter.attempts = static_cast<int>(q.Int(5));
  r.letter.consumer = q.Text(7);
  r.stream_id = q.Text(8);
  const std::string text = q.Text(1);
  Result<Json> ev = ParseJson(text);
  if (ev.ok() && ev->is_object()) {
    r.letter.event = std::move(*ev);
  } else {
    r.letter.raw = text;
  }
  return r;
}

std::string AuditDetail(const AuditRecord& a) {
  Json d = Json::object();
  d["id"] = a.id;
  d["user"] = a.user;
  d["host"] = a.host;
  d["source"] = a.source;
  if (!a.target.empty()) d["target"] = a.target;
  d["filters"] = a.filters;
  d["count"] = a.count;
  if (a.action == "replay") {
    d["skipped"] = a.skipped;
    d["failed"] = a.failed;
  }
  if (!a.note.empty()) d["note"] = a.note;
  return d.dump();
}

class SqliteAdmin : public QueueAdmin {
 public:
  SqliteAdmin(std::unique_ptr<SqliteDb> db, const BrokerConfig& broker, const AdminOptions& o)
      : db_(std::move(db)), broker_(broker), options_(o) {}

  std::string Describe() const override { return broker_.redacted + " queue " + options_.queue; }

  Result<std::vector<DeadLetterRecord>> ListDeadLetters(const RecordFilter& filter) override {
    std::vector<DeadLetterRecord> out;
    Status s = db_->Read([&] {
      Result<std::int64_t> qid = FindSqliteQueue(*db_, options_.ns, options_.queue);
      if (!qid.ok() || *qid < 0) return qid.status();
      Query q = db_->Prepare(
          "SELECT id, event, reason, error, category, attempts, failed_at, consumer, stream_id, "
          "failed_ms FROM dlq WHERE qid = ?1 ORDER BY id");
      q.Bind(*qid);
      while (filter.limit == 0 || out.size() < filter.limit) {
        Result<bool> row = q.Step();
        if (!row.ok()) return row.status();
        if (!*row) break;
        DeadLetterRecord r = RecordFromRow(q);
        if (RecordMatches(filter, r)) out.push_back(std::move(r));
      }
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return out;
  }

  Result<std::int64_t> PurgeDeadLetters(const std::vector<std::string>& ids) override {
    std::int64_t deleted = 0;
    Status s = db_->Write([&] {
      Result<std::int64_t> qid = FindSqliteQueue(*db_, options_.ns, options_.queue);
      if (!qid.ok() || *qid < 0) return qid.status();
      for (const std::string& id : ids) {
        const std::int64_t row = SqliteRowId(id);
        if (row < 0) continue;
        Status d =
            db_->Prepare("DELETE FROM dlq WHERE qid = ?1 AND id = ?2").Bind(*qid).Bind(row).Run();
        if (!d.ok()) return d;
        deleted += db_->Changes();
      }
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return deleted;
  }

  Result<bool> MoveDeadLetter(const std::string& id, const std::string& event_json,
                              const std::string& to_queue, bool keep) override {
    const std::int64_t row = SqliteRowId(id);
    if (row < 0) return false;
    Result<std::int64_t> target = SqliteQueueId(*db_, options_.ns, to_queue);
    if (!target.ok()) return target.status();
    bool moved = false;
    Status s = db_->Write([&] {
      Result<std::int64_t> qid = FindSqliteQueue(*db_, options_.ns, options_.queue);
      if (!qid.ok() || *qid < 0) return qid.status();
      {
        Query q = db_->Prepare("SELECT 1 FROM dlq WHERE qid = ?1 AND id = ?2");
        q.Bind(*qid).Bind(row);
        Result<bool> there = q.Step();
        if (!there.ok() || !*there) return there.status();
      }
      if (Status a = Append(*target, event_json); !a.ok()) return a;
      if (!keep) {
        Status d =
            db_->Prepare("DELETE FROM dlq WHERE qid = ?1 AND id = ?2").Bind(*qid).Bind(row).Run();
        if (!d.ok()) return d;
      }
      moved = true;
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return moved;
  }

  Status Enqueue(const std::string& event_json) override {
    Result<std::int64_t> qid = SqliteQueueId(*db_, options_.ns, options_.queue);
    if (!qid.ok()) return qid.status();
    return db_->Write([&] { return Append(*qid, event_json); });
  }

  Result<std::vector<HistoryRecord>> ReadHistory(const RecordFilter& filter) override {
    std::vector<HistoryRecord> out;
    Status s = db_->Read([&] {
      Result<std::int64_t> qid = FindSqliteQueue(*db_, options_.ns, options_.queue);
      if (!qid.ok() || *qid < 0) return qid.status();
      Query q = db_->Prepare("SELECT id, added_ms, event FROM stream WHERE qid = ?1 ORDER BY id");
      q.Bind(*qid);
      while (filter.limit == 0 || out.size() < filter.limit) {
        Result<bool> row = q.Step();
        if (!row.ok()) return row.status();
        if (!*row) break;
        HistoryRecord h;
        h.id = SqliteEntryId(q.Int(1), q.Int(0));
        const std::string text = q.Text(2);
        Result<Json> ev = ParseJson(text);
        if (ev.ok() && ev->is_object()) {
          h.event = std::move(*ev);
        } else {
          h.raw = text;
        }
        if (HistoryMatches(filter, h)) out.push_back(std::move(h));
      }
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return out;
  }

  Result<std::vector<bool>> DoneKeys(const std::vector<std::string>& keys) override {
    std::vector<bool> done;
    const UnixMillis now = NowUnixMillis();
    Status s = db_->Read([&] {
      done.clear();
      Result<std::int64_t> qid = FindSqliteQueue(*db_, options_.ns, options_.queue);
      if (!qid.ok()) return qid.status();
      for (const std::string& key : keys) {
        Query q = db_->Prepare(
            "SELECT 1 FROM idem WHERE qid = ?1 AND key = ?2 AND state = 'done' AND "
            "expires_ms > ?3");
        q.Bind(*qid).Bind(key).Bind(now);
        Result<bool> row = q.Step();
        if (!row.ok()) return row.status();
        done.push_back(*row);
      }
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return done;
  }

  Status AppendAudit(const AuditRecord& a) override {
    Result<std::int64_t> qid = SqliteQueueId(*db_, options_.ns, options_.queue);
    if (!qid.ok()) return qid.status();
    return db_->Write([&] {
      return db_
          ->Prepare(
              "INSERT INTO audit(qid, at, actor, action, detail) VALUES(?1, ?2, ?3, "
              "?4, ?5)")
          .Bind(*qid)
          .Bind(FormatRfc3339Millis(a.at))
          .Bind(a.user + "@" + a.host)
          .Bind(a.action)
          .Bind(AuditDetail(a))
          .Run();
    });
  }

 private:
  // Appends `event_json` to the stream of queue `qid`. REQUIRES: inside a write.
  Status Append(std::int64_t qid, const std::string& event_json) {
    return db_->Prepare("INSERT INTO stream(qid, added_ms, event) VALUES(?1, ?2, ?3)")
        .Bind(qid)
        .Bind(NowUnixMillis())
        .Bind(event_json)
        .Run();
  }

  std::unique_ptr<SqliteDb> db_;
  BrokerConfig broker_;
  AdminOptions options_;
};

}  // namespace

Result<std::unique_ptr<SqliteDb>> OpenExistingSqlite(const BrokerConfig& broker) {
  struct stat st {};
  if (::stat(broker.path.c_str(), &st) != 0) {
    return Status::Unavailable(broker.redacted +
                               ": no such file (evt-emit or evt-work creates it)");
  }
  auto db = std::make_unique<SqliteDb>(SqliteOptionsFor(broker, Millis(10000), Millis(5000)));
  if (Status s = db->Open(); !s.ok()) return s;
  return db;
}

Result<std::int64_t> FindSqliteQueue(SqliteDb& db, const std::string& ns,
                                     const std::string& queue) {
  Query q = db.Prepare("SELECT id FROM queues WHERE ns = ?1 AND name = ?2");
  q.Bind(ns).Bind(queue);
  Result<bool> row = q.Step();
  if (!row.ok()) return row.status();
  return *row ? q.Int(0) : std::int64_t{-1};
}

Result<std::unique_ptr<QueueAdmin>> OpenSqliteAdmin(const BrokerConfig& broker,
                                                    const AdminOptions& options) {
  Result<std::unique_ptr<SqliteDb>> db = OpenExistingSqlite(broker);
  if (!db.ok()) return db.status();
  return std::unique_ptr<QueueAdmin>(
      std::make_unique<SqliteAdmin>(std::move(*db), broker, options));
}

}  // namespace evt
