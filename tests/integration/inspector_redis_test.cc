// What only the Redis QueueInspector has; the cases every store shares are the inspector
// contract (tests/contract/inspector_contract_test.cc).
#include "redis/inspector_redis.h"

#include <catch2/catch.hpp>

#include "evt/ulid.h"

namespace evt {

TEST_CASE("redis inspector: the time of a ULID event id narrows the stream search",
          "[inspector][redis]") {
  const std::string ulid_id = NewEventId();
  CHECK(EventIdMillis(ulid_id) <= NowUnixMillis());
  CHECK(EventIdMillis(ulid_id) > NowUnixMillis() - 60000);
  CHECK(EventIdMillis("plain-id") == -1);
}

}  // namespace evt
