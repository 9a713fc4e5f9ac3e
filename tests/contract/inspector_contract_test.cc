// The QueueInspector contract (evt/inspector.h) of evt-status, for every registered durable
// store (store_impls.h), fed by the real queue (workers' sessions) and the real publisher
// (evt-emit's side): the state of a queue, merged metrics, an event found with or without
// its status record, and an absent store.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "admin_contract_support.h"
#include "evt/inspector.h"
#include "evt/publisher.h"
#include "evt/status_report.h"
#include "evt/ulid.h"

namespace evt::contract {
namespace {

AttemptEnd EndOf(const Delivery& d, const std::string& id, Millis duration) {
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

}  // namespace

TEST_CASE("inspector: depth, pending, delayed, group lag, live consumers and the DLQ",
          "[inspector][contract]") {
  FOR_EACH_STORE(impl) {
    std::unique_ptr<StoreHarness> h = impl.make();
    h->RegisterQueue("a0");
    for (int i = 0; i < 6; ++i) h->Add(EventJson("e" + std::to_string(i)));
    h->AddDelayed(EventJson("later"), NowUnixMillis() + 600000);
    auto s = h->Session("c1");
    REQUIRE(s->EnsureGroup().ok());
    std::vector<Delivery> got = ReceiveSome(*s, 3);
    REQUIRE(got.size() == 3);
    // An old dead letter (before the window), then a new one.
    h->AddAncientDead();
    REQUIRE(s->FinishDead(EndOf(got[0], "e0", Millis(5)), DeadReason::kPermanent, "{}").ok());
    WorkerInfo info;
    info.host = "host-a";
    info.pid = 42;
    info.concurrency = 4;
    REQUIRE(s->Heartbeat(info).ok());
    h->AddExpiredWorker("gone");  // a consumer whose heartbeat expired is not live

    auto in = InspectorOf(*h);
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
}

TEST_CASE("inspector: metrics of several workers merge, percentiles within 10% of exact",
          "[inspector][contract]") {
  FOR_EACH_STORE(impl) {
    std::unique_ptr<StoreHarness> h = impl.make();
    const int n = 400;
    for (int i = 0; i < n; ++i) h->Add(EventJson("e" + std::to_string(i)));
    auto a = h->Session("wa");
    auto b = h->Session("wb");
    REQUIRE(a->EnsureGroup().ok());
    std::mt19937_64 rng(3);
    std::lognormal_distribution<double> dist(std::log(300.0), 0.8);
    std::vector<double> exact;
    for (int i = 0; i < n;) {
      QueueSession& s = (i / 50) % 2 == 0 ? *a : *b;  // two workers take turns
      std::vector<Delivery> got = ReceiveSome(s, 50);
      REQUIRE(!got.empty());
      for (const Delivery& d : got) {
        const auto ms = static_cast<std::int64_t>(dist(rng));
        exact.push_back(static_cast<double>(ms));
        REQUIRE(s.FinishDone(EndOf(d, "e" + std::to_string(i++), Millis(ms))).ok());
      }
    }
    auto in = InspectorOf(*h);
    MinuteRange range = WindowMinutes(NowUnixMillis(), Millis(15 * 60000));
    Result<MinuteMetrics> m = in->ReadMetrics("q1", range.first, range.last);
    REQUIRE(m.ok());
    std::vector<TypeStats> types = StatsByType(*m, range);
    REQUIRE(types.size() == 1);
    CHECK(types[0].done == n);
    CHECK(types[0].attempts == n);
    std::sort(exact.begin(), exact.end());
    for (double q : {0.50, 0.95, 0.99}) {
      const double want = exact[static_cast<std::size_t>(std::ceil(q * n)) - 1];
      INFO("q " << q);
      CHECK(PercentileMs(types[0].duration, q) == Approx(want).epsilon(0.10));
    }
    // The end-to-end latency is about one second for every event.
    CHECK(PercentileMs(types[0].latency, 0.5) == Approx(1000).epsilon(0.10));
    // Minutes long past hold nothing.
    CHECK(in->ReadMetrics("q1", 0, 10)->empty());
  }
}

TEST_CASE(
    "inspector: an event with no status record is queued, found in the stream by its ULID "
    "time, by a bounded scan, or in the delayed set",
    "[inspector][contract]") {
  FOR_EACH_STORE(impl) {
    std::unique_ptr<StoreHarness> h = impl.make();
    Result<std::unique_ptr<EventPublisher>> pub =
        OpenPublisher(*ParseBrokerUrl(h->url()), h->ns(), "q1", PublisherOptions());
    REQUIRE(pub.ok());
    // Plenty of other entries around it, so the lookup has to search.
    std::vector<Publication> batch;
    for (int i = 0; i < 3000; ++i) {
      batch.push_back({*ParseEvent(EventJson("bulk-" + std::to_string(i))), 0});
    }
    const std::string ulid_id = NewEventId();
    batch.insert(batch.begin() + 1500, {*ParseEvent(EventJson(ulid_id, "k-ulid")), 0});
    // An id that is a prefix of another's must not match it.
    batch.push_back({*ParseEvent(EventJson("plain-id-2", "k-plain-2")), 0});
    batch.push_back({*ParseEvent(EventJson("plain-id", "k-plain")), 0});
    batch.push_back({*ParseEvent(EventJson("delayed-id", "k-delayed")), NowUnixMillis() + 60000});
    std::size_t accepted = 0;
    REQUIRE((*pub)->Publish(batch, &accepted).ok());
    REQUIRE(accepted == batch.size());
    CHECK(h->StatusRecords() == 0);  // evt-emit wrote no record

    auto in = InspectorOf(*h);
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
    CHECK(st->status == "queued");
    CHECK(st->fields["idempotency_key"] == "k-plain");
    st = in->FindEvent("q1", "delayed-id");
    REQUIRE(st.ok());
    CHECK(st->status == "queued");
    CHECK(st->delayed);
    CHECK(ParseRfc3339(st->fields["due_at"]).ok());
    CHECK(in->FindEvent("q1", "nope").status().kind() == Status::Kind::kNotFound);
    CHECK(in->FindEvent("q1", NewEventId()).status().kind() == Status::Kind::kNotFound);
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
}

TEST_CASE("inspector: a worker's status record wins, found by event id and by key",
          "[inspector][contract]") {
  FOR_EACH_STORE(impl) {
    std::unique_ptr<StoreHarness> h = impl.make();
    h->Add(EventJson("e1", "shared"));
    h->Add(EventJson("e2", "shared"));
    auto s = h->Session("c1");
    REQUIRE(s->EnsureGroup().ok());
    std::vector<Delivery> got = ReceiveSome(*s, 2);
    REQUIRE(got.size() == 2);
    AttemptEnd first = EndOf(got[0], "e1", Millis(7));
    first.idempotency_key = "shared";
    REQUIRE(s->FinishDone(first).ok());
    AttemptEnd second = EndOf(got[1], "e2", Millis(0));
    second.idempotency_key = "shared";
    second.ran = false;
    REQUIRE(s->FinishDuplicate(second).ok());

    auto in = InspectorOf(*h);
    Result<EventStatus> st = in->FindEvent("q1", "e1");
    REQUIRE(st.ok());
    CHECK(st->status == "done");
    CHECK(st->fields["consumer"] == "c1");
    CHECK(st->fields["duration_ms"] == "7");
    CHECK(st->fields["attempts"] == "1");
    CHECK(ParseRfc3339(st->fields["finished_at"]).ok());
    CHECK(st->fields.count("error") == 0);  // unset fields are left out
    CHECK(in->FindEvent("q1", "e2")->status == "duplicate");
    // Two events share the key: the one that ran, not the duplicate.
    st = in->FindByKey("q1", "shared");
    REQUIRE(st.ok());
    CHECK(st->event_id == "e1");
    CHECK(st->status == "done");
  }
}

TEST_CASE("inspector: a store that is not there is Unavailable at open, and is not created",
          "[inspector][contract]") {
  FOR_EACH_STORE(impl) {
    std::unique_ptr<StoreHarness> h = impl.make();
    Result<std::unique_ptr<QueueInspector>> in =
        OpenInspector(*ParseBrokerUrl(h->AbsentUrl()), h->ns());
    REQUIRE(!in.ok());
    CHECK(in.status().kind() == Status::Kind::kUnavailable);
    CHECK_FALSE(h->AbsentCreated());
  }
}

}  // namespace evt::contract
