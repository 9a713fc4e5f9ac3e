// DecideAction: the worker's rules, without a queue, a handler or a clock.
#include "evt/worker_rules.h"

#include <catch2/catch.hpp>

#include "evt/event.h"

namespace {

evt::RuleOptions Rules(int max_retries = 2) {
  evt::RuleOptions o;
  o.retry.backoff_base = evt::Millis(1000);
  o.retry.backoff_max = evt::Millis(60000);
  o.retry.jitter = 0;
  o.retry.max_retries = max_retries;
  o.busy_retry_max = evt::Millis(1000);
  return o;
}

evt::Decision After(const evt::HandlerResult& r, int attempt, const evt::RuleOptions& o = Rules()) {
  std::mt19937_64 rng(1);
  evt::AttemptFacts f;
  f.result = &r;
  f.attempt = attempt;
  return evt::DecideAction(f, o, rng);
}

evt::Decision WithLease(evt::LeaseState state, evt::Millis remaining = evt::Millis(0),
                        std::int64_t starts = 0) {
  std::mt19937_64 rng(1);
  evt::Lease lease;
  lease.state = state;
  lease.remaining = remaining;
  lease.starts = starts;
  evt::AttemptFacts f;
  f.lease = &lease;
  return evt::DecideAction(f, Rules(), rng);
}

evt::HandlerResult Result(evt::Outcome o, evt::Category c = evt::Category::kNone,
                          std::string error = "") {
  evt::HandlerResult r;
  r.outcome = o;
  r.category = c;
  r.error = std::move(error);
  return r;
}

}  // namespace

TEST_CASE("rules: a valid event with no lease yet goes on to take it", "[rules]") {
  std::mt19937_64 rng(1);
  CHECK(evt::DecideAction(evt::AttemptFacts{}, Rules(), rng).action == evt::Action::kRun);
}

TEST_CASE("rules: an entry that is not an event is an invalid data dead letter", "[rules]") {
  std::mt19937_64 rng(1);
  evt::AttemptFacts f;
  f.parse = evt::Status::InvalidArgument("invalid JSON");
  evt::Decision d = evt::DecideAction(f, Rules(), rng);
  CHECK(d.action == evt::Action::kDeadLetter);
  CHECK(d.reason == evt::DeadReason::kInvalid);
  CHECK(d.category == evt::Category::kData);
  CHECK(d.error == "invalid JSON");
}

TEST_CASE("rules: a newer schema_version is a permanent data failure, not invalid", "[rules]") {
  std::mt19937_64 rng(1);
  evt::Result<evt::Event> ev = evt::ParseEvent(
      R"({"event_type":"t.x","schema_version":7,"payload":{}})", evt::EventDefaults{});
  REQUIRE_FALSE(ev.ok());
  REQUIRE(evt::IsNewerSchemaVersion(ev.status()));
  evt::AttemptFacts f;
  f.parse = ev.status();
  evt::Decision d = evt::DecideAction(f, Rules(), rng);
  CHECK(d.action == evt::Action::kDeadLetter);
  CHECK(d.reason == evt::DeadReason::kPermanent);
  CHECK(d.category == evt::Category::kData);
}

TEST_CASE("rules: the lease decides before any handler runs", "[rules]") {
  CHECK(WithLease(evt::LeaseState::kAcquired).action == evt::Action::kRun);
  CHECK(WithLease(evt::LeaseState::kAlreadyDone).action == evt::Action::kDuplicate);
  CHECK(WithLease(evt::LeaseState::kFinished).action == evt::Action::kNone);
  CHECK(WithLease(evt::LeaseState::kRunningElsewhere).action == evt::Action::kNone);
  evt::Decision poison = WithLease(evt::LeaseState::kPoison, evt::Millis(0), 3);
  CHECK(poison.action == evt::Action::kDeadLetter);
  CHECK(poison.reason == evt::DeadReason::kPoison);
  CHECK(poison.category == evt::Category::kCrash);
  CHECK(poison.error.find("started 3 times") != std::string::npos);
}

TEST_CASE("rules: a busy key is deferred for the lease's life, within 50 ms .. busy_retry_max",
          "[rules]") {
  evt::Decision d = WithLease(evt::LeaseState::kBusy, evt::Millis(300));
  CHECK(d.action == evt::Action::kDefer);
  CHECK(d.delay == evt::Millis(300));
  CHECK(WithLease(evt::LeaseState::kBusy, evt::Millis(0)).delay == evt::Millis(50));
  CHECK(WithLease(evt::LeaseState::kBusy, evt::Millis(90000)).delay == evt::Millis(1000));
}

