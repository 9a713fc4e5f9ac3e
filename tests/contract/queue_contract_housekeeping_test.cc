// The queue contract (evt/queue.h), part 4: housekeeping. MoveDue, Trim, Heartbeat and
// Leave, and WithRetry, for every registered Queue implementation (queue_impls.h).
#include <catch2/catch.hpp>
#include <chrono>
#include <set>
#include <thread>

#include "contract_support.h"

namespace evt::contract {

TEST_CASE("MoveDue run from 4 sessions at once moves each due entry exactly once", "[contract]") {
  FOR_EACH_QUEUE(impl, &QueueCaps::schedules) {
    std::unique_ptr<QueueHarness> h = impl.make();
    auto s = h->queue().OpenSession();
    REQUIRE(s->EnsureGroup().ok());
    constexpr int kEvents = 40;
    for (int i = 0; i < kEvents + 1; ++i) {
      REQUIRE(h->Publish(EventJson("e" + std::to_string(i), "k" + std::to_string(i))).ok());
    }
    std::vector<Delivery> got;
    for (int calls = 0; calls < 50 && got.size() < kEvents + 1; ++calls) {
      REQUIRE(s->Receive(kEvents + 1, Millis(100), &got).ok());
    }
    REQUIRE(got.size() == kEvents + 1);
    const UnixMillis now = h->Now();
    for (int i = 0; i < kEvents + 1; ++i) {
      const std::string id = "e" + std::to_string(i), key = "k" + std::to_string(i);
      AttemptEnd end = EndFor(got[i], id, key, "");
      // The last one is due in an hour: it stays.
      const UnixMillis due = i == kEvents ? now + 3600 * 1000 : now - 1;
      REQUIRE(s->FinishRetry(end, EventJson(id, key, 1), due).ok());
    }

    // Sessions are opened here and results handed back: no assertion runs off this thread.
    struct Mover {
      std::unique_ptr<QueueSession> session;
      int moved = 0;
      std::string error;
    };
    Result<int> one = s->MoveDue(1);  // no more than asked
    REQUIRE(one.ok());
    CHECK(*one == 1);
    std::vector<Mover> movers(4);
    for (Mover& m : movers) m.session = h->queue().OpenSession();
    std::vector<std::thread> threads;
    for (Mover& m : movers) {
      threads.emplace_back([&m] {
        for (int calls = 0; calls < 1000; ++calls) {
          Result<int> n = m.session->MoveDue(3);  // small batches: the threads interleave
          if (!n.ok()) {
            m.error = n.status().message();
            return;
          }
          if (*n == 0) return;
          m.moved += *n;
        }
        m.error = "MoveDue still moving after 1000 calls";
      });
    }
    for (std::thread& t : threads) t.join();
    int moved = 0;
    for (const Mover& m : movers) {
      CHECK(m.error == "");
      moved += m.moved;
    }
    CHECK(moved == kEvents - 1);
    CHECK(MoveAllDue(*s) == 0);
    std::vector<Delivery> again;
    for (int calls = 0; calls < 50 && again.size() < kEvents; ++calls) {
      REQUIRE(s->Receive(kEvents, Millis(100), &again).ok());
    }
    std::set<std::string> raws;
    for (const Delivery& d : again) raws.insert(d.raw);
    CHECK(again.size() == kEvents);
    CHECK(raws.size() == kEvents);
  }
}

TEST_CASE("Trim never drops an undelivered or pending entry", "[contract]") {
  // A queue that keeps no history (not durable) has nothing to trim nor pending to list.
  FOR_EACH_QUEUE(impl, &QueueCaps::durable) {
    std::unique_ptr<QueueHarness> h = impl.make();
    std::vector<std::string> raws;
    for (int i = 0; i < 6; ++i) raws.push_back(EventJson("e" + std::to_string(i)));
    PublishAll(*h, raws);
    auto s = h->queue().OpenSession();
    REQUIRE(s->EnsureGroup().ok());
    std::vector<Delivery> got = ReceiveSome(*s, 4);  // e0..e3; e4, e5 stay undelivered
    REQUIRE(got.size() == 4);
    for (int i : {0, 1, 3}) {  // e2 stays pending
      AttemptEnd end;
      end.delivery_id = got[i].id;
      REQUIRE(s->FinishDuplicate(end).ok());
    }
    h->Wait(Millis(20));
    Result<std::int64_t> n = s->Trim(Millis(3600 * 1000));
    REQUIRE(n.ok());
    CHECK(*n == 0);  // all younger than the retention
    n = s->Trim(Millis(0));
    REQUIRE(n.ok());
    CHECK(*n >= 0);
    CHECK(*n <= 2);  // at most e0 and e1: not e2, nor what follows it
    std::vector<Delivery> pending = PendingOf(*s);
    REQUIRE(pending.size() == 1);
    CHECK(pending[0].raw == raws[2]);
    CHECK(Raws(ReceiveSome(*s)) == std::vector<std::string>{raws[4], raws[5]});
  }
}

TEST_CASE("Heartbeat lists the worker, repeatably, and Leave removes it", "[contract]") {
  FOR_EACH_QUEUE(impl, nullptr) {
    std::unique_ptr<QueueHarness> h = impl.make();
    auto s = h->queue().OpenSession();
    WorkerInfo info;
    info.host = "h";
    info.pid = 42;
    info.started_at = NowUnixMillis();
    info.concurrency = 3;
    info.in_flight = 1;
    REQUIRE(s->Heartbeat(info).ok());
    info.in_flight = 0;
    REQUIRE(s->Heartbeat(info).ok());
    if (auto listed = h->WorkerListed("c1")) CHECK(*listed);
    std::unique_ptr<Queue> q2;
    std::unique_ptr<QueueSession> s2;
    if (impl.caps.has_consumer_groups) {
      q2 = h->OpenConsumer("c2");
      s2 = q2->OpenSession();
      REQUIRE(s2->Heartbeat(info).ok());
    }
    REQUIRE(s->Leave().ok());
    REQUIRE(s->Leave().ok());  // nothing left to remove: fine
    if (auto listed = h->WorkerListed("c1")) CHECK_FALSE(*listed);
    if (s2) {
      if (auto listed = h->WorkerListed("c2")) CHECK(*listed);  // only its own record
    }
  }
}

TEST_CASE("a heartbeat record expires its ttl after the last heartbeat", "[contract]") {
  FOR_EACH_QUEUE(impl, nullptr) {
    std::unique_ptr<QueueHarness> h = impl.make();
    auto s = h->queue().OpenSession();
    WorkerInfo info;
    info.host = "h";
    info.ttl = Millis(300);
    REQUIRE(s->Heartbeat(info).ok());
    h->Wait(Millis(200));
    REQUIRE(s->Heartbeat(info).ok());
    h->Wait(Millis(200));
    if (auto listed = h->WorkerListed("c1")) CHECK(*listed);  // 200 ms after the last one
    h->Wait(Millis(300));
    if (auto listed = h->WorkerListed("c1")) CHECK_FALSE(*listed);
  }
}

TEST_CASE("WithRetry returns what the call returns, retrying only Unavailable", "[contract]") {
  FOR_EACH_QUEUE(impl, nullptr) {
    std::unique_ptr<QueueHarness> h = impl.make();
    auto s = h->queue().OpenSession();
    int calls = 0;
    auto never = [] { return false; };
    CHECK(s->WithRetry(
               [&] {
                 ++calls;
                 return s->EnsureGroup();
               },
               never)
              .ok());
    CHECK(calls == 1);
    calls = 0;
    Status st = s->WithRetry(
        [&] {
          ++calls;
          return Status::NotFound("gone");
        },
        never);
    CHECK(st.kind() == Status::Kind::kNotFound);
    CHECK(calls == 1);
    // Unavailable is retried, with a pause, until give_up() says stop.
    calls = 0;
    const auto start = std::chrono::steady_clock::now();
    st = s->WithRetry(
        [&] {
          ++calls;
          return Status::Unavailable("not now");
        },
        [&] { return calls >= 3; });
    CHECK(st.kind() == Status::Kind::kUnavailable);
    CHECK(calls == 3);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
    // Back to normal: the next call goes through at once.
    calls = 0;
    CHECK(s->WithRetry(
               [&] {
                 ++calls;
                 return Status::Ok();
               },
               never)
              .ok());
    CHECK(calls == 1);
  }
}

}  // namespace evt::contract
