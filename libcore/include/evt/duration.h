// Human durations: "250ms", "90s", "5m", "2h", "7d", "1.5s", "1m30s".
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "evt/status.h"

namespace evt {

using Millis = std::chrono::milliseconds;

// Parses a duration made of one or more <number><unit> parts, unit one of
// ms, s, m, h, d; a plain "0" is accepted. Fractions ("1.5s") are allowed.
// Returns InvalidArgument naming the text on anything else (negative, empty,
// a number without a unit, overflow).
Result<Millis> ParseDuration(std::string_view text);

// Formats a duration in the largest exact unit ("90s", "5m", "250ms", "1m30s" → "90s").
std::string FormatDuration(Millis d);

}  // namespace evt
