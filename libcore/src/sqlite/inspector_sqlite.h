// QueueInspector on one SQLite file (the tables of sqlite_schema.cc). Private: reached
// through OpenInspector (broker_factory.h).
#pragma once

#include <memory>
#include <string>

#include "evt/broker.h"
#include "evt/inspector.h"
#include "evt/status.h"

namespace evt {

// Opens the file of `broker` for evt-status, the queues of namespace `ns`. Unavailable when
// the file does not exist (evt-status never creates one), Config when it cannot be used.
// REQUIRES: broker.kind == kSqlite.
Result<std::unique_ptr<QueueInspector>> OpenSqliteInspector(const BrokerConfig& broker,
                                                            const std::string& ns);

}  // namespace evt
