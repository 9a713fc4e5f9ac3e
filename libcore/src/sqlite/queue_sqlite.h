// The Queue of queue.h on one SQLite file (DESIGN.md, "Delivery semantics", with the
// tables of sqlite_schema.cc in place of the Redis keys). Every call is one transaction;
// every write transaction starts with BEGIN IMMEDIATE, so several processes on one file
// (one host) take turns at the write lock and never hand one entry to two consumers. An
// attempt-ending call writes the status, the metrics, its own effect (done record, retry,
// dead letter), the delivery's commit marker and the acknowledgement together, or nothing;
// when the marker exists it only acknowledges, so repeating it is harmless. Pending
// entries carry the consumer and the time they were handed out: Claim takes over those of
// other consumers idle for longer than asked (a lease that expires), counting deliveries.
// Private: reached through OpenQueue (broker_factory.h).
#pragma once

#include <memory>

#include "evt/broker.h"
#include "evt/broker_factory.h"
#include "evt/queue.h"

namespace evt {

// The backend-neutral QueueOptions plus where the file is.
struct SqliteQueueOptions : QueueOptions {
  BrokerConfig broker;  // REQUIRES: broker.kind == kSqlite
};

// REQUIRES: ValidateQueueOptions(options).ok(). Opens nothing yet.
std::unique_ptr<Queue> MakeSqliteQueue(SqliteQueueOptions options);

}  // namespace evt
