// The queue contract (evt/queue.h), part 3: the attempt-ending calls and Defer. Each
// acknowledges the delivery with its own effect, atomically; each may be repeated after an
// unknown result (called twice: OK, one effect); and the outcome is written even when
// nothing is left to acknowledge. For every registered Queue implementation.
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

// One delivery of a fresh event, its attempt started (the lease taken).
struct Started {
  Delivery delivery;
  AttemptEnd end;
};

Started PublishAndStart(QueueHarness& h, QueueSession& s, const std::string& id,
                        const std::string& key) {
  REQUIRE(h.Publish(EventJson(id, key)).ok());
  std::vector<Delivery> got = ReceiveSome(s, 1);
  REQUIRE(got.size() == 1);
  Started a{got[0], EndFor(got[0], id, key, OwnerOf(h.queue(), got[0]))};
  REQUIRE(StateOf(s.StartAttempt(a.end, Millis(60000), 0)) == LeaseState::kAcquired);
  return a;
}

// Calls MoveDue once, and checks it moved nothing if the call ended before `due`.
void CheckNothingMovedBefore(QueueHarness& h, QueueSession& s, UnixMillis due) {
  Result<int> n = s.MoveDue(100);
  const UnixMillis after = h.Now();
  REQUIRE(n.ok());
  if (after < due) CHECK(*n == 0);
}

// Lets time pass until `due` (plus a little).
void WaitUntil(QueueHarness& h, UnixMillis due) {
  const UnixMillis now = h.Now();
  if (now <= due) h.Wait(Millis(due - now + 50));
}

}  // namespace

TEST_CASE("FinishDone acknowledges and writes the done record, once when repeated", "[contract]") {
  FOR_EACH_QUEUE(impl, nullptr) {
    std::unique_ptr<QueueHarness> h = impl.make();
    auto s = h->queue().OpenSession();
    REQUIRE(s->EnsureGroup().ok());
    Started a = PublishAndStart(*h, *s, "e1", "k1");
    REQUIRE(s->MarkRunning(a.end).ok());
    REQUIRE(s->FinishDone(a.end).ok());
    REQUIRE(s->FinishDone(a.end).ok());  // a repeat after a lost reply
    CHECK(PendingOf(*s).empty());
    CHECK(StateOf(s->TakeLease("k1", "c2 9-0", Millis(60000))) == LeaseState::kAlreadyDone);
    if (auto st = h->EventStatus("e1")) CHECK(*st == "done");
    if (auto n = h->Outcomes("done")) CHECK(*n == 1);
  }
}

TEST_CASE(
    "FinishRetry acknowledges, releases the lease and schedules the next "
    "attempt for its due time, once when repeated",
    "[contract]") {
  FOR_EACH_QUEUE(impl, nullptr) {
    std::unique_ptr<QueueHarness> h = impl.make();
    auto s = h->queue().OpenSession();
    REQUIRE(s->EnsureGroup().ok());
    Started a = PublishAndStart(*h, *s, "e1", "k1");
    a.end.category = Category::kDependency;
    a.end.error = "exit 75";
    const std::string next = EventJson("e1", "k1", 1);
    const UnixMillis due = h->Now() + 1500;
    REQUIRE(s->FinishRetry(a.end, next, due).ok());
    REQUIRE(s->FinishRetry(a.end, next, due).ok());
    CHECK(PendingOf(*s).empty());
    // Where a retry waits in the store, its key is free meanwhile; otherwise the event
    // keeps it until its outcome (a later event of the key waits for that).
    const LeaseState other = impl.caps.schedules ? LeaseState::kAcquired : LeaseState::kBusy;
    CHECK(StateOf(s->TakeLease("k1", "c2 9-0", Millis(60000))) == other);
    REQUIRE(s->ReleaseLease("k1", "c2 9-0").ok());
    if (auto st = h->EventStatus("e1")) CHECK(*st == "retrying");
    if (auto n = h->Outcomes("retry")) CHECK(*n == 1);

    CheckNothingMovedBefore(*h, *s, due);
    CHECK(ReceiveSome(*s, 10, Millis(10)).empty());
    WaitUntil(*h, due);
    const int moved = MoveAllDue(*s);  // without `schedules`, Receive hands it out itself
    CHECK(moved == (impl.caps.schedules ? 1 : 0));
    CHECK(Raws(ReceiveSome(*s)) == std::vector<std::string>{next});
    CHECK(MoveAllDue(*s) == 0);
  }
}

