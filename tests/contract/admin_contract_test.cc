// The QueueAdmin contract (evt/queue_admin.h) of evt-dlq and evt-replay, for every
// registered durable store (store_impls.h): dead letters read back whole and filtered,
// paged, purged with an audit record, moved in one step (or not at all), done keys, stream
// history, and an absent store.
#include <catch2/catch.hpp>

#include "admin_contract_support.h"

namespace evt::contract {

TEST_CASE(
    "admin: dead letters are read back whole and filtered by type, time, category, "
    "reason, id and limit",
    "[admin][contract]") {
  FOR_EACH_STORE(impl) {
    std::unique_ptr<StoreHarness> h = impl.make();
    const std::string first = h->AddDead(Dead("e1", "billing.invoice", "2026-01-01T00:00:00.000Z"));
    h->AddDead(Dead("e2", "billing.refund", "2026-01-02T00:00:00.000Z", "data", "permanent"));
    h->AddDead(Dead("e3", "mail.send", "2026-01-03T00:00:00.000Z"));
    h->AddDead(Dead("raw", "t.x", "2026-01-04T00:00:00.000Z", "", "invalid", "not json"));
    auto admin = AdminOf(*h);

    Result<std::vector<DeadLetterRecord>> all = admin->ListDeadLetters({});
    REQUIRE(all.ok());
    REQUIRE(all->size() == 4);
    const DeadLetterRecord& r = all->at(0);
    CHECK(r.id == first);
    CHECK(r.event_id() == "e1");
    CHECK(r.event_type() == "billing.invoice");
    CHECK(r.letter.reason == DeadReason::kRetriesExhausted);
    CHECK(r.letter.category == Category::kDependency);
    CHECK(r.letter.error == "exit 75: down");
    CHECK(r.letter.attempts == 6);
    CHECK(r.letter.consumer == "h:1");
    CHECK(r.stream_id == "1-1");
    CHECK(r.letter.failed_at == *ParseRfc3339("2026-01-01T00:00:00Z"));
    CHECK(r.letter.event["retry_count"] == 5);
    CHECK(all->at(3).letter.raw == "not json");

    RecordFilter type;
    type.type_glob = "billing.*";
    CHECK(EventIds(*admin->ListDeadLetters(type)) == std::vector<std::string>{"e1", "e2"});
    RecordFilter window;
    window.since = *ParseRfc3339("2026-01-02T00:00:00Z");
    window.until = *ParseRfc3339("2026-01-03T00:00:00Z");
    CHECK(EventIds(*admin->ListDeadLetters(window)) == std::vector<std::string>{"e2"});
    RecordFilter category;
    category.category = "dependency";
    CHECK(EventIds(*admin->ListDeadLetters(category)) == std::vector<std::string>{"e1", "e3"});
    RecordFilter reason;
    reason.reason = "permanent";
    CHECK(EventIds(*admin->ListDeadLetters(reason)) == std::vector<std::string>{"e2"});
    RecordFilter both;
    both.category = "data";
    both.reason = "permanent";
    CHECK(EventIds(*admin->ListDeadLetters(both)) == std::vector<std::string>{"e2"});
    RecordFilter ids;  // a dead-letter id or an event id
    ids.ids = {"e3", first};
    CHECK(EventIds(*admin->ListDeadLetters(ids)) == std::vector<std::string>{"e1", "e3"});
    RecordFilter limit;
    limit.limit = 2;
    CHECK(admin->ListDeadLetters(limit)->size() == 2);
    // Another queue's dead letters are not this queue's.
    CHECK(AdminOf(*h, "other")->ListDeadLetters({})->empty());
  }
}

TEST_CASE("admin: listing pages through a large dead-letter queue and stops at --limit",
          "[admin][contract]") {
  FOR_EACH_STORE(impl) {
    std::unique_ptr<StoreHarness> h = impl.make();
    for (int i = 0; i < 1203; ++i) {
      h->AddDead(Dead("e" + std::to_string(i), i % 2 ? "a.odd" : "a.even"));
    }
    auto admin = AdminOf(*h);
    CHECK(admin->ListDeadLetters({})->size() == 1203);
    RecordFilter odd;
    odd.type_glob = "a.odd";
    odd.limit = 600;
    Result<std::vector<DeadLetterRecord>> got = admin->ListDeadLetters(odd);
    REQUIRE(got->size() == 600);
    CHECK(got->back().event_id() == "e1199");
  }
}

TEST_CASE("admin: purge deletes the matching dead letters and writes who, when, filters, count",
          "[admin][contract]") {
  FOR_EACH_STORE(impl) {
    std::unique_ptr<StoreHarness> h = impl.make();
    h->AddDead(Dead("e1", "a.b"));
    h->AddDead(Dead("e2", "c.d"));
    h->AddDead(Dead("e3", "c.d"));
    auto admin = AdminOf(*h);
    CHECK(*admin->PurgeDeadLetters({"not-an-id", "1-0", "1-999"}) == 0);
    PurgeOptions o;
    o.yes = true;
    o.filters = "--type 'c.*'";
    o.purge_id = "prg_T";
    RecordFilter cd;
    cd.type_glob = "c.*";
    std::int64_t n = 0;
    REQUIRE(DlqPurge(*admin, cd, o, &n).ok());
    CHECK(n == 2);
    CHECK(h->DeadLetters() == 1);
    std::vector<std::map<std::string, std::string>> audits = h->Audits();
    REQUIRE(audits.size() == 1);
    std::map<std::string, std::string>& a = audits[0];
    CHECK(a["action"] == "purge");
    CHECK(a["id"] == "prg_T");
    CHECK(a["actor"] == CurrentUser() + "@" + HostName());
    CHECK(a["filters"] == "--type 'c.*'");
    CHECK(a["count"] == "2");
    CHECK(ParseRfc3339(a["at"]).ok());
  }
}

TEST_CASE("admin: a move copies into the queue and deletes the dead letter in one step",
          "[admin][contract]") {
  FOR_EACH_STORE(impl) {
    std::unique_ptr<StoreHarness> h = impl.make();
    const std::string id = h->AddDead(Dead("e1", "a.b"));
    auto admin = AdminOf(*h);
    Result<bool> moved = admin->MoveDeadLetter(id, "{\"x\":1}", "q1", false);
    REQUIRE(moved.ok());
    CHECK(*moved);
    CHECK(h->DeadLetters() == 0);
    CHECK(h->StreamLength("q1") == 1);
    CHECK(h->QueueListed("q1"));
    CHECK(admin->ReadHistory({})->at(0).raw == "");  // the event as given
    // Gone now: a second move (another replay) copies nothing.
    CHECK_FALSE(*admin->MoveDeadLetter(id, "{\"x\":1}", "q1", false));
    CHECK(h->StreamLength("q1") == 1);

    const std::string kept = h->AddDead(Dead("e2", "a.b"));
    CHECK(*admin->MoveDeadLetter(kept, "{}", "other", /*keep=*/true));
    CHECK(h->DeadLetters() == 1);
    CHECK(h->StreamLength("other") == 1);
  }
}

TEST_CASE("admin: a move that cannot write into the queue keeps the dead letter",
          "[admin][contract]") {
  FOR_EACH_STORE(impl) {
    std::unique_ptr<StoreHarness> h = impl.make();
    const std::string id = h->AddDead(Dead("e1", "a.b"));
    auto admin = AdminOf(*h);
    const BrokenQueue broken = h->BreakQueue("bad");
    Result<bool> moved = admin->MoveDeadLetter(id, "{}", "bad", false);
    REQUIRE_FALSE(moved.ok());
    CHECK(moved.status().kind() == broken.kind);
    CHECK_THAT(moved.status().message(), Catch::Contains(broken.says));
    CHECK(h->DeadLetters() == 1);
  }
}

TEST_CASE("admin: done keys are the queue's `done` records that have not expired, not leases",
          "[admin][contract]") {
  FOR_EACH_STORE(impl) {
    std::unique_ptr<StoreHarness> h = impl.make();
    const UnixMillis later = NowUnixMillis() + 600000;
    h->PutKey("k1", /*done=*/true, later);
    h->PutKey("k2", /*done=*/false, later);
    h->PutKey("k4", /*done=*/true, 1);
    auto admin = AdminOf(*h);
    CHECK(*admin->DoneKeys({"k1", "k2", "k3", "k4"}) ==
          std::vector<bool>{true, false, false, false});
  }
}

TEST_CASE("admin: history is read from the stream and filtered on occurred_at",
          "[admin][contract]") {
  FOR_EACH_STORE(impl) {
    std::unique_ptr<StoreHarness> h = impl.make();
    h->Add(EventJson("e1"));  // occurred 2026-01-01
    Json later = *ParseJson(EventJson("e2"));
    later["occurred_at"] = "2026-03-01T00:00:00.000Z";
    h->Add(later.dump());
    h->Add("not json");
    auto admin = AdminOf(*h);
    Result<std::vector<HistoryRecord>> all = admin->ReadHistory({});
    REQUIRE(all->size() == 3);
    CHECK(all->at(2).raw == "not json");
    RecordFilter since;
    since.since = *ParseRfc3339("2026-02-01T00:00:00Z");
    Result<std::vector<HistoryRecord>> got = admin->ReadHistory(since);
    REQUIRE(got->size() == 1);
    CHECK(got->at(0).event["event_id"] == "e2");
    REQUIRE(admin->Enqueue(EventJson("e3")).ok());
    CHECK(h->StreamLength("q1") == 4);
  }
}

TEST_CASE("admin: a store that is not there is Unavailable at open, and is not created",
          "[admin][contract]") {
  FOR_EACH_STORE(impl) {
    std::unique_ptr<StoreHarness> h = impl.make();
    AdminOptions o;
    o.ns = h->ns();
    o.queue = "q1";
    Result<std::unique_ptr<QueueAdmin>> a = OpenAdmin(*ParseBrokerUrl(h->AbsentUrl()), o);
    REQUIRE(!a.ok());
    CHECK(a.status().kind() == Status::Kind::kUnavailable);
    CHECK_FALSE(h->AbsentCreated());
  }
}

}  // namespace evt::contract
