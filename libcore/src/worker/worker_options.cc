// The worker's options that follow from others, and the whole stdio run in one call.
#include "evt/log_observer.h"
#include "evt/stdio_queue.h"
#include "evt/worker.h"

namespace evt {

Status DeriveWorkerOptions(Millis timeout, Millis kill_after, WorkerOptions* o) {
  constexpr Millis kNoLimit{24LL * 3600 * 1000};
  const Millis run_limit = timeout.count() > 0 ? timeout : kNoLimit;
  o->lease_ttl = run_limit + kill_after + Millis(1000);
  if (o->claim_after.count() == 0) o->claim_after = run_limit + Millis(30000);
  if (o->claim_after.count() < 0) return Status::Usage("--claim-after: must be above 0");
  if (o->heartbeat.count() <= 0) return Status::Usage("--heartbeat: must be above 0");
  if (o->retention.count() < 0) return Status::Usage("--retention: must not be negative");
  if (o->concurrency < 1) return Status::Usage("--concurrency: must be at least 1");
  return Status::Ok();
}

Status ValidateDlqPath(const BrokerConfig& broker, const std::string& dlq_path) {
  if (!broker.is_durable() || dlq_path.empty()) return Status::Ok();
  return Status::Usage(
      "--dlq: only for --broker -; a durable broker keeps dead letters in its own dead-letter "
      "queue (read them with evt-dlq)");
}

Status ValidateBurst(const BrokerConfig& broker, const WorkerOptions& o) {
  if (o.burst_max_wait.count() < 0) return Status::Usage("--burst-max-wait: must not be negative");
  if (o.burst_store_wait.count() < 0) {
    return Status::Usage("--burst-store-wait: must not be negative");
  }
  if (!o.burst && o.burst_max_wait.count() > 0) {
    return Status::Usage("--burst-max-wait: only with --burst");
  }
  if (o.burst && !broker.is_durable()) {
    return Status::Usage(
        "--burst: only with a durable --broker (redis://, sqlite://); with --broker - the "
        "worker already ends when its input ends");
  }
  return Status::Ok();
}

Status RunStdioWorker(int in_fd, int out_fd, Handler& handler, DeadLetterSink& dlq,
                      const WorkerOptions& options, WorkerStats* stats) {
  StdioQueueOptions q;
  q.max_event_bytes = options.max_event_bytes;
  q.consumer = options.consumer;
  q.clock = options.clock;
  std::unique_ptr<Queue> queue = OpenStdioQueue(in_fd, out_fd, dlq, q);
  LogObserverOptions lo;
  lo.consumer = queue->consumer();
  lo.line_input = true;
  lo.dlq_name = dlq.name();
  lo.shutdown_grace = options.shutdown_grace;
  LogObserver log(lo);
  return RunWorker(*queue, handler, options, log, stats);
}

}  // namespace evt