TEST_CASE(
    "FinishDead acknowledges, releases the lease and writes one dead letter, "
    "once when repeated",
    "[contract]") {
  FOR_EACH_QUEUE(impl, nullptr) {
    std::unique_ptr<QueueHarness> h = impl.make();
    auto s = h->queue().OpenSession();
    REQUIRE(s->EnsureGroup().ok());
    Started a = PublishAndStart(*h, *s, "e1", "k1");
    a.end.attempt = 3;
    a.end.category = Category::kData;
    a.end.error = std::string(5000, 'x');  // the store bounds it
    REQUIRE(s->FinishDead(a.end, DeadReason::kRetriesExhausted, a.delivery.raw).ok());
    REQUIRE(s->FinishDead(a.end, DeadReason::kRetriesExhausted, a.delivery.raw).ok());
    CHECK(PendingOf(*s).empty());
    CHECK(StateOf(s->TakeLease("k1", "c2 9-0", Millis(60000))) == LeaseState::kAcquired);
    if (auto n = h->DeadLetters()) CHECK(*n == 1);
    if (auto st = h->EventStatus("e1")) CHECK(*st == "failed");
    if (auto n = h->Outcomes("failed")) CHECK(*n == 1);
  }
}

TEST_CASE("an entry that is no valid event is dead-lettered without key or lease", "[contract]") {
  FOR_EACH_QUEUE(impl, nullptr) {
    std::unique_ptr<QueueHarness> h = impl.make();
    auto s = h->queue().OpenSession();
    REQUIRE(s->EnsureGroup().ok());
    REQUIRE(h->Publish("not json").ok());
    std::vector<Delivery> got = ReceiveSome(*s, 1);
    REQUIRE(got.size() == 1);
    AttemptEnd end;
    end.delivery_id = got[0].id;
    end.error = "not valid JSON";
    end.category = Category::kData;
    REQUIRE(s->FinishDead(end, DeadReason::kInvalid, got[0].raw).ok());
    REQUIRE(s->FinishDead(end, DeadReason::kInvalid, got[0].raw).ok());
    CHECK(PendingOf(*s).empty());
    if (auto n = h->DeadLetters()) CHECK(*n == 1);
  }
}

TEST_CASE("FinishDuplicate acknowledges without running anything, once when repeated",
          "[contract]") {
  FOR_EACH_QUEUE(impl, nullptr) {
    std::unique_ptr<QueueHarness> h = impl.make();
    Queue& q = h->queue();
    auto s = q.OpenSession();
    REQUIRE(s->EnsureGroup().ok());
    Started a = PublishAndStart(*h, *s, "e1", "k1");
    REQUIRE(s->FinishDone(a.end).ok());
    REQUIRE(h->Publish(EventJson("e2", "k1")).ok());  // the same key again
    std::vector<Delivery> got = ReceiveSome(*s, 1);
    REQUIRE(got.size() == 1);
    AttemptEnd dup = EndFor(got[0], "e2", "k1", OwnerOf(q, got[0]));
    REQUIRE(StateOf(s->StartAttempt(dup, Millis(60000), 0)) == LeaseState::kAlreadyDone);
    dup.ran = false;
    dup.attempt = 0;
    REQUIRE(s->FinishDuplicate(dup).ok());
    REQUIRE(s->FinishDuplicate(dup).ok());
    CHECK(PendingOf(*s).empty());
    if (auto st = h->EventStatus("e2")) CHECK(*st == "duplicate");
    if (auto n = h->Outcomes("duplicate")) CHECK(*n == 1);
    if (auto n = h->Outcomes("done")) CHECK(*n == 1);
  }
}

