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
#pragma once

#include <memory>
#include <string>

#include "evt/broker.h"
#include "evt/duration.h"
#include "evt/queue.h"

namespace evt {

struct RedisQueueOptions {
  BrokerConfig broker;                             // where; REQUIRES: broker.is_redis()
  std::string ns = "evt";                          // --namespace
  std::string queue = "default";                   // --queue
  std::string group = "workers";                   // --group: the consumer group
  std::string consumer;                            // --consumer; empty = host:pid
  Millis idempotency_ttl{7LL * 24 * 3600 * 1000};  // --idempotency-ttl: life of a `done` record
                                                   // (and of a finished event's status hash)
  Millis io_timeout{10000};                        // socket timeout; Receive blocks for less
  Millis backoff_max{5000};                        // cap on the reconnect delay
};

// Checks the options (group name non-empty, no spaces; consumer likewise; ttl > 0).
// Usage error naming the option.
Status ValidateRedisQueueOptions(const RedisQueueOptions& options);

// REQUIRES: ValidateRedisQueueOptions(options).ok(). Connects nothing yet.
std::unique_ptr<Queue> MakeRedisQueue(RedisQueueOptions options);

// "host:pid", the default consumer name.
std::string DefaultConsumerName();

}  // namespace evt
