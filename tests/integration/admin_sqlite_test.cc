// The SQLite QueueAdmin on a temp file (no server): filters, purge and its audit record,
// the atomic move of a replay, done keys and stream history, as admin_redis_test.cc does.
#include "sqlite/admin_sqlite.h"

#include <unistd.h>

#include <catch2/catch.hpp>

#include "evt/broker_factory.h"
#include "evt/dlq.h"
#include "sqlite_queue_fixture.h"

using evt::testing::SqliteQueueFixture;
using evt::testing::SqliteTestEvent;

namespace evt {
namespace {

std::unique_ptr<QueueAdmin> Admin(SqliteQueueFixture& f, const std::string& queue = "q1") {
  REQUIRE(SqliteQueueId(f.Db(), "evt", "q1").ok());  // the file exists, as after evt-emit
  AdminOptions o;
  o.queue = queue;
  Result<std::unique_ptr<QueueAdmin>> a = OpenAdmin(*ParseBrokerUrl(f.url()), o);
  REQUIRE(a.ok());
  return std::move(*a);
}

// A dead letter as the worker's attempt-ending transaction writes it; returns its id.
std::string AddDead(SqliteQueueFixture& f, const std::string& id, const std::string& type,
                    const std::string& failed_at = "2026-01-01T00:00:00.000Z",
                    const std::string& category = "dependency",
                    const std::string& reason = "retries_exhausted", const std::string& raw = "") {
  Json j = *ParseJson(SqliteTestEvent(id, "", 5));
  j["event_type"] = type;
  const std::string text = raw.empty() ? j.dump() : raw;
  const std::int64_t qid = *SqliteQueueId(f.Db(), "evt", "q1");
  std::int64_t row = 0;
  REQUIRE(f.Db()
              .Write([&] {
                Query q = f.Db().Prepare(
                    "INSERT INTO dlq(qid, event, reason, error, category, attempts, failed_at, "
                    "consumer, stream_id, failed_ms) VALUES(?1, ?2, ?3, 'exit 75: down', ?4, 6, "
                    "?5, 'h:1', '1-1', ?6) RETURNING id");
                q.Bind(qid).Bind(text).Bind(reason).Bind(category).Bind(failed_at);
                q.Bind(*ParseRfc3339(failed_at));
                Result<bool> r = q.Step();
                if (!r.ok()) return r.status();
                row = q.Int(0);
                return q.Run();
              })
              .ok());
  return std::to_string(*ParseRfc3339(failed_at)) + "-" + std::to_string(row);
}

std::vector<std::string> EventIds(const std::vector<DeadLetterRecord>& rs) {
  std::vector<std::string> out;
  for (const auto& r : rs) out.push_back(r.event_id());
  return out;
}

}  // namespace

TEST_CASE("sqlite admin: dead letters are read back whole and filtered", "[admin][sqlite]") {
  SqliteQueueFixture f;
  const std::string first = AddDead(f, "e1", "billing.invoice", "2026-01-01T00:00:00.000Z");
  AddDead(f, "e2", "billing.refund", "2026-01-02T00:00:00.000Z", "data", "permanent");
  AddDead(f, "e3", "mail.send", "2026-01-03T00:00:00.000Z");
  AddDead(f, "raw", "t.x", "2026-01-04T00:00:00.000Z", "", "invalid", "not json");
  auto admin = Admin(f);

  Result<std::vector<DeadLetterRecord>> all = admin->ListDeadLetters({});
  REQUIRE(all.ok());
  REQUIRE(all->size() == 4);
  const DeadLetterRecord& r = all->at(0);
  CHECK(r.id == first);
  CHECK(r.event_id() == "e1");
  CHECK(r.letter.reason == DeadReason::kRetriesExhausted);
  CHECK(r.letter.category == Category::kDependency);
  CHECK(r.letter.error == "exit 75: down");
  CHECK(r.letter.attempts == 6);
  CHECK(r.letter.consumer == "h:1");
  CHECK(r.stream_id == "1-1");
  CHECK(r.letter.failed_at == *ParseRfc3339("2026-01-01T00:00:00Z"));
  CHECK(all->at(3).letter.raw == "not json");

  RecordFilter type;
  type.type_glob = "billing.*";
  CHECK(EventIds(*admin->ListDeadLetters(type)) == std::vector<std::string>{"e1", "e2"});
  RecordFilter window;
  window.since = *ParseRfc3339("2026-01-02T00:00:00Z");
  window.until = *ParseRfc3339("2026-01-03T00:00:00Z");
  CHECK(EventIds(*admin->ListDeadLetters(window)) == std::vector<std::string>{"e2"});
  RecordFilter cat;
  cat.category = "data";
  cat.reason = "permanent";
  CHECK(EventIds(*admin->ListDeadLetters(cat)) == std::vector<std::string>{"e2"});
  RecordFilter ids;
  ids.ids = {first, "e3"};
  CHECK(EventIds(*admin->ListDeadLetters(ids)) == std::vector<std::string>{"e1", "e3"});
  RecordFilter limit;
  limit.limit = 2;
  CHECK(admin->ListDeadLetters(limit)->size() == 2);
  // Another queue's dead letters are not this queue's.
  CHECK(Admin(f, "other")->ListDeadLetters({})->empty());
}

TEST_CASE("sqlite admin: purge deletes the matching dead letters and writes an audit row",
          "[admin][sqlite]") {
  SqliteQueueFixture f;
  AddDead(f, "e1", "a.b");
  AddDead(f, "e2", "c.d");
  AddDead(f, "e3", "c.d");
  auto admin = Admin(f);
  CHECK(*admin->PurgeDeadLetters({"not-an-id", "1-999"}) == 0);
  PurgeOptions o;
  o.yes = true;
  o.filters = "--type 'c.*'";
  o.purge_id = "prg_T";
  RecordFilter cd;
  cd.type_glob = "c.*";
  std::int64_t n = 0;
  REQUIRE(DlqPurge(*admin, cd, o, &n).ok());
  CHECK(n == 2);
  CHECK(f.Int("SELECT count(*) FROM dlq") == 1);
  CHECK(f.Int("SELECT count(*) FROM audit") == 1);
  CHECK(f.Text("SELECT action FROM audit") == "purge");
  CHECK(f.Text("SELECT actor FROM audit") == CurrentUser() + "@" + HostName());
  CHECK(ParseRfc3339(f.Text("SELECT at FROM audit")).ok());
  Json d = *ParseJson(f.Text("SELECT detail FROM audit"));
  CHECK(d["id"] == "prg_T");
  CHECK(d["filters"] == "--type 'c.*'");
  CHECK(d["count"] == 2);
}

TEST_CASE("sqlite admin: a move copies into the queue and deletes the dead letter in one step",
          "[admin][sqlite]") {
  SqliteQueueFixture f;
  const std::string id = AddDead(f, "e1", "a.b");
  auto admin = Admin(f);
  Result<bool> moved = admin->MoveDeadLetter(id, "{\"x\":1}", "q1", false);
  REQUIRE(moved.ok());
  CHECK(*moved);
  CHECK(f.Int("SELECT count(*) FROM dlq") == 0);
  CHECK(f.Text("SELECT event FROM stream") == "{\"x\":1}");
  // Gone now: a second move (another replay) copies nothing.
  CHECK_FALSE(*admin->MoveDeadLetter(id, "{\"x\":1}", "q1", false));
  CHECK(f.Int("SELECT count(*) FROM stream") == 1);

  const std::string kept = AddDead(f, "e2", "a.b");
  CHECK(*admin->MoveDeadLetter(kept, "{}", "other", /*keep=*/true));
  CHECK(f.Int("SELECT count(*) FROM dlq") == 1);
  CHECK(f.Int("SELECT count(*) FROM stream s JOIN queues q ON s.qid = q.id WHERE q.name = "
              "'other'") == 1);
}

TEST_CASE("sqlite admin: a move that cannot write leaves the dead letter in place",
          "[admin][sqlite]") {
  SqliteQueueFixture f;
  const std::string id = AddDead(f, "e1", "a.b");
  auto admin = Admin(f);
  // The insert into the queue fails inside the transaction: the delete is rolled back.
  f.Exec("CREATE TRIGGER no_insert BEFORE INSERT ON stream BEGIN SELECT RAISE(ABORT, 'full'); END");
  Result<bool> moved = admin->MoveDeadLetter(id, "{}", "q1", false);
  CHECK_FALSE(moved.ok());
  CHECK(f.Int("SELECT count(*) FROM dlq") == 1);
  CHECK(f.Int("SELECT count(*) FROM stream") == 0);
}

TEST_CASE("sqlite admin: done keys are `done` records that have not expired, not leases",
          "[admin][sqlite]") {
  SqliteQueueFixture f;
  auto admin = Admin(f);
  const std::string later = std::to_string(NowUnixMillis() + 600000);
  f.Exec("INSERT INTO idem VALUES(1, 'k1', 'done', '', " + later + ")");
  f.Exec("INSERT INTO idem VALUES(1, 'k2', 'running', 'h:1', " + later + ")");
  f.Exec("INSERT INTO idem VALUES(1, 'k4', 'done', '', 1)");
  CHECK(*admin->DoneKeys({"k1", "k2", "k3", "k4"}) == std::vector<bool>{true, false, false, false});
}

TEST_CASE("sqlite admin: history is read from the stream and filtered on occurred_at",
          "[admin][sqlite]") {
  SqliteQueueFixture f;
  f.Add(SqliteTestEvent("e1"));  // occurred 2026-01-01
  Json later = *ParseJson(SqliteTestEvent("e2"));
  later["occurred_at"] = "2026-03-01T00:00:00.000Z";
  f.Add(later.dump());
  f.Add("not json");
  auto admin = Admin(f);
  CHECK(admin->ReadHistory({})->size() == 3);
  RecordFilter since;
  since.since = *ParseRfc3339("2026-02-01T00:00:00Z");
  Result<std::vector<HistoryRecord>> h = admin->ReadHistory(since);
  REQUIRE(h->size() == 1);
  CHECK(h->at(0).event["event_id"] == "e2");
  REQUIRE(admin->Enqueue(SqliteTestEvent("e3")).ok());
  CHECK(f.Int("SELECT count(*) FROM stream") == 4);
}

TEST_CASE("sqlite admin: a missing file is Unavailable and is not created", "[admin][sqlite]") {
  SqliteQueueFixture f;
  Result<std::unique_ptr<QueueAdmin>> a = OpenAdmin(*ParseBrokerUrl(f.url()), AdminOptions());
  REQUIRE(!a.ok());
  CHECK(a.status().kind() == Status::Kind::kUnavailable);
  CHECK(::access(f.path().c_str(), F_OK) != 0);
}

}  // namespace evt
