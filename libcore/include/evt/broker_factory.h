// The one place that turns a --broker URL into a backend: the publisher (evt-emit's side)
// and the queue (evt-work's side) of a durable broker. Callers see only the interfaces of
// publisher.h and queue.h; a new backend is one case in broker_factory.cc.
#pragma once

#include <memory>
#include <string>

#include "evt/broker.h"
#include "evt/defaults.h"
#include "evt/duration.h"
#include "evt/publisher.h"
#include "evt/queue_admin.h"
#include "evt/status.h"

namespace evt {

class Queue;           // queue.h
class QueueInspector;  // inspector.h

// Where a durable queue lives inside its broker, and how a worker joins it. The same for
// every backend.
struct QueueOptions {
  std::string ns = SharedDefaults::kNamespace;     // --namespace
  std::string queue = SharedDefaults::kQueue;      // --queue
  std::string group = SharedDefaults::kGroup;      // --group: the consumer group
  std::string consumer;                            // --consumer; empty = DefaultConsumerName()
  Millis idempotency_ttl{7LL * 24 * 3600 * 1000};  // --idempotency-ttl: life of a `done` record
                                                   // (and of a finished event's status record)
  Millis io_timeout{10000};                        // store call timeout; Receive blocks for less
  Millis backoff_max{5000};                        // cap on the reconnect delay
};

// Checks the options (group name non-empty, no spaces; consumer likewise; ttl > 0).
// Usage error naming the option.
Status ValidateQueueOptions(const QueueOptions& options);

// Connects to the durable broker `broker` (one attempt, no retry) and returns the
// publisher of queue `queue` in namespace `ns`. Unavailable when it cannot be reached,
// Config when it refuses the credentials or the database; the messages name the redacted
// URL only, never the password. Internal when `broker` is not durable (stdio).
// REQUIRES: ns and queue passed ValidateNamespace / ValidateQueueName.
Result<std::unique_ptr<EventPublisher>> OpenPublisher(const BrokerConfig& broker,
                                                      const std::string& ns,
                                                      const std::string& queue,
                                                      const PublisherOptions& options);

// The queue of `options` on the durable broker `broker`. Connects nothing yet: the first
// session call does. Usage error when the options are invalid (ValidateQueueOptions);
// Internal when `broker` is not durable (stdio).
Result<std::unique_ptr<Queue>> OpenQueue(const BrokerConfig& broker, const QueueOptions& options);

// Connects to the durable broker `broker` (one attempt, no retry) to read the queues of
// namespace `ns` (evt-status). Unavailable when it cannot be reached, Config when it
// refuses the credentials; Internal when `broker` is not durable (stdio).
// REQUIRES: ns passed ValidateNamespace.
Result<std::unique_ptr<QueueInspector>> OpenInspector(const BrokerConfig& broker,
                                                      const std::string& ns);
// The admin of evt-dlq and evt-replay (queue_admin.h): of the dead-letter file
// `options.file` when it is set (`broker` is then not used), else of queue `options.queue`
// on the durable broker `broker` (one connection attempt). NotFound for a missing file;
// Unavailable or Config as OpenPublisher; Usage when neither a file nor a durable broker
// is given. REQUIRES: ns and queue passed ValidateNamespace / ValidateQueueName.
Result<std::unique_ptr<QueueAdmin>> OpenAdmin(const BrokerConfig& broker,
                                              const AdminOptions& options);

}  // namespace evt
