// The Redis queue when Redis misbehaves: keys of the wrong type, a server over maxmemory
// that refuses writes, a consumer group deleted and re-created under running workers.
// Whatever fails, an attempt's outcome is written whole or not at all, and the entry stays
// pending until it is written (issue 6, items 1, 2 and 5).
#include <catch2/catch.hpp>
#include <string>
#include <thread>

#include "attempt_end.h"
#include "queue_fixture.h"
#include "redis/publisher_redis.h"
#include "redis/queue_keys.h"
#include "redis/queue_redis.h"

using evt::testing::EventJson;
using evt::testing::QueueFixture;

namespace evt {
namespace {

AttemptEnd EndFor(const Delivery& d, const std::string& id, const std::string& key) {
  AttemptEnd end = testing::RanEnd(d, id, key, Millis(5));
  end.occurred_at = NowUnixMillis() - 1000;
  return end;
}

std::vector<Delivery> ReceiveAll(QueueSession& s, int max = 10) {
  std::vector<Delivery> got;
  REQUIRE(s.Receive(max, Millis(100), &got).ok());
  return got;
}

std::string Fin(const std::string& stream_id) { return "evt:{q1}:fin:" + stream_id; }
std::string Run(const std::string& stream_id) { return "evt:{q1}:run:" + stream_id; }

long long MetricKeys(QueueFixture& f) { return f.Cmd({"KEYS", "evt:{q1}:m:*"})->elements; }

// Fills the server with ~2 MB and sets maxmemory below it, with noeviction: every write
// that may grow memory is refused with -OOM, as on a full production Redis.
void MakeOutOfMemory(QueueFixture& f) {
  f.Cmd({"CONFIG", "SET", "maxmemory-policy", "noeviction"});
  f.Cmd({"SET", "filler", std::string(2 * 1024 * 1024, 'x')});
  f.Cmd({"CONFIG", "SET", "maxmemory", "1mb"});
  REQUIRE(ReplyError(f.Cmd({"SET", "probe", "1"}).get()).rfind("OOM", 0) == 0);
}

}  // namespace

TEST_CASE("faults: a dead letter that cannot be written leaves the entry pending, all unwritten",
          "[queue][faults]") {
  QueueFixture f;
  const std::string raw = EventJson("e1", "k1");
  f.Add(raw);
  auto s = f.Session("c1");
  REQUIRE(s->EnsureGroup().ok());
  Delivery d = ReceiveAll(*s).at(0);
  AttemptEnd end = EndFor(d, "e1", "k1");
  REQUIRE(s->StartAttempt(end, Millis(60000), 6)->state == LeaseState::kAcquired);
  f.Cmd({"RPUSH", "evt:{q1}:dlq", "someone else's list"});

  end.category = Category::kData;
  end.error = "exit 65";
  Status st = s->FinishDead(end, DeadReason::kPermanent, raw);
  CHECK_FALSE(st.ok());
  CHECK_THAT(st.message(), Catch::Contains("evt:{q1}:dlq"));
  CHECK(f.Pending() == 1);                                            // not acknowledged
  CHECK(f.Hash("evt:{q1}:ev:e1")["status"] == "running");             // no `failed` record
  CHECK(f.Str({"GET", "evt:{q1}:idem:k1"}) == "running c1 " + d.id);  // lease kept
  CHECK(MetricKeys(f) == 0);                                          // nothing counted
  CHECK(f.Int({"EXISTS", Fin(d.id)}) == 0);
  CHECK(f.Int({"LLEN", "evt:{q1}:dlq"}) == 1);

  // Once the key is fixed, the same call lands the dead letter, once.
  f.Cmd({"DEL", "evt:{q1}:dlq"});
  REQUIRE(s->FinishDead(end, DeadReason::kPermanent, raw).ok());
  REQUIRE(s->FinishDead(end, DeadReason::kPermanent, raw).ok());
  CHECK(f.Pending() == 0);
  CHECK(f.Int({"XLEN", "evt:{q1}:dlq"}) == 1);
  CHECK(f.Hash("evt:{q1}:ev:e1")["status"] == "failed");
}

TEST_CASE("faults: a retry that cannot be scheduled leaves the entry pending, all unwritten",
          "[queue][faults]") {
  QueueFixture f;
  f.Add(EventJson("e1", "k1"));
  auto s = f.Session("c1");
  REQUIRE(s->EnsureGroup().ok());
  Delivery d = ReceiveAll(*s).at(0);
  AttemptEnd end = EndFor(d, "e1", "k1");
  REQUIRE(s->StartAttempt(end, Millis(60000), 6)->state == LeaseState::kAcquired);
  f.Cmd({"SET", "evt:{q1}:delayed", "not a sorted set"});

  end.category = Category::kDependency;
  end.error = "exit 75";
  const std::string next = EventJson("e1", "k1", 1);
  Status st = s->FinishRetry(end, next, NowUnixMillis() + 1000);
  CHECK_FALSE(st.ok());
  CHECK_THAT(st.message(), Catch::Contains("evt:{q1}:delayed"));
  CHECK(f.Pending() == 1);
  CHECK(f.Hash("evt:{q1}:ev:e1")["status"] == "running");
  CHECK(f.Str({"GET", "evt:{q1}:idem:k1"}) == "running c1 " + d.id);
  CHECK(MetricKeys(f) == 0);

  f.Cmd({"DEL", "evt:{q1}:delayed"});
  REQUIRE(s->FinishRetry(end, next, NowUnixMillis() + 1000).ok());
  CHECK(f.Pending() == 0);
  CHECK(f.Int({"ZCARD", "evt:{q1}:delayed"}) == 1);
  CHECK(f.Int({"EXISTS", "evt:{q1}:idem:k1"}) == 0);
}

TEST_CASE("faults: a key of the wrong type is checked before anything is written",
          "[queue][faults]") {
  QueueFixture f;
  f.Add(EventJson("e1", "k1"));
  auto s = f.Session("c1");
  REQUIRE(s->EnsureGroup().ok());
  Delivery d = ReceiveAll(*s).at(0);
  AttemptEnd end = EndFor(d, "e1", "k1");
  REQUIRE(s->StartAttempt(end, Millis(60000), 6)->state == LeaseState::kAcquired);

  SECTION("the status hash") {
    f.Cmd({"DEL", "evt:{q1}:ev:e1"});
    f.Cmd({"SET", "evt:{q1}:ev:e1", "x"});
    CHECK_FALSE(s->FinishDone(end).ok());
    CHECK(f.Str({"GET", "evt:{q1}:idem:k1"}) == "running c1 " + d.id);  // no done record
  }
  SECTION("a metrics counter that is not a number") {
    const std::string minute = QueueKeys("evt", "q1").metrics(NowUnixMillis() / 60000);
    const std::string next = QueueKeys("evt", "q1").metrics(NowUnixMillis() / 60000 + 1);
    for (const std::string& k : {minute, next}) f.Cmd({"HSET", k, "t.x|outcome:done", "many"});
    CHECK_FALSE(s->FinishDone(end).ok());
    CHECK(f.Hash("evt:{q1}:ev:e1")["status"] == "running");
  }
  CHECK(f.Pending() == 1);
  CHECK(f.Int({"EXISTS", Fin(d.id)}) == 0);
}

TEST_CASE("faults: a repeated commit is a no-op by its commit marker, not by XACK",
          "[queue][faults]") {
  QueueFixture f;
  f.Add(EventJson("e1", "k1"));
  auto s = f.Session("c1");
  REQUIRE(s->EnsureGroup().ok());
  Delivery d = ReceiveAll(*s).at(0);
  AttemptEnd end = EndFor(d, "e1", "k1");
  REQUIRE(s->StartAttempt(end, Millis(60000), 6)->state == LeaseState::kAcquired);
  REQUIRE(s->FinishDone(end).ok());

  CHECK(f.Str({"GET", Fin(d.id)}) == "done");
  long long ttl = f.Int({"PTTL", Fin(d.id)});
  CHECK(ttl > 23 * 3600 * 1000LL);
  CHECK(ttl <= 24 * 3600 * 1000LL);
  CHECK(f.Int({"EXISTS", Run(d.id)}) == 0);  // the start count has done its job

  // A lost reply, then the entry is pending again (the group was re-created meanwhile):
  // the repeat acknowledges it and writes nothing a second time.
  f.Cmd({"XGROUP", "DESTROY", "evt:{q1}:stream", "workers"});
  REQUIRE(s->EnsureGroup().ok());
  REQUIRE(ReceiveAll(*s).size() == 1);
  CHECK(f.Pending() == 1);
  f.Cmd({"DEL", "evt:{q1}:idem:k1"});
  REQUIRE(s->FinishDone(end).ok());
  CHECK(f.Pending() == 0);
  CHECK(f.Int({"EXISTS", "evt:{q1}:idem:k1"}) == 0);  // not written again
  ReplyPtr keys = f.Cmd({"KEYS", "evt:{q1}:m:*"});
  REQUIRE(keys->elements == 1);
  CHECK(f.Hash(ReplyString(keys->element[0]))["t.x|outcome:done"] == "1");
}

TEST_CASE("faults: the group deleted and re-created mid-run drops no outcome, writes none twice",
          "[queue][faults]") {
  QueueFixture f;
  const std::string raw2 = EventJson("e2", "k2");
  f.Add(EventJson("e1", "k1"));
  f.Add(raw2);
  auto s = f.Session("c1");
  REQUIRE(s->EnsureGroup().ok());
  std::vector<Delivery> got = ReceiveAll(*s);
  REQUIRE(got.size() == 2);
  AttemptEnd e1 = EndFor(got[0], "e1", "k1");
  AttemptEnd e2 = EndFor(got[1], "e2", "k2");
  REQUIRE(s->StartAttempt(e1, Millis(60000), 6)->state == LeaseState::kAcquired);
  REQUIRE(s->StartAttempt(e2, Millis(60000), 6)->state == LeaseState::kAcquired);

  // XGROUP DESTROY while both handlers run; a worker creates the group again at id 0.
  f.Cmd({"XGROUP", "DESTROY", "evt:{q1}:stream", "workers"});
  REQUIRE(s->EnsureGroup().ok());
  REQUIRE(s->FinishDone(e1).ok());
  e2.category = Category::kData;
  REQUIRE(s->FinishDead(e2, DeadReason::kPermanent, raw2).ok());
  CHECK(f.Str({"GET", "evt:{q1}:idem:k1"}) == "done");
  CHECK(f.Hash("evt:{q1}:ev:e1")["status"] == "done");
  CHECK(f.Int({"XLEN", "evt:{q1}:dlq"}) == 1);
  CHECK(f.Hash("evt:{q1}:ev:e2")["status"] == "failed");

  // The new group hands both out again: each is acknowledged without running anything.
  std::vector<Delivery> again = ReceiveAll(*s);
  REQUIRE(again.size() == 2);
  for (std::size_t i = 0; i < 2; ++i) {
    AttemptEnd e = EndFor(again[i], i == 0 ? "e1" : "e2", i == 0 ? "k1" : "k2");
    e.lease_owner = "c2 " + again[i].id;
    Result<Lease> l = s->StartAttempt(e, Millis(60000), 6);
    REQUIRE(l.ok());
    CHECK(l->state == LeaseState::kFinished);
  }
  CHECK(f.Pending() == 0);
  CHECK(f.Int({"XLEN", "evt:{q1}:dlq"}) == 1);
  CHECK(f.Str({"GET", "evt:{q1}:idem:k2"}) == "");  // the dead one's key stays free
  // A repeated commit after all that writes nothing either.
  REQUIRE(s->FinishDead(e2, DeadReason::kPermanent, raw2).ok());
  CHECK(f.Int({"XLEN", "evt:{q1}:dlq"}) == 1);
}

TEST_CASE("faults: a consumer that claims an entry whose commit is late leaves it to its holder",
          "[queue][faults]") {
  QueueFixture f;
  f.Add(EventJson("e1", "k1"));
  auto a = f.Session("a");
  REQUIRE(a->EnsureGroup().ok());
  Delivery d = ReceiveAll(*a).at(0);
  AttemptEnd end = EndFor(d, "e1", "k1");
  end.lease_owner = "a " + d.id;
  REQUIRE(a->StartAttempt(end, Millis(60000), 6)->state == LeaseState::kAcquired);
  // a's commit is late (Redis refused it for a while): b claims the entry and finds its
  // lease held by a, for this very entry. A copy (Defer) would run it a second time.
  auto b = f.Session("b");
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  std::vector<Delivery> claimed;
  REQUIRE(b->Claim(Millis(100), 1, &claimed).ok());
  REQUIRE(claimed.size() == 1);
  AttemptEnd other = EndFor(claimed[0], "e1", "k1");
  other.lease_owner = "b " + d.id;
  REQUIRE(b->StartAttempt(other, Millis(60000), 6)->state == LeaseState::kRunningElsewhere);
  CHECK(f.Pending() == 1);

  REQUIRE(a->FinishDone(end).ok());
  CHECK(f.Str({"GET", "evt:{q1}:idem:k1"}) == "done");
  CHECK(f.Hash("evt:{q1}:ev:e1")["status"] == "done");
  CHECK(f.Pending() == 0);
  CHECK(f.Int({"EXISTS", "evt:{q1}:delayed"}) == 0);
}

TEST_CASE("faults: a deferral is no outcome: the delivery's own commit still lands",
          "[queue][faults]") {
  QueueFixture f;
  f.Add(EventJson("e1", "k1"));
  auto s = f.Session("c1");
  REQUIRE(s->EnsureGroup().ok());
  Delivery d = ReceiveAll(*s).at(0);
  REQUIRE(s->Defer(d, NowUnixMillis() + 60000).ok());
  CHECK(f.Int({"EXISTS", Fin(d.id)}) == 0);
  AttemptEnd end = EndFor(d, "e1", "k1");
  REQUIRE(s->FinishDone(end).ok());
  CHECK(f.Str({"GET", "evt:{q1}:idem:k1"}) == "done");
}

TEST_CASE("faults: Claim skips an entry that another thread of the same worker still holds",
          "[queue][faults]") {
  QueueFixture f;
  const std::string id = f.Add(EventJson("e1", "k1"));
  std::unique_ptr<Queue> q = MakeRedisQueue(f.Options("w"));
  auto t1 = q->OpenSession();
  auto t2 = q->OpenSession();
  REQUIRE(t1->EnsureGroup().ok());
  REQUIRE(ReceiveAll(*t1).size() == 1);
  // t1 waits (say, for Redis to accept its lease) longer than the claim period.
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  std::vector<Delivery> got;
  REQUIRE(t2->Claim(Millis(100), 5, &got).ok());
  CHECK(got.empty());
  // Once t1 has moved on (its next Receive), the entry may be claimed.
  std::vector<Delivery> none;
  REQUIRE(t1->Receive(1, Millis(10), &none).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  REQUIRE(t2->Claim(Millis(100), 5, &got).ok());
  REQUIRE(got.size() == 1);
  CHECK(got[0].id == id);
  // Another worker (another Queue) is not held back by what this worker's threads hold.
  auto other = f.Session("other");
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  got.clear();
  REQUIRE(other->Claim(Millis(100), 5, &got).ok());
  CHECK(got.size() == 1);
}

TEST_CASE("faults: a second delivery of an entry another consumer runs is left to that consumer",
          "[queue][faults]") {
  QueueFixture f;
  const std::string raw = EventJson("e1", "k1");
  f.Add(raw);
  auto a = f.Session("a");
  REQUIRE(a->EnsureGroup().ok());
  Delivery d = ReceiveAll(*a).at(0);
  AttemptEnd end = EndFor(d, "e1", "k1");
  end.lease_owner = "a " + d.id;
  REQUIRE(a->StartAttempt(end, Millis(60000), 6)->state == LeaseState::kAcquired);

  // The group is re-created while a's handler runs: b is handed the same entry again.
  f.Cmd({"XGROUP", "DESTROY", "evt:{q1}:stream", "workers"});
  auto b = f.Session("b");
  REQUIRE(b->EnsureGroup().ok());
  Delivery again = ReceiveAll(*b).at(0);
  REQUIRE(again.id == d.id);
  AttemptEnd other = EndFor(again, "e1", "k1");
  other.lease_owner = "b " + again.id;
  Result<Lease> l = b->StartAttempt(other, Millis(60000), 6);
  REQUIRE(l.ok());
  CHECK(l->state == LeaseState::kRunningElsewhere);
  CHECK(f.Pending() == 1);  // b leaves it pending: no copy
  CHECK(f.Int({"EXISTS", "evt:{q1}:delayed"}) == 0);

  // a's handler fails for good: one dead letter, and a's commit acknowledges b's entry.
  end.category = Category::kData;
  REQUIRE(a->FinishDead(end, DeadReason::kPermanent, raw).ok());
  CHECK(f.Int({"XLEN", "evt:{q1}:dlq"}) == 1);
  CHECK(f.Pending() == 0);
  CHECK(f.Int({"EXISTS", "evt:{q1}:delayed"}) == 0);
}

TEST_CASE("faults: Receive skips an entry that another thread of the same worker still holds",
          "[queue][faults]") {
  QueueFixture f;
  f.Add(EventJson("e1", "k1"));
  std::unique_ptr<Queue> q = MakeRedisQueue(f.Options("w"));
  auto t1 = q->OpenSession();
  auto t2 = q->OpenSession();
  REQUIRE(t1->EnsureGroup().ok());
  Delivery d = ReceiveAll(*t1).at(0);
  AttemptEnd end = EndFor(d, "e1", "k1");
  end.lease_owner = "w " + d.id;
  REQUIRE(t1->StartAttempt(end, Millis(60000), 6)->state == LeaseState::kAcquired);
  // The group is re-created while t1's handler runs; t2 reads the stream from the start.
  f.Cmd({"XGROUP", "DESTROY", "evt:{q1}:stream", "workers"});
  REQUIRE(t2->EnsureGroup().ok());
  CHECK(ReceiveAll(*t2).empty());  // t1 has it: t2 must not run it a second time
  CHECK(f.Pending() == 1);
  REQUIRE(t1->FinishDone(end).ok());
  CHECK(f.Pending() == 0);
  CHECK(f.Int({"GET", Run(d.id)}) == 0);
}

TEST_CASE("faults: the lease script counts handler starts per delivery and says poison",
          "[queue][faults]") {
  QueueFixture f;
  f.Add(EventJson("e1", "k1"));
  auto s = f.Session("c1");
  REQUIRE(s->EnsureGroup().ok());
  Delivery d = ReceiveAll(*s).at(0);
  AttemptEnd end = EndFor(d, "e1", "k1");
  // max_retries = 2: three starts of this delivery are allowed, the fourth is poison.
  for (int i = 1; i <= 3; ++i) {
    Result<Lease> l = s->StartAttempt(end, Millis(60000), 3);
    REQUIRE(l.ok());
    CHECK(l->state == LeaseState::kAcquired);
    CHECK(l->starts == i);
    CHECK(f.Int({"GET", Run(d.id)}) == i);
  }
  long long ttl = f.Int({"PTTL", Run(d.id)});
  CHECK(ttl > 23 * 3600 * 1000LL);
  CHECK(ttl <= 24 * 3600 * 1000LL);
  REQUIRE(s->ReleaseLease("k1", end.lease_owner).ok());
  Result<Lease> l = s->StartAttempt(end, Millis(60000), 3);
  REQUIRE(l.ok());
  CHECK(l->state == LeaseState::kPoison);
  CHECK(l->starts == 3);
  CHECK(f.Int({"EXISTS", "evt:{q1}:idem:k1"}) == 0);  // the lease was not taken
  CHECK(f.Int({"GET", Run(d.id)}) == 3);              // and nothing counted

  // A plain TakeLease (no delivery) counts nothing.
  REQUIRE(s->TakeLease("k1", "other", Millis(1000))->state == LeaseState::kAcquired);
  CHECK(f.Int({"GET", Run(d.id)}) == 3);
  REQUIRE(s->ReleaseLease("k1", "other").ok());

  REQUIRE(s->FinishDead(end, DeadReason::kPoison, d.raw).ok());
  CHECK(f.Int({"XLEN", "evt:{q1}:dlq"}) == 1);
  CHECK(f.Int({"EXISTS", Run(d.id)}) == 0);
  CHECK(f.Pending() == 0);
}

TEST_CASE("faults: over maxmemory every call is refused whole as Unavailable, and counts nothing",
          "[queue][faults]") {
  QueueFixture f;
  const std::string raw = EventJson("e1", "k1");
  f.Add(raw);
  f.Add(EventJson("e2", "k2"));
  f.Cmd({"ZADD", "evt:{q1}:delayed", "1", EventJson("due")});
  auto s = f.Session("c1");
  REQUIRE(s->EnsureGroup().ok());
  std::vector<Delivery> got = ReceiveAll(*s);
  REQUIRE(got.size() == 2);
  AttemptEnd e1 = EndFor(got[0], "e1", "k1");
  AttemptEnd e2 = EndFor(got[1], "e2", "k2");
  REQUIRE(s->StartAttempt(e1, Millis(60000), 2)->state == LeaseState::kAcquired);

  MakeOutOfMemory(f);
  auto unavailable = [](const Status& st) {
    INFO(st.message());
    CHECK(st.kind() == Status::Kind::kUnavailable);
    CHECK_THAT(st.message(), Catch::Contains("OOM"));
  };
  unavailable(s->FinishDone(e1));
  unavailable(s->FinishDead(e1, DeadReason::kPermanent, raw));
  unavailable(s->FinishRetry(e1, EventJson("e1", "k1", 1), NowUnixMillis()));
  CHECK(f.Pending() == 2);
  CHECK(f.Hash("evt:{q1}:ev:e1")["status"] == "running");
  CHECK(f.Str({"GET", "evt:{q1}:idem:k1"}) == "running c1 " + got[0].id);
  CHECK(f.Int({"EXISTS", "evt:{q1}:dlq"}) == 0);
  CHECK(f.Int({"ZCARD", "evt:{q1}:delayed"}) == 1);
  CHECK(f.Int({"EXISTS", Fin(got[0].id)}) == 0);
  CHECK(MetricKeys(f) == 0);

  // Refused leases: many of them, and not one counts as a start.
  for (int i = 0; i < 5; ++i) unavailable(s->StartAttempt(e2, Millis(60000), 2).status());
  CHECK(f.Int({"EXISTS", "evt:{q1}:idem:k2"}) == 0);
  CHECK(f.Int({"EXISTS", Run(got[1].id)}) == 0);
  CHECK(f.Int({"EXISTS", "evt:{q1}:ev:e2"}) == 0);
  unavailable(s->MoveDue(10).status());
  CHECK(f.Int({"ZCARD", "evt:{q1}:delayed"}) == 1);
  unavailable(s->EnsureGroup());  // a worker started now waits instead of exiting 70

  f.Cmd({"CONFIG", "SET", "maxmemory", "0"});
  REQUIRE(s->EnsureGroup().ok());
  Result<Lease> l = s->StartAttempt(e2, Millis(60000), 2);
  REQUIRE(l.ok());
  CHECK(l->state == LeaseState::kAcquired);
  CHECK(l->starts == 1);
  REQUIRE(s->FinishDone(e1).ok());
  REQUIRE(s->FinishDone(e2).ok());
  CHECK(f.Pending() == 0);
  CHECK(f.Int({"EXISTS", "evt:{q1}:dlq"}) == 0);
}

TEST_CASE("faults: the publisher waits out a Redis that refuses writes, then says Unavailable",
          "[publisher][faults]") {
  QueueFixture f;
  MakeOutOfMemory(f);
  PublisherOptions po;
  po.outage_patience = Millis(300);
  Result<std::unique_ptr<EventPublisher>> p =
      OpenRedisPublisher(*ParseBrokerUrl(f.server.url()), QueueKeys("evt", "q1"), po);
  REQUIRE(p.ok());
  Json doc = {{"event_type", "t.x"}, {"event_id", "p1"}};
  std::vector<Publication> batch = {{*MakeEvent(doc), 0}};
  std::size_t accepted = 9;
  Status st = (*p)->Publish(batch, &accepted);
  CHECK(st.kind() == Status::Kind::kUnavailable);  // spooled by evt-emit --spool, or exit 69
  CHECK(accepted == 0);
  f.Cmd({"CONFIG", "SET", "maxmemory", "0"});
  REQUIRE((*p)->Publish(batch, &accepted).ok());
  CHECK(accepted == 1);
}

}  // namespace evt
