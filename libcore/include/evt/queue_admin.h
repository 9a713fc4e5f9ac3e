// QueueAdmin: the operator's side of a queue, as evt-dlq and evt-replay use it: read and
// filter dead letters, purge them, move one back into a queue, read the history that the
// queue still keeps, ask whether an idempotency key is done, and write audit records.
// No store type appears here; OpenAdmin (broker_factory.h) returns the implementation of a
// --broker URL (a durable broker) or of a dead-letter file (--file, --from-file).
//
// Every method is one call to the store; none retries through an outage (Unavailable then
// comes back at once and the command exits 69). Not thread-safe: one admin per thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "evt/dead_letter.h"
#include "evt/duration.h"
#include "evt/event.h"
#include "evt/rfc3339.h"
#include "evt/status.h"

namespace evt {

// Which records an admin call applies to. Every field that is set must match (AND).
struct RecordFilter {
  std::string type_glob;            // --type: fnmatch(3) glob on event_type; empty: any
  std::optional<UnixMillis> since;  // --since: the record's time >= since
  std::optional<UnixMillis> until;  // --until: the record's time < until
  std::string category;             // --category: exact name (data, dependency, ...); dead letters
  std::string reason;               // --reason: exact name (permanent, ...); dead letters only
  std::vector<std::string> ids;     // --id: the record's id or its event_id; empty: any
  std::size_t limit = 0;            // --limit: at most this many, oldest first; 0: no limit

  bool empty() const {
    return type_glob.empty() && !since && !until && category.empty() && reason.empty() &&
           ids.empty() && limit == 0;
  }
};

// One dead letter, as a store keeps it.
struct DeadLetterRecord {
  // The record's id in its store: the dead-letter stream's entry id ("1700000000000-0") on a
  // broker, the 1-based line number ("12") in a file. `show`, `--id` and Purge take it.
  std::string id;
  DeadLetter letter;      // reason, category, error, attempts, failed_at, consumer, event/raw
  std::string stream_id;  // the delivery's entry id in the queue's stream, when known
  // True for a plain event line in a file (not a dead-letter record): `letter` then holds
  // only the event, and the record's time is the event's occurred_at.
  bool plain_event = false;

  // event_id and event_type of the event, or "" when there is none (a raw line).
  std::string event_id() const;
  std::string event_type() const;
  // The time filters compare: failed_at, or occurred_at for a plain event (0 when unknown).
  UnixMillis time() const;
};

// One entry of a queue's stream history.
struct HistoryRecord {
  std::string id;   // the stream entry id
  Json event;       // the event object; null when the entry's text is not JSON (see raw)
  std::string raw;  // the entry's text when `event` is null
};

// Whom and what an audit record names (DESIGN.md: `<ns>:{<queue>}:audit`).
struct AuditRecord {
  std::string action;        // "replay" or "purge"
  std::string id;            // the replay id ("rpl_" + ULID), or the purge's id
  std::string user;          // the login name of the person or job
  std::string host;          // where the command ran
  UnixMillis at = 0;         // when
  std::string source;        // "dlq", "stream", "file:PATH" (replay) or the store (purge)
  std::string target;        // "queue:NAME" or "stdout" (replay); "" for purge
  std::string filters;       // the filters as the command line gave them, e.g. "--type 'a.*'"
  std::int64_t count = 0;    // replayed or purged
  std::int64_t skipped = 0;  // replay: not replayed (key already done, not an event, gone)
  std::int64_t failed = 0;   // replay: could not be written
  std::string note;          // anything else worth keeping ("--force", "--keep-retries")
};

class QueueAdmin {
 public:
  virtual ~QueueAdmin() = default;

  // A name for messages: the broker's redacted URL and the queue, or the file's path.
  virtual std::string Describe() const = 0;

  // The dead letters that match `filter` (RecordMatches), oldest first, at most
  // filter.limit. A record that cannot be read is logged as a warning and left out.
  virtual Result<std::vector<DeadLetterRecord>> ListDeadLetters(const RecordFilter& filter) = 0;

  // Deletes the dead letters with these ids (RecordFilter ids are not resolved here: store
  // ids only). Returns how many were deleted (ids already gone count nothing). A file is
  // rewritten atomically (a temporary file, fsync, rename).
  virtual Result<std::int64_t> PurgeDeadLetters(const std::vector<std::string>& ids) = 0;

  // Atomically appends `event_json` to the stream of queue `to_queue` (same namespace) and,
  // unless `keep`, deletes the dead letter `id`: both happen or neither. Returns false,
  // and writes nothing, when the dead letter is no longer there (replayed or purged by
  // someone else meanwhile). Usage error for a store that has no queue (a file).
  virtual Result<bool> MoveDeadLetter(const std::string& id, const std::string& event_json,
                                      const std::string& to_queue, bool keep) = 0;

  // Appends `event_json` to this queue's stream. Usage error for a file.
  virtual Status Enqueue(const std::string& event_json) = 0;

  // The entries of this queue's stream history that match `filter` (time: occurred_at),
  // oldest first. Usage error for a file.
  virtual Result<std::vector<HistoryRecord>> ReadHistory(const RecordFilter& filter) = 0;

  // For each key, whether this queue holds a `done` record for it (a worker would skip an
  // event with that key). A file knows no keys: all false.
  virtual Result<std::vector<bool>> DoneKeys(const std::vector<std::string>& keys) = 0;

  // Appends `record` to the queue's audit stream (a file: to PATH.audit, NDJSON).
  virtual Status AppendAudit(const AuditRecord& record) = 0;
};

// Where an admin's records live. For a broker, the queue; for a file, its path.
struct AdminOptions {
  std::string ns = "evt";         // --namespace
  std::string queue = "default";  // --queue
  std::string file;               // --file / --from-file: a dead-letter NDJSON file ("-": stdin)
  Millis io_timeout{10000};       // one store call
  std::string client_name;        // shown by the broker, e.g. "evt-dlq:host:123"
};

// True when `record` matches every set field of `filter` but `limit`.
bool RecordMatches(const RecordFilter& filter, const DeadLetterRecord& record);
// The same for a history entry (category and reason never match a history entry).
bool HistoryMatches(const RecordFilter& filter, const HistoryRecord& record);

// Reads one line of a dead-letter file: a dead-letter record (the stdio --dlq format,
// dead_letter.h) or a plain event object. InvalidArgument naming what is wrong.
Result<DeadLetterRecord> DeadLetterFromJson(const Json& object);

}  // namespace evt
