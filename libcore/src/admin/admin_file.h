// PRIVATE: the QueueAdmin of a dead-letter file (the stdio `--dlq` NDJSON records, or
// plain events). Reached through OpenAdmin (broker_factory.h).
#pragma once

#include <memory>
#include <string>

#include "evt/queue_admin.h"

namespace evt {

// Reads `path` ("-": standard input, read-only) now. NotFound when the file does not
// exist, IOError when it cannot be read. Lines that are neither a dead-letter record nor
// an event are logged once as warnings ("PATH line 3: ...") and left out of every list,
// and a purge keeps them.
Result<std::unique_ptr<QueueAdmin>> OpenFileAdmin(const std::string& path);

}  // namespace evt
