// PRIVATE: the rules of the event contract's fields, one function per rule, shared by
// MakeEvent (event.cc) and the CloudEvents reader (cloudevents.cc). Each returns OK or
// InvalidArgument "<name>: <rule> (got <value>)", one line that names the field.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "evt/event.h"
#include "evt/status.h"

namespace evt {

// InvalidArgument "<name>: <rule>".
Status Invalid(std::string_view name, std::string_view rule);

// InvalidArgument "<name>: must be <expected> (got <v, described>)".
Status WrongType(std::string_view name, const char* expected, const Json& v);

// A string of 1..max characters (code points, as JSON Schema's maxLength counts them).
Status CheckString(std::string_view name, const Json& v, std::size_t max);

// event_id: 1-128 of [A-Za-z0-9_.:-].
Status CheckEventId(std::string_view name, const Json& v);

// event_type: 1-255 characters matching ^[a-z0-9][a-z0-9_.-]*$.
Status CheckEventType(std::string_view name, const Json& v);

// retry_count (evt) or retrycount (CloudEvents, `allow_digits`: a string of digits too,
// as many CloudEvents SDKs carry every extension as a string): an integer >= 0, in *out.
Status GetRetryCount(std::string_view name, const Json& v, bool allow_digits, std::int64_t* out);

// schema_version: an integer from 1 to kSchemaVersion; a larger one gives the message that
// IsNewerSchemaVersion (event.h) recognises.
Status CheckSchemaVersion(const Json& v);

// A value that sits `levels_above` containers deep in the event (the payload: 1) nests at
// most kMaxJsonDepth levels in all, so that the event's JSON text can be read back.
Status CheckNesting(std::string_view name, const Json& v, int levels_above);

}  // namespace evt
