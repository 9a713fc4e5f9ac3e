// The spool: where evt-emit --spool DIR keeps events durably while the broker cannot be
// reached, until a later evt-emit that reaches it sends them on.
//
// Files in DIR (DIR is created 0700 when missing, the files 0600):
//   spool.ndjson    the waiting events, oldest first, one JSON object per line: an event
//                   due now is the event itself (so `evt-emit --stdin < spool.ndjson` would
//                   send it by hand); a delayed one is {"due_at":"<RFC 3339>","event":{...}}
//   lock            flock(2)ed exclusively by every append and every flush, so that an
//                   append never races a flush and two flushes never send the same lines
//   rejected.ndjson spool lines that could not be read back (e.g. torn by a crash in the
//                   middle of a write); kept for a person, each reported once on stderr
//
// Guarantees: Append returns OK only after the lines are written and fsync'ed (and the
// folder fsync'ed when the file was created); a failed Append leaves the file as it was.
// Flush sends the lines in file order and
// removes exactly those it sent. The one window left: a crash (or kill) after the broker
// accepted a flushed batch and before the spool file was removed or rewritten means
// those events are sent again by the next flush: at-least-once, made safe downstream by
// idempotency keys.
//
// A Spool is used by one thread; any number of processes may share one DIR.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "evt/publisher.h"
#include "evt/status.h"

namespace evt {

class Spool {
 public:
  // Uses the folder `dir`, creating it (and missing parents) with mode 0700, and its lock
  // file. IOError naming the folder when it cannot be created, is not a folder, or this
  // process cannot create files in it.
  static Result<Spool> Open(const std::string& dir);

  // Appends `entries` in order, durably, under the lock: all or nothing. IOError on failure
  // (a full disk, an I/O error); the file is then cut back to its size before the call, so
  // that none of them is ever sent (unless even that fails, which the message says).
  Status Append(const std::vector<Publication>& entries);

  // Under the lock: publishes every spooled entry in order through `publisher`, in rounds
  // of up to `round` entries, then removes the spool file. On a failure the entries not
  // accepted stay in the spool, in order, and the failure is returned. A line that cannot
  // be read back is moved to rejected.ndjson (and logged); when even that cannot be written,
  // it stays and the flush stops with IOError. Sets *sent to the number of entries the
  // publisher accepted (always set).
  Status Flush(EventPublisher* publisher, std::size_t round, std::size_t* sent);

  const std::string& dir() const { return dir_; }
  std::string file() const { return dir_ + "/spool.ndjson"; }

 private:
  explicit Spool(std::string dir) : dir_(std::move(dir)) {}

  std::string dir_;
};

// The spool line of one entry (no newline), and back. ParseSpoolLine gives
// InvalidArgument for a line that is neither form.
std::string SpoolLine(const Publication& entry);
Result<Publication> ParseSpoolLine(std::string_view line);

}  // namespace evt
