// The SQLite implementation of the queue contract: a fresh database file in its own temp
// folder per harness (tests/support/sqlite_queue_fixture.h), so every case section starts
// from an empty queue. No server is needed. The views read the tables of sqlite_schema.cc.
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "queue_impls.h"
#include "sqlite/sqlite_db.h"
#include "sqlite_queue_fixture.h"

namespace evt::contract {
namespace {

class SqliteHarness : public QueueHarness {
 public:
  SqliteHarness() { queue_ = OpenConsumer("c1"); }

  Queue& queue() override { return *queue_; }

  std::unique_ptr<Queue> OpenConsumer(const std::string& consumer) override {
    return fixture_.MakeQueue(fixture_.Options(consumer));
  }

  Status Publish(const std::string& raw) override {
    fixture_.Add(raw);
    return Status::Ok();
  }

  UnixMillis Now() override { return NowUnixMillis(); }
  void Wait(Millis d) override { std::this_thread::sleep_for(d); }

  std::optional<std::string> EventStatus(const std::string& event_id) override {
    return Text("SELECT status FROM events WHERE event_id = ?1", event_id);
  }
  std::optional<std::int64_t> DeadLetters() override {
    return Int("SELECT count(*) FROM dlq WHERE ?1 = ''", "");
  }
  std::optional<std::int64_t> Outcomes(const std::string& outcome) override {
    return Int("SELECT coalesce(sum(value), 0) FROM metrics WHERE field = ?1",
               "t.x|outcome:" + outcome);
  }
  std::optional<bool> WorkerListed(const std::string& consumer) override {
    // A record past its expiry is no longer listed (as the Redis key expires).
    return Int("SELECT count(*) FROM workers WHERE consumer = ?1 AND expires_ms > ?2", consumer,
               NowUnixMillis()) == 1;
  }
  void DropGroup() override {
    const std::string group = fixture_.Options("c1").group;
    Exec("DELETE FROM pending WHERE grp = ?1", group);
    Exec("DELETE FROM groups WHERE name = ?1", group);
  }

 private:
  // The first column of the first row of `sql` (a literal: statements are cached by it)
  // with ?1 = `arg` and ?2 = `arg2`, as text ("" when no row).
  std::string Text(const char* sql, const std::string& arg, std::int64_t arg2 = -1) {
    std::string out;
    SqliteDb& db = fixture_.Db();
    Status s = db.Read([&] {
      Query q = db.Prepare(sql);
      q.Bind(arg);
      if (arg2 >= 0) q.Bind(arg2);
      Result<bool> row = q.Step();
      if (!row.ok()) return row.status();
      if (*row) out = q.Text(0);
      return q.Run();
    });
    if (!s.ok()) throw std::runtime_error("sqlite harness: " + s.message());
    return out;
  }
  std::int64_t Int(const char* sql, const std::string& arg, std::int64_t arg2 = -1) {
    const std::string t = Text(sql, arg, arg2);
    return t.empty() ? 0 : std::stoll(t);
  }
  void Exec(const char* sql, const std::string& arg) {
    SqliteDb& db = fixture_.Db();
    Status s = db.Write([&] { return db.Prepare(sql).Bind(arg).Run(); });
    if (!s.ok()) throw std::runtime_error("sqlite harness: " + s.message());
  }

  testing::SqliteQueueFixture fixture_;  // first member: outlives the queues
  std::unique_ptr<Queue> queue_;
};

[[maybe_unused]] const bool registered =
    RegisterQueueImpl({"sqlite",
                       {/*has_claim=*/true, /*has_consumer_groups=*/true,
                        /*durable=*/true, /*counts_starts=*/true,
                        /*leases_expire=*/true, /*schedules=*/true,
                        /*claims_own=*/false},
                       [] { return std::make_unique<SqliteHarness>(); }});

}  // namespace
}  // namespace evt::contract
