// PRIVATE: JSON text for events and messages. A compact writer with nlohmann's output
// for valid UTF-8 (but several times faster, see json_text.cc), a cheap size check for
// --max-event-bytes, and escaping that makes user data safe to quote in a one-line message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "evt/event.h"

namespace evt {

// The deepest nesting of arrays and objects that ParseJson accepts (the whole text's own
// container is level 1): writing and destroying recurse once per level.
inline constexpr int kMaxJsonDepth = 128;

// Whether `v` nests more than `levels` arrays and objects (a scalar nests none, `{}` one).
// Recurses at most levels + 1 deep, however deep `v` is.
bool JsonDeeperThan(const Json& v, int levels);

// The length of the valid UTF-8 sequence at p (its code point in *cp), or 0 when the
// bytes there are not one (overlong forms, surrogates and values past U+10FFFF included).
std::size_t DecodeUtf8(const char* p, const char* end, std::uint32_t* cp);

// Appends `s` JSON-escaped (without the quotes; `"` and `\` only when `quoting`), cut
// after `max_chars` characters with "...". Control characters are escaped and invalid
// UTF-8 becomes U+FFFD, so quoted user data can neither break a line nor drive a terminal.
void AppendEscaped(std::string* out, std::string_view s, std::size_t max_chars, bool quoting);

// `s` in double quotes for a message, escaped as AppendEscaped does, cut after 60
// characters.
std::string Quoted(std::string_view s);

// A short, safe description of a JSON value for a message: a string quoted (Quoted), a
// number, boolean or null as written, a container by its kind ("an object").
std::string DescribeJson(const Json& v);

// Whether `doc` written compactly is larger than `max` bytes; its exact size if so.
bool LargerThan(const Json& doc, std::size_t max, std::size_t* size);

// `doc` as compact JSON text (invalid UTF-8 replaced by U+FFFD).
std::string WriteCompact(const Json& doc);

}  // namespace evt
