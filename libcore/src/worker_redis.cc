// The Redis worker: RunQueueWorker on a Redis queue. The loop itself (worker_queue.cc)
// knows only the Queue interface.
#include "evt/queue_redis.h"
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

Status RunRedisWorker(const RedisQueueOptions& queue_options, Handler& handler,
                      const QueueWorkerOptions& options, QueueWorkerStats* stats) {
  if (Status s = ValidateRedisQueueOptions(queue_options); !s.ok()) return s;
  std::unique_ptr<Queue> queue = MakeRedisQueue(queue_options);
  return RunQueueWorker(*queue, handler, options, stats);
}

}  // namespace evt
