// QueueAdmin on one SQLite file, and the connection every operator command opens. Private:
// reached through OpenAdmin (broker_factory.h); the inspector shares the helpers.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "evt/broker.h"
#include "evt/queue_admin.h"
#include "evt/status.h"
#include "sqlite/sqlite_db.h"

namespace evt {

// Opens the file of `broker` for evt-dlq and evt-replay, queue options.queue of namespace
// options.ns. Unavailable when the file does not exist (an operator's command never creates
// one), Config when it cannot be used. REQUIRES: broker.kind == kSqlite.
Result<std::unique_ptr<QueueAdmin>> OpenSqliteAdmin(const BrokerConfig& broker,
                                                    const AdminOptions& options);

// The connection of an operator's command: the file must exist; opened and migrated.
Result<std::unique_ptr<SqliteDb>> OpenExistingSqlite(const BrokerConfig& broker);

// The id of queue `ns`/`queue` when the file knows it, else -1 (nothing is registered).
Result<std::int64_t> FindSqliteQueue(SqliteDb& db, const std::string& ns, const std::string& queue);

}  // namespace evt
