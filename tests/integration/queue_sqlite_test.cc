// The SQLite queue on a temp file: consumer group, leases, and the attempt-ending calls
// (what each writes, that each is all or nothing, and that a repeat changes nothing).
#include <catch2/catch.hpp>
#include <thread>

#include "evt/metrics.h"
#include "sqlite_queue_fixture.h"

using evt::testing::SqliteQueueFixture;
using evt::testing::SqliteTestEvent;

namespace evt {
namespace {

AttemptEnd EndFor(const Delivery& d, const std::string& id, const std::string& key,
                  const std::string& owner) {
  AttemptEnd end;
  end.delivery_id = d.id;
  end.event_id = id;
  end.event_type = "t.x";
  end.idempotency_key = key;
  end.lease_owner = owner;
  end.attempt = 1;
  end.ran = true;
  end.duration = Millis(12);
  end.occurred_at = NowUnixMillis() - 1000;
  return end;
}

std::vector<Delivery> ReceiveAll(QueueSession& s, int max = 10) {
  std::vector<Delivery> got;
  REQUIRE(s.Receive(max, Millis(100), &got).ok());
  return got;
}

}  // namespace

TEST_CASE("sqlite: the group starts at the first entry: events queued before any worker are read",
          "[sqlite]") {
  SqliteQueueFixture f;
  std::string a = f.Add(SqliteTestEvent("a"));
  std::string b = f.Add(SqliteTestEvent("b"));
  auto s = f.Session("c1");
  REQUIRE(s->EnsureGroup().ok());
  REQUIRE(s->EnsureGroup().ok());  // already there: fine
  std::vector<Delivery> got = ReceiveAll(*s);
  REQUIRE(got.size() == 2);
  CHECK(got[0].id == a);
  CHECK(got[1].id == b);
  CHECK(got[0].raw == SqliteTestEvent("a"));
  CHECK(got[0].deliveries == 1);
  CHECK(f.Int("SELECT count(*) FROM pending") == 2);
  CHECK(f.Text("SELECT ns || '/' || name FROM queues") == "evt/q1");
  // Entry ids have a stream id's form, so an entry without event_id gets a stable one.
  CHECK_FALSE(ForStreamEntry(a).event_id.empty());
}

TEST_CASE(
    "sqlite: Receive reads no more than asked, waits at most `block`, NotFound without "
    "the group",
    "[sqlite]") {
  SqliteQueueFixture f;
  for (int i = 0; i < 5; ++i) f.Add(SqliteTestEvent("e" + std::to_string(i)));
  auto s = f.Session("c1");
  std::vector<Delivery> got;
  CHECK(s->Receive(1, Millis(10), &got).kind() == Status::Kind::kNotFound);
  REQUIRE(s->EnsureGroup().ok());
  CHECK(ReceiveAll(*s, 2).size() == 2);
  CHECK(f.Int("SELECT count(*) FROM pending") == 2);  // the other three wait
  CHECK(ReceiveAll(*s, 10).size() == 3);
  const auto start = std::chrono::steady_clock::now();
  CHECK(ReceiveAll(*s, 10).empty());
  const auto waited = std::chrono::steady_clock::now() - start;
  CHECK(waited >= Millis(90));
  CHECK(waited < Millis(2000));
  f.Exec("DELETE FROM groups");
  CHECK(s->Receive(1, Millis(10), &got).kind() == Status::Kind::kNotFound);
}

TEST_CASE("sqlite: a Receive that waits sees an entry added meanwhile", "[sqlite]") {
  SqliteQueueFixture f;
  auto s = f.Session("c1");
  REQUIRE(s->EnsureGroup().ok());
  std::thread adder([&f] {
    std::this_thread::sleep_for(Millis(100));
    f.Add(SqliteTestEvent("late"));  // REQUIRE inside only on failure: acceptable here
  });
  std::vector<Delivery> got;
  Status st = s->Receive(1, Millis(3000), &got);
  adder.join();
  REQUIRE(st.ok());
  REQUIRE(got.size() == 1);
  CHECK(got[0].raw == SqliteTestEvent("late"));
}

TEST_CASE("sqlite: idempotency lease: done, busy, re-take by its owner, expiry, renewal",
          "[sqlite]") {
  SqliteQueueFixture f;
  auto s = f.Session("c1");
  Result<Lease> l = s->TakeLease("k", "c1 1-1", Millis(60000));
  REQUIRE(l.ok());
  CHECK(l->state == LeaseState::kAcquired);
  CHECK(f.Text("SELECT state || ' ' || owner FROM idem WHERE key = 'k'") == "running c1 1-1");
  l = s->TakeLease("k", "c2 2-2", Millis(60000));
  REQUIRE(l.ok());
  CHECK(l->state == LeaseState::kBusy);
  CHECK(l->remaining.count() > 50000);
  CHECK(s->TakeLease("k", "c1 1-1", Millis(60000))->state == LeaseState::kAcquired);

  REQUIRE(s->TakeLease("short", "dead 1-1", Millis(150))->state == LeaseState::kAcquired);
  CHECK(s->TakeLease("short", "c2 3-3", Millis(60000))->state == LeaseState::kBusy);
  CHECK_FALSE(*s->RenewLease("short", "c2 3-3", Millis(60000)));  // not its owner
  std::this_thread::sleep_for(Millis(250));
  CHECK_FALSE(*s->RenewLease("short", "dead 1-1", Millis(60000)));  // lapsed
  CHECK(s->TakeLease("short", "c2 3-3", Millis(60000))->state == LeaseState::kAcquired);
  CHECK(*s->RenewLease("short", "c2 3-3", Millis(60000)));

  REQUIRE(s->ReleaseLease("k", "c2 9-9").ok());  // only by the owner
  CHECK(f.Int("SELECT count(*) FROM idem WHERE key = 'k'") == 1);
  REQUIRE(s->ReleaseLease("k", "c1 1-1").ok());
  CHECK(f.Int("SELECT count(*) FROM idem WHERE key = 'k'") == 0);
  f.Exec("INSERT INTO idem VALUES(1, 'd', 'done', '', 9000000000000)");
  CHECK(s->TakeLease("d", "c1 1-1", Millis(1000))->state == LeaseState::kAlreadyDone);
}

TEST_CASE(
    "sqlite: FinishDone acks, records done, the done record and metrics, a repeat "
    "changes nothing",
    "[sqlite]") {
  SqliteQueueFixture f;
  f.Add(SqliteTestEvent("e1", "k1"));
  auto s = f.Session("c1");
  REQUIRE(s->EnsureGroup().ok());
  Delivery d = ReceiveAll(*s).at(0);
  AttemptEnd end = EndFor(d, "e1", "k1", "c1 " + d.id);
  Result<Lease> l = s->StartAttempt(end, Millis(60000), 6);
  REQUIRE(l.ok());
  CHECK(l->state == LeaseState::kAcquired);
  CHECK(l->starts == 1);
  CHECK(f.Text("SELECT status || ' ' || attempts || ' ' || consumer FROM events") ==
        "running 1 c1");
  AttemptEnd other = EndFor(d, "e9", "k1", "c2 9-9");
  other.delivery_id = "1-999";  // another entry with the same key
  CHECK(s->StartAttempt(other, Millis(60000), 6)->state == LeaseState::kBusy);
  CHECK(f.Int("SELECT count(*) FROM events WHERE event_id = 'e9'") == 0);
  REQUIRE(s->FinishDone(end).ok());

  CHECK(f.Int("SELECT count(*) FROM pending") == 0);
  CHECK(f.Text("SELECT status || ' ' || attempts || ' ' || duration_ms || ' ' || stream_id "
               "FROM events") == "done 1 12 " + d.id);
  CHECK(f.Text("SELECT state FROM idem WHERE key = 'k1'") == "done");
  const long long ttl = f.Int("SELECT expires_ms FROM idem") - NowUnixMillis();
  CHECK(ttl > 3500 * 1000);
  CHECK(ttl <= 3600 * 1000);
  CHECK(f.Int("SELECT value FROM metrics WHERE field = 't.x|outcome:done'") == 1);
  CHECK(f.Int("SELECT value FROM metrics WHERE field = 't.x|attempts'") == 1);
  CHECK(f.Int(("SELECT value FROM metrics WHERE field = 't.x|duration:" +
               std::to_string(HistogramBucket(12)) + "'")
                  .c_str()) == 1);

  REQUIRE(s->FinishDone(end).ok());  // after an unknown result: nothing counted twice
  CHECK(f.Int("SELECT value FROM metrics WHERE field = 't.x|outcome:done'") == 1);
  // Handed out again (a re-created group): acknowledged, not run.
  f.Exec("INSERT INTO pending VALUES(1, 'workers', " + std::to_string(SqliteRowId(d.id)) +
         ", 'c1', 0, 1)");
  CHECK(s->StartAttempt(end, Millis(60000), 6)->state == LeaseState::kFinished);
  CHECK(f.Int("SELECT count(*) FROM pending") == 0);
}

TEST_CASE("sqlite: the outcome is written even when nothing is pending any more", "[sqlite]") {
  SqliteQueueFixture f;
  f.Add(SqliteTestEvent("e1", "k1"));
  auto s = f.Session("c1");
  REQUIRE(s->EnsureGroup().ok());
  Delivery d = ReceiveAll(*s).at(0);
  f.Exec("DELETE FROM pending");
  REQUIRE(s->FinishDone(EndFor(d, "e1", "k1", "c1 " + d.id)).ok());
  CHECK(f.Text("SELECT state FROM idem WHERE key = 'k1'") == "done");
}

TEST_CASE("sqlite: FinishRetry acks, schedules the raised event and releases the lease",
          "[sqlite]") {
  SqliteQueueFixture f;
  f.Add(SqliteTestEvent("e1", "k1"));
  auto s = f.Session("c1");
  REQUIRE(s->EnsureGroup().ok());
  Delivery d = ReceiveAll(*s).at(0);
  REQUIRE(s->TakeLease("k1", "c1 " + d.id, Millis(60000))->state == LeaseState::kAcquired);
  AttemptEnd end = EndFor(d, "e1", "k1", "c1 " + d.id);
  end.category = Category::kDependency;
  end.error = "exit 75";
  const std::string next = SqliteTestEvent("e1", "k1", 1);
  const UnixMillis due = NowUnixMillis() + 60000;
  REQUIRE(s->FinishRetry(end, next, due).ok());
  REQUIRE(s->FinishRetry(end, next, due).ok());  // a repeat schedules nothing more

  CHECK(f.Int("SELECT count(*) FROM pending") == 0);
  CHECK(f.Int("SELECT count(*) FROM delayed") == 1);
  CHECK(f.Text("SELECT event FROM delayed") == next);
  CHECK(f.Int("SELECT due_ms FROM delayed") == due);
  CHECK(f.Int("SELECT count(*) FROM idem") == 0);
  CHECK(f.Text("SELECT status || ' ' || error || ' ' || category FROM events") ==
        "retrying exit 75 dependency");
  CHECK(f.Int("SELECT value FROM metrics WHERE field = 't.x|outcome:retry'") == 1);
  CHECK(f.Int("SELECT value FROM metrics WHERE field = 't.x|category:dependency'") == 1);
  CHECK(f.Int("SELECT count(*) FROM metrics WHERE field LIKE 't.x|latency:%'") == 0);
  CHECK(*s->MoveDue(100) == 0);  // not due yet
}

TEST_CASE("sqlite: FinishDead acks and writes a dead letter with the documented fields",
          "[sqlite]") {
  SqliteQueueFixture f;
  const std::string raw = SqliteTestEvent("e1", "k1");
  f.Add(raw);
  auto s = f.Session("c1");
  REQUIRE(s->EnsureGroup().ok());
  Delivery d = ReceiveAll(*s).at(0);
  REQUIRE(s->TakeLease("k1", "c1 " + d.id, Millis(60000))->state == LeaseState::kAcquired);
  AttemptEnd end = EndFor(d, "e1", "k1", "c1 " + d.id);
  end.attempt = 3;
  end.category = Category::kData;
  end.error = std::string(5000, 'x');  // bounded in the record
  REQUIRE(s->FinishDead(end, DeadReason::kRetriesExhausted, raw).ok());
  REQUIRE(s->FinishDead(end, DeadReason::kRetriesExhausted, raw).ok());  // no second letter

  CHECK(f.Int("SELECT count(*) FROM pending") == 0);
  CHECK(f.Int("SELECT count(*) FROM idem") == 0);
  CHECK(f.Int("SELECT count(*) FROM dlq") == 1);
  CHECK(f.Text("SELECT event FROM dlq") == raw);
  CHECK(f.Text("SELECT reason || ' ' || category || ' ' || attempts || ' ' || consumer || ' ' "
               "|| stream_id FROM dlq") == "retries_exhausted data 3 c1 " + d.id);
  CHECK(f.Int("SELECT length(error) FROM dlq") <= 1024 + 3);
  CHECK(ParseRfc3339(f.Text("SELECT failed_at FROM dlq")).ok());
  CHECK(f.Text("SELECT status || ' ' || reason FROM events") == "failed retries_exhausted");
  CHECK(*s->Trim(Millis(0)) >= 0);
  CHECK(f.Int("SELECT count(*) FROM dlq") == 1);  // never trimmed
}

TEST_CASE("sqlite: FinishDuplicate and Defer ack without running anything", "[sqlite]") {
  SqliteQueueFixture f;
  f.Add(SqliteTestEvent("e1", "k1"));
  f.Add(SqliteTestEvent("e2", "k2"));
  auto s = f.Session("c1");
  REQUIRE(s->EnsureGroup().ok());
  std::vector<Delivery> got = ReceiveAll(*s);
  REQUIRE(got.size() == 2);
  AttemptEnd dup = EndFor(got[0], "e1", "k1", "");
  dup.ran = false;
  dup.attempt = 0;
  REQUIRE(s->FinishDuplicate(dup).ok());
  CHECK(f.Text("SELECT status FROM events WHERE event_id = 'e1'") == "duplicate");
  const UnixMillis due = NowUnixMillis() + 500;
  REQUIRE(s->Defer(got[1], due).ok());
  REQUIRE(s->Defer(got[1], due + 1).ok());  // as ZADD: moved, not doubled
  CHECK(f.Int("SELECT count(*) FROM pending") == 0);
  CHECK(f.Int("SELECT count(*) FROM delayed") == 1);
  CHECK(f.Int("SELECT due_ms FROM delayed") == due + 1);
  CHECK(f.Int("SELECT count(*) FROM events WHERE event_id = 'e2'") == 0);  // no attempt
}

TEST_CASE(
    "sqlite: StartAttempt counts handler starts and reports poison and a holder of the "
    "same entry",
    "[sqlite]") {
  SqliteQueueFixture f;
  f.Add(SqliteTestEvent("e1", "k1"));
  auto s = f.Session("c1");
  REQUIRE(s->EnsureGroup().ok());
  Delivery d = ReceiveAll(*s).at(0);
  for (int i = 1; i <= 2; ++i) {
    AttemptEnd a = EndFor(d, "e1", "k1", "c" + std::to_string(i) + " " + d.id);
    Result<Lease> l = s->StartAttempt(a, Millis(60000), 2);
    REQUIRE(l.ok());
    if (i == 2) {  // c1's lease is live and held for this very entry
      CHECK(l->state == LeaseState::kRunningElsewhere);
      break;
    }
    CHECK(l->state == LeaseState::kAcquired);
  }
  REQUIRE(s->ReleaseLease("k1", "c1 " + d.id).ok());
  CHECK(s->StartAttempt(EndFor(d, "e1", "k1", "c2 " + d.id), Millis(60000), 2)->starts == 2);
  REQUIRE(s->ReleaseLease("k1", "c2 " + d.id).ok());
  Result<Lease> poison = s->StartAttempt(EndFor(d, "e1", "k1", "c3 " + d.id), Millis(60000), 2);
  REQUIRE(poison.ok());
  CHECK(poison->state == LeaseState::kPoison);
  CHECK(poison->starts == 2);
  CHECK(f.Int("SELECT count(*) FROM idem") == 0);  // the lease was not taken
}

}  // namespace evt
