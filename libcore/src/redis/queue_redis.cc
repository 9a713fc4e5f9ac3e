// The Redis Streams queue: the Queue (the factory of sessions), and each session's
// connection. The session's other calls are in queue_redis_{receive,lease,finish,
// housekeeping}.cc (queue_redis_session.h). Every attempt-ending write is one Lua script
// (queue_redis_scripts.h); reads and housekeeping are single commands or pipelines.
#include "redis/queue_redis.h"

#include <memory>
#include <string>
#include <utility>

#include "evt/event.h"
#include "redis/queue_redis_session.h"

namespace evt {
namespace {

RedisClientOptions ClientOptions(const RedisQueueOptions& o) {
  RedisClientOptions c;
  c.broker = o.broker;
  c.io_timeout = o.io_timeout;
  c.backoff_max = o.backoff_max;
  c.client_name = "evt-work:" + o.queue;
  return c;
}

class RedisQueue : public Queue {
 public:
  explicit RedisQueue(RedisQueueOptions o) : options_(std::move(o)) {
    consumer_ = options_.consumer.empty() ? DefaultConsumerName() : options_.consumer;
  }
  std::unique_ptr<QueueSession> OpenSession() override {
    return std::make_unique<RedisQueueSession>(options_, consumer_, held_);
  }
  const std::string& consumer() const override { return consumer_; }
  std::string Describe() const override {
    return options_.broker.redacted + " queue " + options_.queue + " group " + options_.group;
  }
  std::string Scope() const override {
    const BrokerConfig& b = options_.broker;
    std::string where = b.kind == BrokerConfig::Kind::kRedisUnix
                            ? "unix " + b.path
                            : "tcp " + b.host + ":" + std::to_string(b.port);
    return "redis " + where + " db " + std::to_string(b.db) + " ns " + options_.ns + " queue " +
           options_.queue + " group " + options_.group;
  }

 private:
  RedisQueueOptions options_;
  std::string consumer_;
  HeldDeliveries held_;
};

}  // namespace

RedisQueueSession::RedisQueueSession(const RedisQueueOptions& o, const std::string& consumer,
                                     HeldDeliveries& held)
    : options_(o),
      consumer_(consumer),
      keys_(o.ns, o.queue),
      client_(ClientOptions(o)),
      held_(held) {}

RedisQueueSession::~RedisQueueSession() { held_.Release(&mine_); }

Status RedisQueueSession::WithRetry(const std::function<Status()>& op,
                                    const std::function<bool()>& give_up) {
  return client_.Retrying(op, give_up);
}

Status RedisQueueSession::EnsureGroup() {
  Result<ReplyPtr> r =
      client_.Command({"XGROUP", "CREATE", keys_.stream(), options_.group, "0", "MKSTREAM"});
  if (!r.ok()) return r.status();
  // Under OOM this is refused even when the group exists: Unavailable, so a worker
  // started then waits for memory instead of exiting.
  std::string err = ReplyError(r->get());
  if (err.rfind("BUSYGROUP", 0) != 0) {
    if (Status s = ReplyErrorStatus("XGROUP CREATE " + keys_.stream(), err); !s.ok()) return s;
  }
  // Outside the queue's slot, and never part of a queue transaction (DESIGN.md).
  return CheckedReply(client_.Command({"SADD", keys_.queues(), keys_.queue()}), "SADD");
}

std::unique_ptr<Queue> MakeRedisQueue(RedisQueueOptions options) {
  return std::make_unique<RedisQueue>(std::move(options));
}

}  // namespace evt
