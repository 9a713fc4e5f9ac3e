// Helpers shared by the queue contract cases: events, attempt ends, and reading a queue
// back through the interface only. Call them from the test's own thread.
#pragma once

#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "evt/event.h"
#include "evt/queue.h"
#include "queue_impls.h"

namespace evt::contract {

// Runs the block once per registered implementation that has capability `cap` (nullptr:
// every one), in a section named after it: `FOR_EACH_QUEUE(impl, nullptr) { ... }`.
#define FOR_EACH_QUEUE(impl, cap)                                                     \
  for (const ::evt::contract::QueueImpl& impl : ::evt::contract::QueueImplsWith(cap)) \
  DYNAMIC_SECTION(impl.name)

// The JSON of a valid event of type "t.x" (the type Outcomes() counts).
inline std::string EventJson(const std::string& id, const std::string& key = "",
                             std::int64_t retry_count = 0) {
  Json j;
  j["event_type"] = "t.x";
  j["event_id"] = id;
  if (!key.empty()) j["idempotency_key"] = key;
  j["retry_count"] = retry_count;
  j["occurred_at"] = "2026-01-01T00:00:00.000Z";
  Result<Event> ev = MakeEvent(j);
  REQUIRE(ev.ok());
  return Serialize(*ev);
}

// The lease owner a worker uses for delivery `d`: "<consumer> <entry id>".
inline std::string OwnerOf(const Queue& q, const Delivery& d) { return q.consumer() + " " + d.id; }

// The end of a first attempt of `d` (event `event_id`, key `key`) that ran for 12 ms.
inline AttemptEnd EndFor(const Delivery& d, const std::string& event_id, const std::string& key,
                         const std::string& owner) {
  AttemptEnd end;
  end.delivery_id = d.id;
  end.event_id = event_id;
  end.event_type = "t.x";
  end.idempotency_key = key;
  end.lease_owner = owner;
  end.attempt = 1;
  end.ran = true;
  end.duration = Millis(12);
  end.occurred_at = NowUnixMillis() - 1000;
  return end;
}

// Publishes each of `raws`, in order.
inline void PublishAll(QueueHarness& h, const std::vector<std::string>& raws) {
  for (const std::string& raw : raws) REQUIRE(h.Publish(raw).ok());
}

// What one Receive call hands out.
inline std::vector<Delivery> ReceiveSome(QueueSession& s, int max = 10,
                                         Millis block = Millis(100)) {
  std::vector<Delivery> got;
  Status st = s.Receive(max, block, &got);
  INFO(st.message());
  REQUIRE(st.ok());
  return got;
}

// Receives until `max` entries came or a call brought none: a queue may hand out fewer
// than are there (the stdio queue reads one line per call), never more than asked.
inline std::vector<Delivery> ReceiveUpTo(QueueSession& s, int max, Millis block = Millis(100)) {
  std::vector<Delivery> got;
  for (int calls = 0; calls < max && static_cast<int>(got.size()) < max; ++calls) {
    const int asked = max - static_cast<int>(got.size());
    std::vector<Delivery> more = ReceiveSome(s, asked, block);
    CHECK(static_cast<int>(more.size()) <= asked);
    if (more.empty()) break;
    for (Delivery& d : more) got.push_back(std::move(d));
  }
  return got;
}

// Every entry still pending for this consumer (ReceivePending, paged; counts a delivery).
inline std::vector<Delivery> PendingOf(QueueSession& s) {
  std::vector<Delivery> out;
  std::string after = "0";
  for (int pages = 0; pages < 100; ++pages) {
    Result<std::string> next = s.ReceivePending(after, 50, &out);
    INFO(next.status().message());
    REQUIRE(next.ok());
    if (next->empty()) return out;
    after = *next;
  }
  FAIL("ReceivePending still paging after 100 pages");
  return out;
}

// The raw texts of `ds`, in order.
inline std::vector<std::string> Raws(const std::vector<Delivery>& ds) {
  std::vector<std::string> out;
  for (const Delivery& d : ds) out.push_back(d.raw);
  return out;
}

// Moves due entries until none is due (bounded), returning how many moved.
inline int MoveAllDue(QueueSession& s) {
  int moved = 0;
  for (int calls = 0; calls < 100; ++calls) {
    Result<int> n = s.MoveDue(100);
    INFO(n.status().message());
    REQUIRE(n.ok());
    if (*n == 0) return moved;
    moved += *n;
  }
  FAIL("MoveDue still moving after 100 calls");
  return moved;
}

}  // namespace evt::contract
