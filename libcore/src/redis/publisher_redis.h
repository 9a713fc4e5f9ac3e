// EventPublisher on Redis Streams. Private: reached through OpenPublisher
// (broker_factory.h).
#pragma once

#include <memory>

#include "evt/broker.h"
#include "evt/publisher.h"
#include "evt/status.h"
#include "redis/queue_keys.h"

namespace evt {

// Connects to the Redis broker `broker` (one attempt, no retry) for the queue `keys`.
// Unavailable when it cannot be reached, Config when it refuses the credentials or the
// database; the messages name the redacted URL only, never the password.
// REQUIRES: broker.is_redis().
Result<std::unique_ptr<EventPublisher>> OpenRedisPublisher(const BrokerConfig& broker,
                                                           const QueueKeys& keys,
                                                           const PublisherOptions& options);

}  // namespace evt
