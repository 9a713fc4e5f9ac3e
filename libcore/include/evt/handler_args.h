// Handler arguments that name event fields: `evt-work -- backup.sh {payload.server} {event_id}`.
#pragma once

#include <string>
#include <vector>

#include "evt/event.h"
#include "evt/status.h"

namespace evt {

// Replaces placeholders in argv[1..] with values from `event`. argv[0], the command, is
// never expanded: an event never chooses the program that runs.
//
//  - `{path}` names a field of the event object: `{event_id}`, `{payload.server}`,
//    `{payload.a.b}`; a numeric part indexes an array (`{payload.hosts.0}`).
//  - Each placeholder becomes exactly one argv element, never split or seen by a shell.
//    Text around it stays: `--host={payload.server}` gives `--host=srv-a`.
//  - Strings are inserted as they are; numbers, booleans, null, objects and arrays as
//    compact JSON (`{payload}` gives `{"server":"srv-a"}`).
//  - Only `{path}` with a field path (parts of [A-Za-z0-9_-] joined by dots) and no `$`
//    before the brace is a placeholder; any other brace is text, so `${HOME}`,
//    `awk '{print $1}'` and `find -exec {} +` pass unchanged. `{{` and `}}` are a literal
//    `{` and `}`, for text that looks like a placeholder.
//
// Errors (InvalidArgument, naming the argument's position and the field):
//  - a field that is missing: "argument 2: {payload.server}: no field payload.server in
//    the event" (a permanent `data` failure of that event);
//  - a string value with a NUL byte, which no argv element can hold.
Result<std::vector<std::string>> ExpandArguments(const std::vector<std::string>& argv,
                                                 const Event& event);

// Checks argv[1..] without an event, at start-up. Every brace that is not a placeholder is
// text, so today every list passes; kept so that a future rule fails at start-up, not per
// event. Usage error naming the argument.
Status CheckArgumentTemplates(const std::vector<std::string>& argv);

// True when some argv[1..] holds a `{` or `}` (a placeholder or an escaped brace): when
// false, ExpandArguments would return argv unchanged and need not be called.
bool HasArgumentTemplates(const std::vector<std::string>& argv);

}  // namespace evt
