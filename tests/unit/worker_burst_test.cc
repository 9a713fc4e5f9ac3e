// BurstDrained: when an `evt-work --burst` run ends, without a queue or a clock.
#include <catch2/catch.hpp>

#include "evt/broker.h"
#include "evt/worker.h"
#include "evt/worker_rules.h"

namespace {

// A look that found the loop idle and quiet, started at 1000 with no wait.
evt::BurstFacts Idle() {
  evt::BurstFacts f;
  f.received_nothing = true;
  f.quiet = true;
  f.started_at = 1000;
  return f;
}

}  // namespace

TEST_CASE("burst: an idle, quiet loop with nothing scheduled is drained") {
  CHECK(evt::BurstDrained(Idle()));
}

TEST_CASE("burst: not drained while anything is received, held, running or uncommitted") {
  evt::BurstFacts f = Idle();
  f.received_nothing = false;
  CHECK_FALSE(evt::BurstDrained(f));
  f = Idle();
  f.quiet = false;  // another thread received or finished an entry during the look
  CHECK_FALSE(evt::BurstDrained(f));
  f = Idle();
  f.busy = 1;
  CHECK_FALSE(evt::BurstDrained(f));
  f = Idle();
  f.commits_waiting = 1;
  CHECK_FALSE(evt::BurstDrained(f));
}

TEST_CASE("burst: a scheduled event due by start + max_wait is waited for") {
  evt::BurstFacts f = Idle();
  f.max_wait = evt::Millis(5000);
  f.next_due = 500;  // due before the run started (left by an earlier run): due work
  CHECK_FALSE(evt::BurstDrained(f));
  f.next_due = 6000;  // exactly at the end of the wait
  CHECK_FALSE(evt::BurstDrained(f));
  f.next_due = 6001;  // after it: left for the next run
  CHECK(evt::BurstDrained(f));
}

TEST_CASE("burst: with no wait, only events already due at the start are waited for") {
  evt::BurstFacts f = Idle();
  f.next_due = 1000;
  CHECK_FALSE(evt::BurstDrained(f));
  f.next_due = 1001;
  CHECK(evt::BurstDrained(f));
}

TEST_CASE("burst: --burst is refused on the stdio transport, and the wait needs --burst") {
  evt::BrokerConfig stdio;  // the default broker: "-", standard input
  REQUIRE_FALSE(stdio.is_durable());
  evt::WorkerOptions o;
  o.burst = true;
  evt::Status s = evt::ValidateBurst(stdio, o);
  CHECK(s.kind() == evt::Status::Kind::kUsage);
  CHECK(s.message().find("--burst") != std::string::npos);
  o.burst = false;
  o.burst_max_wait = evt::Millis(5000);
  CHECK(evt::ValidateBurst(stdio, o).kind() == evt::Status::Kind::kUsage);
  o.burst_max_wait = evt::Millis(0);
  CHECK(evt::ValidateBurst(stdio, o).ok());
}

TEST_CASE("burst: accepted on a durable broker, a negative wait is refused") {
  evt::Result<evt::BrokerConfig> redis = evt::ParseBrokerUrl("redis://127.0.0.1:6379");
  REQUIRE(redis.ok());
  evt::WorkerOptions o;
  o.burst = true;
  o.burst_max_wait = evt::Millis(5000);
  CHECK(evt::ValidateBurst(*redis, o).ok());
  o.burst_max_wait = evt::Millis(-1);
  CHECK(evt::ValidateBurst(*redis, o).kind() == evt::Status::Kind::kUsage);
}
