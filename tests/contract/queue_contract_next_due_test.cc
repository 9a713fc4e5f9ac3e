// The queue contract (evt/queue.h), part 5: NextDue, the due time of the earliest scheduled
// event (evt-work --burst waits for those due within its run), for every registered Queue
// implementation (queue_impls.h).
#include <catch2/catch.hpp>

#include "contract_support.h"

namespace evt::contract {

TEST_CASE("NextDue is the earliest scheduled due time, and none once all moved", "[contract]") {
  FOR_EACH_QUEUE(impl, &QueueCaps::schedules) {  // stdio hands its retries out itself
    std::unique_ptr<QueueHarness> h = impl.make();
    auto s = h->queue().OpenSession();
    REQUIRE(s->EnsureGroup().ok());
    Result<std::optional<UnixMillis>> none = s->NextDue();
    REQUIRE(none.ok());
    CHECK_FALSE(none->has_value());

    for (int i = 0; i < 3; ++i) {
      REQUIRE(h->Publish(EventJson("e" + std::to_string(i), "k" + std::to_string(i))).ok());
    }
    std::vector<Delivery> got;
    for (int calls = 0; calls < 50 && got.size() < 3; ++calls) {
      REQUIRE(s->Receive(3, Millis(100), &got).ok());
    }
    REQUIRE(got.size() == 3);
    const UnixMillis now = h->Now();
    // Scheduled out of order: the earliest is the second one.
    const UnixMillis dues[3] = {now + 7200 * 1000, now - 5, now + 3600 * 1000};
    for (int i = 0; i < 3; ++i) {
      const std::string id = "e" + std::to_string(i), key = "k" + std::to_string(i);
      REQUIRE(s->FinishRetry(EndFor(got[i], id, key, ""), EventJson(id, key, 1), dues[i]).ok());
    }
    Result<std::optional<UnixMillis>> first = s->NextDue();
    REQUIRE(first.ok());
    REQUIRE(first->has_value());
    CHECK(**first == now - 5);

    CHECK(MoveAllDue(*s) == 1);  // the due one left the schedule: the next is an hour out
    Result<std::optional<UnixMillis>> next = s->NextDue();
    REQUIRE(next.ok());
    REQUIRE(next->has_value());
    CHECK(**next == now + 3600 * 1000);
  }
}

}  // namespace evt::contract
