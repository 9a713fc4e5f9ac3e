// evt-emit's work: build events from flags or read them as NDJSON, validate, normalize,
// fill defaults and write them out.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "evt/event.h"
#include "evt/status.h"

namespace evt {

struct EmitOptions {
  // One event from flags.
  std::string type;                 // --type: event_type (required without --stdin)
  std::string source;               // --source: default source (also for --stdin lines without one)
  std::string key;                  // --key: idempotency_key
  std::string id;                   // --id: event_id
  std::string correlation_id;       // --correlation-id
  std::string payload;              // --payload: JSON text, @FILE, or - for stdin
  std::vector<std::string> fields;  // --field k=v (string) or k:=JSON (typed), repeatable
  // Many events.
  bool from_stdin = false;                 // --stdin: NDJSON events (evt or CloudEvents) on stdin
  EventFormat format = EventFormat::kEvt;  // --format
  std::size_t max_event_bytes = kDefaultMaxEventBytes;  // --max-event-bytes
};

// Checks option combinations (e.g. --type with --stdin). Usage on conflict.
Status ValidateEmitOptions(const EmitOptions& options);

// Builds the one event the flags describe. `stdin_fd` is read when --payload is "-".
// InvalidArgument for a bad payload or field; NotFound/IOError for an unreadable @FILE.
Result<Event> BuildEventFromFlags(const EmitOptions& options, int stdin_fd);

struct EmitStats {
  std::uint64_t lines = 0;     // non-blank input lines read
  std::uint64_t written = 0;   // events written
  std::uint64_t rejected = 0;  // lines rejected (each reported on stderr)
};

// --stdin mode: reads NDJSON from `in_fd`, writes each valid event (in input order) as one
// line to `out_fd`, and logs one error per rejected line ("line 3: event_type: ..."). Goes
// on after bad lines. Returns OK when every line was written, InvalidArgument when some
// were rejected (exit 65), IOError when reading or writing failed.
Status EmitStream(int in_fd, int out_fd, const EmitOptions& options, EmitStats* stats);

}  // namespace evt
