// The Redis queue's housekeeping against a real redis-server: the mover, claims of a dead
// consumer's entries, trimming, heartbeats, and the one-slot rule for every key.
#include <catch2/catch.hpp>
#include <chrono>
#include <set>
#include <thread>

#include "evt/metrics.h"
#include "queue_fixture.h"
#include "redis/queue_redis.h"

using evt::testing::EventJson;
using evt::testing::QueueFixture;

namespace evt {

TEST_CASE("the mover run from 4 threads at once moves each of 1,000 due events exactly once",
          "[queue]") {
  QueueFixture f;
  const UnixMillis now = NowUnixMillis();
  for (int i = 0; i < 1000; i += 100) {
    std::vector<std::string> argv = {"ZADD", "evt:{q1}:delayed"};
    for (int j = i; j < i + 100; ++j) {
      argv.push_back(std::to_string(now - 1000 + j % 7));
      argv.push_back(EventJson("e" + std::to_string(j)));
    }
    f.Cmd(argv);
  }
  f.Cmd({"ZADD", "evt:{q1}:delayed", std::to_string(now + 3600000), EventJson("later")});
  // Sessions are opened here and results are handed back: no assertion runs off this
  // thread (Catch2 v2 is not thread-safe), and every loop is bounded.
  struct Mover {
    std::unique_ptr<QueueSession> session;
    int moved = 0;
    int calls = 0;
    std::string error;  // the first failure, if any
  };
  std::vector<Mover> movers(4);
  for (int t = 0; t < 4; ++t) movers[t].session = f.Session("mover" + std::to_string(t));
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  std::vector<std::thread> threads;
  for (Mover& m : movers) {
    threads.emplace_back([&m, give_up] {
      while (m.calls < 2000) {
        if (std::chrono::steady_clock::now() > give_up) {
          m.error = "gave up after 60 s";
          return;
        }
        ++m.calls;
        Result<int> n = m.session->MoveDue(7);  // small batches, so the threads interleave
        if (!n.ok()) {
          m.error = n.status().message();
          return;
        }
        if (*n == 0) return;
        m.moved += *n;
      }
      m.error = "MoveDue still moving after 2000 calls";
    });
  }
  for (auto& t : threads) t.join();
  int moved = 0;
  for (const Mover& m : movers) {
    INFO("mover calls " << m.calls);
    CHECK(m.error == "");
    moved += m.moved;
  }
  CHECK(moved == 1000);
  CHECK(f.Int({"XLEN", "evt:{q1}:stream"}) == 1000);
  CHECK(f.Int({"ZCARD", "evt:{q1}:delayed"}) == 1);  // the one not yet due stays
  ReplyPtr all = f.Cmd({"XRANGE", "evt:{q1}:stream", "-", "+"});
  std::set<std::string> events;
  for (std::size_t i = 0; i < all->elements; ++i) {
    events.insert(ReplyString(all->element[i]->element[1]->element[1]));
  }
  CHECK(events.size() == 1000);
}

TEST_CASE("a retry arrives no earlier than its due time", "[queue]") {
  QueueFixture f;
  f.Add(EventJson("e1", "k1"));
  auto s = f.Session("c1");
  REQUIRE(s->EnsureGroup().ok());
  std::vector<Delivery> got;
  REQUIRE(s->Receive(1, Millis(100), &got).ok());
  AttemptEnd end;
  end.delivery_id = got.at(0).id;
  end.event_id = "e1";
  end.event_type = "t.x";
  end.idempotency_key = "k1";
  end.attempt = 1;
  const UnixMillis due = NowUnixMillis() + 400;
  REQUIRE(s->FinishRetry(end, EventJson("e1", "k1", 1), due).ok());
  got.clear();
  while (got.empty()) {
    REQUIRE(s->MoveDue(100).ok());
    REQUIRE(s->Receive(1, Millis(20), &got).ok());
    if (got.empty()) CHECK(NowUnixMillis() < due + 2000);
    if (NowUnixMillis() > due + 2000) break;
  }
  REQUIRE(got.size() == 1);
  CHECK(NowUnixMillis() >= due);
  CHECK(got[0].raw == EventJson("e1", "k1", 1));
}

TEST_CASE("Claim takes over a dead consumer's entry once idle, counting deliveries", "[queue]") {
  QueueFixture f;
  const std::string id = f.Add(EventJson("e1"));
  auto dead = f.Session("dead");
  REQUIRE(dead->EnsureGroup().ok());
  std::vector<Delivery> got;
  REQUIRE(dead->Receive(1, Millis(100), &got).ok());
  REQUIRE(got.size() == 1);

  auto alive = f.Session("alive");
  got.clear();
  REQUIRE(alive->Claim(Millis(300), 10, &got).ok());
  CHECK(got.empty());  // not idle long enough yet
  std::this_thread::sleep_for(std::chrono::milliseconds(350));
  REQUIRE(alive->Claim(Millis(300), 10, &got).ok());
  REQUIRE(got.size() == 1);
  CHECK(got[0].id == id);
  CHECK(got[0].raw == EventJson("e1"));
  CHECK(got[0].deliveries == 2);
  ReplyPtr p = f.Cmd({"XPENDING", "evt:{q1}:stream", "workers", "-", "+", "10"});
  REQUIRE(p->elements == 1);
  CHECK(ReplyString(p->element[0]->element[1]) == "alive");

  // Each further claim counts one more delivery (the poison rule counts handler starts).
  got.clear();
  REQUIRE(dead->Claim(Millis(0), 10, &got).ok());
  REQUIRE(got.size() == 1);
  CHECK(got[0].deliveries == 3);
}

TEST_CASE("trimming never removes a pending or undelivered entry, and removes old acked ones",
          "[queue]") {
  QueueFixture f;
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(f.Add(EventJson("e" + std::to_string(i))));
  auto s = f.Session("c1");
  REQUIRE(s->EnsureGroup().ok());
  std::vector<Delivery> got;
  REQUIRE(s->Receive(4, Millis(100), &got).ok());  // e0..e3 delivered, e4 e5 undelivered
  f.Cmd({"XACK", "evt:{q1}:stream", "workers", ids[0], ids[1], ids[3]});  // e2 stays pending

  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  Result<std::int64_t> n = s->Trim(Millis(3600 * 1000));
  REQUIRE(n.ok());
  CHECK(*n == 0);  // younger than the retention
  n = s->Trim(Millis(0));
  REQUIRE(n.ok());
  CHECK(*n == 2);  // e0, e1; not e2 (pending) nor what follows it
  ReplyPtr left = f.Cmd({"XRANGE", "evt:{q1}:stream", "-", "+"});
  REQUIRE(left->elements == 4);
  CHECK(ReplyString(left->element[0]->element[0]) == ids[2]);

  // Once e2 is acked, everything delivered goes; the undelivered e4, e5 stay.
  f.Cmd({"XACK", "evt:{q1}:stream", "workers", ids[2]});
  REQUIRE(s->Trim(Millis(0)).ok());
  left = f.Cmd({"XRANGE", "evt:{q1}:stream", "-", "+"});
  REQUIRE(left->elements == 2);
  CHECK(ReplyString(left->element[0]->element[0]) == ids[4]);

  // A second group that has read nothing keeps everything.
  f.Cmd({"XGROUP", "CREATE", "evt:{q1}:stream", "audit", "0"});
  got.clear();
  REQUIRE(s->Receive(10, Millis(100), &got).ok());
  f.Cmd({"XACK", "evt:{q1}:stream", "workers", ids[4], ids[5]});
  REQUIRE(*s->Trim(Millis(0)) == 0);
  CHECK(f.Int({"XLEN", "evt:{q1}:stream"}) == 2);
}

TEST_CASE("heartbeats: the workers set and a worker hash with a TTL, Leave removes them",
          "[queue]") {
  QueueFixture f;
  auto s = f.Session("c1");
  WorkerInfo info;
  info.host = "h";
  info.pid = 42;
  info.started_at = NowUnixMillis();
  info.concurrency = 3;
  info.in_flight = 1;
  info.ttl = Millis(15000);
  REQUIRE(s->Heartbeat(info).ok());
  CHECK(f.Int({"ZSCORE", "evt:{q1}:workers", "c1"}) > 0);
  auto h = f.Hash("evt:{q1}:worker:c1");
  CHECK(h["host"] == "h");
  CHECK(h["pid"] == "42");
  CHECK(h["concurrency"] == "3");
  CHECK(h["in_flight"] == "1");
  CHECK(f.Int({"PTTL", "evt:{q1}:worker:c1"}) > 10000);
  REQUIRE(s->Leave().ok());
  CHECK(f.Int({"EXISTS", "evt:{q1}:worker:c1"}) == 0);
  CHECK(f.Str({"ZSCORE", "evt:{q1}:workers", "c1"}).empty());
}

TEST_CASE("every key the worker writes for one queue maps to one cluster slot", "[queue]") {
  // A one-node cluster owning every slot: a script whose keys span slots would fail here
  // with CROSSSLOT, and CLUSTER KEYSLOT is available.
  QueueFixture f({"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"});
  f.Cmd({"CLUSTER", "ADDSLOTSRANGE", "0", "16383"});
  for (int i = 0;
       i < 200 && f.Str({"CLUSTER", "INFO"}).find("cluster_state:ok") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  f.Add(EventJson("e1", "k1"));
  f.Add(EventJson("e2", "k2"));
  f.Add("not json");
  auto s = f.Session("c1");
  REQUIRE(s->EnsureGroup().ok());
  std::vector<Delivery> got;
  REQUIRE(s->Receive(3, Millis(100), &got).ok());
  REQUIRE(got.size() == 3);
  auto end_for = [](const Delivery& d, const std::string& id, const std::string& key) {
    AttemptEnd e;
    e.delivery_id = d.id;
    e.event_id = id;
    e.event_type = "t.x";
    e.idempotency_key = key;
    e.lease_owner = "c1 " + d.id;
    e.attempt = 1;
    e.ran = true;
    return e;
  };
  REQUIRE(s->TakeLease("k1", "c1 " + got[0].id, Millis(60000)).ok());
  REQUIRE(s->MarkRunning(end_for(got[0], "e1", "k1")).ok());
  REQUIRE(s->FinishDone(end_for(got[0], "e1", "k1")).ok());
  REQUIRE(s->TakeLease("k2", "c1 " + got[1].id, Millis(60000)).ok());
  REQUIRE(s->FinishRetry(end_for(got[1], "e2", "k2"), EventJson("e2", "k2", 1), 0).ok());
  REQUIRE(s->FinishDead(end_for(got[2], "", ""), DeadReason::kInvalid, got[2].raw).ok());
  WorkerInfo info;
  info.host = "h";
  REQUIRE(s->Heartbeat(info).ok());
  REQUIRE(*s->MoveDue(10) == 1);
  got.clear();
  REQUIRE(s->Receive(1, Millis(100), &got).ok());
  // A live idem key, and the start count of that delivery.
  REQUIRE(s->StartAttempt(end_for(got.at(0), "e2", "k2"), Millis(60000), 6).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  REQUIRE(s->Claim(Millis(100), 5, &got).ok());
  REQUIRE(s->Trim(Millis(0)).ok());

  ReplyPtr keys = f.Cmd({"KEYS", "evt:{q1}:*"});
  std::set<std::string> kinds;
  std::set<long long> slots;
  for (std::size_t i = 0; i < keys->elements; ++i) {
    std::string k = ReplyString(keys->element[i]);
    std::string rest = k.substr(std::string("evt:{q1}:").size());
    kinds.insert(rest.substr(0, rest.find(':')));
    slots.insert(f.Int({"CLUSTER", "KEYSLOT", k}));
  }
  CHECK(kinds == std::set<std::string>{"stream", "dlq", "idem", "ev", "m", "workers", "worker",
                                       "fin", "run"});
  f.Cmd({"ZADD", "evt:{q1}:delayed", "1", "x"});  // moved away above: check its slot too
  slots.insert(f.Int({"CLUSTER", "KEYSLOT", "evt:{q1}:delayed"}));
  CHECK(slots.size() == 1);
  CHECK(f.Int({"SISMEMBER", "evt:queues", "q1"}) == 1);  // the one key outside it
}

}  // namespace evt
