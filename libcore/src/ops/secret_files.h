// A warning when a file that holds a secret (a password, an HMAC key, a service's env
// file) may be read by every user of the host.
#pragma once

#include <string>

namespace evt {

// True when `path` exists and its mode lets others read it (mode & 004).
bool ReadableByOthers(const std::string& path);

// Logs one warning naming `path` when it is readable by others, once per path for the
// whole process. Returns whether it warned now. Empty `path`: nothing. Thread-safe.
bool WarnIfReadableByOthers(const std::string& path);

}  // namespace evt
