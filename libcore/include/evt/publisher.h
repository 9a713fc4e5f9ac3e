// EventPublisher: the producer's side of a durable transport (a stream server today; an
// embedded SQLite file later). It hands events to the broker and says, in input order, how
// many the broker has durably accepted. No broker type appears here.
//
// Delivery is at-least-once: when a connection breaks after the broker ran a batch but
// before its reply arrived, the batch is sent again, so the stream may hold the same
// event_id twice. Consumers handle that by idempotency key (DESIGN.md, "Delivery semantics").
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "evt/broker.h"
#include "evt/defaults.h"
#include "evt/duration.h"
#include "evt/event.h"
#include "evt/rfc3339.h"
#include "evt/status.h"

namespace evt {

// One event to publish: ready now (due_ms == 0), or due at due_ms (into the queue's
// delayed set, which workers move into the stream when due).
struct Publication {
  Event event;
  UnixMillis due_ms = 0;
};

class EventPublisher {
 public:
  virtual ~EventPublisher() = default;

  // Publishes `batch` in order. Sets *accepted to the length of the prefix the broker has
  // durably accepted (always set, also on failure): those events are queued, the others
  // are not (or not known to be). OK means all were accepted. Retries through an outage
  // for up to PublisherOptions::outage_patience without progress (or until a stop signal),
  // then returns Unavailable; a broker that refuses writes for now (out of memory) is
  // waited out the same way. Config when it refuses for good (credentials, a key of the
  // wrong type).
  virtual Status Publish(const std::vector<Publication>& batch, std::size_t* accepted) = 0;

  // The queue's backlog: entries not yet delivered to the consumer group plus entries
  // delivered but not acknowledged (pending). Events in the delayed set are not counted.
  // Without a consumer group it is the number of entries in the stream; without a stream,
  // 0. Retries through an outage like Publish.
  virtual Result<std::int64_t> Depth() = 0;
};

struct PublisherOptions {
  std::string group = SharedDefaults::kGroup;  // consumer group whose backlog Depth() counts
  std::size_t batch_events = 256;              // events per transaction
  std::size_t batches_per_round = 16;          // transactions sent per round trip
  Millis outage_patience{30000};  // how long a call retries without progress in an outage
  Millis connect_timeout{2000};   // one connection attempt
  std::string client_name;        // shown by CLIENT LIST, e.g. "evt-emit:host:123"
};

// OpenPublisher (broker_factory.h) returns the publisher of a --broker URL.

}  // namespace evt
