// The Redis queue against a real redis-server: consumer group, leases, and the
// attempt-ending calls (what each writes, and that each leaves nothing pending).
#include "redis/queue_redis.h"

#include <catch2/catch.hpp>
#include <thread>

#include "evt/metrics.h"
#include "queue_fixture.h"

using evt::testing::EventJson;
using evt::testing::QueueFixture;

namespace evt {
namespace {

AttemptEnd EndFor(const Delivery& d, const std::string& id, const std::string& key,
                  const std::string& owner) {
  AttemptEnd end;
  end.delivery_id = d.id;
  end.event_id = id;
  end.event_type = "t.x";
  end.idempotency_key = key;
  end.lease_owner = owner;
  end.attempt = 1;
  end.ran = true;
  end.duration = Millis(12);
  end.occurred_at = NowUnixMillis() - 1000;
  return end;
}

std::vector<Delivery> ReceiveAll(QueueSession& s, int max = 10) {
  std::vector<Delivery> got;
  REQUIRE(s.Receive(max, Millis(100), &got).ok());
  return got;
}

}  // namespace

TEST_CASE("the group starts at the first entry: events queued before any worker are read",
          "[queue]") {
  QueueFixture f;
  std::string a = f.Add(EventJson("a"));
  std::string b = f.Add(EventJson("b"));
  auto s = f.Session("c1");
  REQUIRE(s->EnsureGroup().ok());
  REQUIRE(s->EnsureGroup().ok());  // already there: fine
  std::vector<Delivery> got = ReceiveAll(*s);
  REQUIRE(got.size() == 2);
  CHECK(got[0].id == a);
  CHECK(got[1].id == b);
  CHECK(got[0].raw == EventJson("a"));
  CHECK(got[0].deliveries == 1);
  CHECK(f.Pending() == 2);
  CHECK(f.Int({"SISMEMBER", "evt:queues", "q1"}) == 1);
}

TEST_CASE("Receive reads no more than asked, and NotFound once the group is gone", "[queue]") {
  QueueFixture f;
  for (int i = 0; i < 5; ++i) f.Add(EventJson("e" + std::to_string(i)));
  auto s = f.Session("c1");
  REQUIRE(s->EnsureGroup().ok());
  CHECK(ReceiveAll(*s, 2).size() == 2);
  CHECK(f.Pending() == 2);  // the other three are not read and left waiting
  f.Cmd({"DEL", "evt:{q1}:stream"});
  std::vector<Delivery> got;
  CHECK(s->Receive(1, Millis(10), &got).kind() == Status::Kind::kNotFound);
}

TEST_CASE("idempotency lease: done, busy, re-take by its owner, expiry", "[queue]") {
  QueueFixture f;
  auto s = f.Session("c1");
  Result<Lease> l = s->TakeLease("k", "c1 1-0", Millis(60000));
  REQUIRE(l.ok());
  CHECK(l->state == LeaseState::kAcquired);
  CHECK(f.Str({"GET", "evt:{q1}:idem:k"}) == "running c1 1-0");

  l = s->TakeLease("k", "c2 2-0", Millis(60000));
  REQUIRE(l.ok());
  CHECK(l->state == LeaseState::kBusy);
  CHECK(l->remaining.count() > 50000);

  l = s->TakeLease("k", "c1 1-0", Millis(60000));
  CHECK(l->state == LeaseState::kAcquired);

  // A lease whose owner died expires, and another consumer takes it.
  REQUIRE(s->TakeLease("short", "dead 1-0", Millis(150))->state == LeaseState::kAcquired);
  CHECK(s->TakeLease("short", "c2 3-0", Millis(60000))->state == LeaseState::kBusy);
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  CHECK(s->TakeLease("short", "c2 3-0", Millis(60000))->state == LeaseState::kAcquired);

  // Release only by the owner.
  REQUIRE(s->ReleaseLease("k", "c2 9-9").ok());
  CHECK(f.Int({"EXISTS", "evt:{q1}:idem:k"}) == 1);
  REQUIRE(s->ReleaseLease("k", "c1 1-0").ok());
  CHECK(f.Int({"EXISTS", "evt:{q1}:idem:k"}) == 0);

  f.Cmd({"SET", "evt:{q1}:idem:d", "done"});
  CHECK(s->TakeLease("d", "c1 1-0", Millis(1000))->state == LeaseState::kAlreadyDone);
}

TEST_CASE("FinishDone acks, records done, the done key and metrics, a repeat changes nothing",
          "[queue]") {
  QueueFixture f;
  f.Add(EventJson("e1", "k1"));
  auto s = f.Session("c1");
  REQUIRE(s->EnsureGroup().ok());
  Delivery d = ReceiveAll(*s).at(0);
  AttemptEnd end = EndFor(d, "e1", "k1", "c1 " + d.id);
  // StartAttempt: the lease and the running status in one call.
  REQUIRE(s->StartAttempt(end, Millis(60000), 6)->state == LeaseState::kAcquired);
  CHECK(f.Str({"GET", "evt:{q1}:idem:k1"}) == "running c1 " + d.id);
  auto running = f.Hash("evt:{q1}:ev:e1");
  CHECK(running["status"] == "running");
  CHECK(running["attempts"] == "1");
  CHECK(running["consumer"] == "c1");
  CHECK(ParseRfc3339(running["started_at"]).ok());
  AttemptEnd other = EndFor(d, "e9", "k1", "c2 9-0");
  other.delivery_id = "9-0";  // another entry: the same one would be kRunningElsewhere
  CHECK(s->StartAttempt(other, Millis(60000), 6)->state == LeaseState::kBusy);
  CHECK(f.Int({"EXISTS", "evt:{q1}:ev:e9"}) == 0);  // not running: nothing recorded
  REQUIRE(s->MarkRunning(end).ok());
  REQUIRE(s->FinishDone(end).ok());

  CHECK(f.Pending() == 0);
  auto ev = f.Hash("evt:{q1}:ev:e1");
  CHECK(ev["status"] == "done");
  CHECK(ev["attempts"] == "1");
  CHECK(ev["consumer"] == "c1");
  CHECK(ev["stream_id"] == d.id);
  CHECK(ev["duration_ms"] == "12");
  CHECK(f.Str({"GET", "evt:{q1}:idem:k1"}) == "done");
  long long ttl = f.Int({"PTTL", "evt:{q1}:idem:k1"});
  CHECK(ttl > 3500 * 1000);
  CHECK(ttl <= 3600 * 1000);
  CHECK(f.Int({"PTTL", "evt:{q1}:ev:e1"}) > 0);

  ReplyPtr keys = f.Cmd({"KEYS", "evt:{q1}:m:*"});
  REQUIRE(keys->elements == 1);
  std::string mkey = ReplyString(keys->element[0]);
  auto m = f.Hash(mkey);
  CHECK(m["t.x|outcome:done"] == "1");
  CHECK(m["t.x|attempts"] == "1");
  CHECK(m["t.x|duration:" + std::to_string(HistogramBucket(12))] == "1");
  CHECK(m["t.x|latency:" + std::to_string(HistogramBucket(1000))] == "1");
  CHECK(f.Int({"TTL", mkey}) > 7 * 24 * 3600);

  REQUIRE(s->FinishDone(end).ok());  // after a lost reply: nothing counted twice
  CHECK(f.Hash(mkey)["t.x|outcome:done"] == "1");
}

TEST_CASE("FinishRetry acks, schedules the raised event and releases the lease", "[queue]") {
  QueueFixture f;
  f.Add(EventJson("e1", "k1"));
  auto s = f.Session("c1");
  REQUIRE(s->EnsureGroup().ok());
  Delivery d = ReceiveAll(*s).at(0);
  REQUIRE(s->TakeLease("k1", "c1 " + d.id, Millis(60000))->state == LeaseState::kAcquired);
  AttemptEnd end = EndFor(d, "e1", "k1", "c1 " + d.id);
  end.category = Category::kDependency;
  end.error = "exit 75";
  const std::string next = EventJson("e1", "k1", 1);
  const UnixMillis due = NowUnixMillis() + 60000;
  REQUIRE(s->FinishRetry(end, next, due).ok());

  CHECK(f.Pending() == 0);
  ReplyPtr z = f.Cmd({"ZRANGE", "evt:{q1}:delayed", "0", "-1", "WITHSCORES"});
  REQUIRE(z->elements == 2);
  CHECK(ReplyString(z->element[0]) == next);
  CHECK(ReplyString(z->element[1]) == std::to_string(due));
  CHECK(f.Int({"EXISTS", "evt:{q1}:idem:k1"}) == 0);
  auto ev = f.Hash("evt:{q1}:ev:e1");
  CHECK(ev["status"] == "retrying");
  CHECK(ev["error"] == "exit 75");
  CHECK(ev["category"] == "dependency");
  CHECK(f.Int({"PTTL", "evt:{q1}:ev:e1"}) == -1);  // not final: kept
  ReplyPtr keys = f.Cmd({"KEYS", "evt:{q1}:m:*"});
  auto m = f.Hash(ReplyString(keys->element[0]));
  CHECK(m["t.x|outcome:retry"] == "1");
  CHECK(m["t.x|category:dependency"] == "1");
  CHECK(m.count("t.x|latency:" + std::to_string(HistogramBucket(1000))) == 0);
}

TEST_CASE("FinishDead acks and writes a dead letter with exactly the documented fields",
          "[queue]") {
  QueueFixture f;
  const std::string raw = EventJson("e1", "k1");
  f.Add(raw);
  auto s = f.Session("c1");
  REQUIRE(s->EnsureGroup().ok());
  Delivery d = ReceiveAll(*s).at(0);
  REQUIRE(s->TakeLease("k1", "c1 " + d.id, Millis(60000))->state == LeaseState::kAcquired);
  AttemptEnd end = EndFor(d, "e1", "k1", "c1 " + d.id);
  end.attempt = 3;
  end.category = Category::kData;
  end.error = std::string(5000, 'x');  // bounded in the record
  REQUIRE(s->FinishDead(end, DeadReason::kRetriesExhausted, raw).ok());

  CHECK(f.Pending() == 0);
  CHECK(f.Int({"EXISTS", "evt:{q1}:idem:k1"}) == 0);
  ReplyPtr dlq = f.Cmd({"XRANGE", "evt:{q1}:dlq", "-", "+"});
  REQUIRE(dlq->elements == 1);
  const redisReply* fields = dlq->element[0]->element[1];
  std::vector<std::string> names;
  std::map<std::string, std::string> v;
  for (std::size_t i = 0; i + 1 < fields->elements; i += 2) {
    names.push_back(ReplyString(fields->element[i]));
    v[names.back()] = ReplyString(fields->element[i + 1]);
  }
  CHECK(names == std::vector<std::string>{"event", "reason", "error", "category", "attempts",
                                          "failed_at", "consumer", "stream_id"});
  CHECK(v["event"] == raw);
  CHECK(v["reason"] == "retries_exhausted");
  CHECK(v["error"].size() <= 1024 + 3);
  CHECK(v["category"] == "data");
  CHECK(v["attempts"] == "3");
  CHECK(ParseRfc3339(v["failed_at"]).ok());
  CHECK(v["consumer"] == "c1");
  CHECK(v["stream_id"] == d.id);
  auto ev = f.Hash("evt:{q1}:ev:e1");
  CHECK(ev["status"] == "failed");
  CHECK(ev["reason"] == "retries_exhausted");
}

TEST_CASE("FinishDuplicate and Defer ack without running anything", "[queue]") {
  QueueFixture f;
  f.Add(EventJson("e1", "k1"));
  f.Add(EventJson("e2", "k2"));
  auto s = f.Session("c1");
  REQUIRE(s->EnsureGroup().ok());
  std::vector<Delivery> got = ReceiveAll(*s);
  REQUIRE(got.size() == 2);
  AttemptEnd dup = EndFor(got[0], "e1", "k1", "");
  dup.ran = false;
  dup.attempt = 0;
  REQUIRE(s->FinishDuplicate(dup).ok());
  CHECK(f.Hash("evt:{q1}:ev:e1")["status"] == "duplicate");

  const UnixMillis due = NowUnixMillis() + 500;
  REQUIRE(s->Defer(got[1], due).ok());
  CHECK(f.Pending() == 0);
  CHECK(f.Str({"ZSCORE", "evt:{q1}:delayed", got[1].raw}) == std::to_string(due));
  CHECK(f.Int({"EXISTS", "evt:{q1}:ev:e2"}) == 0);  // a deferral is not an attempt
}

}  // namespace evt
