// EventPublisher on one SQLite file: each batch of PublisherOptions::batch_events is one
// write transaction, so an event is in the stream (or the delayed table) once its
// transaction commits, and never half a batch. As with Redis, evt-emit writes no status
// row: an event without one is `queued` while it is in the stream or the delayed table.
#include "sqlite/publisher_sqlite.h"

#include <algorithm>
#include <chrono>

#include "evt/signals.h"
#include "sqlite/sqlite_db.h"
#include "sqlite/sqlite_names.h"

namespace evt {
namespace {

using Clock = std::chrono::steady_clock;

class SqlitePublisher : public EventPublisher {
 public:
  SqlitePublisher(SqliteOptions db_options, std::string ns, std::string queue,
                  PublisherOptions options)
      : db_(std::move(db_options)),
        ns_(std::move(ns)),
        queue_(std::move(queue)),
        options_(std::move(options)) {}

  Status Open() {
    Result<std::int64_t> id = SqliteQueueId(db_, ns_, queue_);
    if (!id.ok()) return id.status();
    qid_ = *id;
    return Status::Ok();
  }

  Status Publish(const std::vector<Publication>& batch, std::size_t* accepted) override {
    *accepted = 0;
    const std::size_t per_txn = std::max<std::size_t>(1, options_.batch_events);
    Clock::time_point last_progress = Clock::now();
    while (*accepted < batch.size()) {
      const std::size_t end = std::min(batch.size(), *accepted + per_txn);
      Status s = db_.Retrying([&] { return WriteBatch(batch, *accepted, end); },
                              [&] { return GaveUp(last_progress); });
      if (!s.ok()) return s;
      *accepted = end;
      last_progress = Clock::now();
    }
    return Status::Ok();
  }

  Result<std::int64_t> Depth() override {
    std::int64_t depth = 0;
    const Clock::time_point start = Clock::now();
    Status s = db_.Retrying([&] { return db_.Read([&] { return ReadDepth(&depth); }); },
                            [&] { return GaveUp(start); });
    if (!s.ok()) return s;
    return depth;
  }

 private:
  bool GaveUp(Clock::time_point since) const {
    return StopRequested() || Clock::now() - since >= options_.outage_patience;
  }

  // The events are serialized before the write lock is taken, so that it is held only
  // for the inserts.
  Status WriteBatch(const std::vector<Publication>& batch, std::size_t begin, std::size_t end) {
    const UnixMillis now = NowUnixMillis();
    std::vector<std::string> json;
    json.reserve(end - begin);
    for (std::size_t i = begin; i < end; ++i) json.push_back(Serialize(batch[i].event));
    return db_.Write([&] {
      for (std::size_t i = begin; i < end; ++i) {
        const Publication& p = batch[i];
        Query q = p.due_ms == 0
                      ? db_.Prepare("INSERT INTO stream(qid, added_ms, event) VALUES(?1, ?2, ?3)")
                      : db_.Prepare("INSERT INTO delayed(qid, due_ms, event) VALUES(?1, ?2, ?3)");
        q.Bind(qid_).Bind(p.due_ms == 0 ? now : p.due_ms).BindStatic(json[i - begin]);
        if (Status s = q.Run(); !s.ok()) return s;
      }
      return Status::Ok();
    });
  }

  // Not yet handed out to the group, plus handed out and not ended; without the group,
  // every entry of the queue.
  Status ReadDepth(std::int64_t* depth) {
    Query q = db_.Prepare(
        "SELECT (SELECT count(*) FROM stream WHERE qid = ?1 AND id > coalesce((SELECT last_id "
        "FROM groups WHERE qid = ?1 AND name = ?2), 0)) + (SELECT count(*) FROM pending WHERE "
        "qid = ?1 AND grp = ?2)");
    q.Bind(qid_).Bind(options_.group);
    Result<bool> row = q.Step();
    if (!row.ok()) return row.status();
    *depth = *row ? q.Int(0) : 0;
    return Status::Ok();
  }

  SqliteDb db_;
  std::string ns_, queue_;
  PublisherOptions options_;
  std::int64_t qid_ = 0;
};

}  // namespace

Result<std::unique_ptr<EventPublisher>> OpenSqlitePublisher(const BrokerConfig& broker,
                                                            const std::string& ns,
                                                            const std::string& queue,
                                                            const PublisherOptions& options) {
  if (broker.kind != BrokerConfig::Kind::kSqlite) {
    return Status::Internal("OpenSqlitePublisher: not a sqlite broker: " + broker.redacted);
  }
  auto publisher = std::make_unique<SqlitePublisher>(
      SqliteOptionsFor(broker, Millis(5000), Millis(1000)), ns, queue, options);
  if (Status s = publisher->Open(); !s.ok()) return s;
  return std::unique_ptr<EventPublisher>(std::move(publisher));
}

}  // namespace evt
