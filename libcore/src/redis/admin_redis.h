// PRIVATE: the QueueAdmin of a queue on Redis (DESIGN.md, "Delivery semantics": the dlq,
// stream, idem and audit keys of <ns>:{<queue>}). Reached through OpenAdmin
// (broker_factory.h).
#pragma once

#include <memory>

#include "evt/broker.h"
#include "evt/queue_admin.h"

namespace evt {

// Connects to `broker` (one attempt). Unavailable when it cannot be reached, Config when
// it refuses the credentials; messages name the redacted URL only.
// REQUIRES: broker.is_redis(); options.ns and options.queue are valid names.
Result<std::unique_ptr<QueueAdmin>> OpenRedisAdmin(const BrokerConfig& broker,
                                                   const AdminOptions& options);

}  // namespace evt
