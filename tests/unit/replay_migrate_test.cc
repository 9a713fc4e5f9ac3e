// evt-replay into another store (--to URL, the migration path): done keys of both stores
// count, dead letters are copied then purged (no atomic move spans two stores), and the
// audit record, written on both, names the target's store.
#include <unistd.h>

#include <catch2/catch.hpp>

#include "evt/replay.h"
#include "fake_admin.h"
#include "fake_clock.h"
#include "temp_fd.h"

using evt::testing::FakeAdmin;

namespace {

struct Run {
  evt::Status status;
  evt::ReplaySummary summary;
  std::string out;
};

Run Replay(FakeAdmin& source, FakeAdmin* target, const evt::ReplayOptions& o) {
  evt::testing::FakeClock clock;
  Run r;
  int fd = evt::testing::FdWith("");
  r.status = evt::RunReplay(source, target, {}, o, clock, fd, &r.summary);
  r.out = evt::testing::ReadFd(fd);
  ::close(fd);
  return r;
}

evt::ReplayOptions Migration(const std::string& store = "redis://127.0.0.1:6379") {
  evt::ReplayOptions o;
  o.replay_id = "rpl_M";
  o.other_store = true;
  o.target_store = store;
  return o;
}

// A source whose purge fails: the step after the copy into the target.
class PurgeFails : public FakeAdmin {
 public:
  evt::Result<std::int64_t> PurgeDeadLetters(const std::vector<std::string>&) override {
    return evt::Status::Unavailable("sqlite: disk I/O error");
  }
};

}  // namespace

TEST_CASE("migration: a key done on either store is done", "[replay][migrate]") {
  FakeAdmin source, target;
  source.done.insert("a");
  target.done.insert("b");
  const std::vector<std::string> keys = {"a", "b", "c"};
  auto both = evt::ReplayDoneKeys(source, &target, /*other_store=*/true, keys);
  REQUIRE(both.ok());
  CHECK(*both == std::vector<bool>{true, true, false});
  // One store (another queue of it): the target's done records decide, as before.
  auto one = evt::ReplayDoneKeys(source, &target, /*other_store=*/false, keys);
  REQUIRE(one.ok());
  CHECK(*one == std::vector<bool>{false, true, false});
  // --to -: no target; the source's.
  auto out = evt::ReplayDoneKeys(source, nullptr, /*other_store=*/false, keys);
  REQUIRE(out.ok());
  CHECK(*out == std::vector<bool>{true, false, false});
}

TEST_CASE("migration: dead letters are copied to the other store, then purged from the source",
          "[replay][migrate]") {
  FakeAdmin source, target;
  source.AddDead("a.b", 3);
  source.AddDead("a.b", 3);
  source.AddDead("a.b", 3);
  source.done.insert("evt_2");  // ran on the old store: must not run again on the new one
  target.done.insert("evt_3");
  Run r = Replay(source, &target, Migration());
  REQUIRE(r.status.ok());
  CHECK(r.summary.replayed == 1);
  CHECK(r.summary.skipped == 2);
  CHECK(r.out == "evt_1\n");
  REQUIRE(target.stream.size() == 1);  // Enqueue on the target, not a move inside the source
  CHECK(source.moved_to.empty());
  evt::Json ev = *evt::ParseJson(target.stream[0]);
  CHECK(ev["event_id"] == "evt_1");
  CHECK(ev["retry_count"] == 0);
  CHECK(ev["replay_id"] == "rpl_M");
  REQUIRE(source.dead.size() == 2);  // the copied one is gone; the done ones stay
  CHECK(source.dead[0].id == "2-0");
  CHECK(source.dead[1].id == "3-0");
  // The audit record on both stores, naming the target's store and queue.
  REQUIRE(source.audit.size() == 1);
  REQUIRE(target.audit.size() == 1);
  CHECK(source.audit[0].target == "redis://127.0.0.1:6379 queue:default");
  CHECK(target.audit[0].target == "redis://127.0.0.1:6379 queue:default");
  CHECK(target.audit[0].count == 1);
}

TEST_CASE("migration: --keep copies the dead letters and leaves them in the source",
          "[replay][migrate]") {
  FakeAdmin source, target;
  source.AddDead("a.b");
  evt::ReplayOptions o = Migration();
  o.keep = true;
  o.to_queue = "billing";
  Run r = Replay(source, &target, o);
  REQUIRE(r.status.ok());
  CHECK(target.stream.size() == 1);
  CHECK(source.dead.size() == 1);
  CHECK(target.audit.at(0).target == "redis://127.0.0.1:6379 queue:billing");
}

TEST_CASE("migration: a failed copy leaves the dead letter in the source", "[replay][migrate]") {
  FakeAdmin source, target;
  source.AddDead("a.b");
  target.fail_writes = evt::Status::Unavailable("redis down");
  Run r = Replay(source, &target, Migration());
  CHECK(r.status.kind() == evt::Status::Kind::kUnavailable);
  CHECK_THAT(r.status.message(), Catch::Contains("stopped after replaying 0 of 1 events"));
  CHECK(r.summary.failed == 1);
  CHECK(source.dead.size() == 1);
}

TEST_CASE("migration: a purge that fails after the copy stops the run and says so",
          "[replay][migrate]") {
  PurgeFails source;
  FakeAdmin target;
  source.AddDead("a.b");
  source.AddDead("a.b");
  Run r = Replay(source, &target, Migration());
  CHECK(r.status.kind() == evt::Status::Kind::kUnavailable);
  CHECK_THAT(r.status.message(), Catch::Contains("stopped after replaying 1 of 2 events"));
  CHECK_THAT(r.status.message(), Catch::Contains("dead letter 1-0 was copied but is still in"));
  CHECK(r.summary.replayed == 1);    // it is in the target
  CHECK(target.stream.size() == 1);  // and the run stopped there
  CHECK(source.dead.size() == 2);    // a rerun copies 1-0 again: same key, a duplicate
  CHECK(r.out == "evt_1\n");
}

TEST_CASE("migration: history done on the old store is not run again on the new one",
          "[replay][migrate]") {
  FakeAdmin source, target;
  source.history.push_back(
      {"1-0", evt::Json{{"event_id", "e1"}, {"event_type", "a.b"}, {"idempotency_key", "k1"}}, ""});
  source.history.push_back(
      {"2-0", evt::Json{{"event_id", "e2"}, {"event_type", "a.b"}, {"idempotency_key", "k2"}}, ""});
  source.done.insert("k1");
  evt::ReplayOptions o = Migration("sqlite:///var/lib/evt/evt.db");
  o.source = evt::ReplayOptions::Source::kStream;
  Run r = Replay(source, &target, o);
  REQUIRE(r.status.ok());
  CHECK(r.summary.replayed == 1);
  CHECK(r.summary.skipped == 1);
  REQUIRE(target.stream.size() == 1);
  CHECK((*evt::ParseJson(target.stream[0]))["event_id"] == "e2");
  CHECK(source.audit.at(0).target == "sqlite:///var/lib/evt/evt.db queue:default");
}

TEST_CASE("migration: --force runs a key done on the old store under a derived key",
          "[replay][migrate]") {
  FakeAdmin source, target;
  source.AddDead("a.b");
  source.done.insert("evt_1");
  evt::ReplayOptions o = Migration();
  o.force = true;
  Run r = Replay(source, &target, o);
  REQUIRE(r.status.ok());
  CHECK(r.summary.forced == 1);
  REQUIRE(target.stream.size() == 1);
  CHECK((*evt::ParseJson(target.stream[0]))["idempotency_key"] == "evt_1#replay-rpl_M");
}
