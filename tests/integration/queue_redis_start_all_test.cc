// Redis StartAttempts: a batch is one run of kStartAll (one round trip, one script run);
// when a key of one item is of the wrong type the script writes nothing and each item is
// asked alone, so the others still start and that one alone fails.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "queue_fixture.h"

using evt::testing::EventJson;
using evt::testing::QueueFixture;

namespace evt {
namespace {

AttemptEnd StartOf(const Delivery& d, const std::string& id) {
  AttemptEnd a;
  a.delivery_id = d.id;
  a.event_id = id;
  a.event_type = "t.x";
  a.idempotency_key = "k-" + id;
  a.lease_owner = "c1 " + d.id;
  a.attempt = 1;
  return a;
}

// The calls of `command` the server ran since the last CONFIG RESETSTAT (not those it
// refused, e.g. the first EVALSHA of a script it does not know yet: NOSCRIPT).
long long Calls(QueueFixture& f, const std::string& command) {
  std::string info = ReplyString(f.Cmd({"INFO", "commandstats"}).get());
  auto field = [&](const std::string& name) {
    std::size_t at = info.find("cmdstat_" + command + ":");
    if (at == std::string::npos) return 0LL;
    at = info.find(name + "=", at);
    return std::stoll(info.substr(at + name.size() + 1));
  };
  return field("calls") - field("failed_calls");
}

std::vector<AttemptEnd> Received(QueueFixture& f, QueueSession& s, int n) {
  for (int i = 1; i <= n; ++i) f.Add(EventJson("e" + std::to_string(i), "k-e" + std::to_string(i)));
  std::vector<Delivery> got;
  REQUIRE(s.EnsureGroup().ok());
  REQUIRE(s.Receive(n, Millis(100), &got).ok());
  REQUIRE(got.size() == static_cast<std::size_t>(n));
  std::vector<AttemptEnd> out;
  for (int i = 0; i < n; ++i) out.push_back(StartOf(got[i], "e" + std::to_string(i + 1)));
  return out;
}

}  // namespace

TEST_CASE("redis StartAttempts: a batch is one script run, each item started as alone",
          "[queue][batch]") {
  QueueFixture f;
  auto s = f.Session("c1");
  std::vector<AttemptEnd> batch = Received(f, *s, 5);
  f.Cmd({"CONFIG", "RESETSTAT"});
  std::vector<Result<Lease>> got;
  s->StartAttempts(batch, Millis(60000), 6, &got);
  REQUIRE(got.size() == 5);
  for (const Result<Lease>& l : got) {
    REQUIRE(l.ok());
    CHECK(l->state == LeaseState::kAcquired);
    CHECK(l->starts == 1);
  }
  CHECK(Calls(f, "evalsha") + Calls(f, "eval") == 1);
  CHECK(ReplyString(f.Cmd({"HGET", "evt:{q1}:ev:e3", "status"}).get()) == "running");
  CHECK(ReplyString(f.Cmd({"HGET", "evt:{q1}:ev:e3", "consumer"}).get()) == "c1");
  CHECK(ReplyString(f.Cmd({"HGET", "evt:{q1}:ev:e3", "stream_id"}).get()) == batch[2].delivery_id);
  CHECK(ReplyString(f.Cmd({"GET", "evt:{q1}:idem:k-e3"}).get()) ==
        "running c1 " + batch[2].delivery_id);
}

TEST_CASE("redis StartAttempts: a wrong key type fails its item alone, writing nothing of it",
          "[queue][batch]") {
  QueueFixture f;
  auto s = f.Session("c1");
  std::vector<AttemptEnd> batch = Received(f, *s, 3);
  f.Cmd({"RPUSH", "evt:{q1}:ev:e2", "not a hash"});
  std::vector<Result<Lease>> got;
  s->StartAttempts(batch, Millis(60000), 6, &got);
  REQUIRE(got.size() == 3);
  REQUIRE(got[0].ok());
  CHECK(got[0]->state == LeaseState::kAcquired);
  REQUIRE(got[2].ok());
  CHECK(got[2]->state == LeaseState::kAcquired);
  REQUIRE_FALSE(got[1].ok());
  CHECK(got[1].status().kind() == Status::Kind::kConfig);
  CHECK(f.Cmd({"EXISTS", "evt:{q1}:idem:k-e2"})->integer == 0);
  CHECK(f.Cmd({"EXISTS", "evt:{q1}:run:" + batch[1].delivery_id})->integer == 0);
  // The others counted one start each, not two (the refused run wrote nothing).
  CHECK(ReplyString(f.Cmd({"GET", "evt:{q1}:run:" + batch[0].delivery_id}).get()) == "1");
  CHECK(ReplyString(f.Cmd({"GET", "evt:{q1}:run:" + batch[2].delivery_id}).get()) == "1");
}

TEST_CASE("redis StartAttempts: a lease key or start count of the wrong type fails its item alone",
          "[queue][batch]") {
  QueueFixture f;
  auto s = f.Session("c1");
  std::vector<AttemptEnd> batch = Received(f, *s, 3);
  f.Cmd({"RPUSH", "evt:{q1}:idem:k-e1", "not a lease"});
  f.Cmd({"SET", "evt:{q1}:run:" + batch[2].delivery_id, "many"});
  std::vector<Result<Lease>> got;
  s->StartAttempts(batch, Millis(60000), 6, &got);
  REQUIRE(got.size() == 3);
  REQUIRE_FALSE(got[0].ok());
  CHECK(got[0].status().kind() == Status::Kind::kConfig);
  REQUIRE(got[1].ok());
  CHECK(got[1]->state == LeaseState::kAcquired);
  CHECK(got[1]->starts == 1);
  REQUIRE_FALSE(got[2].ok());
  CHECK(f.Cmd({"EXISTS", "evt:{q1}:ev:e1"})->integer == 0);
  CHECK(f.Cmd({"EXISTS", "evt:{q1}:idem:k-e3"})->integer == 0);
  CHECK(ReplyString(f.Cmd({"GET", "evt:{q1}:run:" + batch[2].delivery_id}).get()) == "many");
}

}  // namespace evt
