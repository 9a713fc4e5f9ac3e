#include <catch2/catch.hpp>

#include "evt/replay.h"

namespace {
const evt::Json kEvent = {{"event_id", "evt_1"},      {"event_type", "a.b"},
                          {"idempotency_key", "k-1"}, {"retry_count", 5},
                          {"correlation_id", "c-1"},  {"payload", {{"x", 1}}}};
}

TEST_CASE("a replayed copy starts with no retries and carries the replay id", "[replay]") {
  evt::Result<evt::Event> ev = evt::RewriteForReplay(kEvent, {"rpl_1", false, false});
  REQUIRE(ev.ok());
  CHECK(ev->retry_count() == 0);
  CHECK(ev->doc["replay_id"] == "rpl_1");
  CHECK(ev->idempotency_key() == "k-1");
  CHECK(ev->event_id() == "evt_1");
  CHECK(ev->correlation_id() == "c-1");
  CHECK(ev->doc["payload"]["x"] == 1);
}

TEST_CASE("replay: --keep-retries keeps retry_count", "[replay]") {
  CHECK(evt::RewriteForReplay(kEvent, {"rpl_1", true, false})->retry_count() == 5);
}

TEST_CASE("replay: --force on a done key derives KEY#replay-REPLAYID", "[replay]") {
  evt::Result<evt::Event> ev = evt::RewriteForReplay(kEvent, {"rpl_9", false, true});
  REQUIRE(ev.ok());
  CHECK(ev->idempotency_key() == "k-1#replay-rpl_9");
  CHECK(evt::DerivedKey("k", "r") == "k#replay-r");
  evt::Json long_key = kEvent;
  long_key["idempotency_key"] = std::string(250, 'k');
  evt::Result<evt::Event> bad = evt::RewriteForReplay(long_key, {"rpl_9", false, true});
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.status().message(), Catch::Contains("over 255 characters"));
}

TEST_CASE("a CloudEvent is replayed in the evt form with its retries reset", "[replay]") {
  evt::Json ce = {
      {"specversion", "1.0"}, {"id", "x1"}, {"source", "s"}, {"type", "a.b"}, {"retrycount", 3}};
  evt::Result<evt::Event> ev = evt::RewriteForReplay(ce, {"rpl_1", false, false});
  REQUIRE(ev.ok());
  CHECK(ev->event_id() == "x1");
  CHECK(ev->retry_count() == 0);
}

TEST_CASE("what is not a valid event is refused with the rule it breaks", "[replay]") {
  evt::Json bad = kEvent;
  bad["event_type"] = "Bad Type";
  CHECK_THAT(evt::RewriteForReplay(bad, {"r", false, false}).status().message(),
             Catch::Contains("event_type"));
  CHECK_FALSE(evt::RewriteForReplay(evt::Json(), {"r", false, false}).ok());
}

TEST_CASE("replay ids are rpl_ and a ULID, new each time", "[replay]") {
  const std::string a = evt::NewReplayId(), b = evt::NewReplayId();
  CHECK(a.rfind("rpl_", 0) == 0);
  CHECK(a.size() == 30);
  CHECK(a != b);
}

TEST_CASE("the summary is one line with the counts and the replay id", "[replay]") {
  evt::ReplaySummary s;
  s.replay_id = "rpl_X";
  s.replayed = 50;
  s.skipped = 2;
  s.failed = 1;
  evt::ReplayOptions o;
  CHECK(evt::FormatReplaySummary(s, o) == "replayed 50, skipped 2, failed 1, replay id rpl_X");
  s.forced = 2;
  o.dry_run = true;
  CHECK(evt::FormatReplaySummary(s, o) ==
        "dry run: would replay 50, skipped 2, failed 1, replay id rpl_X; 2 done key(s) would "
        "run again as KEY#replay-rpl_X; nothing was changed");
}
