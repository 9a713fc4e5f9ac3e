#include <catch2/catch.hpp>

#include "evt/queue_admin.h"

namespace {

evt::DeadLetterRecord Letter(const std::string& id, const std::string& type,
                             evt::UnixMillis failed_at, evt::Category c, evt::DeadReason r) {
  evt::DeadLetterRecord rec;
  rec.id = id;
  rec.letter.event = evt::Json{{"event_id", "evt_" + id}, {"event_type", type}};
  rec.letter.failed_at = failed_at;
  rec.letter.category = c;
  rec.letter.reason = r;
  return rec;
}

}  // namespace

TEST_CASE("every set field of a filter must match", "[admin]") {
  const auto rec = Letter("7", "billing.invoice.created", 5000, evt::Category::kDependency,
                          evt::DeadReason::kRetriesExhausted);
  evt::RecordFilter f;
  CHECK(evt::RecordMatches(f, rec));
  f.type_glob = "billing.*";
  CHECK(evt::RecordMatches(f, rec));
  f.type_glob = "billing.*.paid";
  CHECK_FALSE(evt::RecordMatches(f, rec));
  f.type_glob.clear();
  f.since = 5000;  // inclusive
  CHECK(evt::RecordMatches(f, rec));
  f.until = 5000;  // exclusive
  CHECK_FALSE(evt::RecordMatches(f, rec));
  f.until = 5001;
  CHECK(evt::RecordMatches(f, rec));
  f.category = "dependency";
  f.reason = "retries_exhausted";
  CHECK(evt::RecordMatches(f, rec));
  f.reason = "permanent";
  CHECK_FALSE(evt::RecordMatches(f, rec));
  f.reason.clear();
  f.ids = {"8", "evt_7"};  // the event_id matches as well as the record id
  CHECK(evt::RecordMatches(f, rec));
  f.ids = {"8"};
  CHECK_FALSE(evt::RecordMatches(f, rec));
}

TEST_CASE("a dead-letter line reads back what SerializeDeadLetter wrote", "[admin]") {
  evt::DeadLetter d;
  d.reason = evt::DeadReason::kPoison;
  d.category = evt::Category::kCrash;
  d.error = "killed by SIGSEGV";
  d.attempts = 6;
  d.failed_at = 1772168100000;
  d.consumer = "host:1";
  d.line = 3;
  d.event = evt::Json{{"event_id", "evt_1"}, {"event_type", "a.b"}, {"retry_count", 5}};
  evt::Result<evt::DeadLetterRecord> r =
      evt::DeadLetterFromJson(*evt::ParseJson(evt::SerializeDeadLetter(d)));
  REQUIRE(r.ok());
  CHECK_FALSE(r->plain_event);
  CHECK(r->letter.reason == d.reason);
  CHECK(r->letter.category == d.category);
  CHECK(r->letter.error == d.error);
  CHECK(r->letter.attempts == 6);
  CHECK(r->letter.failed_at == d.failed_at);
  CHECK(r->letter.consumer == "host:1");
  CHECK(r->letter.line == 3);
  CHECK(r->event_id() == "evt_1");
  CHECK(r->event_type() == "a.b");
  CHECK(evt::SerializeDeadLetter(r->letter) == evt::SerializeDeadLetter(d));
}

TEST_CASE("a plain event line is a record whose time is occurred_at", "[admin]") {
  evt::Result<evt::DeadLetterRecord> r = evt::DeadLetterFromJson(
      evt::Json{{"event_type", "a.b"}, {"occurred_at", "2026-02-27T04:55:00.000Z"}});
  REQUIRE(r.ok());
  CHECK(r->plain_event);
  CHECK(r->time() == 1772168100000);
  evt::RecordFilter f;
  f.category = "data";  // a plain event has no category
  CHECK_FALSE(evt::RecordMatches(f, *r));
}

TEST_CASE("a line that is neither a dead letter nor an event is refused by name", "[admin]") {
  CHECK_THAT(evt::DeadLetterFromJson(evt::Json{{"x", 1}}).status().message(),
             Catch::Contains("neither a dead-letter record"));
  CHECK_THAT(evt::DeadLetterFromJson(evt::Json{{"failed_at", "yesterday"}, {"event", {}}})
                 .status()
                 .message(),
             Catch::Contains("failed_at"));
  CHECK_FALSE(evt::DeadLetterFromJson(evt::Json::array()).ok());
}

TEST_CASE("history entries match on type, occurred_at and ids, never on category", "[admin]") {
  evt::HistoryRecord h;
  h.id = "1-0";
  h.event = evt::Json{
      {"event_id", "evt_9"}, {"event_type", "a.b"}, {"occurred_at", "2026-02-27T04:55:00Z"}};
  evt::RecordFilter f;
  f.since = 1772168100000;
  f.type_glob = "a.*";
  f.ids = {"evt_9"};
  CHECK(evt::HistoryMatches(f, h));
  f.since = 1772168100001;
  CHECK_FALSE(evt::HistoryMatches(f, h));
  f.since.reset();
  f.category = "data";
  CHECK_FALSE(evt::HistoryMatches(f, h));
}
