#include "evt/replay.h"

#include <unistd.h>

#include <catch2/catch.hpp>

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

Run Replay(FakeAdmin& source, FakeAdmin* target, const evt::ReplayOptions& o, evt::Clock& clock,
           const evt::RecordFilter& f = {}) {
  Run r;
  int fd = evt::testing::FdWith("");
  r.status = evt::RunReplay(source, target, f, o, clock, fd, &r.summary);
  r.out = evt::testing::ReadFd(fd);
  ::close(fd);
  return r;
}

evt::Json Parsed(const std::string& text) { return *evt::ParseJson(text); }

}  // namespace

TEST_CASE("dead letters go back to their queue with retries reset, done keys are skipped",
          "[replay]") {
  evt::testing::FakeClock clock;
  FakeAdmin q;
  q.AddDead("billing.invoice");
  q.AddDead("billing.invoice");
  q.AddDead("billing.invoice");
  q.done.insert("evt_2");  // a later copy of event 2 already completed
  evt::ReplayOptions o;
  o.replay_id = "rpl_T";
  Run r = Replay(q, &q, o, clock);
  REQUIRE(r.status.ok());
  CHECK(r.summary.replayed == 2);
  CHECK(r.summary.skipped == 1);
  CHECK(r.summary.failed == 0);
  CHECK(r.out == "evt_1\nevt_3\n");  // the ids of what was replayed
  REQUIRE(q.moved_to.size() == 2);
  for (const auto& [queue, text] : q.moved_to) {
    CHECK(queue == "default");
    evt::Json ev = Parsed(text);
    CHECK(ev["retry_count"] == 0);
    CHECK(ev["replay_id"] == "rpl_T");
  }
  REQUIRE(q.dead.size() == 1);  // the skipped one stays a dead letter
  CHECK(q.dead[0].id == "2-0");
  REQUIRE(q.audit.size() == 1);  // one record, although source and target are one queue
  CHECK(q.audit[0].action == "replay");
  CHECK(q.audit[0].id == "rpl_T");
  CHECK(q.audit[0].count == 2);
  CHECK(q.audit[0].skipped == 1);
  CHECK(q.audit[0].target == "queue:default");
}

TEST_CASE("replay: --force replays done keys under a derived key", "[replay]") {
  evt::testing::FakeClock clock;
  FakeAdmin q;
  q.AddDead("a.b");
  q.AddDead("a.b");
  q.done.insert("evt_2");
  evt::ReplayOptions o;
  o.replay_id = "rpl_F";
  o.force = true;
  Run r = Replay(q, &q, o, clock);
  REQUIRE(r.status.ok());
  CHECK(r.summary.replayed == 2);
  CHECK(r.summary.forced == 1);
  REQUIRE(q.moved_to.size() == 2);
  CHECK(Parsed(q.moved_to[0].second)["idempotency_key"] == "evt_1");  // not done: unchanged
  CHECK(Parsed(q.moved_to[1].second)["idempotency_key"] == "evt_2#replay-rpl_F");
  CHECK(q.audit.at(0).note == "--force");
}

TEST_CASE("replay: --dry-run lists the plan, marks done keys and changes nothing", "[replay]") {
  evt::testing::FakeClock clock;
  FakeAdmin q;
  q.AddDead("a.b");
  q.AddDead("a.b");
  q.done.insert("evt_2");
  evt::ReplayOptions o;
  o.dry_run = true;
  Run r = Replay(q, &q, o, clock);
  REQUIRE(r.status.ok());
  CHECK(r.summary.replayed == 1);
  CHECK(r.summary.skipped == 1);
  CHECK_THAT(r.out, Catch::Contains("replay  1-0  evt_1  a.b"));
  CHECK_THAT(r.out, Catch::Contains("skip    2-0  evt_2  a.b  key evt_2 is done"));
  CHECK(q.dead.size() == 2);
  CHECK(q.moved_to.empty());
  CHECK(q.audit.empty());
}

TEST_CASE("replay: --keep copies and leaves the dead letters, --keep-retries keeps the count",
          "[replay]") {
  evt::testing::FakeClock clock;
  FakeAdmin q;
  q.AddDead("a.b", 4);
  evt::ReplayOptions o;
  o.keep = true;
  o.keep_retries = true;
  o.to_queue = "other";
  Run r = Replay(q, &q, o, clock);
  REQUIRE(r.status.ok());
  CHECK(q.dead.size() == 1);
  REQUIRE(q.moved_to.size() == 1);
  CHECK(q.moved_to[0].first == "other");
  CHECK(Parsed(q.moved_to[0].second)["retry_count"] == 4);
}

