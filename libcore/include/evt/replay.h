// evt-replay's work: put events back into a queue (or onto stdout) from the dead letters,
// from the stream history, or from an NDJSON file, with the rules of DESIGN.md: retry_count
// reset, a replay id stamped into each event, keys already done skipped (or, with --force,
// run again under a derived key), an atomic move out of the dead letters, pacing, and an
// audit record. The target may be a queue on another store (--to URL): the migration path
// from a SQLite file to Redis, or back. See evt-replay(1).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "evt/broker.h"
#include "evt/clock.h"
#include "evt/dlq.h"
#include "evt/event.h"
#include "evt/queue_admin.h"
#include "evt/status.h"

namespace evt {

// How a replayed copy differs from the event it copies.
struct ReplayRewrite {
  std::string replay_id;      // stamped as the event's `replay_id` field
  bool keep_retries = false;  // --keep-retries: leave retry_count as it was (else 0)
  bool derive_key = false;    // --force on a done key: idempotency_key becomes
                              // KEY#replay-REPLAYID, so a worker runs it again
};

// The replayed copy of `event` (an event object): validated and normalized as MakeEvent
// does, retry_count reset unless keep_retries, `replay_id` set, the key derived when asked.
// InvalidArgument naming the rule it breaks (e.g. a derived key over 255 characters).
Result<Event> RewriteForReplay(const Json& event, const ReplayRewrite& rewrite);

// KEY#replay-REPLAYID.
std::string DerivedKey(const std::string& key, const std::string& replay_id);

// A new replay id: "rpl_" + a ULID (time-sortable).
std::string NewReplayId();

struct ReplayOptions {
  enum class Source { kDeadLetters, kStream, kFile };
  Source source = Source::kDeadLetters;  // --from-dlq (default), --from-stream, --from-file
  std::string source_queue = "default";  // the queue read (kDeadLetters, kStream)
  std::string to_queue;                  // --to-queue: target queue; empty = source_queue
  bool to_stdout = false;                // --to -: NDJSON on stdout, no queue written
  // --to URL: the target queue is on another store than the source (a migration). Done
  // keys of both stores count (ReplayDoneKeys); a dead letter is enqueued there and then
  // purged here, as no step spans two stores; the audit record names the target's store.
  bool other_store = false;
  std::string target_store;   // the target's store for the audit record: a redacted URL
  bool dry_run = false;       // --dry-run: say what would be done, change nothing
  bool keep_retries = false;  // --keep-retries
  bool force = false;         // --force: replay done keys under a derived key
  bool keep = false;          // --keep: leave the dead letters in place
  double rate = 0;            // --rate, events per second; 0 = as fast as it goes
  std::string filters;        // DescribeFilter of the flags, for the audit record
  std::string source_name;    // "dlq", "stream", "file:PATH", for the audit record
  std::string replay_id;      // empty: NewReplayId()
  bool progress = false;      // show progress on stderr (a terminal)
};

struct ReplaySummary {
  std::string replay_id;
  std::int64_t selected = 0;  // records that matched the filters
  std::int64_t replayed = 0;  // written (or, in a dry run, that would be)
  std::int64_t skipped = 0;   // key already done, not an event, or gone meanwhile
  std::int64_t failed = 0;    // could not be rewritten or written
  std::int64_t forced = 0;    // replayed under a derived key (--force)
};

// Replays what `source` holds that matches `filter`, into `target` (the target queue's
// admin; null with to_stdout). Writes to `out_fd`: the events (to_stdout), or one line per
// event in a dry run, or else the event_id of each replayed event. Paces with `clock`.
// Writes an audit record to `source` and, when it is another admin, to `target` (not in a
// dry run). Returns the first store failure (the run stops there: the summary says how
// far it got), InvalidArgument when events could not be rewritten, TryAgain when a stop
// signal cut the run short; OK otherwise.
Status RunReplay(QueueAdmin& source, QueueAdmin* target, const RecordFilter& filter,
                 const ReplayOptions& options, Clock& clock, int out_fd, ReplaySummary* summary);

// Which of `keys` a replay skips as done (or, with --force, runs again under a derived
// key): a key is done when the target queue holds a done record for it (`target`, or
// `source` when there is no target: --to -) and, when the target is another store (a
// migration), also when the source queue holds one, so that a migrated history never runs
// a done event again on the new store. One element per key. The first store failure.
Result<std::vector<bool>> ReplayDoneKeys(QueueAdmin& source, QueueAdmin* target, bool other_store,
                                         const std::vector<std::string>& keys);

// The one summary line: "replayed 50, skipped 0, failed 0, replay id rpl_...", with
// "would be" wording for a dry run and the derived-key form when some were forced.
std::string FormatReplaySummary(const ReplaySummary& summary, const ReplayOptions& options);

}  // namespace evt

namespace evt {

// evt-replay's command line, as parsed.
struct ReplayCommand {
  ReplayOptions options;  // source, to_queue, dry_run, keep_retries, force, keep
  FilterFlags flags;      // filters and --id
  std::string ns = "evt";
  std::string from_file;  // --from-file PATH or "-"
  std::string to;         // --to: "-" (stdout) or a durable broker URL; "": the source's
  std::string rate;       // --rate N/s; empty: unpaced
};

// The broker of --to `to`: kStdio for "" and "-"; else the durable broker of the URL, its
// password resolved as --broker's is (the URL's own, else the file `password_file` of
// --redis-password-file, else EVT_REDIS_PASSWORD). Call it before StartCommand (cli.h),
// which wipes EVT_REDIS_PASSWORD.
// Usage error "--to URL: ..." naming the redacted URL for a URL that is not a durable
// broker; Config when the password file cannot be read.
Result<BrokerConfig> ResolveReplayTarget(const std::string& to, const std::string& password_file);

// True when `target` (a --to broker) is another store than `source` (--broker): another
// kind, server, database or file. A --to equal to --broker is the normal replay.
bool IsOtherStore(const BrokerConfig& source, const BrokerConfig& target);

// The usage rules of a command line (`target` as ResolveReplayTarget returned it): --to -
// and --to-queue exclude each other, --keep wants the dead letters, --category and
// --reason are not for --from-stream, a queue source wants a durable --broker, and a file
// wants a target. Usage error naming the options; OK otherwise.
Status CheckReplayCommand(const BrokerConfig& broker, const BrokerConfig& target,
                          const ReplayCommand& command);

// Checks the combination of options (CheckReplayCommand), opens the source (the queue
// `options.source_queue` on `broker`, or the file) and the target (the queue on `target`
// when it is another store, else on `broker`), runs RunReplay on the real clock with
// progress on stderr when it is a terminal, and prints the summary line on stderr as
// "<tool>: replayed ...". `target`: the broker of --to (ResolveReplayTarget).
Status RunReplayCommand(const std::string& tool, const BrokerConfig& broker,
                        const BrokerConfig& target, const ReplayCommand& command, int out_fd);

}  // namespace evt
