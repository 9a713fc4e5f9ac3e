// The Queue of queue.h on Redis Streams (DESIGN.md, "Delivery semantics"; evt(7)).
//
// Keys, all with the queue's hash tag {<queue>} (queue_keys.h): the stream and its consumer
// group, `delayed` (retries and deferred events, scored by due ms, member = event JSON),
// `dlq`, `idem:<key>` (value "running <owner>" with a TTL, or "done" with
// --idempotency-ttl), `ev:<event_id>` (status hash), `m:<minute>` (metrics.h), `workers` and
// `worker:<consumer>` (heartbeats), `fin:<entry id>` (a delivery's commit marker) and
// `run:<entry id>` (its handler starts), both with a TTL of a day. `<ns>:queues` is written
// by EnsureGroup, outside any transaction. Every attempt-ending call is one Lua script that
// checks its keys first, writes the outcome and the commit marker, and acknowledges last;
// when the marker exists it only acknowledges, so repeating it after a lost reply (or
// after the group was re-created) is harmless. Under maxmemory the scripts are refused
// whole (Unavailable), never half-applied.
// Private: reached through OpenQueue (broker_factory.h).
#pragma once

#include <memory>

#include "evt/broker.h"
#include "evt/broker_factory.h"
#include "evt/queue.h"

namespace evt {

// The backend-neutral QueueOptions plus where the Redis server is.
struct RedisQueueOptions : QueueOptions {
  BrokerConfig broker;  // where; REQUIRES: broker.is_redis()
};

// REQUIRES: ValidateQueueOptions(options).ok() and options.broker.is_redis(). Connects
// nothing yet.
std::unique_ptr<Queue> MakeRedisQueue(RedisQueueOptions options);

}  // namespace evt
