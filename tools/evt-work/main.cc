// evt-work: consume events and run a handler for each. See evt-work(1).
#include <unistd.h>

#include "evt/cli.h"
#include "evt/dead_letter.h"
#include "evt/exit_code.h"
#include "evt/handler_exec.h"
#include "evt/handler_factory.h"
#include "evt/ops.h"
#include "evt/worker.h"

int main(int argc, char** argv) {
  const std::string tool = "evt-work";
  evt::CommonOptions common;
  evt::QueueWorkerOptions w;  // the stdio loop reads its WorkerOptions part
  evt::QueueOptions q;
  evt::ExecHandlerOptions exec;
  evt::HandlerOptions kind;
  evt::OpsOptions ops;
  std::string dlq_path, permanent_exit, transient_exit;

  CLI::App app("Consume events and run a handler for each: evt-work [OPTIONS] -- COMMAND [ARGS...]",
               tool);
  evt::SetUpApp(app, &common);
  app.add_option("-c,--concurrency", w.concurrency, "Handlers running at once")
      ->envname("EVT_CONCURRENCY")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  evt::AddDurationOption(app, "--timeout", &exec.timeout,
                         "Handler time limit, then SIGTERM to its process group", "EVT_TIMEOUT");
  evt::AddDurationOption(app, "--kill-after", &exec.kill_after,
                         "After the SIGTERM of a timeout, SIGKILL this much later",
                         "EVT_KILL_AFTER");
  app.add_option("--max-retries", w.retry.max_retries, "Retries of a transient failure, then DLQ")
      ->envname("EVT_MAX_RETRIES")
      ->check(CLI::Range(0, 1000))
      ->capture_default_str();
  evt::AddDurationOption(app, "--backoff-base", &w.retry.backoff_base,
                         "Delay before the first retry (doubles each retry)", "EVT_BACKOFF_BASE");
  evt::AddDurationOption(app, "--backoff-max", &w.retry.backoff_max, "Cap on the retry delay",
                         "EVT_BACKOFF_MAX");
  app.add_option("--jitter", w.retry.jitter, "Extra random delay, up to this fraction of it")
      ->envname("EVT_JITTER")
      ->check(CLI::Range(0.0, 10.0))
      ->capture_default_str();
  app.add_option("--permanent-exit", permanent_exit,
                 "Handler exit codes that are permanent failures, e.g. 64-66,78")
      ->envname("EVT_PERMANENT_EXIT");
  app.add_option("--transient-exit", transient_exit,
                 "Handler exit codes that are transient failures, e.g. 65")
      ->envname("EVT_TRANSIENT_EXIT");
  app.add_option("--dlq", dlq_path, "Append dead letters to FILE as NDJSON (default: stderr)")
      ->envname("EVT_DLQ");
  evt::AddDurationOption(app, "--shutdown-grace", &w.shutdown_grace,
                         "On SIGTERM/SIGINT, how long running handlers may finish",
                         "EVT_SHUTDOWN_GRACE");
  app.add_option("--max-output-bytes", exec.max_output_bytes,
                 "Bound on captured handler stdout and stderr, each")
      ->envname("EVT_MAX_OUTPUT_BYTES")
      ->capture_default_str();
  app.add_option("--consumer", w.consumer,
                 "Consumer name in logs and dead letters (default: host:pid)")
      ->envname("EVT_CONSUMER");
  app.add_option("--group", q.group, "Consumer group the worker joins")
      ->envname("EVT_GROUP")
      ->capture_default_str();
  evt::AddDurationOption(app, "--claim-after", &w.claim_after,
                         "Claim entries pending this long at a dead worker (0 = timeout + 30s)",
                         "EVT_CLAIM_AFTER");
  evt::AddDurationOption(app, "--idempotency-ttl", &q.idempotency_ttl,
                         "How long a done idempotency key (and a finished status) is kept",
                         "EVT_IDEMPOTENCY_TTL");
  evt::AddDurationOption(app, "--retention", &w.retention,
                         "Stream history kept at least this long (never unfinished work)",
                         "EVT_RETENTION");
  evt::AddDurationOption(app, "--heartbeat", &w.heartbeat, "Interval of the liveness record",
                         "EVT_HEARTBEAT");
  app.add_option("--state-dir", w.state_dir,
                 "Folder of the outcome journal (default: /var/lib/evt as root, else "
                 "$XDG_STATE_HOME/evt or ~/.local/state/evt)")
      ->envname("EVT_STATE_DIR");
  app.add_option("--seed", w.seed, "Seed of the retry jitter (0 = random), for reproducible runs")
      ->envname("EVT_SEED");
  evt::AddHandlerOptions(app, &kind);
  evt::AddOpsOptions(app, &ops);
  app.add_option("command", exec.argv, "The handler command and its arguments (after --)")
      ->take_all();
  if (int rc = evt::ParseCommandLine(app, argc, argv); rc >= 0) return rc;

  evt::Result<evt::BrokerConfig> broker = evt::StartCommand(tool, common);
  if (!broker.ok()) return evt::ReportFatal(tool, broker.status());
  w.max_event_bytes = common.max_event_bytes;
  evt::Status s = exec.classifier.OverrideFromLists(permanent_exit, transient_exit);
  if (s.ok()) s = evt::ValidateRetryPolicy(w.retry);
  if (!s.ok()) return evt::ReportFatal(tool, s);
  auto handler = evt::MakeHandler(kind, exec, w.concurrency);
  if (!handler.ok()) return evt::ReportFatal(tool, handler.status());

  if (s = evt::ValidateDlqPath(*broker, dlq_path); !s.ok()) return evt::ReportFatal(tool, s);
  ops.secret_files = {common.password_file};  // --hmac-secret-file: the HTTP handler warns
  evt::ObserverList observers;  // TODO(loop): hand to the loop once it reports to observers
  auto operations = evt::AttachOperations(ops, &observers);
  if (!operations.ok()) return evt::ReportFatal(tool, operations.status());
  if (broker->is_durable()) {
    q.ns = common.ns;
    q.queue = common.queue;
    if (s = evt::DeriveQueueWorkerOptions(exec.timeout, exec.kill_after, &w); !s.ok()) {
      return evt::ReportFatal(tool, s);
    }
    evt::QueueWorkerStats stats;
    s = evt::RunDurableWorker(*broker, q, **handler, w, &stats);
    return s.ok() ? evt::kExitOk : evt::ReportFatal(tool, s);
  }
  evt::DeadLetterSink dlq;
  if (s = dlq.Open(dlq_path); !s.ok()) return evt::ReportFatal(tool, s);
  evt::WorkerStats stats;
  s = evt::RunStdioWorker(STDIN_FILENO, STDOUT_FILENO, **handler, dlq, w, &stats);
  if (!s.ok()) evt::ReportFatal(tool, s);
  return evt::ExitCodeForStdioRun(s, stats);
}