TEST_CASE("Defer hands the entry out again at its due time, once, counting no attempt",
          "[contract]") {
  FOR_EACH_QUEUE(impl, nullptr) {
    std::unique_ptr<QueueHarness> h = impl.make();
    Queue& q = h->queue();
    auto s = q.OpenSession();
    REQUIRE(s->EnsureGroup().ok());
    REQUIRE(StateOf(s->TakeLease("k1", "other 1-0", Millis(60000))) == LeaseState::kAcquired);
    REQUIRE(h->Publish(EventJson("e1", "k1")).ok());
    Delivery d = ReceiveSome(*s, 1).at(0);
    AttemptEnd end = EndFor(d, "e1", "k1", OwnerOf(q, d));
    REQUIRE(StateOf(s->StartAttempt(end, Millis(60000), 0)) == LeaseState::kBusy);

    const UnixMillis due = h->Now() + 1500;
    REQUIRE(s->Defer(d, due).ok());
    REQUIRE(s->Defer(d, due).ok());  // a repeat after a lost reply
    CHECK(PendingOf(*s).empty());
    // No attempt: no status, no outcome; the other owner's lease is untouched.
    if (auto st = h->EventStatus("e1")) CHECK(*st == "");
    for (const char* outcome : {"done", "retry", "failed", "duplicate"}) {
      if (auto n = h->Outcomes(outcome)) CHECK(*n == 0);
    }
    CHECK(StateOf(s->TakeLease("k1", "third 2-0", Millis(60000))) == LeaseState::kBusy);

    CheckNothingMovedBefore(*h, *s, due);
    if (!impl.caps.schedules) CHECK(ReceiveSome(*s, 10, Millis(50)).empty());  // still busy
    // Without `schedules` a deferral waits for the key's release, not for a time.
    REQUIRE(s->ReleaseLease("k1", "other 1-0").ok());
    WaitUntil(*h, due);
    const int moved = MoveAllDue(*s);
    CHECK(moved == (impl.caps.schedules ? 1 : 0));
    std::vector<Delivery> again = ReceiveSome(*s);
    REQUIRE(again.size() == 1);
    CHECK(again[0].raw == d.raw);
    AttemptEnd next = EndFor(again[0], "e1", "k1", OwnerOf(q, again[0]));
    Result<Lease> l = s->StartAttempt(next, Millis(60000), 1);
    REQUIRE(StateOf(l) == LeaseState::kAcquired);
    if (impl.caps.counts_starts) CHECK(l->starts == 1);
  }
}

TEST_CASE(
    "a deferral is no outcome: the holder's commit lands with nothing left to "
    "acknowledge",
    "[contract]") {
  // Only a queue that can hand one entry out twice (a claim) sees both ends of it.
  FOR_EACH_QUEUE(impl, &QueueCaps::has_claim) {
    std::unique_ptr<QueueHarness> h = impl.make();
    auto s = h->queue().OpenSession();
    REQUIRE(s->EnsureGroup().ok());
    Started a = PublishAndStart(*h, *s, "e1", "k1");
    // The same delivery was also deferred (handed out twice): that acknowledged it.
    REQUIRE(s->Defer(a.delivery, h->Now() + 3600 * 1000).ok());
    CHECK(PendingOf(*s).empty());
    REQUIRE(s->FinishDone(a.end).ok());
    CHECK(StateOf(s->TakeLease("k1", "c2 9-0", Millis(60000))) == LeaseState::kAlreadyDone);
    if (auto st = h->EventStatus("e1")) CHECK(*st == "done");
    if (auto n = h->Outcomes("done")) CHECK(*n == 1);
  }
}

TEST_CASE("outcomes land after the group was re-created, and not twice", "[contract]") {
  FOR_EACH_QUEUE(impl, &QueueCaps::has_consumer_groups) {
    std::unique_ptr<QueueHarness> h = impl.make();
    auto s = h->queue().OpenSession();
    REQUIRE(s->EnsureGroup().ok());
    Started a = PublishAndStart(*h, *s, "e1", "k1");
    Started b = PublishAndStart(*h, *s, "e2", "k2");
    h->DropGroup();  // while both handlers run
    REQUIRE(s->EnsureGroup().ok());
    REQUIRE(s->FinishDone(a.end).ok());
    b.end.category = Category::kData;
    REQUIRE(s->FinishDead(b.end, DeadReason::kPermanent, b.delivery.raw).ok());
    CHECK(StateOf(s->TakeLease("k1", "c2 9-0", Millis(60000))) == LeaseState::kAlreadyDone);
    if (auto n = h->DeadLetters()) CHECK(*n == 1);

    // The new group hands both out again; ending them again writes nothing a second time.
    std::vector<Delivery> again = ReceiveSome(*s);
    REQUIRE(again.size() == 2);
    REQUIRE(s->FinishDone(a.end).ok());
    REQUIRE(s->FinishDead(b.end, DeadReason::kPermanent, b.delivery.raw).ok());
    CHECK(PendingOf(*s).empty());
    if (auto n = h->DeadLetters()) CHECK(*n == 1);
    if (auto n = h->Outcomes("done")) CHECK(*n == 1);
    if (auto n = h->Outcomes("failed")) CHECK(*n == 1);
  }
}

