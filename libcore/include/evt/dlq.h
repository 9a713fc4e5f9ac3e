// evt-dlq's work (list, show, stats, export, purge) and the filter flags that evt-dlq and
// evt-replay share. Each command reads through a QueueAdmin (queue_admin.h), so it works
// the same on a broker and on a dead-letter file. See evt-dlq(1).
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "evt/cli.h"
#include "evt/queue_admin.h"
#include "evt/rfc3339.h"
#include "evt/status.h"

namespace evt {

// The filter flags as given on the command line.
struct FilterFlags {
  std::string type;              // --type GLOB
  std::string since;             // --since: RFC 3339 time, or a duration ago ("2h")
  std::string until;             // --until: likewise
  std::string category;          // --category: data, auth, network, dependency, timeout, ...
  std::string reason;            // --reason: permanent, retries_exhausted, poison, ...
  std::size_t limit = 0;         // --limit: 0 = all
  std::vector<std::string> ids;  // --id (evt-replay) or show's ID
};

// Adds --type, --since, --until, --category, --reason and --limit to `app`, bound to
// `flags` (evt-dlq and evt-replay take the same).
void AddFilterOptions(CLI::App& app, FilterFlags* flags);

// Checks the flags and turns them into a filter; `now` anchors durations ("--since 2h").
// Usage error naming the flag and what it takes.
Result<RecordFilter> MakeFilter(const FilterFlags& flags, UnixMillis now);

// The flags that are set, as a shell would read them back, for audit records and
// messages: "--type 'billing.*' --since 2h". "(none)" when none is set.
std::string DescribeFilter(const FilterFlags& flags);

// The user running this command: the login name of the effective uid (else "uid N"),
// as "alice (via sudo as root)" when $SUDO_USER is set.
std::string CurrentUser();

// Writes one line per dead letter to `out_fd`: id, event type, reason, category, attempts,
// age (relative to `now`), the first line of the error; aligned columns, with a header
// line when `header` is true (on a terminal).
Status DlqList(QueueAdmin& admin, const RecordFilter& filter, UnixMillis now, bool header,
               int out_fd);

// Writes everything about the dead letter whose id or event_id is `id`, the event
// pretty-printed. NotFound "no dead letter ID in STORE" (exit 66: see evt-dlq(1)).
Status DlqShow(QueueAdmin& admin, const std::string& id, int out_fd);

// Writes the counts of the matching dead letters: total, by type, by reason, by category.
Status DlqStats(QueueAdmin& admin, const RecordFilter& filter, int out_fd);

// Writes the matching dead letters as NDJSON in the stdio --dlq record format
// (dead_letter.h), which `evt-dlq --file` and `evt-replay --from-file` read.
Status DlqExport(QueueAdmin& admin, const RecordFilter& filter, int out_fd);

struct PurgeOptions {
  bool yes = false;      // --yes: no question asked
  std::string filters;   // DescribeFilter of the flags, for the question and the audit
  std::string purge_id;  // the audit record's id; empty: a new "prg_" + ULID
  // Asks `question` on a terminal and returns the answer (true = yes); empty when standard
  // input is not a terminal.
  std::function<bool(const std::string& question)> confirm;
};

// Deletes the matching dead letters: when there are any and opts.yes is false, asks
// opts.confirm, and without one refuses (Usage: "refusing to purge N dead letters without
// --yes: standard input is not a terminal"). Writes an audit record (who, when, filters,
// count) and sets *purged. OK with *purged 0 when nothing matched or the answer was no.
Status DlqPurge(QueueAdmin& admin, const RecordFilter& filter, const PurgeOptions& opts,
                std::int64_t* purged);

// A confirm function for PurgeOptions that writes the question to `err_fd` and reads the
// answer ("y" or "yes") from `in_fd`; empty when `in_fd` is not a terminal.
std::function<bool(const std::string&)> TerminalConfirm(int in_fd, int err_fd);

}  // namespace evt
