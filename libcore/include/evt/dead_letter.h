// Dead letters on the stdio transport: NDJSON records appended to a file (--dlq FILE) or,
// without one, written to stderr. evt-dlq and evt-replay read the same records.
//
// One record per line, fields in this order:
//   {"failed_at":"...Z","reason":"permanent","category":"data","attempts":1,
//    "error":"exit 65: ...","consumer":"host:123","event_id":"evt_...",
//    "event_type":"x.y","line":7,"event":{...}}       (or "raw":"..." for an invalid line)
#pragma once

#include <cstdint>
#include <string>

#include "evt/dead_reason.h"
#include "evt/event.h"
#include "evt/outcome.h"
#include "evt/rfc3339.h"
#include "evt/status.h"

namespace evt {

struct DeadLetter {
  DeadReason reason = DeadReason::kPermanent;
  Category category = Category::kNone;
  std::string error;         // the last error, one line
  int attempts = 0;          // handler runs so far
  UnixMillis failed_at = 0;  // when it was given up
  std::string consumer;      // who gave up
  std::uint64_t line = 0;    // input line number, 0 when unknown
  Json event;                // the event object (null for an unparseable line)
  std::string raw;           // the raw input line, when `event` is null (bounded)
};

// One compact JSON line (no newline).
std::string SerializeDeadLetter(const DeadLetter& d);

// Appends dead letters to a file, or to stderr when no path is given. Each record is one
// write(2) on an O_APPEND descriptor, so several writers never interleave records; each is
// fdatasync'ed so a record that was reported is on disk. Thread-compatible.
class DeadLetterSink {
 public:
  DeadLetterSink() = default;
  ~DeadLetterSink();
  DeadLetterSink(const DeadLetterSink&) = delete;
  DeadLetterSink& operator=(const DeadLetterSink&) = delete;

  // Opens `path` for appending (created 0600; a missing folder is created 0700, as the
  // --spool folder is), or stderr when `path` is empty. IOError on failure, naming the path:
  // "--dlq PATH: cannot create folder DIR: ..." in the --spool wording.
  Status Open(const std::string& path);
  Status Append(const DeadLetter& d);
  // "dlq.ndjson" or "stderr", for messages.
  const std::string& name() const { return name_; }

 private:
  int fd_ = -1;
  bool owned_ = false;
  std::string name_;
};

}  // namespace evt
