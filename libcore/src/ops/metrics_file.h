// Writing a whole file so that a reader sees the old text or the new one, never a part:
// a temporary file in the same folder, fsync, rename over the target.
#pragma once

#include <string>
#include <string_view>

#include "evt/status.h"

namespace evt {

// Replaces `path` with `text` atomically; the file is left mode 0644 (node_exporter's
// textfile collector runs as another user). IOError naming the path on failure; the
// temporary file is removed then.
Status WriteFileAtomically(const std::string& path, std::string_view text);

}  // namespace evt
