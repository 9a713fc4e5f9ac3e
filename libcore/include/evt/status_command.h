// evt-status as a library call: the tool's main() parses the flags into StatusOptions and
// calls RunStatus. See evt-status(1).
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

#include "evt/broker.h"
#include "evt/duration.h"
#include "evt/status_report.h"

namespace evt {

// The exit code of `--wait` when the timeout passes first (EX_TEMPFAIL: try again later).
inline constexpr int kStatusWaitTimeout = 75;

struct StatusOptions {
  std::string ns = "evt";           // --namespace
  std::vector<std::string> queues;  // --queue given: only these; empty: every queue in use
  Millis window{15 * 60 * 1000};    // --window: what the rates, counts and percentiles cover
  bool types = false;               // --types: the per-type table instead of the queue table
  std::string event_id;             // EVENT_ID: that event's status
  std::string key;                  // --key: the status of the event with this key
  std::string wait_id;              // --wait: block until that event is done or failed
  Millis wait_timeout{0};           // --wait-timeout: 0 = wait as long as it takes
  Millis wait_poll{200};            // how often --wait looks
  std::string format = "table";     // table | json | prometheus (--json = json)
  bool watch = false;               // --watch: redraw every watch_interval until stopped
  Millis watch_interval{2000};      // --watch INTERVAL
  bool check = false;               // --check: one status line, exit 0/1/2/3
  CheckThresholds thresholds;       // --max-dlq, ... (--check)
  bool summary = false;             // --summary: evt-work result lines on stdin, no broker
};

// The texts of the options that FinishStatusOptions turns into values.
struct StatusFlags {
  bool json = false;        // --json
  std::string watch;        // --watch [INTERVAL]: "" = the default interval
  std::string critical[5];  // --max-dlq, --max-dlq-growth, --max-failure-ratio, --max-lag,
                            // --min-consumers
  std::string warning[5];   // the same options with -warn: the WARNING levels
};

// Adds evt-status's own options to `app` (the common ones come from SetUpApp, cli.h),
// bound to `*options` and `*flags`.
void AddStatusOptions(CLI::App& app, StatusOptions* options, StatusFlags* flags);

// After parsing: folds `flags` into `*options` (--json, --watch, the thresholds; --queue
// `queue` when it was given) and validates the result. Usage error naming the option.
Status FinishStatusOptions(const CLI::App& app, const StatusFlags& flags, const std::string& queue,
                           StatusOptions* options);

// Checks the options that go together (one mode at a time, a format that mode has).
// Usage error naming the option.
Status ValidateStatusOptions(const StatusOptions& options);

// Parses a threshold value "N" of the option `name` into *out (durations for --max-lag,
// in ms). Usage error naming the option on a bad value.
Status ParseThreshold(const std::string& name, const std::string& text, bool duration,
                      std::optional<double>* out);

// Runs evt-status: reads `broker` (or, with --summary, `in_fd`), writes the report to
// `out_fd` (aligned text with sparklines when `out_fd` is a terminal), and returns the
// exit code. Messages go to stderr as "evt-status: error: ...". Exit codes: 0; 1 for an
// unknown event, a failed event under --wait, or a --check WARNING; 2 CRITICAL and 3
// UNKNOWN under --check; kStatusWaitTimeout; otherwise the sysexits code of the error.
int RunStatus(const std::string& tool, const StatusOptions& options, const BrokerConfig& broker,
              int in_fd, int out_fd);

}  // namespace evt
