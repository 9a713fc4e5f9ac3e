#include "evt/dead_reason.h"

#include <catch2/catch.hpp>

TEST_CASE("every dead-letter reason reads back from its name", "[dead_reason]") {
  for (evt::DeadReason r :
       {evt::DeadReason::kPermanent, evt::DeadReason::kRetriesExhausted, evt::DeadReason::kPoison,
        evt::DeadReason::kInvalid, evt::DeadReason::kInterrupted}) {
    CHECK(evt::DeadReasonFromName(evt::DeadReasonName(r)) == r);
  }
  CHECK(evt::DeadReasonName(evt::DeadReason::kRetriesExhausted) == "retries_exhausted");
  CHECK(evt::DeadReasonFromName("no such reason") == evt::DeadReason::kPermanent);
}
