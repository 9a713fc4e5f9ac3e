// Helpers for tests of the SQLite queue: a fresh database file in a temp folder, queues
// and sessions on it, and raw access for checking rows. No server is needed.
//
// The harness a backend-neutral contract suite needs is MakeQueue() (a fresh queue on the
// file) plus Add() (an entry published as evt-emit does, raw, returning its entry id).
// Call everything here from the test's own thread (Catch2 v2 is not thread-safe); only
// Session() locks, so a test may open sessions first and hand them to its threads.
#pragma once

#include <stdlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "evt/broker.h"
#include "evt/broker_factory.h"
#include "evt/event.h"
#include "evt/queue.h"
#include "sqlite/queue_sqlite.h"
#include "sqlite/sqlite_db.h"
#include "sqlite/sqlite_names.h"

namespace evt::testing {

class SqliteQueueFixture {
 public:
  SqliteQueueFixture() {
    char tmpl[] = "/tmp/evt_sqlite_XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/db/evt.db";
  }
  ~SqliteQueueFixture() {
    sessions_.clear();
    queues_.clear();
    db_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  SqliteQueueFixture(const SqliteQueueFixture&) = delete;
  SqliteQueueFixture& operator=(const SqliteQueueFixture&) = delete;

  const std::string& dir() const { return dir_; }
  const std::string& path() const { return path_; }
  std::string url() const { return "sqlite://" + path_; }

  QueueOptions Options(const std::string& consumer) const {
    QueueOptions o;
    o.queue = "q1";
    o.consumer = consumer;
    o.idempotency_ttl = Millis(3600 * 1000);
    return o;
  }
  // A fresh queue on the file, through the one factory.
  std::unique_ptr<Queue> MakeQueue(const QueueOptions& options) {
    Result<BrokerConfig> b = ParseBrokerUrl(url());
    REQUIRE(b.ok());
    Result<std::unique_ptr<Queue>> q = OpenQueue(*b, options);
    REQUIRE(q.ok());
    return std::move(*q);
  }
  // A session of a queue (and so a consumer) named `consumer`; the queue is kept alive.
  std::unique_ptr<QueueSession> Session(const std::string& consumer) {
    return Session(Options(consumer));
  }
  std::unique_ptr<QueueSession> Session(const QueueOptions& options) {
    std::unique_ptr<Queue> queue = MakeQueue(options);
    std::unique_ptr<QueueSession> session = queue->OpenSession();
    std::lock_guard<std::mutex> lock(mu_);
    queues_.push_back(std::move(queue));
    return session;
  }
  // Adds `raw` to queue q1's stream as evt-emit does; returns the entry id.
  std::string Add(const std::string& raw, std::int64_t added_ms = 0) {
    Result<std::int64_t> qid = SqliteQueueId(Db(), "evt", "q1");
    REQUIRE(qid.ok());
    if (added_ms == 0) added_ms = NowUnixMillis();
    std::int64_t id = 0;
    Status s = Db().Write([&] {
      Query q = Db().Prepare(
          "INSERT INTO stream(qid, added_ms, event) VALUES(?1, ?2, ?3) "
          "RETURNING id");
      q.Bind(*qid).Bind(added_ms).Bind(raw);
      Result<bool> row = q.Step();
      if (!row.ok()) return row.status();
      id = q.Int(0);
      return q.Run();
    });
    REQUIRE(s.ok());
    return SqliteEntryId(added_ms, id);
  }
  // The first column of the first row of `sql` (a literal), as text ("" when no row).
  std::string Text(const char* sql) {
    std::string out;
    Status s = Db().Read([&] {
      Query q = Db().Prepare(sql);
      Result<bool> row = q.Step();
      if (!row.ok()) return row.status();
      if (*row) out = q.Text(0);
      return Status::Ok();
    });
    REQUIRE(s.ok());
    return out;
  }
  long long Int(const char* sql) {
    const std::string t = Text(sql);
    return t.empty() ? 0 : std::stoll(t);
  }
  void Exec(const std::string& sql) {
    REQUIRE(Db().Write([&] { return Db().Exec(sql); }).ok());
  }
  SqliteDb& Db() {
    if (!db_) {
      SqliteOptions o;
      o.path = path_;
      db_ = std::make_unique<SqliteDb>(o);
    }
    return *db_;
  }

 private:
  std::string dir_, path_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Queue>> queues_;
  std::vector<std::unique_ptr<QueueSession>> sessions_;
  std::unique_ptr<SqliteDb> db_;
};

// An event as evt-emit writes it.
inline std::string SqliteTestEvent(const std::string& id, const std::string& key = "",
                                   std::int64_t retry_count = 0) {
  Json j;
  j["event_type"] = "t.x";
  j["event_id"] = id;
  if (!key.empty()) j["idempotency_key"] = key;
  j["retry_count"] = retry_count;
  j["occurred_at"] = "2026-01-01T00:00:00.000Z";
  Result<Event> ev = MakeEvent(j);
  REQUIRE(ev.ok());
  return Serialize(*ev);
}

}  // namespace evt::testing
