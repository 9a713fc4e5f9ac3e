// PRIVATE: the text helpers the handler kinds share for what they pass on and report:
// event fields as text, durations and one-line errors.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "evt/duration.h"
#include "evt/event.h"

namespace evt {

// The longest wait a handler's reply may ask for before a retry (an HTTP Retry-After, a
// co-process's retry_after_ms); a longer one is taken as this.
inline constexpr Millis kMaxRetryAfter{24LL * 3600 * 1000};

// A top-level field of `event` as text: a string as it is, any other value as JSON, ""
// when missing. Never throws, even on an event that skipped validation.
std::string Field(const Event& event, const char* key);

// "30s" for whole seconds, else "1500ms".
std::string FormatShortDuration(Millis d);

// `s` cut after `max` bytes (then "..." appended), control characters as spaces and
// trailing spaces dropped: safe to put in a one-line error.
std::string OneLine(std::string_view s, std::size_t max);

// True when `s` holds only white space.
bool IsBlank(std::string_view s);

}  // namespace evt
