// The Redis implementation of the queue contract: one private, real redis-server for the
// whole run (contract_redis_server.h), and a fresh namespace per harness, so every
// case section starts from an empty queue.
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "contract_redis_server.h"
#include "evt/broker.h"
#include "evt/broker_factory.h"
#include "queue_impls.h"
#include "redis/queue_keys.h"
#include "redis/redis_client.h"

namespace evt::contract {
namespace {

class RedisHarness : public QueueHarness {
 public:
  RedisHarness() : ns_("contract" + std::to_string(++count_)), keys_(ns_, "q") {
    Result<BrokerConfig> b = ParseBrokerUrl(SharedRedisServer().url());
    if (!b.ok()) throw std::runtime_error("redis harness: " + b.status().message());
    broker_ = *b;
    RedisClientOptions o;
    o.broker = broker_;
    client_ = std::make_unique<RedisClient>(o);
    queue_ = OpenConsumer("c1");
  }

  Queue& queue() override { return *queue_; }

  std::unique_ptr<Queue> OpenConsumer(const std::string& consumer) override {
    QueueOptions o;
    o.ns = ns_;
    o.queue = "q";
    o.consumer = consumer;
    o.idempotency_ttl = Millis(3600 * 1000);
    o.io_timeout = Millis(5000);
    Result<std::unique_ptr<Queue>> q = OpenQueue(broker_, o);
    if (!q.ok()) throw std::runtime_error("redis harness: " + q.status().message());
    return std::move(*q);
  }

  Status Publish(const std::string& raw) override {
    return CheckedReply(client_->Command({"XADD", keys_.stream(), "*", "event", raw}), "XADD");
  }

  UnixMillis Now() override { return NowUnixMillis(); }
  void Wait(Millis d) override { std::this_thread::sleep_for(d); }

  std::optional<std::string> EventStatus(const std::string& event_id) override {
    return ReplyString(Cmd({"HGET", keys_.ev(event_id), "status"}).get());
  }
  std::optional<std::int64_t> DeadLetters() override {
    return ReplyInteger(Cmd({"XLEN", keys_.dlq()}).get());
  }
  std::optional<std::int64_t> Outcomes(const std::string& outcome) override {
    // The minutes' hashes of this namespace (a case runs for seconds: a handful), for the
    // event type the cases use.
    std::string pattern = keys_.metrics(0);
    pattern.back() = '*';
    ReplyPtr keys = Cmd({"KEYS", pattern});
    std::int64_t n = 0;
    for (std::size_t i = 0; i < keys->elements; ++i) {
      const std::string key = ReplyString(keys->element[i]);
      n += ReplyInteger(Cmd({"HGET", key, "t.x|outcome:" + outcome}).get());
    }
    return n;
  }
  std::optional<bool> WorkerListed(const std::string& consumer) override {
    // The worker's record; the `workers` set keeps its last heartbeat time for a day.
    return ReplyInteger(Cmd({"EXISTS", keys_.worker(consumer)}).get()) == 1;
  }
  void DropGroup() override { Cmd({"XGROUP", "DESTROY", keys_.stream(), "workers"}); }

 private:
  ReplyPtr Cmd(const std::vector<std::string>& argv) {
    Result<ReplyPtr> r = client_->Command(argv);
    if (Status s = CheckedReply(r, argv.at(0)); !s.ok()) {
      throw std::runtime_error("redis harness: " + s.message());
    }
    return std::move(*r);
  }

  static inline int count_ = 0;  // harnesses made, for the namespace
  std::string ns_;
  QueueKeys keys_;
  BrokerConfig broker_;
  std::unique_ptr<RedisClient> client_;
  std::unique_ptr<Queue> queue_;
};

[[maybe_unused]] const bool registered =
    RegisterQueueImpl({"redis",
                       {/*has_claim=*/true, /*has_consumer_groups=*/true,
                        /*durable=*/true, /*counts_starts=*/true,
                        /*leases_expire=*/true, /*schedules=*/true,
                        /*claims_own=*/true},
                       [] { return std::make_unique<RedisHarness>(); }});

}  // namespace
}  // namespace evt::contract
