// Folders for evt's own files (the --spool folder, the folder of a --dlq file): created
// when missing, readable by their owner only, made durable, and described in one wording
// whichever option asked for them.
#pragma once

#include <string>

#include "evt/status.h"

namespace evt {

// Makes sure `dir` is a folder, creating it and any missing parents with mode 0700 (each
// creation made durable by an fsync of its parent); existing folders are left as they are.
// `option` ("--spool /var/spool/evt", "--dlq /var/lib/evt/dlq.ndjson") starts every
// message: IOError "<option>: cannot create folder <path>: <reason>" or
// "<option>: <path> is not a folder".
Status MakePrivateDirs(const std::string& dir, const std::string& option);

// fsync(2) of a folder, so that a file created or renamed in it survives a crash. IOError
// naming the folder.
Status SyncDir(const std::string& dir);

}  // namespace evt