TEST_CASE("rules: done is done, an interrupted attempt is abandoned, whatever it says", "[rules]") {
  CHECK(After(Result(evt::Outcome::kDone), 1).action == evt::Action::kDone);
  evt::HandlerResult r = Result(evt::Outcome::kTransient, evt::Category::kCrash, "killed");
  r.interrupted = true;
  CHECK(After(r, 1).action == evt::Action::kAbandon);
}

TEST_CASE("rules: a transient failure is retried with doubling backoff while retries last",
          "[rules]") {
  evt::HandlerResult r = Result(evt::Outcome::kTransient, evt::Category::kDependency, "exit 75");
  evt::Decision first = After(r, 1);
  CHECK(first.action == evt::Action::kRetry);
  CHECK(first.delay == evt::Millis(1000));
  evt::Decision second = After(r, 2);
  CHECK(second.action == evt::Action::kRetry);
  CHECK(second.delay == evt::Millis(2000));
  evt::Decision spent = After(r, 3);  // max_retries 2: the third failure is the last
  CHECK(spent.action == evt::Action::kDeadLetter);
  CHECK(spent.reason == evt::DeadReason::kRetriesExhausted);
  CHECK(spent.category == evt::Category::kDependency);
  CHECK(spent.error == "exit 75");
  CHECK(After(r, 1, Rules(0)).action == evt::Action::kDeadLetter);
}

TEST_CASE("rules: Retry-After is a floor under the backoff, never a way round it", "[rules]") {
  evt::HandlerResult r = Result(evt::Outcome::kTransient, evt::Category::kDependency, "HTTP 429");
  r.retry_after = evt::Millis(5000);
  CHECK(After(r, 1).delay == evt::Millis(5000));
  r.retry_after = evt::Millis(10);
  CHECK(After(r, 1).delay == evt::Millis(1000));
}

TEST_CASE("rules: a permanent failure is a dead letter at once, retries left or not", "[rules]") {
  evt::Decision d = After(Result(evt::Outcome::kPermanent, evt::Category::kData, "exit 65"), 1);
  CHECK(d.action == evt::Action::kDeadLetter);
  CHECK(d.reason == evt::DeadReason::kPermanent);
  CHECK(d.category == evt::Category::kData);
  CHECK(d.error == "exit 65");
}

TEST_CASE("rules: the handler's result wins over the lease that let it run", "[rules]") {
  std::mt19937_64 rng(1);
  evt::Lease lease;
  evt::HandlerResult r = Result(evt::Outcome::kDone);
  evt::AttemptFacts f;
  f.lease = &lease;
  f.result = &r;
  CHECK(evt::DecideAction(f, Rules(), rng).action == evt::Action::kDone);
  CHECK(evt::ActionName(evt::Action::kDeadLetter) == "dead_letter");
}

TEST_CASE("batch sizer: the first read takes one entry", "[rules]") {
  evt::BatchSizer s(64);
  CHECK(s.next() == 1);
}

TEST_CASE("batch sizer: a quick handler gets up to --batch entries", "[rules]") {
  evt::BatchSizer s(64);
  s.Took(1, std::chrono::microseconds(50));
  CHECK(s.next() == 64);
  evt::BatchSizer small(8);
  small.Took(1, std::chrono::microseconds(50));
  CHECK(small.next() == 8);
}

TEST_CASE("batch sizer: a slow handler gets one entry at a time", "[rules]") {
  evt::BatchSizer s(64);
  s.Took(1, std::chrono::seconds(2));
  CHECK(s.next() == 1);
  s.Took(1, std::chrono::milliseconds(900));
  CHECK(s.next() == 1);
}

TEST_CASE("batch sizer: about 10 ms of handler time per batch", "[rules]") {
  evt::BatchSizer s(64);
  s.Took(4, std::chrono::milliseconds(4));  // 1 ms an entry
  CHECK(s.next() == 10);
}

TEST_CASE("batch sizer: a handler that turns slow shrinks the batch within two batches",
          "[rules]") {
  evt::BatchSizer s(64);
  for (int i = 0; i < 20; ++i) s.Took(64, std::chrono::microseconds(64 * 40));
  REQUIRE(s.next() == 64);
  s.Took(64, std::chrono::seconds(64));  // one second an entry now
  s.Took(1, std::chrono::seconds(1));
  CHECK(s.next() == 1);
}

TEST_CASE("batch sizer: --batch 1 and an empty batch", "[rules]") {
  evt::BatchSizer one(1);
  one.Took(1, std::chrono::microseconds(1));
  CHECK(one.next() == 1);
  evt::BatchSizer s(0);  // below 1: one at a time
  s.Took(0, std::chrono::seconds(5));
  CHECK(s.next() == 1);
}