TEST_CASE("replay: --to - writes the events to stdout and leaves the dead letters", "[replay]") {
  evt::testing::FakeClock clock;
  FakeAdmin q;
  q.AddDead("a.b");
  q.AddDead("c.d");
  evt::ReplayOptions o;
  o.to_stdout = true;
  evt::RecordFilter f;
  f.type_glob = "c.*";
  Run r = Replay(q, nullptr, o, clock, f);
  REQUIRE(r.status.ok());
  CHECK(r.summary.replayed == 1);
  evt::Json ev = Parsed(r.out.substr(0, r.out.find('\n')));
  CHECK(ev["event_type"] == "c.d");
  CHECK(ev["retry_count"] == 0);
  CHECK(q.dead.size() == 2);
  CHECK(q.audit.at(0).target == "stdout");
}

TEST_CASE("replay: --rate paces the writes on the clock", "[replay][rate]") {
  evt::testing::FakeClock clock;
  FakeAdmin q;
  for (int i = 0; i < 5; ++i) q.AddDead("a.b");
  evt::ReplayOptions o;
  o.rate = 10;
  const auto start = clock.SteadyMillis();
  Run r = Replay(q, &q, o, clock);
  REQUIRE(r.status.ok());
  CHECK(r.summary.replayed == 5);
  CHECK(clock.SteadyMillis() - start == 400);  // the first at once, then one per 100 ms
}

TEST_CASE("history from the stream is copied into the target queue", "[replay]") {
  evt::testing::FakeClock clock;
  FakeAdmin q;
  q.history.push_back({"1-0", evt::Json{{"event_id", "e1"}, {"event_type", "a.b"}}, ""});
  q.history.push_back({"2-0", evt::Json(), "not json"});
  evt::ReplayOptions o;
  o.source = evt::ReplayOptions::Source::kStream;
  Run r = Replay(q, &q, o, clock);
  REQUIRE(r.status.ok());
  CHECK(r.summary.replayed == 1);
  CHECK(r.summary.skipped == 1);  // not an event
  CHECK(q.stream.size() == 1);
}

TEST_CASE("a store failure stops the run, says how far it got, and is audited", "[replay]") {
  evt::testing::FakeClock clock;
  FakeAdmin q;
  q.AddDead("a.b");
  q.AddDead("a.b");
  q.fail_writes = evt::Status::Unavailable("redis down");
  evt::ReplayOptions o;
  Run r = Replay(q, &q, o, clock);
  CHECK(r.status.kind() == evt::Status::Kind::kUnavailable);
  CHECK_THAT(r.status.message(), Catch::Contains("stopped after replaying 0 of 2 events"));
  CHECK(r.summary.failed == 1);
  CHECK(q.dead.size() == 2);
  CHECK(q.audit.size() == 1);
}

TEST_CASE("an event that cannot be rewritten fails alone, the others go", "[replay]") {
  evt::testing::FakeClock clock;
  FakeAdmin q;
  q.AddDead("a.b");
  q.AddDead("a.b");
  q.dead[0].letter.event["event_type"] = "Bad Type";
  evt::ReplayOptions o;
  Run r = Replay(q, &q, o, clock);
  CHECK(r.status.kind() == evt::Status::Kind::kInvalidArgument);
  CHECK(r.summary.replayed == 1);
  CHECK(r.summary.failed == 1);
}

TEST_CASE("without a target and without --to - there is nothing to replay into", "[replay]") {
  evt::testing::FakeClock clock;
  FakeAdmin q;
  evt::ReplayOptions o;
  CHECK(Replay(q, nullptr, o, clock).status.kind() == evt::Status::Kind::kUsage);
}

TEST_CASE("from the stream, each event is replayed once: not its retries nor earlier replays",
          "[replay]") {
  evt::testing::FakeClock clock;
  FakeAdmin q;
  q.history.push_back({"1-0", evt::Json{{"event_id", "e1"}, {"event_type", "a.b"}}, ""});
  q.history.push_back(
      {"2-0", evt::Json{{"event_id", "e1"}, {"event_type", "a.b"}, {"retry_count", 1}}, ""});
  q.history.push_back({"3-0", evt::Json{{"event_id", "e2"}, {"event_type", "a.b"}}, ""});
  evt::ReplayOptions o;
  o.source = evt::ReplayOptions::Source::kStream;
  Run r = Replay(q, &q, o, clock);
  REQUIRE(r.status.ok());
  CHECK(r.summary.replayed == 2);
  CHECK(r.out == "e1\ne2\n");
}
