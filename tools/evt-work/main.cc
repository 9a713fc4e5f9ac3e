// evt-work: consume events and run a handler for each. See evt-work(1).
#include <unistd.h>

#include "evt/broker_factory.h"
#include "evt/cli.h"
#include "evt/dead_letter.h"
#include "evt/exit_code.h"
#include "evt/handler_exec.h"
#include "evt/handler_factory.h"
#include "evt/log_observer.h"
#include "evt/ops.h"
#include "evt/stdio_queue.h"
#include "evt/worker.h"

namespace {

// What the command line sets.
struct Flags {
  evt::CommonOptions common;
  evt::WorkerOptions w;
  evt::QueueOptions q;
  evt::ExecHandlerOptions exec;
  evt::HandlerOptions kind;
  evt::OpsOptions ops;
  std::string dlq_path, permanent_exit, transient_exit;
};

// How the handler runs, is retried and stopped.
void AddRunFlags(CLI::App& app, Flags* f) {
  app.add_option("-c,--concurrency", f->w.concurrency, "Handlers running at once")
      ->envname("EVT_CONCURRENCY")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  app.add_option("--batch", f->w.batch,
                 "Most entries a handler thread takes at once from a queue (1: one at a time)")
      ->envname("EVT_BATCH")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  evt::AddDurationOption(app, "--timeout", &f->exec.timeout,
                         "Handler time limit, then SIGTERM to its process group", "EVT_TIMEOUT");
  evt::AddDurationOption(app, "--kill-after", &f->exec.kill_after,
                         "After the SIGTERM of a timeout, SIGKILL this much later",
                         "EVT_KILL_AFTER");
  app.add_option("--max-retries", f->w.retry.max_retries,
                 "Retries of a transient failure, then DLQ")
      ->envname("EVT_MAX_RETRIES")
      ->check(CLI::Range(0, 1000))
      ->capture_default_str();
  evt::AddDurationOption(app, "--backoff-base", &f->w.retry.backoff_base,
                         "Delay before the first retry (doubles each retry)", "EVT_BACKOFF_BASE");
  evt::AddDurationOption(app, "--backoff-max", &f->w.retry.backoff_max, "Cap on the retry delay",
                         "EVT_BACKOFF_MAX");
  app.add_option("--jitter", f->w.retry.jitter, "Extra random delay, up to this fraction of it")
      ->envname("EVT_JITTER")
      ->check(CLI::Range(0.0, 10.0))
      ->capture_default_str();
  app.add_option("--permanent-exit", f->permanent_exit,
                 "Handler exit codes that are permanent failures, e.g. 64-66,78")
      ->envname("EVT_PERMANENT_EXIT");
  app.add_option("--transient-exit", f->transient_exit,
                 "Handler exit codes that are transient failures, e.g. 65")
      ->envname("EVT_TRANSIENT_EXIT");
  app.add_option("--dlq", f->dlq_path, "Append dead letters to FILE as NDJSON (default: stderr)")
      ->envname("EVT_DLQ");
  evt::AddDurationOption(app, "--shutdown-grace", &f->w.shutdown_grace,
                         "On SIGTERM/SIGINT, how long running handlers may finish",
                         "EVT_SHUTDOWN_GRACE");
  app.add_option("--max-output-bytes", f->exec.max_output_bytes,
                 "Bound on captured handler stdout and stderr, each")
      ->envname("EVT_MAX_OUTPUT_BYTES")
      ->capture_default_str();
}

// Who the worker is, and the durable queue's knobs.
void AddQueueFlags(CLI::App& app, Flags* f) {
  app.add_option("--consumer", f->w.consumer,
                 "Consumer name in logs and dead letters (default: host:pid)")
      ->envname("EVT_CONSUMER");
  app.add_option("--group", f->q.group, "Consumer group the worker joins")
      ->envname("EVT_GROUP")
      ->capture_default_str();
  evt::AddDurationOption(app, "--claim-after", &f->w.claim_after,
                         "Claim entries pending this long at a dead worker (0 = timeout + 30s)",
                         "EVT_CLAIM_AFTER");
  evt::AddDurationOption(app, "--idempotency-ttl", &f->q.idempotency_ttl,
                         "How long a done idempotency key (and a finished status) is kept",
                         "EVT_IDEMPOTENCY_TTL");
  evt::AddDurationOption(app, "--retention", &f->w.retention,
                         "Stream history kept at least this long (never unfinished work)",
                         "EVT_RETENTION");
  evt::AddDurationOption(app, "--heartbeat", &f->w.heartbeat, "Interval of the liveness record",
                         "EVT_HEARTBEAT");
  app.add_option("--state-dir", f->w.state_dir,
                 "Folder of the outcome journal (default: /var/lib/evt as root, else "
                 "$XDG_STATE_HOME/evt or ~/.local/state/evt)")
      ->envname("EVT_STATE_DIR");
  app.add_flag("--burst", f->w.burst,
               "Process everything due, then exit (0 all done, 123 some failed): for cron");
  evt::AddDurationOption(app, "--burst-max-wait", &f->w.burst_max_wait,
                         "With --burst: also wait for retries due this long after the start",
                         "EVT_BURST_MAX_WAIT");
  evt::AddDurationOption(app, "--burst-store-wait", &f->w.burst_store_wait,
                         "With --burst: end the run (exit 69) when the broker stays unreachable "
                         "this long",
                         "EVT_BURST_STORE_WAIT");
  app.add_option("--seed", f->w.seed,
                 "Seed of the retry jitter (0 = random), for reproducible runs")
      ->envname("EVT_SEED");
  evt::AddHandlerOptions(app, &f->kind);
  evt::AddOpsOptions(app, &f->ops);
  app.add_option("command", f->exec.argv, "The handler command and its arguments (after --)")
      ->take_all();
}

// The queue of this run: the stdio transport, or the durable broker's (the one factory).
evt::Result<std::unique_ptr<evt::Queue>> OpenWorkQueue(const evt::BrokerConfig& broker, Flags& f,
                                                       evt::DeadLetterSink& dlq) {
  if (!broker.is_durable()) {
    if (evt::Status s = dlq.Open(f.dlq_path); !s.ok()) return s;
    return evt::OpenStdioQueue(STDIN_FILENO, STDOUT_FILENO, dlq,
                               {f.w.max_event_bytes, f.w.consumer, f.w.clock});
  }
  f.q.ns = f.common.ns;
  f.q.queue = f.common.queue;
  f.q.consumer = f.w.consumer;
  if (evt::Status s = evt::DeriveWorkerOptions(f.exec.timeout, f.exec.kill_after, &f.w); !s.ok()) {
    return s;
  }
  return evt::OpenQueue(broker, f.q);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string tool = "evt-work";
  Flags f;
  CLI::App app("Consume events and run a handler for each: evt-work [OPTIONS] -- COMMAND [ARGS...]",
               tool);
  f.common.kind = evt::ToolKind::kWorker;
  evt::SetUpApp(app, &f.common);
  AddRunFlags(app, &f);
  AddQueueFlags(app, &f);
  if (int rc = evt::ParseCommandLine(app, argc, argv); rc >= 0) return rc;

  f.common.runs_once = f.w.burst;
  evt::Result<evt::BrokerConfig> broker = evt::StartCommand(tool, f.common);
  if (!broker.ok()) return evt::ReportFatal(tool, broker.status());
  f.w.max_event_bytes = f.common.max_event_bytes;
  evt::Status s = f.exec.classifier.OverrideFromLists(f.permanent_exit, f.transient_exit);
  if (s.ok()) s = evt::ValidateRetryPolicy(f.w.retry);
  if (s.ok()) s = evt::ValidateDlqPath(*broker, f.dlq_path);
  if (s.ok()) s = evt::ValidateBurst(*broker, f.w);
  if (!s.ok()) return evt::ReportFatal(tool, s);
  f.ops.secret_files = {f.common.password_file};  // --hmac-secret-file: the HTTP handler warns
  evt::ObserverList observers;
  auto operations = evt::AttachOperations(f.ops, &observers);
  if (!operations.ok()) return evt::ReportFatal(tool, operations.status());
  auto handler = evt::MakeHandler(f.kind, f.exec, f.w.concurrency);
  if (!handler.ok()) return evt::ReportFatal(tool, handler.status());
  evt::DeadLetterSink dlq;
  auto queue = OpenWorkQueue(*broker, f, dlq);
  if (!queue.ok()) return evt::ReportFatal(tool, queue.status());

  const bool stdio = !broker->is_durable();
  evt::LogObserver log({(*queue)->consumer(), stdio, dlq.name(), f.w.shutdown_grace});
  observers.Add(&log);
  evt::WorkerStats stats;
  s = evt::RunWorker(**queue, **handler, f.w, observers, &stats);
  if (!s.ok()) evt::ReportFatal(tool, s);
  // A burst run ends like a stdio one: cron and systemd timers see events that failed.
  return stdio || f.w.burst ? evt::ExitCodeForStdioRun(s, stats) : evt::ExitCodeFor(s);
}
