// RFC 3339 timestamps: parsing with any offset, writing in UTC with milliseconds.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "evt/status.h"

namespace evt {

// Milliseconds since the Unix epoch, UTC.
using UnixMillis = std::int64_t;

// Parses "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)" (RFC 3339 section 5.6;
// 't', 'z' and a space separator also accepted). Fractions beyond milliseconds are
// truncated. Returns InvalidArgument saying what part is wrong (the message does not
// repeat the text). Leap seconds (:60) are rejected, and so are instants that fall outside
// the years 0000-9999 once converted to UTC.
Result<UnixMillis> ParseRfc3339(std::string_view text);

// Writes "2026-02-27T04:55:00.000Z". Times before 1970 are written correctly; instants
// outside the years 0000-9999 (UTC) are clamped to that range.
std::string FormatRfc3339Millis(UnixMillis ms);

// The current wall-clock time.
UnixMillis NowUnixMillis();

}  // namespace evt
