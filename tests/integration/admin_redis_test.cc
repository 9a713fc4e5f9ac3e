// The Redis QueueAdmin against a real redis-server: filters, purge and its audit record,
// the atomic move of a replay (also while a worker consumes and another replay runs), done
// keys and stream history.
#include "redis/admin_redis.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <thread>

#include "evt/dlq.h"
#include "evt/replay.h"
#include "queue_fixture.h"

using evt::testing::EventJson;
using evt::testing::QueueFixture;

namespace evt {
namespace {

std::unique_ptr<QueueAdmin> Admin(QueueFixture& f, const std::string& queue = "q1") {
  AdminOptions o;
  o.queue = queue;
  o.client_name = "admin-test";
  Result<std::unique_ptr<QueueAdmin>> a = OpenRedisAdmin(*ParseBrokerUrl(f.server.url()), o);
  REQUIRE(a.ok());
  return std::move(*a);
}

// A dead letter as the worker's finish script writes it.
std::string AddDead(QueueFixture& f, const std::string& id, const std::string& type,
                    const std::string& failed_at = "2026-01-01T00:00:00.000Z",
                    const std::string& category = "dependency",
                    const std::string& reason = "retries_exhausted") {
  Json j = *ParseJson(EventJson(id, "", 5));
  j["event_type"] = type;
  return f.Str({"XADD", "evt:{q1}:dlq", "*", "event", j.dump(), "reason", reason, "error",
                "exit 75: down", "category", category, "attempts", "6", "failed_at", failed_at,
                "consumer", "h:1", "stream_id", "1-1"});
}

std::vector<std::string> EventIds(const std::vector<DeadLetterRecord>& rs) {
  std::vector<std::string> out;
  for (const auto& r : rs) out.push_back(r.event_id());
  return out;
}

}  // namespace

TEST_CASE("dead letters are read back whole and filtered by type, time, category, reason, id",
          "[admin]") {
  QueueFixture f;
  const std::string first = AddDead(f, "e1", "billing.invoice", "2026-01-01T00:00:00.000Z");
  AddDead(f, "e2", "billing.refund", "2026-01-02T00:00:00.000Z", "data", "permanent");
  AddDead(f, "e3", "mail.send", "2026-01-03T00:00:00.000Z");
  f.Cmd({"XADD", "evt:{q1}:dlq", "*", "event", "not json", "reason", "invalid", "failed_at",
         "2026-01-04T00:00:00.000Z"});
  auto admin = Admin(f);
  Result<std::vector<DeadLetterRecord>> all = admin->ListDeadLetters({});
  REQUIRE(all.ok());
  REQUIRE(all->size() == 4);
  const DeadLetterRecord& r = (*all)[0];
  CHECK(r.id == first);
  CHECK(r.event_type() == "billing.invoice");
  CHECK(r.letter.reason == DeadReason::kRetriesExhausted);
  CHECK(r.letter.category == Category::kDependency);
  CHECK(r.letter.attempts == 6);
  CHECK(r.letter.error == "exit 75: down");
  CHECK(r.letter.consumer == "h:1");
  CHECK(r.stream_id == "1-1");
  CHECK(r.letter.event["retry_count"] == 5);
  CHECK((*all)[3].letter.raw == "not json");

  RecordFilter byType;
  byType.type_glob = "billing.*";
  CHECK(EventIds(*admin->ListDeadLetters(byType)) == std::vector<std::string>{"e1", "e2"});
  RecordFilter byTime;
  byTime.since = *ParseRfc3339("2026-01-02T00:00:00Z");
  byTime.until = *ParseRfc3339("2026-01-03T00:00:00Z");
  CHECK(EventIds(*admin->ListDeadLetters(byTime)) == std::vector<std::string>{"e2"});
  RecordFilter byCategory;
  byCategory.category = "dependency";
  CHECK(EventIds(*admin->ListDeadLetters(byCategory)) == std::vector<std::string>{"e1", "e3"});
  RecordFilter byReason;
  byReason.reason = "permanent";
  CHECK(EventIds(*admin->ListDeadLetters(byReason)) == std::vector<std::string>{"e2"});
  RecordFilter byId;
  byId.ids = {"e3", first};
  CHECK(EventIds(*admin->ListDeadLetters(byId)) == std::vector<std::string>{"e1", "e3"});
}

TEST_CASE("listing pages through a large dead-letter queue and stops at --limit", "[admin]") {
  QueueFixture f;
  for (int i = 0; i < 1203; ++i) AddDead(f, "e" + std::to_string(i), i % 2 ? "a.odd" : "a.even");
  auto admin = Admin(f);
  CHECK(admin->ListDeadLetters({})->size() == 1203);
  RecordFilter odd;
  odd.type_glob = "a.odd";
  odd.limit = 600;
  Result<std::vector<DeadLetterRecord>> got = admin->ListDeadLetters(odd);
  REQUIRE(got->size() == 600);
  CHECK(got->back().event_id() == "e1199");
}

TEST_CASE("purge deletes the matching dead letters and writes who, when, filters, count",
          "[admin]") {
  QueueFixture f;
  AddDead(f, "e1", "a.b");
  AddDead(f, "e2", "c.d");
  AddDead(f, "e3", "c.d");
  auto admin = Admin(f);
  CHECK(*admin->PurgeDeadLetters({"not-an-id", "1-0"}) == 0);
  PurgeOptions o;
  o.yes = true;
  o.filters = "--type 'c.*'";
  o.purge_id = "prg_T";
  RecordFilter cd;
  cd.type_glob = "c.*";
  std::int64_t n = 0;
  REQUIRE(DlqPurge(*admin, cd, o, &n).ok());
  CHECK(n == 2);
  CHECK(f.Int({"XLEN", "evt:{q1}:dlq"}) == 1);
  ReplyPtr audit = f.Cmd({"XRANGE", "evt:{q1}:audit", "-", "+"});
  REQUIRE(audit->elements == 1);
  std::map<std::string, std::string> a;
  const redisReply* kv = audit->element[0]->element[1];
  for (std::size_t i = 0; i + 1 < kv->elements; i += 2) {
    a[ReplyString(kv->element[i])] = ReplyString(kv->element[i + 1]);
  }
  CHECK(a["action"] == "purge");
  CHECK(a["id"] == "prg_T");
  CHECK(a["user"] == CurrentUser());
  CHECK(a["host"] == HostName());
  CHECK(a["filters"] == "--type 'c.*'");
  CHECK(a["count"] == "2");
  CHECK(ParseRfc3339(a["at"]).ok());
}

TEST_CASE("a move copies into the queue and deletes the dead letter in one step", "[admin]") {
  QueueFixture f;
  const std::string id = AddDead(f, "e1", "a.b");
  auto admin = Admin(f);
  Result<bool> moved = admin->MoveDeadLetter(id, "{\"x\":1}", "q1", false);
  REQUIRE(moved.ok());
  CHECK(*moved);
  CHECK(f.Int({"XLEN", "evt:{q1}:dlq"}) == 0);
  CHECK(f.Int({"XLEN", "evt:{q1}:stream"}) == 1);
  CHECK(f.Int({"SISMEMBER", "evt:queues", "q1"}) == 1);
  // Gone now: a second move (another replay) copies nothing.
  CHECK_FALSE(*admin->MoveDeadLetter(id, "{\"x\":1}", "q1", false));
  CHECK(f.Int({"XLEN", "evt:{q1}:stream"}) == 1);

  const std::string kept = AddDead(f, "e2", "a.b");
  CHECK(*admin->MoveDeadLetter(kept, "{}", "other", /*keep=*/true));
  CHECK(f.Int({"XLEN", "evt:{q1}:dlq"}) == 1);
  CHECK(f.Int({"XLEN", "evt:{other}:stream"}) == 1);
}

TEST_CASE("a move into a key of the wrong type writes nothing and keeps the dead letter",
          "[admin]") {
  QueueFixture f;
  const std::string id = AddDead(f, "e1", "a.b");
  f.Cmd({"SET", "evt:{bad}:stream", "x"});
  auto admin = Admin(f);
  Result<bool> moved = admin->MoveDeadLetter(id, "{}", "bad", false);
  REQUIRE_FALSE(moved.ok());
  CHECK(moved.status().kind() == Status::Kind::kConfig);
  CHECK_THAT(moved.status().message(), Catch::Contains("WRONGTYPE"));
  CHECK(f.Int({"XLEN", "evt:{q1}:dlq"}) == 1);
}

TEST_CASE("replay while a worker consumes and a second replay runs: nothing lost or doubled",
          "[admin][replay]") {
  QueueFixture f;
  constexpr int kEvents = 300;
  for (int i = 0; i < kEvents; ++i) AddDead(f, "e" + std::to_string(i), "a.b");
  f.Cmd({"XGROUP", "CREATE", "evt:{q1}:stream", "workers", "0", "MKSTREAM"});
  auto first = Admin(f);
  auto second = Admin(f);

  // The consumer: reads and acknowledges every entry; no assertion outside this thread.
  std::atomic<bool> stop{false};
  std::map<std::string, int> seen;  // event_id -> times delivered; read after join
  std::map<std::string, int> retry_counts;
  std::thread worker([&] {
    RedisClientOptions o;
    o.broker = *ParseBrokerUrl(f.server.url());
    RedisClient c(o);
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!stop && std::chrono::steady_clock::now() < give_up) {
      Result<ReplyPtr> r = c.Command({"XREADGROUP", "GROUP", "workers", "w1", "COUNT", "50",
                                      "BLOCK", "100", "STREAMS", "evt:{q1}:stream", ">"});
      if (!r.ok() || (*r)->type != REDIS_REPLY_ARRAY) continue;
      const redisReply* entries = (*r)->element[0]->element[1];
      for (std::size_t i = 0; i < entries->elements; ++i) {
        const redisReply* e = entries->element[i];
        Result<Json> ev = ParseJson(ReplyString(e->element[1]->element[1]));
        if (ev.ok()) {
          ++seen[(*ev)["event_id"].get<std::string>()];
          retry_counts[(*ev)["event_id"].get<std::string>()] = (*ev)["retry_count"].get<int>();
        }
        c.Command({"XACK", "evt:{q1}:stream", "workers", ReplyString(e->element[0])});
      }
    }
  });
  ReplaySummary s1, s2;
  Status st2;
  ReplayOptions o;
  o.source_queue = "q1";
  std::thread other([&] {
    int out = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    st2 = RunReplay(*second, second.get(), {}, o, RealClock(), out, &s2);
    ::close(out);
  });
  int out = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  Status st1 = RunReplay(*first, first.get(), {}, o, RealClock(), out, &s1);
  ::close(out);
  other.join();
  REQUIRE(st1.ok());
  REQUIRE(st2.ok());
  // Each dead letter went back once: by one replay or the other, never by both.
  CHECK(s1.replayed + s2.replayed == kEvents);
  CHECK(s1.failed + s2.failed == 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (f.Int({"XLEN", "evt:{q1}:stream"}) < kEvents &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  // Wait until the consumer has acknowledged everything, then stop it.
  while (std::chrono::steady_clock::now() < deadline) {
    ReplyPtr p = f.Cmd({"XINFO", "GROUPS", "evt:{q1}:stream"});
    bool drained = false;
    const redisReply* g = p->element[0];
    for (std::size_t i = 0; i + 1 < g->elements; i += 2) {
      if (ReplyString(g->element[i]) == "last-delivered-id") {
        drained = ReplyString(g->element[i + 1]) ==
                  ReplyString(f.Cmd({"XREVRANGE", "evt:{q1}:stream", "+", "-", "COUNT", "1"})
                                  ->element[0]
                                  ->element[0]);
      }
    }
    if (drained && f.Pending() == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop = true;
  worker.join();
  CHECK(f.Int({"XLEN", "evt:{q1}:dlq"}) == 0);
  CHECK(f.Int({"XLEN", "evt:{q1}:stream"}) == kEvents);
  REQUIRE(seen.size() == static_cast<std::size_t>(kEvents));
  int doubled = 0, not_reset = 0;
  for (const auto& [id, n] : seen) doubled += n != 1;
  for (const auto& [id, n] : retry_counts) not_reset += n != 0;
  CHECK(doubled == 0);
  CHECK(not_reset == 0);
}

TEST_CASE("done keys are the queue's `done` records, not running leases", "[admin]") {
  QueueFixture f;
  f.Cmd({"SET", "evt:{q1}:idem:k1", "done"});
  f.Cmd({"SET", "evt:{q1}:idem:k2", "running h:1"});
  auto admin = Admin(f);
  CHECK(*admin->DoneKeys({"k1", "k2", "k3"}) == std::vector<bool>{true, false, false});
}

TEST_CASE("history is read from the stream and filtered on occurred_at", "[admin]") {
  QueueFixture f;
  f.Add(EventJson("e1"));  // occurred 2026-01-01
  Json later = *ParseJson(EventJson("e2"));
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
  REQUIRE(admin->Enqueue(EventJson("e3")).ok());
  CHECK(f.Int({"XLEN", "evt:{q1}:stream"}) == 4);
}

}  // namespace evt