TEST_CASE("an attempt-ending call after the lease expired leaves the new holder's lease alone",
          "[contract]") {
  FOR_EACH_QUEUE(impl, &QueueCaps::leases_expire) {
    std::unique_ptr<QueueHarness> h = impl.make();
    Queue& q = h->queue();
    auto s = q.OpenSession();
    REQUIRE(s->EnsureGroup().ok());
    for (int i = 1; i <= 2; ++i) {
      const std::string id = "e" + std::to_string(i), key = "k" + std::to_string(i);
      REQUIRE(h->Publish(EventJson(id, key)).ok());
      Delivery d = ReceiveSome(*s, 1).at(0);
      AttemptEnd end = EndFor(d, id, key, OwnerOf(q, d));
      REQUIRE(StateOf(s->StartAttempt(end, Millis(200), 0)) == LeaseState::kAcquired);
      h->Wait(Millis(300));  // expired: another owner takes the key
      REQUIRE(StateOf(s->TakeLease(key, "c2 9-0", Millis(60000))) == LeaseState::kAcquired);
      if (i == 1) {
        REQUIRE(s->FinishRetry(end, EventJson(id, key, 1), h->Now() + 3600 * 1000).ok());
      } else {
        REQUIRE(s->FinishDead(end, DeadReason::kPermanent, d.raw).ok());
      }
      CHECK(StateOf(s->TakeLease(key, "c3 9-1", Millis(60000))) == LeaseState::kBusy);
    }
    CHECK(PendingOf(*s).empty());
  }
}

TEST_CASE("a Defer after the delivery's outcome is committed schedules nothing", "[contract]") {
  FOR_EACH_QUEUE(impl, nullptr) {
    std::unique_ptr<QueueHarness> h = impl.make();
    auto s = h->queue().OpenSession();
    REQUIRE(s->EnsureGroup().ok());
    Started a = PublishAndStart(*h, *s, "e1", "k1");
    REQUIRE(s->FinishDone(a.end).ok());
    const UnixMillis due = h->Now() + 200;
    REQUIRE(s->Defer(a.delivery, due).ok());
    WaitUntil(*h, due);
    CHECK(MoveAllDue(*s) == 0);
    CHECK(ReceiveSome(*s, 10, Millis(50)).empty());
  }
}

TEST_CASE("the same attempt end committed from 4 sessions at once has one effect", "[contract]") {
  FOR_EACH_QUEUE(impl, nullptr) {
    std::unique_ptr<QueueHarness> h = impl.make();
    auto s = h->queue().OpenSession();
    REQUIRE(s->EnsureGroup().ok());
    Started a = PublishAndStart(*h, *s, "e1", "k1");
    Started b = PublishAndStart(*h, *s, "e2", "k2");
    // Sessions are opened here and results handed back: no assertion runs off this thread.
    std::vector<std::unique_ptr<QueueSession>> sessions;
    for (int i = 0; i < 4; ++i) sessions.push_back(h->queue().OpenSession());
    std::vector<Status> results(8);
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i) {
      threads.emplace_back([&, i] {
        results[2 * i] = sessions[i]->FinishDone(a.end);
        results[2 * i + 1] = sessions[i]->FinishDead(b.end, DeadReason::kPermanent, b.delivery.raw);
      });
    }
    for (std::thread& t : threads) t.join();
    for (const Status& st : results) {
      INFO(st.message());
      CHECK(st.ok());
    }
    CHECK(PendingOf(*s).empty());
    if (auto n = h->Outcomes("done")) CHECK(*n == 1);
    if (auto n = h->Outcomes("failed")) CHECK(*n == 1);
    if (auto n = h->DeadLetters()) CHECK(*n == 1);
  }
}

}  // namespace evt::contract
