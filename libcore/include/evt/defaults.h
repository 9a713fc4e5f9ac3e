// The defaults the evt tools share, each in one place. The options structs (cli.h, emit.h,
// broker_factory.h, publisher.h, worker.h, the handler options) take their in-class
// defaults from here, so that evt-emit and evt-work cannot drift apart: an event that one
// writes with its defaults is one the other accepts with its own.
#pragma once

#include <cstddef>

#include "evt/duration.h"

namespace evt {

struct SharedDefaults {
  // --max-event-bytes: the largest serialized event (and input line) accepted.
  static constexpr std::size_t kMaxEventBytes = 64 * 1024;
  // --broker: "-" is NDJSON on stdin/stdout.
  static constexpr const char* kBroker = "-";
  // --namespace: the prefix of every key of a durable broker.
  static constexpr const char* kNamespace = "evt";
  // --queue: the queue's name inside its namespace.
  static constexpr const char* kQueue = "default";
  // --group: the consumer group workers join and whose backlog evt-emit --max-depth counts.
  static constexpr const char* kGroup = "workers";
  // --timeout: the time limit of one handler attempt.
  static constexpr Millis kHandlerTimeout{120000};
  // --kill-after: after the SIGTERM of a stop, SIGKILL this much later.
  static constexpr Millis kKillAfter{10000};
  // --max-output-bytes: a handler's output kept (and stderr forwarded) per attempt.
  static constexpr std::size_t kMaxOutputBytes = 64 * 1024;
};

}  // namespace evt
