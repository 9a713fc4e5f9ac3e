// The SQLite store of the admin and inspector contracts: a fresh file in its own temp
// folder per harness (tests/support/sqlite_queue_fixture.h); records are written as the
// worker's transactions write them (the tables of sqlite_schema.cc).
#include <unistd.h>

#include <memory>
#include <stdexcept>
#include <string>

#include "evt/event.h"
#include "sqlite/sqlite_db.h"
#include "sqlite/sqlite_names.h"
#include "sqlite_queue_fixture.h"
#include "store_impls.h"

namespace evt::contract {
namespace {

void Check(const Status& s) {
  if (!s.ok()) throw std::runtime_error("sqlite store harness: " + s.message());
}

class SqliteStore : public StoreHarness {
 public:
  SqliteStore() { Qid("q1"); }  // the file exists, as after evt-emit

  std::string url() override { return f_.url(); }
  std::string ns() override { return "evt"; }
  std::string AbsentUrl() override { return "sqlite://" + f_.dir() + "/absent/evt.db"; }
  bool AbsentCreated() override { return ::access((f_.dir() + "/absent").c_str(), F_OK) == 0; }

  std::unique_ptr<QueueSession> Session(const std::string& consumer) override {
    return f_.Session(consumer);
  }
  void Add(const std::string& raw, const std::string& queue) override {
    const std::int64_t qid = Qid(queue);
    Write("INSERT INTO stream(qid, added_ms, event) VALUES(?1, ?2, ?3)",
          [&](Query& q) { q.Bind(qid).Bind(NowUnixMillis()).Bind(raw); });
  }
  void AddDelayed(const std::string& raw, UnixMillis due) override {
    const std::int64_t qid = Qid("q1");
    Write("INSERT INTO delayed(qid, due_ms, event) VALUES(?1, ?2, ?3)",
          [&](Query& q) { q.Bind(qid).Bind(due).Bind(raw); });
  }
  void RegisterQueue(const std::string& queue) override { Qid(queue); }

  std::string AddDead(const DeadSpec& d) override {
    const std::int64_t qid = Qid("q1");
    const UnixMillis failed = *ParseRfc3339(d.failed_at);
    std::int64_t row = 0;
    SqliteDb& db = f_.Db();
    Check(db.Write([&] {
      Query q = db.Prepare(
          "INSERT INTO dlq(qid, event, reason, error, category, attempts, failed_at, consumer, "
          "stream_id, failed_ms) VALUES(?1, ?2, ?3, 'exit 75: down', ?4, 6, ?5, 'h:1', '1-1', "
          "?6) RETURNING id");
      q.Bind(qid).Bind(d.raw.empty() ? DeadEvent(d) : d.raw).Bind(d.reason).Bind(d.category);
      q.Bind(d.failed_at).Bind(failed);
      Result<bool> r = q.Step();
      if (!r.ok()) return r.status();
      row = q.Int(0);
      return q.Run();
    }));
    return std::to_string(failed) + "-" + std::to_string(row);
  }
  void AddAncientDead() override {
    AddDead({"ancient", "t.x", "1970-01-01T00:00:01.000Z", "", "permanent", "{}"});
  }
  void AddExpiredWorker(const std::string& consumer) override {
    const std::int64_t qid = Qid("q1");
    Write(
        "INSERT INTO workers VALUES(?1, ?2, 'h', 1, 'x', 1, 0, 0, "
        "'1970-01-01T00:00:00.000Z', 1)",
        [&](Query& q) { q.Bind(qid).Bind(consumer); });
  }
  void PutKey(const std::string& key, bool done, UnixMillis expires_ms) override {
    const std::int64_t qid = Qid("q1");
    Write("INSERT INTO idem VALUES(?1, ?2, ?3, ?4, ?5)", [&](Query& q) {
      q.Bind(qid).Bind(key).Bind(std::string(done ? "done" : "running"));
      q.Bind(std::string(done ? "" : "h:1")).Bind(expires_ms);
    });
  }
  BrokenQueue BreakQueue(const std::string& queue) override {
    Qid(queue);
    f_.Exec(
        "CREATE TRIGGER no_insert BEFORE INSERT ON stream BEGIN SELECT RAISE(ABORT, 'no room "
        "for this'); END");
    return {Status::Kind::kInternal, "no room for this"};
  }

  std::int64_t DeadLetters() override { return f_.Int("SELECT count(*) FROM dlq"); }
  std::int64_t StreamLength(const std::string& queue) override {
    return Count("SELECT count(*) FROM stream s JOIN queues q ON s.qid = q.id WHERE q.name = ?1",
                 queue);
  }
  bool QueueListed(const std::string& queue) override {
    return Count("SELECT count(*) FROM queues WHERE name = ?1", queue) == 1;
  }
  std::int64_t StatusRecords() override { return f_.Int("SELECT count(*) FROM events"); }
  std::vector<std::map<std::string, std::string>> Audits() override {
    std::vector<std::map<std::string, std::string>> out;
    SqliteDb& db = f_.Db();
    Check(db.Read([&] {
      Query q = db.Prepare("SELECT action, actor, at, detail FROM audit ORDER BY rowid");
      while (true) {
        Result<bool> row = q.Step();
        if (!row.ok()) return row.status();
        if (!*row) return Status::Ok();
        Json d = *ParseJson(q.Text(3));
        out.push_back({{"action", q.Text(0)},
                       {"actor", q.Text(1)},
                       {"at", q.Text(2)},
                       {"id", d.value("id", "")},
                       {"filters", d.value("filters", "")},
                       {"count", std::to_string(d.value("count", -1))}});
      }
    }));
    return out;
  }

 private:
  static std::string DeadEvent(const DeadSpec& d) {
    Json j = *ParseJson(testing::SqliteTestEvent(d.event_id, "", 5));
    j["event_type"] = d.type;
    return j.dump();
  }
  std::int64_t Qid(const std::string& queue) {
    Result<std::int64_t> qid = SqliteQueueId(f_.Db(), "evt", queue);
    Check(qid.status());
    return *qid;
  }
  // Runs `sql` (a literal) with the parameters `bind` sets, in one write transaction.
  void Write(const char* sql, const std::function<void(Query&)>& bind) {
    SqliteDb& db = f_.Db();
    Check(db.Write([&] {
      Query q = db.Prepare(sql);
      bind(q);
      return q.Run();
    }));
  }
  std::int64_t Count(const char* sql, const std::string& arg) {
    std::int64_t n = 0;
    SqliteDb& db = f_.Db();
    Check(db.Read([&] {
      Query q = db.Prepare(sql);
      q.Bind(arg);
      Result<bool> row = q.Step();
      if (!row.ok()) return row.status();
      n = *row ? q.Int(0) : 0;
      return q.Run();
    }));
    return n;
  }

  testing::SqliteQueueFixture f_;
};

[[maybe_unused]] const bool registered =
    RegisterStoreImpl({"sqlite", [] { return std::make_unique<SqliteStore>(); }});

}  // namespace
}  // namespace evt::contract
