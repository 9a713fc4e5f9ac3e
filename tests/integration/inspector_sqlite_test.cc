// The SQLite QueueInspector on a temp file (no server), fed by the real SQLite queue
// (workers' sessions) and publisher (evt-emit's side), as inspector_redis_test.cc does.
#include "sqlite/inspector_sqlite.h"

#include <unistd.h>

#include <catch2/catch.hpp>

#include "evt/broker_factory.h"
#include "evt/publisher.h"
#include "evt/status_report.h"
#include "evt/ulid.h"
#include "sqlite_queue_fixture.h"

using evt::testing::SqliteQueueFixture;
using evt::testing::SqliteTestEvent;

namespace evt {
namespace {

std::unique_ptr<QueueInspector> Inspector(const SqliteQueueFixture& f) {
  Result<std::unique_ptr<QueueInspector>> in = OpenInspector(*ParseBrokerUrl(f.url()), "evt");
  REQUIRE(in.ok());
  return std::move(*in);
}

AttemptEnd EndFor(const Delivery& d, const std::string& id, Millis duration) {
  AttemptEnd end;
  end.delivery_id = d.id;
  end.event_id = id;
  end.event_type = "t.x";
  end.idempotency_key = "key-" + id;
  end.attempt = 1;
  end.ran = true;
  end.duration = duration;
  end.occurred_at = NowUnixMillis() - 1000;
  return end;
}

std::vector<Delivery> Receive(QueueSession& s, int max) {
  std::vector<Delivery> got;
  REQUIRE(s.Receive(max, Millis(100), &got).ok());
  return got;
}

}  // namespace

TEST_CASE("sqlite inspector: depth, pending, delayed, group lag, live consumers and the DLQ",
          "[inspector][sqlite]") {
  SqliteQueueFixture f;
  for (int i = 0; i < 6; ++i) f.Add(SqliteTestEvent("e" + std::to_string(i)));
  REQUIRE(SqliteQueueId(f.Db(), "evt", "a0").ok());
  f.Exec("INSERT INTO delayed(qid, due_ms, event) VALUES(1, " +
         std::to_string(NowUnixMillis() + 600000) + ", '" + SqliteTestEvent("later") + "')");
  auto s = f.Session("c1");
  REQUIRE(s->EnsureGroup().ok());
  std::vector<Delivery> got = Receive(*s, 3);
  REQUIRE(got.size() == 3);
  // An old dead letter (before the window), then a new one.
  f.Exec(
      "INSERT INTO dlq(qid, event, reason, error, category, attempts, failed_at, consumer, "
      "stream_id, failed_ms) VALUES(1, '{}', 'permanent', '', '', 1, "
      "'1970-01-01T00:00:01.000Z', 'x', '1-1', 1000)");
  REQUIRE(s->FinishDead(EndFor(got[0], "e0", Millis(5)), DeadReason::kPermanent, "{}").ok());
  WorkerInfo info;
  info.host = "host-a";
  info.pid = 42;
  info.concurrency = 4;
  REQUIRE(s->Heartbeat(info).ok());
  // A consumer whose heartbeat expired is not live.
  f.Exec(
      "INSERT INTO workers VALUES(1, 'gone', 'h', 1, 'x', 1, 0, 0, "
      "'1970-01-01T00:00:00.000Z', 1)");

  auto in = Inspector(f);
  CHECK(*in->ListQueues() == std::vector<std::string>{"a0", "q1"});
  const UnixMillis since = NowUnixMillis() - 60000;
  Result<QueueState> q = in->ReadQueue("q1", since);
  REQUIRE(q.ok());
  CHECK(q->length == 6);
  CHECK(q->delayed == 1);
  REQUIRE(q->groups.size() == 1);
  CHECK(q->groups[0].name == "workers");
  CHECK(q->groups[0].undelivered == 3);
  CHECK(q->groups[0].pending == 2);
  CHECK(q->groups[0].oldest_ms > since);
  CHECK(q->groups[0].oldest_ms <= NowUnixMillis());
  REQUIRE(q->consumers.size() == 1);
  CHECK(q->consumers[0].name == "c1");
  CHECK(q->consumers[0].host == "host-a");
  CHECK(q->consumers[0].pid == 42);
  CHECK(q->consumers[0].concurrency == 4);
  CHECK(q->dlq.size == 2);
  CHECK(q->dlq.added_since == 1);

  // A queue with nothing in it, or unknown, reads as empty, not as an error.
  for (const char* name : {"a0", "never"}) {
    Result<QueueState> empty = in->ReadQueue(name, since);
    REQUIRE(empty.ok());
    CHECK(empty->length == 0);
    CHECK(empty->groups.empty());
  }
}

TEST_CASE("sqlite inspector: the metrics of two workers on one file add up",
          "[inspector][sqlite]") {
  SqliteQueueFixture f;
  const int n = 40;
  for (int i = 0; i < n; ++i) f.Add(SqliteTestEvent("e" + std::to_string(i)));
  auto a = f.Session("wa");
  auto b = f.Session("wb");
  REQUIRE(a->EnsureGroup().ok());
  for (int i = 0; i < n;) {
    QueueSession& s = (i / 10) % 2 == 0 ? *a : *b;
    for (const Delivery& d : Receive(s, 10)) {
      REQUIRE(s.FinishDone(EndFor(d, "e" + std::to_string(i++), Millis(100))).ok());
    }
  }
  auto in = Inspector(f);
  MinuteRange range = WindowMinutes(NowUnixMillis(), Millis(15 * 60000));
  Result<MinuteMetrics> m = in->ReadMetrics("q1", range.first, range.last);
  REQUIRE(m.ok());
  std::vector<TypeStats> types = StatsByType(*m, range);
  REQUIRE(types.size() == 1);
  CHECK(types[0].done == n);
  CHECK(types[0].attempts == n);
  CHECK(PercentileMs(types[0].duration, 0.5) == Approx(100).epsilon(0.10));
  CHECK(in->ReadMetrics("q1", 0, 10)->empty());
}

TEST_CASE("sqlite inspector: an event with no status record is queued, in the stream or delayed",
          "[inspector][sqlite]") {
  SqliteQueueFixture f;
  Result<std::unique_ptr<EventPublisher>> pub =
      OpenPublisher(*ParseBrokerUrl(f.url()), "evt", "q1", PublisherOptions());
  REQUIRE(pub.ok());
  std::vector<Publication> batch;
  for (int i = 0; i < 300; ++i) {
    batch.push_back({*ParseEvent(SqliteTestEvent("bulk-" + std::to_string(i))), 0});
  }
  const std::string ulid_id = NewEventId();
  batch.insert(batch.begin() + 150, {*ParseEvent(SqliteTestEvent(ulid_id, "k-ulid")), 0});
  // An id that is a prefix of another's must not match it.
  batch.push_back({*ParseEvent(SqliteTestEvent("plain-id-2", "k-plain-2")), 0});
  batch.push_back({*ParseEvent(SqliteTestEvent("plain-id", "k-plain")), 0});
  batch.push_back(
      {*ParseEvent(SqliteTestEvent("delayed-id", "k-delayed")), NowUnixMillis() + 60000});
  std::size_t accepted = 0;
  REQUIRE((*pub)->Publish(batch, &accepted).ok());
  REQUIRE(accepted == batch.size());
  CHECK(f.Int("SELECT count(*) FROM events") == 0);  // evt-emit wrote no record

  auto in = Inspector(f);
  Result<EventStatus> st = in->FindEvent("q1", ulid_id);
  REQUIRE(st.ok());
  CHECK(st->status == "queued");
  CHECK(!st->delayed);
  CHECK(st->event_id == ulid_id);
  CHECK(st->fields["event_type"] == "t.x");
  CHECK(st->fields["idempotency_key"] == "k-ulid");
  CHECK(!st->fields["stream_id"].empty());
  CHECK(ParseRfc3339(st->fields["queued_at"]).ok());

  st = in->FindEvent("q1", "plain-id");
  REQUIRE(st.ok());
  CHECK(st->fields["idempotency_key"] == "k-plain");
  st = in->FindEvent("q1", "delayed-id");
  REQUIRE(st.ok());
  CHECK(st->status == "queued");
  CHECK(st->delayed);
  CHECK(ParseRfc3339(st->fields["due_at"]).ok());
  CHECK(in->FindEvent("q1", "nope").status().kind() == Status::Kind::kNotFound);
  CHECK(in->FindEvent("other", "plain-id").status().kind() == Status::Kind::kNotFound);

  st = in->FindByKey("q1", "k-plain");
  REQUIRE(st.ok());
  CHECK(st->event_id == "plain-id");
  st = in->FindByKey("q1", "k-delayed");
  REQUIRE(st.ok());
  CHECK(st->event_id == "delayed-id");
  // An event without a key is its own key.
  st = in->FindByKey("q1", "bulk-7");
  REQUIRE(st.ok());
  CHECK(st->event_id == "bulk-7");
  CHECK(in->FindByKey("q1", "k-none").status().kind() == Status::Kind::kNotFound);
}

TEST_CASE("sqlite inspector: a worker's status record wins, found by event id and by key",
          "[inspector][sqlite]") {
  SqliteQueueFixture f;
  f.Add(SqliteTestEvent("e1", "shared"));
  f.Add(SqliteTestEvent("e2", "shared"));
  auto s = f.Session("c1");
  REQUIRE(s->EnsureGroup().ok());
  std::vector<Delivery> got = Receive(*s, 2);
  REQUIRE(got.size() == 2);
  AttemptEnd first = EndFor(got[0], "e1", Millis(7));
  first.idempotency_key = "shared";
  REQUIRE(s->FinishDone(first).ok());
  AttemptEnd second = EndFor(got[1], "e2", Millis(0));
  second.idempotency_key = "shared";
  second.ran = false;
  REQUIRE(s->FinishDuplicate(second).ok());

  auto in = Inspector(f);
  Result<EventStatus> st = in->FindEvent("q1", "e1");
  REQUIRE(st.ok());
  CHECK(st->status == "done");
  CHECK(st->fields["consumer"] == "c1");
  CHECK(st->fields["duration_ms"] == "7");
  CHECK(st->fields["attempts"] == "1");
  CHECK(ParseRfc3339(st->fields["finished_at"]).ok());
  CHECK(st->fields.count("error") == 0);  // unset columns are left out
  CHECK(in->FindEvent("q1", "e2")->status == "duplicate");
  st = in->FindByKey("q1", "shared");
  REQUIRE(st.ok());
  CHECK(st->event_id == "e1");
  CHECK(st->status == "done");
}

TEST_CASE("sqlite inspector: a missing file is Unavailable and is not created",
          "[inspector][sqlite]") {
  SqliteQueueFixture f;
  Result<std::unique_ptr<QueueInspector>> in = OpenInspector(*ParseBrokerUrl(f.url()), "evt");
  REQUIRE(!in.ok());
  CHECK(in.status().kind() == Status::Kind::kUnavailable);
  CHECK(::access(f.path().c_str(), F_OK) != 0);
}

}  // namespace evt
