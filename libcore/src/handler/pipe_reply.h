// PRIVATE: the co-process protocol's replies (evt-work(1), --pipe): one JSON line per
// event, {"status":"ok"|"retry"|"fail"} with optional "error", "category" and
// "retry_after_ms".
#pragma once

#include <string>
#include <string_view>

#include "evt/duration.h"
#include "evt/outcome.h"
#include "evt/status.h"

namespace evt {

// What a reply line says.
struct PipeReply {
  Outcome outcome = Outcome::kDone;
  Category category = Category::kNone;
  std::string error;      // one line; "the handler replied retry" when the reply has none
  Millis retry_after{0};  // at most a day (as an HTTP Retry-After is)
};

// Parses one reply line (a trailing CR is allowed). InvalidArgument with the reason ("not
// JSON", "no \"status\" string", ...) when it is not a valid reply.
Result<PipeReply> ParsePipeReply(std::string_view line);

}  // namespace evt
