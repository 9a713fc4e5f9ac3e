// QueueInspector on Redis (DESIGN.md, "Delivery semantics": the keys it reads). Private:
// reached through OpenInspector (broker_factory.h).
#pragma once

#include <memory>
#include <string>

#include "evt/broker.h"
#include "evt/inspector.h"
#include "evt/status.h"
#include "redis/redis_client.h"

namespace evt {

// Connects to the Redis broker `broker` (one attempt, no retry) to read the queues of
// namespace `ns`. Unavailable when it cannot be reached, Config when it refuses the
// credentials. REQUIRES: broker.is_redis(), ns passed ValidateNamespace.
Result<std::unique_ptr<QueueInspector>> OpenRedisInspector(const BrokerConfig& broker,
                                                           const std::string& ns);

// How far the event lookups look when the id does not say where (inspector_redis_find.cc).
inline constexpr int kInspectScanPage = 1000;     // entries or keys per round trip
inline constexpr int kInspectScanLimit = 100000;  // entries or keys looked at, at most

// The event lookups, shared by the inspector (inspector_redis_find.cc). Each uses
// `client` as it is (connected); NotFound when the event is not there.
Result<EventStatus> RedisFindEvent(RedisClient& client, const std::string& ns,
                                   const std::string& queue, const std::string& event_id);
Result<EventStatus> RedisFindByKey(RedisClient& client, const std::string& ns,
                                   const std::string& queue, const std::string& key);

// The millisecond time of an event id "evt_<ULID>" (or a bare ULID), or -1 when the id
// carries none.
UnixMillis EventIdMillis(const std::string& event_id);

}  // namespace evt
