// The queue contract (evt/queue.h), part 1: handing entries out. Receive, ReceivePending and
// Claim, for every registered Queue implementation (queue_impls.h).
#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <set>

#include "contract_support.h"

namespace evt::contract {
namespace {

std::vector<std::string> Ids(const std::vector<Delivery>& ds) {
  std::vector<std::string> out;
  for (const Delivery& d : ds) out.push_back(d.id);
  return out;
}

}  // namespace

TEST_CASE("every implementation is registered once and makes an empty queue", "[contract]") {
  std::set<std::string> names;
  for (const QueueImpl& impl : QueueImpls()) {
    CHECK(!impl.name.empty());
    CHECK(names.insert(impl.name).second);
  }
  CHECK(names.count("redis") == 1);
  FOR_EACH_QUEUE(impl, nullptr) {
    std::unique_ptr<QueueHarness> h = impl.make();
    Queue& q = h->queue();
    CHECK(q.consumer() == "c1");
    CHECK(!q.Describe().empty());
    CHECK(!q.Scope().empty());
    auto s = q.OpenSession();
    REQUIRE(s->EnsureGroup().ok());
    CHECK(ReceiveSome(*s, 10, Millis(50)).empty());
    CHECK(PendingOf(*s).empty());
    if (impl.caps.has_consumer_groups) CHECK(h->OpenConsumer("c2")->Scope() == q.Scope());
  }
}

TEST_CASE("Receive hands out each entry once, in order, no more than asked", "[contract]") {
  FOR_EACH_QUEUE(impl, nullptr) {
    std::unique_ptr<QueueHarness> h = impl.make();
    // Queued before the first worker: handed out all the same.
    PublishAll(*h, {EventJson("e1"), EventJson("e2"), EventJson("e3")});
    auto s = h->queue().OpenSession();
    REQUIRE(s->EnsureGroup().ok());
    REQUIRE(s->EnsureGroup().ok());  // already there: fine
    std::vector<Delivery> got = ReceiveUpTo(*s, 2);
    REQUIRE(got.size() == 2);
    CHECK(Raws(got) == std::vector<std::string>{EventJson("e1"), EventJson("e2")});
    CHECK(got[0].deliveries == 1);
    CHECK(got[1].deliveries == 1);
    CHECK(!got[0].id.empty());
    CHECK(got[0].id != got[1].id);
    // Appends to what the caller holds.
    got = {Delivery{"mine", "x", 1, ""}};
    REQUIRE(s->Receive(10, Millis(100), &got).ok());
    CHECK(Raws(got) == std::vector<std::string>{"x", EventJson("e3")});
    REQUIRE(s->EnsureGroup().ok());  // once more: starts nothing over
    CHECK(ReceiveSome(*s, 10, Millis(50)).empty());
    auto other = h->queue().OpenSession();  // another thread of the same worker
    CHECK(ReceiveSome(*other, 10, Millis(50)).empty());
    REQUIRE(h->Publish("not an event").ok());  // handed out as stored, valid or not
    got = ReceiveSome(*other, 10);
    CHECK(Raws(got) == std::vector<std::string>{"not an event"});
  }
}

TEST_CASE("Receive returns after about `block` when nothing comes", "[contract]") {
  FOR_EACH_QUEUE(impl, nullptr) {
    std::unique_ptr<QueueHarness> h = impl.make();
    auto s = h->queue().OpenSession();
    REQUIRE(s->EnsureGroup().ok());
    const auto start = std::chrono::steady_clock::now();
    CHECK(ReceiveSome(*s, 1, Millis(200)).empty());
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
  }
}

TEST_CASE("Receive says NotFound once the group is gone, and EnsureGroup starts it over",
          "[contract]") {
  FOR_EACH_QUEUE(impl, &QueueCaps::has_consumer_groups) {
    std::unique_ptr<QueueHarness> h = impl.make();
    PublishAll(*h, {EventJson("e1"), EventJson("e2")});
    auto s = h->queue().OpenSession();
    REQUIRE(s->EnsureGroup().ok());
    std::vector<Delivery> first = ReceiveSome(*s);
    REQUIRE(first.size() == 2);
    h->DropGroup();
    std::vector<Delivery> got;
    CHECK(s->Receive(1, Millis(10), &got).kind() == Status::Kind::kNotFound);
    CHECK(got.empty());
    REQUIRE(s->EnsureGroup().ok());
    // The new group starts at the first entry: both come again, as the same entries.
    got = ReceiveSome(*s);
    CHECK(Ids(got) == Ids(first));
  }
}

TEST_CASE("the consumers of one queue share its entries, each going to one", "[contract]") {
  FOR_EACH_QUEUE(impl, &QueueCaps::has_consumer_groups) {
    std::unique_ptr<QueueHarness> h = impl.make();
    for (int i = 0; i < 6; ++i) REQUIRE(h->Publish(EventJson("e" + std::to_string(i))).ok());
    std::unique_ptr<Queue> q2 = h->OpenConsumer("c2");
    auto a = h->queue().OpenSession();
    auto b = q2->OpenSession();
    REQUIRE(a->EnsureGroup().ok());
    REQUIRE(b->EnsureGroup().ok());
    std::vector<Delivery> ga = ReceiveSome(*a, 3);
    std::vector<Delivery> gb = ReceiveSome(*b, 10);
    CHECK(ga.size() == 3);
    CHECK(gb.size() == 3);
    std::set<std::string> all;
    for (const Delivery& d : ga) all.insert(d.raw);
    for (const Delivery& d : gb) all.insert(d.raw);
    CHECK(all.size() == 6);
    // Each consumer's pending entries are its own.
    CHECK(Ids(PendingOf(*a)) == Ids(ga));
    CHECK(Ids(PendingOf(*b)) == Ids(gb));
  }
}

TEST_CASE(
    "ReceivePending pages through this consumer's unended entries, counting "
    "deliveries",
    "[contract]") {
  // A queue that keeps nothing past the run has nothing to resume: it lists nothing.
  FOR_EACH_QUEUE(impl, &QueueCaps::durable) {
    std::unique_ptr<QueueHarness> h = impl.make();
    PublishAll(*h, {EventJson("a"), EventJson("b"), EventJson("c")});
    auto s1 = h->queue().OpenSession();
    REQUIRE(s1->EnsureGroup().ok());
    std::vector<Delivery> got = ReceiveSome(*s1, 3);
    REQUIRE(got.size() == 3);

    auto s2 = h->queue().OpenSession();  // in flight in this worker: s2 sees them too
    std::vector<Delivery> pending;
    Result<std::string> next = s2->ReceivePending("0", 2, &pending);
    REQUIRE(next.ok());
    REQUIRE(pending.size() == 2);
    CHECK(Ids(pending) == std::vector<std::string>{got[0].id, got[1].id});
    CHECK(pending[0].raw == EventJson("a"));
    CHECK(pending[0].deliveries == 2);  // this delivery counts
    CHECK(*next == got[1].id);
    for (int page = 0; page < 3 && !next->empty(); ++page) {
      next = s2->ReceivePending(*next, 2, &pending);
      REQUIRE(next.ok());
    }
    CHECK(next->empty());
    CHECK(Ids(pending) == Ids(got));  // nothing twice, nothing ended by reading

    // An ended entry is no longer pending.
    AttemptEnd end;
    end.delivery_id = got[0].id;
    REQUIRE(s2->FinishDuplicate(end).ok());
    std::vector<Delivery> left = PendingOf(*s2);
    CHECK(Ids(left) == std::vector<std::string>{got[1].id, got[2].id});
    for (const Delivery& d : left) CHECK(d.deliveries == 3);
  }
}

TEST_CASE("ReceivePending after a restart finds what the last run left pending", "[contract]") {
  FOR_EACH_QUEUE(impl, &QueueCaps::durable) {
    std::unique_ptr<QueueHarness> h = impl.make();
    PublishAll(*h, {EventJson("a"), EventJson("b")});
    auto s = h->queue().OpenSession();
    REQUIRE(s->EnsureGroup().ok());
    std::vector<Delivery> got = ReceiveSome(*s);
    REQUIRE(got.size() == 2);
    AttemptEnd end;
    end.delivery_id = got[0].id;
    REQUIRE(s->FinishDuplicate(end).ok());

    std::unique_ptr<Queue> restarted = h->OpenConsumer("c1");
    auto rs = restarted->OpenSession();
    std::vector<Delivery> pending = PendingOf(*rs);
    REQUIRE(pending.size() == 1);
    CHECK(pending[0].id == got[1].id);
    CHECK(pending[0].raw == EventJson("b"));
    CHECK(pending[0].deliveries == 2);
    if (impl.caps.has_consumer_groups) {
      std::unique_ptr<Queue> q2 = h->OpenConsumer("c2");
      auto other = q2->OpenSession();
      CHECK(PendingOf(*other).empty());  // never another consumer's
    }
  }
}

TEST_CASE(
    "Claim takes over another consumer's entry only after min_idle, counting "
    "deliveries",
    "[contract]") {
  FOR_EACH_QUEUE(impl, &QueueCaps::has_claim) {
    std::unique_ptr<QueueHarness> h = impl.make();
    REQUIRE(h->Publish(EventJson("e1")).ok());
    std::unique_ptr<Queue> dead_queue = h->OpenConsumer("dead");
    auto dead = dead_queue->OpenSession();
    REQUIRE(dead->EnsureGroup().ok());
    const UnixMillis received_at = h->Now();
    std::vector<Delivery> got = ReceiveSome(*dead, 1);
    REQUIRE(got.size() == 1);
    const std::string id = got[0].id;

    auto alive = h->queue().OpenSession();
    const Millis min_idle(1000);
    std::vector<Delivery> claimed;
    REQUIRE(alive->Claim(min_idle, 10, &claimed).ok());
    if (h->Now() - received_at < min_idle.count()) CHECK(claimed.empty());  // not idle yet
    claimed.clear();
    h->Wait(min_idle + Millis(100));
    REQUIRE(alive->Claim(min_idle, 10, &claimed).ok());
    REQUIRE(claimed.size() == 1);
    CHECK(claimed[0].id == id);
    CHECK(claimed[0].raw == EventJson("e1"));
    CHECK(claimed[0].deliveries == 2);
    CHECK(PendingOf(*dead).empty());  // it is no longer the dead consumer's
    CHECK(Ids(PendingOf(*alive)) == std::vector<std::string>{id});

    // Each further claim counts one more delivery (ReceivePending above counted one).
    claimed.clear();
    REQUIRE(dead->Claim(Millis(0), 10, &claimed).ok());
    REQUIRE(claimed.size() == 1);
    CHECK(claimed[0].deliveries == 4);
  }
}

TEST_CASE("Claim leaves alone what another session of the same Queue still holds", "[contract]") {
  FOR_EACH_QUEUE(impl, &QueueCaps::has_claim) {
    std::unique_ptr<QueueHarness> h = impl.make();
    REQUIRE(h->Publish(EventJson("e1")).ok());
    auto t1 = h->queue().OpenSession();
    auto t2 = h->queue().OpenSession();
    REQUIRE(t1->EnsureGroup().ok());
    REQUIRE(ReceiveSome(*t1, 1).size() == 1);
    // t1 waits (say, for the store to accept its lease) longer than the claim period.
    h->Wait(Millis(150));
    std::vector<Delivery> got;
    REQUIRE(t2->Claim(Millis(100), 5, &got).ok());
    CHECK(got.empty());
    // Once t1 has moved on (its next Receive), the entry may be claimed; the claim that
    // passed it over handed nothing out and counted no delivery.
    CHECK(ReceiveSome(*t1, 1, Millis(10)).empty());
    h->Wait(Millis(150));
    REQUIRE(t2->Claim(Millis(100), 5, &got).ok());
    if (!impl.caps.claims_own) {  // this consumer's own entry: left for ReceivePending
      CHECK(got.empty());
      CHECK(PendingOf(*t2).size() == 1);
      continue;
    }
    REQUIRE(got.size() == 1);
    CHECK(got[0].deliveries == 2);
  }
}

TEST_CASE("Claim leaves alone what another session of the same Queue resumed by ReceivePending",
          "[contract]") {
  FOR_EACH_QUEUE(impl, &QueueCaps::has_claim) {
    std::unique_ptr<QueueHarness> h = impl.make();
    REQUIRE(h->Publish(EventJson("e1")).ok());
    auto first_run = h->queue().OpenSession();
    REQUIRE(first_run->EnsureGroup().ok());
    REQUIRE(ReceiveSome(*first_run, 1).size() == 1);
    first_run.reset();  // the worker stopped with the entry pending

    std::unique_ptr<Queue> restarted = h->OpenConsumer("c1");
    auto t1 = restarted->OpenSession();
    auto t2 = restarted->OpenSession();
    std::vector<Delivery> resumed = PendingOf(*t1);
    REQUIRE(resumed.size() == 1);
    // t1 runs it for longer than the claim period: t2 must not be handed it too.
    h->Wait(Millis(150));
    std::vector<Delivery> got;
    REQUIRE(t2->Claim(Millis(100), 5, &got).ok());
    CHECK(got.empty());
    CHECK(ReceiveSome(*t1, 1, Millis(10)).empty());  // t1 moves on
    h->Wait(Millis(150));
    got.clear();
    REQUIRE(t2->Claim(Millis(100), 5, &got).ok());
    CHECK(got.size() == (impl.caps.claims_own ? 1u : 0u));
  }
}

TEST_CASE("Claim hands out no more than asked, and the rest on the next call", "[contract]") {
  FOR_EACH_QUEUE(impl, &QueueCaps::has_claim) {
    std::unique_ptr<QueueHarness> h = impl.make();
    PublishAll(*h, {EventJson("a"), EventJson("b"), EventJson("c")});
    std::unique_ptr<Queue> dead_queue = h->OpenConsumer("dead");
    auto dead = dead_queue->OpenSession();
    REQUIRE(dead->EnsureGroup().ok());
    REQUIRE(ReceiveSome(*dead, 3).size() == 3);
    h->Wait(Millis(150));
    auto alive = h->queue().OpenSession();
    std::vector<Delivery> got;
    REQUIRE(alive->Claim(Millis(100), 2, &got).ok());
    CHECK(got.size() == 2);
    REQUIRE(alive->Claim(Millis(100), 2, &got).ok());
    std::set<std::string> raws;
    for (const Delivery& d : got) raws.insert(d.raw);
    CHECK(got.size() == 3);
    CHECK(raws.size() == 3);
  }
}

}  // namespace evt::contract
