// EventPublisher on one SQLite file. Private: reached through OpenPublisher
// (broker_factory.h).
#pragma once

#include <memory>
#include <string>

#include "evt/broker.h"
#include "evt/publisher.h"
#include "evt/status.h"

namespace evt {

// Opens (creating it and its folder when missing, 0600/0700) the file of `broker` and
// registers queue `queue` of namespace `ns`. Config when the file cannot be used (read-only,
// not an evt database, a newer schema); Unavailable when it stays busy.
// REQUIRES: broker.kind == kSqlite.
Result<std::unique_ptr<EventPublisher>> OpenSqlitePublisher(const BrokerConfig& broker,
                                                            const std::string& ns,
                                                            const std::string& queue,
                                                            const PublisherOptions& options);

}  // namespace evt
