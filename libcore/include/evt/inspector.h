// The read side of a durable broker, for evt-status: what is queued, in flight, delayed
// and dead, who consumes, the per-minute metrics the workers wrote (metrics.h), and the
// status of one event. Read-only: no call changes the store. Nothing here names a store
// type; a stream server implements it today (OpenInspector, broker_factory.h).
//
// Errors: Unavailable when the store cannot be reached (one attempt, no retry: an
// operator's command answers now or says why not), Config when it refuses (credentials,
// a key of the wrong type), NotFound from the event lookups when no such event is known.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "evt/rfc3339.h"
#include "evt/status.h"

namespace evt {

// One consumer group of a queue.
struct GroupState {
  std::string name;
  std::int64_t undelivered = 0;  // entries not yet handed to the group (its lag in entries)
  std::int64_t pending = 0;      // handed out, not yet acknowledged (in flight)
  // The time of the oldest entry the group still owes work on (undelivered or pending);
  // -1 when it owes nothing. now - oldest_ms is the group's lag as a duration.
  UnixMillis oldest_ms = -1;
};

// A live consumer (its heartbeat has not expired).
struct ConsumerState {
  std::string name;
  std::string host;
  int pid = 0;
  int concurrency = 0;
  int in_flight = 0;
  std::string heartbeat_at;  // RFC 3339
};

// The dead-letter queue of a queue.
struct DlqState {
  std::int64_t size = 0;         // dead letters now
  std::int64_t added_since = 0;  // of those, how many arrived at or after `since_ms`
  bool added_capped = false;     // added_since stopped counting at the scan bound
};

// A queue at one moment.
struct QueueState {
  std::string queue;
  std::int64_t length = 0;   // entries in the stream, history included
  std::int64_t delayed = 0;  // events due later (retries with backoff, --delay/--at)
  std::vector<GroupState> groups;
  std::vector<ConsumerState> consumers;  // live ones only
  DlqState dlq;
};

// Metric fields (metrics.h: "<type>|<what>" → count) of one minute, summed over every
// worker that wrote to it.
using MetricFields = std::map<std::string, std::int64_t>;
// Unix minute → its fields. Minutes without a record are absent.
using MinuteMetrics = std::map<std::int64_t, MetricFields>;

// One event's status record, or what the store knows of it before a worker took it.
struct EventStatus {
  std::string queue;
  std::string event_id;
  // queued | running | retrying | done | failed | duplicate; "queued" (with `delayed`
  // telling whether it waits in the delayed set) when no worker has recorded it yet.
  std::string status;
  bool delayed = false;
  // The record's fields as stored (event_type, idempotency_key, attempts, consumer,
  // stream_id, started_at, updated_at, finished_at, next_attempt_at, duration_ms, error,
  // category, reason); for a queued event: event_type, idempotency_key, queued_at (the
  // stream entry's time) or due_at.
  std::map<std::string, std::string> fields;
};

class QueueInspector {
 public:
  virtual ~QueueInspector() = default;

  // The queue names in use in the namespace, sorted.
  virtual Result<std::vector<std::string>> ListQueues() = 0;

  // The state of `queue` now; the DLQ's `added_since` counts from `since_ms`.
  virtual Result<QueueState> ReadQueue(const std::string& queue, UnixMillis since_ms) = 0;

  // The metrics of `queue` for the unix minutes [first, last] (MetricsMinute).
  virtual Result<MinuteMetrics> ReadMetrics(const std::string& queue, std::int64_t first,
                                            std::int64_t last) = 0;

  // The status of event `event_id` in `queue`: its record, else `queued` when the entry
  // is still in the stream or the delayed set. NotFound when neither holds it.
  virtual Result<EventStatus> FindEvent(const std::string& queue, const std::string& event_id) = 0;

  // The status of the event with idempotency key `key` in `queue` (the latest one that
  // was not a duplicate when several share the key). NotFound when none is known.
  virtual Result<EventStatus> FindByKey(const std::string& queue, const std::string& key) = 0;

  // The broker's redacted URL, for messages; never holds a password.
  virtual std::string Describe() const = 0;
};

}  // namespace evt
