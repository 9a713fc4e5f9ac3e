// The Redis queue's calls for resuming work against a real redis-server: a consumer's own
// pending entries (ReceivePending), lease renewal (RenewLease), and the journal scope.
#include <catch2/catch.hpp>

#include "queue_fixture.h"
#include "redis/queue_redis.h"

using evt::testing::EventJson;
using evt::testing::QueueFixture;

namespace evt {

TEST_CASE("ReceivePending: a restarted consumer gets its own pending entries, paged", "[queue]") {
  QueueFixture f;
  std::string a = f.Add(EventJson("a"));
  std::string b = f.Add(EventJson("b"));
  std::string c = f.Add(EventJson("c"));
  std::string other = f.Add(EventJson("other"));
  auto first = f.Session("c1");
  REQUIRE(first->EnsureGroup().ok());
  std::vector<Delivery> got;
  REQUIRE(first->Receive(3, Millis(100), &got).ok());
  REQUIRE(got.size() == 3);
  auto elsewhere = f.Session("c2");
  got.clear();
  REQUIRE(elsewhere->Receive(1, Millis(100), &got).ok());
  REQUIRE(got.size() == 1);

  // The same consumer name, as after a restart.
  auto again = f.Session("c1");
  std::vector<Delivery> pending;
  Result<std::string> next = again->ReceivePending("0", 2, &pending);
  REQUIRE(next.ok());
  REQUIRE(pending.size() == 2);
  CHECK(pending[0].id == a);
  CHECK(pending[1].id == b);
  CHECK(pending[0].raw == EventJson("a"));
  CHECK(pending[0].deliveries == 2);  // this delivery counts
  CHECK(*next == b);
  next = again->ReceivePending(*next, 2, &pending);
  REQUIRE(next.ok());
  REQUIRE(pending.size() == 3);
  CHECK(pending[2].id == c);
  next = again->ReceivePending(*next, 2, &pending);
  REQUIRE(next.ok());
  CHECK(next->empty());
  CHECK(pending.size() == 3);  // never c2's entry
  CHECK(f.Pending() == 4);     // nothing ended by reading

  // An ended entry is no longer pending; one deleted from the stream is skipped.
  AttemptEnd end;
  end.delivery_id = a;
  REQUIRE(again->FinishDuplicate(end).ok());
  f.Cmd({"XDEL", "evt:{q1}:stream", b});
  pending.clear();
  next = again->ReceivePending("0", 1, &pending);
  REQUIRE(next.ok());
  CHECK(pending.empty());
  CHECK(*next == b);  // paging goes on past it
  next = again->ReceivePending(*next, 1, &pending);
  REQUIRE(next.ok());
  REQUIRE(pending.size() == 1);
  CHECK(pending[0].id == c);
  CHECK(pending[0].deliveries == 3);
}

TEST_CASE("ReceivePending: NotFound without the group", "[queue]") {
  QueueFixture f;
  f.Add(EventJson("a"));
  auto s = f.Session("c1");
  std::vector<Delivery> got;
  CHECK(s->ReceivePending("0", 10, &got).status().kind() == Status::Kind::kNotFound);
}

TEST_CASE("RenewLease extends only a lease its owner still holds", "[queue]") {
  QueueFixture f;
  auto s = f.Session("c1");
  REQUIRE(s->TakeLease("k", "c1 1-0", Millis(2000)).ok());
  Result<bool> r = s->RenewLease("k", "c1 1-0", Millis(60000));
  REQUIRE(r.ok());
  CHECK(*r);
  CHECK(f.Int({"PTTL", "evt:{q1}:idem:k"}) > 50000);

  r = s->RenewLease("k", "c2 2-0", Millis(600000));
  REQUIRE(r.ok());
  CHECK_FALSE(*r);
  CHECK(f.Int({"PTTL", "evt:{q1}:idem:k"}) <= 60000);

  f.Cmd({"SET", "evt:{q1}:idem:done-key", "done", "PX", "5000"});
  r = s->RenewLease("done-key", "c1 1-0", Millis(600000));
  REQUIRE(r.ok());
  CHECK_FALSE(*r);
  CHECK(f.Int({"PTTL", "evt:{q1}:idem:done-key"}) <= 5000);

  r = s->RenewLease("absent", "c1 1-0", Millis(60000));
  REQUIRE(r.ok());
  CHECK_FALSE(*r);
  CHECK(f.Int({"EXISTS", "evt:{q1}:idem:absent"}) == 0);
}

TEST_CASE("the journal scope names the store, database, namespace, queue and group", "[queue]") {
  QueueFixture f;
  RedisQueueOptions o = f.Options("c1");
  o.broker.password = "s3cret";
  const std::string base = MakeRedisQueue(o)->Scope();
  CHECK(base.find("s3cret") == std::string::npos);
  CHECK(base.find("queue q1") != std::string::npos);
  CHECK(MakeRedisQueue(f.Options("c2"))->Scope() == base);  // the consumer does not matter
  RedisQueueOptions other = o;
  other.queue = "q2";
  CHECK(MakeRedisQueue(other)->Scope() != base);
  other = o;
  other.group = "g2";
  CHECK(MakeRedisQueue(other)->Scope() != base);
  other = o;
  other.ns = "ns2";
  CHECK(MakeRedisQueue(other)->Scope() != base);
  other = o;
  other.broker.db = 3;
  CHECK(MakeRedisQueue(other)->Scope() != base);
  other = o;
  other.broker.port += 1;
  CHECK(MakeRedisQueue(other)->Scope() != base);
}

}  // namespace evt
