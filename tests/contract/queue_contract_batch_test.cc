// The queue contract (evt/queue.h), part 6: the batch calls FinishAll and StartAttempts
// (each item has exactly the effect and the answer of its single call, in order), and
// Abandon, which takes a start back when the handler never started. For every registered
// Queue implementation.
#include <algorithm>
#include <catch2/catch.hpp>

#include "attempt_end.h"
#include "contract_support.h"

namespace evt::contract {
namespace {

using testing::Call;

LeaseState StateOf(const Result<Lease>& l) {
  INFO(l.status().message());
  REQUIRE(l.ok());
  return l->state;
}

void RequireAllOk(const std::vector<Status>& out, std::size_t n) {
  REQUIRE(out.size() == n);
  for (const Status& st : out) {
    INFO(st.message());
    CHECK(st.ok());
  }
}

// Publishes one event and hands it out to `s`; its attempt's end (not started).
AttemptEnd PublishOne(QueueHarness& h, QueueSession& s, const std::string& id,
                      const std::string& key, Delivery* delivery = nullptr) {
  REQUIRE(h.Publish(EventJson(id, key)).ok());
  std::vector<Delivery> got = ReceiveSome(s, 1);
  REQUIRE(got.size() == 1);
  if (delivery != nullptr) *delivery = got[0];
  return EndFor(got[0], id, key, OwnerOf(h.queue(), got[0]));
}

// As PublishOne, and the attempt started (its lease taken).
AttemptEnd PublishAndStart(QueueHarness& h, QueueSession& s, const std::string& id,
                           const std::string& key, Delivery* delivery = nullptr) {
  AttemptEnd end = PublishOne(h, s, id, key, delivery);
  REQUIRE(StateOf(s.StartAttempt(end, Millis(60000), 0)) == LeaseState::kAcquired);
  return end;
}

// Five attempts that end in each way, made ready for one FinishAll: e1/k1 done, e2/k2
// retried at `due`, e3/k3 dead, e4 a duplicate of k0 (done before), e5/k5 deferred to
// `due` (k5 is held by "other 1-0").
struct Mix {
  std::vector<FinishCall> calls;
  std::string next_raw;      // the retry's next event
  std::string deferred_raw;  // the deferred event
  UnixMillis due = 0;
};

Mix MakeMix(QueueHarness& h, QueueSession& s) {
  Mix m;
  AttemptEnd done0 = PublishAndStart(h, s, "e0", "k0");
  REQUIRE(s.FinishDone(done0).ok());
  m.calls.push_back(Call(FinishCall::Kind::kDone, PublishAndStart(h, s, "e1", "k1")));

  FinishCall retry = Call(FinishCall::Kind::kRetry, PublishAndStart(h, s, "e2", "k2"));
  retry.end.category = Category::kDependency;
  retry.end.error = "exit 75";
  m.next_raw = retry.raw = EventJson("e2", "k2", 1);
  m.calls.push_back(retry);

  Delivery d3;
  FinishCall dead = Call(FinishCall::Kind::kDead, PublishAndStart(h, s, "e3", "k3", &d3));
  dead.end.category = Category::kData;
  dead.end.error = "bad input";
  dead.reason = DeadReason::kPermanent;
  dead.raw = d3.raw;
  m.calls.push_back(dead);

  AttemptEnd dup = PublishOne(h, s, "e4", "k0");
  REQUIRE(StateOf(s.StartAttempt(dup, Millis(60000), 0)) == LeaseState::kAlreadyDone);
  dup.ran = false;
  dup.attempt = 0;
  m.calls.push_back(Call(FinishCall::Kind::kDuplicate, dup));

  REQUIRE(StateOf(s.TakeLease("k5", "other 1-0", Millis(60000))) == LeaseState::kAcquired);
  Delivery d5;
  AttemptEnd busy = PublishOne(h, s, "e5", "k5", &d5);
  REQUIRE(StateOf(s.StartAttempt(busy, Millis(60000), 0)) == LeaseState::kBusy);
  FinishCall defer = Call(FinishCall::Kind::kDefer, busy);
  m.deferred_raw = defer.raw = d5.raw;
  m.due = defer.due = h.Now() + 1500;
  m.calls[1].due = m.due;
  m.calls.push_back(defer);
  return m;
}

// The effects of the single calls of MakeMix's batch, each once.
void CheckMixEffects(const QueueImpl& impl, QueueHarness& h, QueueSession& s, const Mix& m) {
  CHECK(PendingOf(s).empty());
  CHECK(StateOf(s.TakeLease("k1", "c2 9-0", Millis(60000))) == LeaseState::kAlreadyDone);
  const LeaseState retried = impl.caps.schedules ? LeaseState::kAcquired : LeaseState::kBusy;
  CHECK(StateOf(s.TakeLease("k2", "c2 9-0", Millis(60000))) == retried);
  REQUIRE(s.ReleaseLease("k2", "c2 9-0").ok());
  CHECK(StateOf(s.TakeLease("k3", "c2 9-0", Millis(60000))) == LeaseState::kAcquired);
  REQUIRE(s.ReleaseLease("k3", "c2 9-0").ok());
  CHECK(StateOf(s.TakeLease("k5", "c2 9-0", Millis(60000))) == LeaseState::kBusy);
  if (auto st = h.EventStatus("e1")) CHECK(*st == "done");
  if (auto st = h.EventStatus("e2")) CHECK(*st == "retrying");
  if (auto st = h.EventStatus("e3")) CHECK(*st == "failed");
  if (auto st = h.EventStatus("e4")) CHECK(*st == "duplicate");
  if (auto st = h.EventStatus("e5")) CHECK(*st == "");  // a deferral is no attempt
  if (auto n = h.DeadLetters()) CHECK(*n == 1);
  if (auto n = h.Outcomes("done")) CHECK(*n == 2);  // e0 and e1
  if (auto n = h.Outcomes("retry")) CHECK(*n == 1);
  if (auto n = h.Outcomes("failed")) CHECK(*n == 1);
  if (auto n = h.Outcomes("duplicate")) CHECK(*n == 1);

  // At their due time the retry and the deferral come back, once each. (Without
  // `schedules` the deferral waits for k5's release, not for a time.)
  REQUIRE(s.ReleaseLease("k5", "other 1-0").ok());
  const UnixMillis now = h.Now();
  if (now <= m.due) h.Wait(Millis(m.due - now + 50));
  CHECK(MoveAllDue(s) == (impl.caps.schedules ? 2 : 0));
  std::vector<std::string> raws = Raws(ReceiveUpTo(s, 3));
  std::sort(raws.begin(), raws.end());
  std::vector<std::string> want = {m.next_raw, m.deferred_raw};
  std::sort(want.begin(), want.end());
  CHECK(raws == want);
  CHECK(MoveAllDue(s) == 0);
}

}  // namespace

TEST_CASE(
    "FinishAll of done, retry, dead, duplicate and defer answers OK for each "
    "and has exactly the single calls' effects",
    "[contract]") {
  FOR_EACH_QUEUE(impl, nullptr) {
    std::unique_ptr<QueueHarness> h = impl.make();
    auto s = h->queue().OpenSession();
    REQUIRE(s->EnsureGroup().ok());
    Mix m = MakeMix(*h, *s);
    std::vector<Status> out;
    s->FinishAll(m.calls, &out);
    RequireAllOk(out, m.calls.size());
    CheckMixEffects(impl, *h, *s, m);
  }
}

TEST_CASE(
    "FinishAll repeated after it succeeded only acknowledges: no second dead "
    "letter, retry or outcome",
    "[contract]") {
  FOR_EACH_QUEUE(impl, nullptr) {
    std::unique_ptr<QueueHarness> h = impl.make();
    auto s = h->queue().OpenSession();
    REQUIRE(s->EnsureGroup().ok());
    Mix m = MakeMix(*h, *s);
    std::vector<Status> out;
    s->FinishAll(m.calls, &out);
    RequireAllOk(out, m.calls.size());
    s->FinishAll(m.calls, &out);  // a repeat after a lost reply
    RequireAllOk(out, m.calls.size());
    CheckMixEffects(impl, *h, *s, m);
  }
}

TEST_CASE("FinishAll decides each call on its own: one that fails leaves the others made",
          "[contract]") {
  FOR_EACH_QUEUE(impl, nullptr) {
    std::unique_ptr<QueueHarness> h = impl.make();
    auto s = h->queue().OpenSession();
    REQUIRE(s->EnsureGroup().ok());
    AttemptEnd a = PublishAndStart(*h, *s, "e1", "k1");
    AttemptEnd b = PublishAndStart(*h, *s, "e2", "k2");
    AttemptEnd bogus;  // no such delivery: an error of this call alone
    bogus.delivery_id = "no-such-entry";
    std::vector<FinishCall> calls = {Call(FinishCall::Kind::kDone, a),
                                     Call(FinishCall::Kind::kDuplicate, bogus),
                                     Call(FinishCall::Kind::kDone, b)};
    std::vector<Status> out;
    s->FinishAll(calls, &out);
    REQUIRE(out.size() == 3);
    CHECK(out[0].ok());
    CHECK_FALSE(out[1].ok());
    CHECK(out[2].ok());
    CHECK(PendingOf(*s).empty());
    CHECK(StateOf(s->TakeLease("k1", "c2 9-0", Millis(60000))) == LeaseState::kAlreadyDone);
    CHECK(StateOf(s->TakeLease("k2", "c2 9-0", Millis(60000))) == LeaseState::kAlreadyDone);
    if (auto n = h->Outcomes("done")) CHECK(*n == 2);
  }
}

TEST_CASE("StartAttempts acquires N fresh deliveries, each with its first start", "[contract]") {
  FOR_EACH_QUEUE(impl, nullptr) {
    std::unique_ptr<QueueHarness> h = impl.make();
    auto s = h->queue().OpenSession();
    REQUIRE(s->EnsureGroup().ok());
    std::vector<AttemptEnd> attempts;
    for (int i = 0; i < 5; ++i) {
      const std::string n = std::to_string(i);
      attempts.push_back(PublishOne(*h, *s, "e" + n, "k" + n));
    }
    std::vector<Result<Lease>> out;
    s->StartAttempts(attempts, Millis(60000), 3, &out);
    REQUIRE(out.size() == attempts.size());
    for (std::size_t i = 0; i < out.size(); ++i) {
      CHECK(StateOf(out[i]) == LeaseState::kAcquired);
      if (impl.caps.counts_starts) CHECK(out[i]->starts == 1);
      if (auto st = h->EventStatus(attempts[i].event_id)) CHECK(*st == "running");
      CHECK(StateOf(s->TakeLease(attempts[i].idempotency_key, "c2 9-0", Millis(60000))) ==
            LeaseState::kBusy);
    }
    std::vector<FinishCall> calls;
    for (const AttemptEnd& a : attempts) calls.push_back(Call(FinishCall::Kind::kDone, a));
    std::vector<Status> done;
    s->FinishAll(calls, &done);
    RequireAllOk(done, calls.size());
    CHECK(PendingOf(*s).empty());
    if (auto n = h->Outcomes("done")) CHECK(*n == 5);
  }
}

TEST_CASE(
    "StartAttempts of two deliveries with the same key in one batch: the first "
    "acquires, the second is busy",
    "[contract]") {
  FOR_EACH_QUEUE(impl, nullptr) {
    std::unique_ptr<QueueHarness> h = impl.make();
    auto s = h->queue().OpenSession();
    REQUIRE(s->EnsureGroup().ok());
    AttemptEnd first = PublishOne(*h, *s, "e1", "k");
    AttemptEnd second = PublishOne(*h, *s, "e2", "k");
    AttemptEnd other = PublishOne(*h, *s, "e3", "k3");
    std::vector<Result<Lease>> out;
    s->StartAttempts({first, second, other}, Millis(60000), 0, &out);
    REQUIRE(out.size() == 3);
    CHECK(StateOf(out[0]) == LeaseState::kAcquired);
    CHECK(StateOf(out[1]) == LeaseState::kBusy);
    if (impl.caps.leases_expire) CHECK(out[1]->remaining.count() > 50000);
    CHECK(StateOf(out[2]) == LeaseState::kAcquired);
    if (auto st = h->EventStatus("e1")) CHECK(*st == "running");
    if (auto st = h->EventStatus("e2")) CHECK(*st == "");  // refused: nothing recorded
    // The lease is the first one's: its release frees the key for the second.
    REQUIRE(s->ReleaseLease("k", first.lease_owner).ok());
    Result<Lease> l = s->StartAttempt(second, Millis(60000), 0);
    CHECK(StateOf(l) == LeaseState::kAcquired);
    if (impl.caps.counts_starts) CHECK(l->starts == 1);  // the refused one counted nothing
  }
}

TEST_CASE(
    "StartAttempts says kFinished, kAlreadyDone and kPoison as StartAttempt "
    "does, in one batch",
    "[contract]") {
  FOR_EACH_QUEUE(impl, &QueueCaps::counts_starts) {
    std::unique_ptr<QueueHarness> h = impl.make();
    Queue& q = h->queue();
    auto s = q.OpenSession();
    REQUIRE(s->EnsureGroup().ok());
    AttemptEnd finished = PublishAndStart(*h, *s, "e1", "k1");
    REQUIRE(s->FinishDone(finished).ok());
    finished.lease_owner = "c2 " + finished.delivery_id;  // handed out again
    AttemptEnd duplicate = PublishOne(*h, *s, "e2", "k1");
    AttemptEnd poison = PublishOne(*h, *s, "e3", "k3");
    for (int i = 1; i <= 2; ++i) {
      REQUIRE(StateOf(s->StartAttempt(poison, Millis(60000), 2)) == LeaseState::kAcquired);
    }
    REQUIRE(s->ReleaseLease("k3", poison.lease_owner).ok());
    AttemptEnd fresh = PublishOne(*h, *s, "e4", "k4");

    std::vector<Result<Lease>> out;
    s->StartAttempts({finished, duplicate, poison, fresh}, Millis(60000), 2, &out);
    REQUIRE(out.size() == 4);
    CHECK(StateOf(out[0]) == LeaseState::kFinished);
    CHECK(StateOf(out[1]) == LeaseState::kAlreadyDone);
    CHECK(StateOf(out[2]) == LeaseState::kPoison);
    CHECK(out[2]->starts == 2);
    CHECK(StateOf(out[3]) == LeaseState::kAcquired);
    CHECK(out[3]->starts == 1);
    if (auto st = h->EventStatus("e1")) CHECK(*st == "done");  // nothing recorded again
    // kPoison took no lease and counted nothing.
    CHECK(StateOf(s->TakeLease("k3", "c2 9-0", Millis(60000))) == LeaseState::kAcquired);
    REQUIRE(s->ReleaseLease("k3", "c2 9-0").ok());
    CHECK(StateOf(s->StartAttempt(poison, Millis(60000), 3)) == LeaseState::kAcquired);
    CHECK(StateOf(s->StartAttempt(poison, Millis(60000), 3)) == LeaseState::kPoison);
  }
}

TEST_CASE(
    "Abandon of an attempt whose handler never started takes its start back, "
    "once, and one that ran keeps it",
    "[contract]") {
  FOR_EACH_QUEUE(impl, nullptr) {
    std::unique_ptr<QueueHarness> h = impl.make();
    auto s = h->queue().OpenSession();
    REQUIRE(s->EnsureGroup().ok());
    AttemptEnd a = PublishOne(*h, *s, "e1", "k1");
    a.ran = false;
    // Cancelled before the handler started, again and again: never poison.
    for (int i = 0; i < 5; ++i) {
      Result<Lease> l = s->StartAttempt(a, Millis(60000), 2);
      REQUIRE(StateOf(l) == LeaseState::kAcquired);
      if (impl.caps.counts_starts) CHECK(l->starts == 1);
      REQUIRE(s->Abandon(a).ok());
      // The lease is given back.
      CHECK(StateOf(s->TakeLease("k1", "c2 9-0", Millis(60000))) == LeaseState::kAcquired);
      REQUIRE(s->ReleaseLease("k1", "c2 9-0").ok());
    }
    if (!impl.caps.counts_starts) continue;

    // A start that ran stays counted; a repeated Abandon takes back one start only.
    Result<Lease> l = s->StartAttempt(a, Millis(60000), 3);
    REQUIRE(StateOf(l) == LeaseState::kAcquired);
    CHECK(l->starts == 1);
    a.ran = true;
    REQUIRE(s->Abandon(a).ok());
    l = s->StartAttempt(a, Millis(60000), 3);
    REQUIRE(StateOf(l) == LeaseState::kAcquired);
    CHECK(l->starts == 2);
    a.ran = false;
    REQUIRE(s->Abandon(a).ok());
    REQUIRE(s->Abandon(a).ok());  // a repeat: the lease is gone, nothing more taken back
    l = s->StartAttempt(a, Millis(60000), 3);
    REQUIRE(StateOf(l) == LeaseState::kAcquired);
    CHECK(l->starts == 2);
    a.ran = true;
    REQUIRE(s->Abandon(a).ok());
    l = s->StartAttempt(a, Millis(60000), 3);
    REQUIRE(StateOf(l) == LeaseState::kAcquired);
    CHECK(l->starts == 3);
    a.ran = true;
    REQUIRE(s->Abandon(a).ok());
    l = s->StartAttempt(a, Millis(60000), 3);
    CHECK(StateOf(l) == LeaseState::kPoison);
    CHECK(l->starts == 3);
  }
}

}  // namespace evt::contract
