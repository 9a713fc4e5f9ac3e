// The SQLite queue's batch calls and Abandon on a temp file: a batch is one transaction,
// all or nothing; when it fails as a whole each item is made alone and answers for
// itself; a file that stays locked fails the rest of a batch at once; Abandon of an
// attempt that never ran lowers the start count in `marks`.
#include <catch2/catch.hpp>
#include <chrono>

#include "attempt_end.h"
#include "sqlite_queue_fixture.h"

using evt::testing::SqliteQueueFixture;
using evt::testing::SqliteTestEvent;

namespace evt {
namespace {

AttemptEnd EndFor(const Delivery& d, const std::string& id, const std::string& key) {
  return testing::RanEnd(d, id, key);
}

// `n` events e0.. with keys k0.., handed out to `s`; their attempts' ends.
std::vector<AttemptEnd> Deliver(SqliteQueueFixture& f, QueueSession& s, int n) {
  for (int i = 0; i < n; ++i) {
    const std::string k = std::to_string(i);
    f.Add(SqliteTestEvent("e" + k, "k" + k));
  }
  std::vector<Delivery> got;
  REQUIRE(s.Receive(n, Millis(100), &got).ok());
  REQUIRE(static_cast<int>(got.size()) == n);
  std::vector<AttemptEnd> ends;
  for (int i = 0; i < n; ++i) {
    const std::string k = std::to_string(i);
    ends.push_back(EndFor(got[i], "e" + k, "k" + k));
  }
  return ends;
}

FinishCall Done(const AttemptEnd& end) {
  FinishCall c;
  c.kind = FinishCall::Kind::kDone;
  c.end = end;
  return c;
}

}  // namespace

TEST_CASE(
    "sqlite: FinishAll is one transaction, and when one item fails it is rolled back and "
    "each item is made alone",
    "[sqlite]") {
  SqliteQueueFixture f;
  auto s = f.Session("c1");
  REQUIRE(s->EnsureGroup().ok());
  std::vector<AttemptEnd> ends = Deliver(f, *s, 3);
  // The store refuses the dead letter of e1 alone (as a full or broken table might).
  f.Exec("CREATE TRIGGER refuse BEFORE INSERT ON dlq WHEN NEW.stream_id = '" + ends[1].delivery_id +
         "' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END");
  FinishCall dead;
  dead.kind = FinishCall::Kind::kDead;
  dead.end = ends[1];
  dead.raw = SqliteTestEvent("e1", "k1");
  std::vector<Status> out;
  s->FinishAll({Done(ends[0]), dead, Done(ends[2])}, &out);
  REQUIRE(out.size() == 3);
  CHECK(out[0].ok());
  CHECK_FALSE(out[1].ok());
  CHECK_THAT(out[1].message(), Catch::Contains("refused by the test"));
  CHECK(out[2].ok());
  // e1's call did nothing at all: still pending, no status, no metric, no marker.
  CHECK(f.Int("SELECT count(*) FROM pending") == 1);
  CHECK(f.Int("SELECT count(*) FROM dlq") == 0);
  CHECK(f.Int("SELECT count(*) FROM events WHERE event_id = 'e1' AND status = 'failed'") == 0);
  CHECK(f.Int("SELECT count(*) FROM marks WHERE fin IS NOT NULL") == 2);
  CHECK(f.Int("SELECT count(*) FROM idem WHERE state = 'done'") == 2);
  CHECK(f.Int("SELECT coalesce(sum(value), 0) FROM metrics WHERE field LIKE '%outcome:done'") == 2);
  CHECK(f.Int("SELECT coalesce(sum(value), 0) FROM metrics WHERE field LIKE '%outcome:failed'") ==
        0);

  // Once the store takes it, the same batch again: e1 is made, e0 and e2 only acknowledged.
  f.Exec("DROP TRIGGER refuse");
  s->FinishAll({Done(ends[0]), dead, Done(ends[2])}, &out);
  for (const Status& st : out) CHECK(st.ok());
  CHECK(f.Int("SELECT count(*) FROM pending") == 0);
  CHECK(f.Int("SELECT count(*) FROM dlq") == 1);
  CHECK(f.Int("SELECT coalesce(sum(value), 0) FROM metrics WHERE field LIKE '%outcome:done'") == 2);
}

TEST_CASE(
    "sqlite: StartAttempts is one transaction, and when one item fails each is made alone "
    "and the failed one counts no start",
    "[sqlite]") {
  SqliteQueueFixture f;
  auto s = f.Session("c1");
  REQUIRE(s->EnsureGroup().ok());
  std::vector<AttemptEnd> ends = Deliver(f, *s, 3);
  f.Exec(
      "CREATE TRIGGER refuse BEFORE INSERT ON events WHEN NEW.event_id = 'e1' "
      "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END");
  AttemptEnd bogus = ends[2];
  bogus.delivery_id = "not-an-id";
  std::vector<Result<Lease>> out;
  s->StartAttempts({ends[0], ends[1], bogus, ends[2]}, Millis(60000), 3, &out);
  REQUIRE(out.size() == 4);
  REQUIRE(out[0].ok());
  CHECK(out[0]->state == LeaseState::kAcquired);
  CHECK(out[0]->starts == 1);
  CHECK_FALSE(out[1].ok());
  CHECK(out[2].status().kind() == Status::Kind::kInternal);
  CHECK_THAT(out[2].status().message(), Catch::Contains("not-an-id"));
  REQUIRE(out[3].ok());
  CHECK(out[3]->state == LeaseState::kAcquired);
  CHECK(out[3]->starts == 1);
  CHECK(f.Int("SELECT count(*) FROM idem WHERE key = 'k1'") == 0);  // no lease, no start
  CHECK(f.Int("SELECT coalesce(sum(starts), 0) FROM marks") == 2);

  f.Exec("DROP TRIGGER refuse");
  s->StartAttempts({ends[0], ends[1], ends[2]}, Millis(60000), 3, &out);
  REQUIRE(out.size() == 3);
  for (std::size_t i = 0; i < out.size(); ++i) {
    REQUIRE(out[i].ok());
    CHECK(out[i]->state == LeaseState::kAcquired);
    CHECK(out[i]->starts == (i == 1 ? 1 : 2));
  }
}

TEST_CASE(
    "sqlite: a batch on a file locked past busy_timeout fails at once for the rest, "
    "writing nothing",
    "[sqlite]") {
  SqliteQueueFixture f;
  QueueOptions o = f.Options("c1");
  o.io_timeout = Millis(100);  // the busy_timeout of its connections
  auto s = f.Session(o);
  REQUIRE(s->EnsureGroup().ok());
  std::vector<AttemptEnd> ends = Deliver(f, *s, 30);
  std::vector<FinishCall> calls;
  for (const AttemptEnd& e : ends) calls.push_back(Done(e));
  SqliteOptions lo;
  lo.path = f.path();
  SqliteDb locker(lo);
  REQUIRE(locker.Open().ok());
  REQUIRE(locker.Exec("BEGIN IMMEDIATE").ok());

  // The batch waits busy_timeout, then its first item alone once more: not 30 times.
  const auto start = std::chrono::steady_clock::now();
  std::vector<Status> out;
  s->FinishAll(calls, &out);
  std::vector<Result<Lease>> leases;
  s->StartAttempts(ends, Millis(60000), 0, &leases);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count();
  REQUIRE(out.size() == calls.size());
  for (const Status& st : out) CHECK(st.kind() == Status::Kind::kUnavailable);
  REQUIRE(leases.size() == ends.size());
  for (const Result<Lease>& l : leases) CHECK(l.status().kind() == Status::Kind::kUnavailable);
  CHECK(took < 2000);  // one by one to the end: 2 x 31 x 100 ms
  REQUIRE(locker.Exec("COMMIT").ok());
  CHECK(f.Int("SELECT count(*) FROM pending") == 30);
  CHECK(f.Int("SELECT count(*) FROM idem") == 0);

  s->FinishAll(calls, &out);
  for (const Status& st : out) CHECK(st.ok());
  CHECK(f.Int("SELECT count(*) FROM pending") == 0);
}

TEST_CASE(
    "sqlite: Abandon releases the lease and, when the handler never started, lowers "
    "the start count, never below 0",
    "[sqlite]") {
  SqliteQueueFixture f;
  auto s = f.Session("c1");
  REQUIRE(s->EnsureGroup().ok());
  AttemptEnd a = Deliver(f, *s, 1).at(0);
  REQUIRE(s->StartAttempt(a, Millis(60000), 0).ok());
  REQUIRE(s->StartAttempt(a, Millis(60000), 0).ok());
  CHECK(f.Int("SELECT starts FROM marks") == 2);
  a.ran = false;
  REQUIRE(s->Abandon(a).ok());
  CHECK(f.Int("SELECT count(*) FROM idem") == 0);
  CHECK(f.Int("SELECT starts FROM marks") == 1);
  REQUIRE(s->Abandon(a).ok());  // the lease is gone: nothing more taken back
  CHECK(f.Int("SELECT starts FROM marks") == 1);

  // Another owner's lease is not given back, and takes no start back.
  AttemptEnd other = a;
  other.lease_owner = "c2 " + a.delivery_id;
  REQUIRE(s->StartAttempt(a, Millis(60000), 0).ok());
  REQUIRE(s->Abandon(other).ok());
  CHECK(f.Int("SELECT count(*) FROM idem WHERE owner LIKE 'c1 %'") == 1);
  CHECK(f.Int("SELECT starts FROM marks") == 2);

  // A count already 0 (the row written by hand) stays 0.
  f.Exec("UPDATE marks SET starts = 0");
  REQUIRE(s->Abandon(a).ok());
  CHECK(f.Int("SELECT starts FROM marks") == 0);
  CHECK(f.Int("SELECT count(*) FROM idem") == 0);
}

}  // namespace evt
