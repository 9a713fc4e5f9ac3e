// evt-emit's work: build events from flags or read them as NDJSON, validate, normalize,
// fill defaults and write them out.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "evt/broker.h"
#include "evt/clock.h"
#include "evt/defaults.h"
#include "evt/duration.h"
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
  std::size_t max_event_bytes = SharedDefaults::kMaxEventBytes;  // --max-event-bytes
  // Delivery through a durable broker; each needs one.
  Millis delay{0};               // --delay, EVT_DELAY: due this long from now (0 = now)
  std::string at;                // --at, EVT_AT: due at this RFC 3339 time
  std::int64_t max_depth = 0;    // --max-depth, EVT_MAX_DEPTH: backlog limit (0 = none)
  std::string on_full = "fail";  // --on-full, EVT_ON_FULL: "fail" (exit 75) or "wait"
  Millis wait_timeout{30000};    // --wait-timeout, EVT_WAIT_TIMEOUT: bound of --on-full wait
                                 // and of retrying through an outage
  std::string spool_dir;         // --spool, EVT_SPOOL: keep events here while the broker is down
  std::string group =
      SharedDefaults::kGroup;  // --group, EVT_GROUP: consumer group whose backlog counts
  // Pacing of --stdin (rate.h; emit_rate.cc).
  double rate = 0;   // --rate, EVT_RATE: events per second (ParseRate); 0 = unpaced
  double burst = 1;  // --burst, EVT_BURST: events that may go at once after an idle spell
};

// Checks option combinations (e.g. --type with --stdin, --delay with --at, --spool without
// a broker). `to_broker` says whether events go to a broker rather than stdout. Usage on
// conflict or a bad value.
Status ValidateEmitOptions(const EmitOptions& options, bool to_broker = false);

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

// Receives each valid event of ReadEventStream, in input order, with its line number and
// whether more input is ready without waiting (false: a good moment to flush a batch). A
// non-OK return stops the reading and is returned by ReadEventStream.
using EventSink = std::function<Status(Event event, std::uint64_t line, bool more_ready)>;

// The reading half of EmitStream: validates NDJSON from `in_fd` and hands each valid event to
// `sink`; logs one error per rejected line. Counts stats->lines and stats->rejected (the sink
// counts stats->written). Returns the sink's failure, IOError when reading failed,
// InvalidArgument "N of M lines rejected" when some were, else OK.
Status ReadEventStream(int in_fd, const EmitOptions& options, EmitStats* stats,
                       const EventSink& sink);

// Checks --rate and --burst: they pace --stdin only, and burst is at least 1. Usage error.
Status ValidateEmitRate(const EmitOptions& options);

// `sink` paced to options.rate events a second (a TokenBucket on `clock` holding
// options.burst): each event waits for its token, and reaches `sink` with more_ready false
// when the next one will have to wait, so the sink flushes what it holds before the pause.
// A stop signal during a wait gives TryAgain. Without a rate, `sink` itself.
EventSink PacedSink(const EmitOptions& options, EventSink sink, Clock& clock = RealClock());

// evt-emit with a durable broker: publishes the event of the flags (or, with --stdin, every
// valid line of `in_fd`, pipelined in batches, input order kept) to the queue `queue` of
// namespace `ns` (OpenPublisher, broker_factory.h), and writes the event_id of each accepted
// event to `out_fd`, one per line, only once it is accepted (by the broker, or durably
// spooled with --spool). Honours --delay/--at, --max-depth with --on-full, and --spool
// (DIR's waiting events go first, in order). Returns
// Unavailable (69) when the broker cannot be reached and there is no spool, the message saying
// how many events were accepted; TryAgain (75) when the queue stays full; InvalidArgument
// (65) when input lines were rejected; Config (78) for refused credentials.
Status EmitToBroker(const BrokerConfig& broker, const std::string& ns, const std::string& queue,
                    const EmitOptions& options, int in_fd, int out_fd, EmitStats* stats);

}  // namespace evt
