// The queue contract (evt/queue.h), part 2: idempotency leases and StartAttempt, for every
// registered Queue implementation (queue_impls.h).
#include <catch2/catch.hpp>
#include <thread>

#include "contract_support.h"

namespace evt::contract {
namespace {

LeaseState StateOf(const Result<Lease>& l) {
  INFO(l.status().message());
  REQUIRE(l.ok());
  return l->state;
}

// Publishes one event and hands it out to `s`.
Delivery PublishAndReceive(QueueHarness& h, QueueSession& s, const std::string& raw) {
  REQUIRE(h.Publish(raw).ok());
  std::vector<Delivery> got = ReceiveSome(s, 1);
  REQUIRE(got.size() == 1);
  return got[0];
}

}  // namespace

TEST_CASE(
    "TakeLease is acquired, busy with the time left, re-taken by its owner, "
    "free after it expires",
    "[contract]") {
  FOR_EACH_QUEUE(impl, nullptr) {
    std::unique_ptr<QueueHarness> h = impl.make();
    auto s = h->queue().OpenSession();
    CHECK(StateOf(s->TakeLease("k", "c1 1-0", Millis(60000))) == LeaseState::kAcquired);
    Result<Lease> busy = s->TakeLease("k", "c2 2-0", Millis(60000));
    CHECK(StateOf(busy) == LeaseState::kBusy);
    if (impl.caps.leases_expire) {
      CHECK(busy->remaining.count() > 50000);
      CHECK(busy->remaining.count() <= 60000);
    }
    CHECK(StateOf(s->TakeLease("k", "c1 1-0", Millis(60000))) == LeaseState::kAcquired);

    // A lease whose owner died expires, and another owner takes it.
    if (!impl.caps.leases_expire) continue;
    CHECK(StateOf(s->TakeLease("short", "gone 1-0", Millis(300))) == LeaseState::kAcquired);
    busy = s->TakeLease("short", "c2 3-0", Millis(60000));
    CHECK(StateOf(busy) == LeaseState::kBusy);
    CHECK(busy->remaining.count() <= 300);
    h->Wait(Millis(400));
    CHECK(StateOf(s->TakeLease("short", "c2 3-0", Millis(60000))) == LeaseState::kAcquired);
  }
}

TEST_CASE("ReleaseLease gives a lease back only for its owner", "[contract]") {
  FOR_EACH_QUEUE(impl, nullptr) {
    std::unique_ptr<QueueHarness> h = impl.make();
    auto s = h->queue().OpenSession();
    REQUIRE(StateOf(s->TakeLease("k", "a 1-0", Millis(60000))) == LeaseState::kAcquired);
    REQUIRE(s->ReleaseLease("k", "b 2-0").ok());
    CHECK(StateOf(s->TakeLease("k", "c 3-0", Millis(60000))) == LeaseState::kBusy);
    REQUIRE(s->ReleaseLease("k", "a 1-0").ok());
    CHECK(StateOf(s->TakeLease("k", "c 3-0", Millis(60000))) == LeaseState::kAcquired);
    REQUIRE(s->ReleaseLease("absent", "a 1-0").ok());
  }
}

TEST_CASE("RenewLease extends only a lease its owner still holds", "[contract]") {
  FOR_EACH_QUEUE(impl, nullptr) {
    std::unique_ptr<QueueHarness> h = impl.make();
    auto s = h->queue().OpenSession();
    REQUIRE(StateOf(s->TakeLease("k", "a 1-0", Millis(300))) == LeaseState::kAcquired);
    Result<bool> r = s->RenewLease("k", "a 1-0", Millis(60000));
    REQUIRE(r.ok());
    CHECK(*r);
    h->Wait(Millis(400));  // past the first ttl: the renewal holds it
    Result<Lease> busy = s->TakeLease("k", "b 2-0", Millis(60000));
    CHECK(StateOf(busy) == LeaseState::kBusy);
    if (impl.caps.leases_expire) CHECK(busy->remaining.count() > 50000);

    r = s->RenewLease("k", "b 2-0", Millis(600000));
    REQUIRE(r.ok());
    CHECK_FALSE(*r);
    CHECK(s->TakeLease("k", "b 2-0", Millis(60000))->remaining.count() <= 60000);

    r = s->RenewLease("absent", "a 1-0", Millis(60000));
    REQUIRE(r.ok());
    CHECK_FALSE(*r);
    CHECK(StateOf(s->TakeLease("absent", "b 2-0", Millis(60000))) == LeaseState::kAcquired);
  }
}

TEST_CASE("a done key is kAlreadyDone for everyone, and release or renewal leave it",
          "[contract]") {
  FOR_EACH_QUEUE(impl, nullptr) {
    std::unique_ptr<QueueHarness> h = impl.make();
    auto s = h->queue().OpenSession();
    REQUIRE(s->EnsureGroup().ok());
    Delivery d = PublishAndReceive(*h, *s, EventJson("e1", "k1"));
    AttemptEnd end = EndFor(d, "e1", "k1", OwnerOf(h->queue(), d));
    REQUIRE(StateOf(s->StartAttempt(end, Millis(60000), 0)) == LeaseState::kAcquired);
    REQUIRE(s->FinishDone(end).ok());
    CHECK(StateOf(s->TakeLease("k1", "c2 9-0", Millis(60000))) == LeaseState::kAlreadyDone);
    CHECK(StateOf(s->TakeLease("k1", end.lease_owner, Millis(60000))) == LeaseState::kAlreadyDone);
    Result<bool> renewed = s->RenewLease("k1", end.lease_owner, Millis(60000));
    REQUIRE(renewed.ok());
    CHECK_FALSE(*renewed);
    REQUIRE(s->ReleaseLease("k1", end.lease_owner).ok());
    CHECK(StateOf(s->TakeLease("k1", "c2 9-0", Millis(60000))) == LeaseState::kAlreadyDone);
  }
}

TEST_CASE(
    "StartAttempt takes the lease and marks it running, and only acquired leases "
    "count a start",
    "[contract]") {
  FOR_EACH_QUEUE(impl, nullptr) {
    std::unique_ptr<QueueHarness> h = impl.make();
    Queue& q = h->queue();
    auto s = q.OpenSession();
    REQUIRE(s->EnsureGroup().ok());
    Delivery d1 = PublishAndReceive(*h, *s, EventJson("e1", "k1"));
    Delivery d2 = PublishAndReceive(*h, *s, EventJson("e2", "k1"));  // the same key
    AttemptEnd a1 = EndFor(d1, "e1", "k1", OwnerOf(q, d1));
    AttemptEnd a2 = EndFor(d2, "e2", "k1", OwnerOf(q, d2));

    Result<Lease> l = s->StartAttempt(a1, Millis(60000), 0);
    REQUIRE(StateOf(l) == LeaseState::kAcquired);
    if (impl.caps.counts_starts) CHECK(l->starts == 1);
    if (auto st = h->EventStatus("e1")) CHECK(*st == "running");
    CHECK(StateOf(s->TakeLease("k1", "c2 9-0", Millis(60000))) == LeaseState::kBusy);

    for (int i = 0; i < 3; ++i) {
      l = s->StartAttempt(a2, Millis(60000), 2);
      REQUIRE(StateOf(l) == LeaseState::kBusy);
      if (impl.caps.leases_expire) CHECK(l->remaining.count() > 0);
    }
    if (auto st = h->EventStatus("e2")) CHECK(*st == "");  // refused: nothing recorded

    REQUIRE(s->ReleaseLease("k1", a1.lease_owner).ok());
    l = s->StartAttempt(a2, Millis(60000), 2);
    REQUIRE(StateOf(l) == LeaseState::kAcquired);
    if (impl.caps.counts_starts) CHECK(l->starts == 1);  // the refused ones counted nothing
    l = s->StartAttempt(a2, Millis(60000), 2);           // its owner again
    REQUIRE(StateOf(l) == LeaseState::kAcquired);
    if (impl.caps.counts_starts) CHECK(l->starts == 2);

    REQUIRE(s->FinishDone(a2).ok());
    CHECK(StateOf(s->StartAttempt(a1, Millis(60000), 0)) == LeaseState::kAlreadyDone);
    a1.ran = false;
    REQUIRE(s->FinishDuplicate(a1).ok());
    CHECK(PendingOf(*s).empty());
  }
}

TEST_CASE(
    "StartAttempt says kPoison after max_starts starts, without taking the "
    "lease",
    "[contract]") {
  FOR_EACH_QUEUE(impl, &QueueCaps::counts_starts) {
    std::unique_ptr<QueueHarness> h = impl.make();
    Queue& q = h->queue();
    auto s = q.OpenSession();
    REQUIRE(s->EnsureGroup().ok());
    Delivery d = PublishAndReceive(*h, *s, EventJson("e1", "k1"));
    AttemptEnd end = EndFor(d, "e1", "k1", OwnerOf(q, d));
    for (int i = 1; i <= 3; ++i) {
      Result<Lease> l = s->StartAttempt(end, Millis(60000), 3);
      REQUIRE(StateOf(l) == LeaseState::kAcquired);
      CHECK(l->starts == i);
    }
    REQUIRE(s->ReleaseLease("k1", end.lease_owner).ok());
    Result<Lease> l = s->StartAttempt(end, Millis(60000), 3);
    REQUIRE(StateOf(l) == LeaseState::kPoison);
    CHECK(l->starts == 3);
    // The lease was not taken, and the refused start counted nothing.
    REQUIRE(StateOf(s->TakeLease("k1", "c2 9-0", Millis(60000))) == LeaseState::kAcquired);
    REQUIRE(s->ReleaseLease("k1", "c2 9-0").ok());
    CHECK(StateOf(s->StartAttempt(end, Millis(60000), 3)) == LeaseState::kPoison);

    REQUIRE(s->FinishDead(end, DeadReason::kPoison, d.raw).ok());
    CHECK(PendingOf(*s).empty());
    if (auto n = h->DeadLetters()) CHECK(*n == 1);

    // max_starts <= 0: no limit.
    Delivery d2 = PublishAndReceive(*h, *s, EventJson("e2", "k2"));
    AttemptEnd end2 = EndFor(d2, "e2", "k2", OwnerOf(q, d2));
    for (int i = 1; i <= 5; ++i) {
      l = s->StartAttempt(end2, Millis(60000), 0);
      REQUIRE(StateOf(l) == LeaseState::kAcquired);
      CHECK(l->starts == i);
    }
  }
}

TEST_CASE("StartAttempt says kFinished for a delivery whose outcome is committed", "[contract]") {
  FOR_EACH_QUEUE(impl, &QueueCaps::counts_starts) {
    std::unique_ptr<QueueHarness> h = impl.make();
    Queue& q = h->queue();
    auto s = q.OpenSession();
    REQUIRE(s->EnsureGroup().ok());
    Delivery d = PublishAndReceive(*h, *s, EventJson("e1", "k1"));
    AttemptEnd end = EndFor(d, "e1", "k1", OwnerOf(q, d));
    REQUIRE(StateOf(s->StartAttempt(end, Millis(60000), 3)) == LeaseState::kAcquired);
    REQUIRE(s->FinishDone(end).ok());
    AttemptEnd again = end;
    again.lease_owner = "c2 " + d.id;
    CHECK(StateOf(s->StartAttempt(again, Millis(60000), 3)) == LeaseState::kFinished);
    if (auto st = h->EventStatus("e1")) CHECK(*st == "done");  // nothing recorded again

    if (impl.caps.has_consumer_groups) {
      // The group re-created hands it out again: kFinished, and now acknowledged.
      h->DropGroup();
      REQUIRE(s->EnsureGroup().ok());
      std::vector<Delivery> got = ReceiveSome(*s);
      REQUIRE(got.size() == 1);
      REQUIRE(got[0].id == d.id);
      CHECK(StateOf(s->StartAttempt(again, Millis(60000), 3)) == LeaseState::kFinished);
      CHECK(PendingOf(*s).empty());
      if (auto n = h->Outcomes("done")) CHECK(*n == 1);
    }
  }
}

TEST_CASE("StartAttempt says kRunningElsewhere when the lease holder runs this very entry",
          "[contract]") {
  FOR_EACH_QUEUE(impl, &QueueCaps::has_claim) {
    std::unique_ptr<QueueHarness> h = impl.make();
    std::unique_ptr<Queue> qa = h->OpenConsumer("a");
    auto a = qa->OpenSession();
    REQUIRE(a->EnsureGroup().ok());
    Delivery d = PublishAndReceive(*h, *a, EventJson("e1", "k1"));
    AttemptEnd end = EndFor(d, "e1", "k1", OwnerOf(*qa, d));
    REQUIRE(StateOf(a->StartAttempt(end, Millis(60000), 0)) == LeaseState::kAcquired);
    // a's commit is late: b claims the entry and finds its lease held by a, for it.
    h->Wait(Millis(150));
    auto b = h->queue().OpenSession();
    std::vector<Delivery> claimed;
    REQUIRE(b->Claim(Millis(100), 1, &claimed).ok());
    REQUIRE(claimed.size() == 1);
    AttemptEnd other = EndFor(claimed[0], "e1", "k1", OwnerOf(h->queue(), claimed[0]));
    CHECK(StateOf(b->StartAttempt(other, Millis(60000), 0)) == LeaseState::kRunningElsewhere);
    CHECK(PendingOf(*b).size() == 1);  // left pending: no copy, nothing run

    // The holder's commit acknowledges it.
    REQUIRE(a->FinishDone(end).ok());
    CHECK(PendingOf(*b).empty());
    CHECK(MoveAllDue(*b) == 0);
    if (auto n = h->Outcomes("done")) CHECK(*n == 1);
  }
}

TEST_CASE("of 4 sessions starting attempts on one key at once, exactly one gets the lease",
          "[contract]") {
  FOR_EACH_QUEUE(impl, nullptr) {
    std::unique_ptr<QueueHarness> h = impl.make();
    Queue& q = h->queue();
    auto s = q.OpenSession();
    REQUIRE(s->EnsureGroup().ok());
    std::vector<AttemptEnd> ends;
    for (int i = 0; i < 4; ++i) {
      const std::string id = "e" + std::to_string(i);
      Delivery d = PublishAndReceive(*h, *s, EventJson(id, "k"));
      ends.push_back(EndFor(d, id, "k", OwnerOf(q, d)));
    }
    // Sessions are opened here and results handed back: no assertion runs off this thread.
    std::vector<std::unique_ptr<QueueSession>> sessions;
    for (int i = 0; i < 4; ++i) sessions.push_back(q.OpenSession());
    std::vector<Result<Lease>> leases(4, Status::Internal("not run"));
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i) {
      threads.emplace_back(
          [&, i] { leases[i] = sessions[i]->StartAttempt(ends[i], Millis(60000), 0); });
    }
    for (std::thread& t : threads) t.join();
    int acquired = 0, busy = 0;
    for (const Result<Lease>& l : leases) {
      LeaseState state = StateOf(l);
      acquired += state == LeaseState::kAcquired;
      busy += state == LeaseState::kBusy;
    }
    CHECK(acquired == 1);
    CHECK(busy == 3);
  }
}

}  // namespace evt::contract
