// The durable worker: RunQueueWorker on the queue the broker factory opens. The loop itself
// (worker_queue.cc) knows only the Queue interface.
#include "evt/broker_factory.h"
#include "evt/worker.h"

namespace evt {

Status DeriveQueueWorkerOptions(Millis timeout, Millis kill_after, QueueWorkerOptions* o) {
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
      "--dlq: only for --broker -; with Redis, dead letters go to the queue's dlq stream");
}

Status RunDurableWorker(const BrokerConfig& broker, QueueOptions queue, Handler& handler,
                        const QueueWorkerOptions& options, QueueWorkerStats* stats) {
  if (queue.consumer.empty()) queue.consumer = options.consumer;
  Result<std::unique_ptr<Queue>> opened = OpenQueue(broker, queue);
  if (!opened.ok()) return opened.status();
  return RunQueueWorker(**opened, handler, options, stats);
}

}  // namespace evt
