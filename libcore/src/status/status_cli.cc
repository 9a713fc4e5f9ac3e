// evt-status's command line: the options bound to StatusOptions, and the step that turns
// the texts CLI11 collected (thresholds, --watch's optional interval) into values.
#include "evt/cli.h"
#include "evt/status_command.h"

namespace evt {

void AddStatusOptions(CLI::App& app, StatusOptions* o, StatusFlags* f) {
  // Unlike the other commands, evt-status has no default queue: without --queue (or
  // EVT_QUEUE) it reads every queue in use (FinishStatusOptions).
  app.get_option("--queue")->default_str("")->description(
      "Only this queue, 1-64 of [A-Za-z0-9_.-] (default: every queue in use)");
  app.add_option("EVENT_ID", o->event_id, "Show this event's status (exit 1 when unknown)");
  app.add_option("-k,--key", o->key, "Show the status of the event with this idempotency key");
  app.add_option("--wait", o->wait_id, "Block until this event is done (exit 0) or failed (exit 1)")
      ->type_name("EVENT_ID");
  AddDurationOption(app, "--wait-timeout", &o->wait_timeout,
                    "Longest --wait (0: no limit); then exit 75", "EVT_WAIT_TIMEOUT");
  AddDurationOption(app, "--window", &o->window, "Time the rates, counts and percentiles cover",
                    "EVT_WINDOW");
  app.add_flag("--types", o->types, "Per event type: outcomes, retry rate, p50/p95/p99");
  app.add_flag("--json", f->json, "JSON output (stable field names, see the man page)");
  app.add_option("--format", o->format, "Output: table, json or prometheus")
      ->check(CLI::IsMember({"table", "json", "prometheus"}))
      ->capture_default_str();
  app.add_option("--watch", f->watch, "Redraw every INTERVAL (default 2s) until interrupted")
      ->expected(0, 1)
      ->type_name("[INTERVAL]");
  app.add_flag("--summary", o->summary,
               "Per-type table of evt-work result lines read on stdin (no broker)");
  app.add_flag("--check", o->check, "One status line; exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN");
  const char* names[] = {"--max-dlq", "--max-dlq-growth", "--max-failure-ratio", "--max-lag",
                         "--min-consumers"};
  const char* helps[] = {"dead letters in a queue", "dead letters added over --window",
                         "failed/(done+failed) over --window, 0..1",
                         "age of the oldest owed entry (duration)", "live consumers of a queue"};
  const char* types[] = {"N", "N", "R", "DURATION", "N"};
  for (int i = 0; i < 5; ++i) {
    const std::string beyond = i == 4 ? " below this: " : " above this: ";
    app.add_option(std::string(names[i]), f->critical[i], "--check: CRITICAL" + beyond + helps[i])
        ->type_name(types[i]);
    app.add_option(std::string(names[i]) + "-warn", f->warning[i],
                   "--check: WARNING" + beyond + helps[i])
        ->type_name(types[i]);
  }
}

Status FinishStatusOptions(const CLI::App& app, const StatusFlags& f, const std::string& queue,
                           StatusOptions* o) {
  if (f.json) {
    if (app.get_option("--format")->count() > 0 && o->format != "json") {
      return Status::Usage("--json and --format " + o->format + " contradict each other");
    }
    o->format = "json";
  }
  if (app.get_option("--watch")->count() > 0) {
    o->watch = true;
    if (!f.watch.empty()) {
      Result<Millis> d = ParseDuration(f.watch);
      if (!d.ok()) return Status::Usage("--watch: " + d.status().message());
      o->watch_interval = *d;
    }
  }
  if (app.get_option("--queue")->count() > 0) o->queues = {queue};
  Threshold* targets[] = {&o->thresholds.max_dlq, &o->thresholds.max_dlq_growth,
                          &o->thresholds.max_failure_ratio, &o->thresholds.max_lag,
                          &o->thresholds.min_consumers};
  const char* names[] = {"--max-dlq", "--max-dlq-growth", "--max-failure-ratio", "--max-lag",
                         "--min-consumers"};
  for (int i = 0; i < 5; ++i) {
    const bool duration = i == 3;
    if (!f.critical[i].empty()) {
      Status s = ParseThreshold(names[i], f.critical[i], duration, &targets[i]->critical);
      if (!s.ok()) return s;
    }
    if (!f.warning[i].empty()) {
      Status s = ParseThreshold(std::string(names[i]) + "-warn", f.warning[i], duration,
                                &targets[i]->warning);
      if (!s.ok()) return s;
    }
    if ((!f.critical[i].empty() || !f.warning[i].empty()) && !o->check) {
      return Status::Usage(std::string(names[i]) + ": a threshold of --check; add --check");
    }
  }
  return ValidateStatusOptions(*o);
}

}  // namespace evt
