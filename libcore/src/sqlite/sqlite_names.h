// PRIVATE: small pieces shared by the SQLite queue and publisher: the queue's row id, the
// entry ids shown to workers, and the options every connection of a broker URL gets.
#pragma once

#include <cstdint>
#include <string>

#include "evt/broker.h"
#include "evt/duration.h"
#include "evt/status.h"
#include "sqlite/sqlite_db.h"

namespace evt {

// The id of queue `ns`/`queue` in the file, registering it (the <ns>:queues set) when
// new. Runs its own write transaction.
Result<std::int64_t> SqliteQueueId(SqliteDb& db, const std::string& ns, const std::string& queue);

// "<added_ms>-<row id>": the form of a stream id, so that an entry without an event_id
// gets a stable identity from it (ForStreamEntry, event.h).
std::string SqliteEntryId(std::int64_t added_ms, std::int64_t id);
// The row id of an entry id (the number after its last '-', or the whole text); -1 when
// it has another form.
std::int64_t SqliteRowId(const std::string& entry_id);

// The connection options of `broker` (a sqlite URL).
SqliteOptions SqliteOptionsFor(const BrokerConfig& broker, Millis busy_timeout, Millis backoff_max);

}  // namespace evt
