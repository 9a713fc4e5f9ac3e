// The Redis store of the admin and inspector contracts: the shared redis-server of the
// contract run (contract_redis_server.h) and a fresh namespace per harness; records are
// written with the commands of DESIGN.md's Redis data model (redis/queue_keys.h).
#include <unistd.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "contract_redis_server.h"
#include "evt/broker.h"
#include "evt/broker_factory.h"
#include "evt/event.h"
#include "redis/queue_keys.h"
#include "redis/redis_client.h"
#include "store_impls.h"

namespace evt::contract {
namespace {

class RedisStore : public StoreHarness {
 public:
  RedisStore() : ns_("store" + std::to_string(++count_)), q1_(ns_, "q1") {
    Result<BrokerConfig> b = ParseBrokerUrl(SharedRedisServer().url());
    if (!b.ok()) throw std::runtime_error("redis store harness: " + b.status().message());
    broker_ = *b;
    RedisClientOptions o;
    o.broker = broker_;
    client_ = std::make_unique<RedisClient>(o);
  }

  std::string url() override { return SharedRedisServer().url(); }
  std::string ns() override { return ns_; }
  std::string AbsentUrl() override { return "redis://127.0.0.1:1"; }

  std::unique_ptr<QueueSession> Session(const std::string& consumer) override {
    QueueOptions o;
    o.ns = ns_;
    o.queue = "q1";
    o.consumer = consumer;
    o.idempotency_ttl = Millis(3600 * 1000);
    o.io_timeout = Millis(5000);
    Result<std::unique_ptr<Queue>> q = OpenQueue(broker_, o);
    if (!q.ok()) throw std::runtime_error("redis store harness: " + q.status().message());
    queues_.push_back(std::move(*q));
    return queues_.back()->OpenSession();
  }
  void Add(const std::string& raw, const std::string& queue) override {
    QueueKeys k(ns_, queue);
    Cmd({"SADD", k.queues(), queue});
    Cmd({"XADD", k.stream(), "*", "event", raw});
  }
  void AddDelayed(const std::string& raw, UnixMillis due) override {
    Cmd({"ZADD", q1_.delayed(), std::to_string(due), raw});
  }
  void RegisterQueue(const std::string& queue) override { Cmd({"SADD", q1_.queues(), queue}); }

  std::string AddDead(const DeadSpec& d) override {
    std::string event = d.raw;
    if (event.empty()) {
      Json j;
      j["event_type"] = d.type;
      j["event_id"] = d.event_id;
      j["retry_count"] = 5;
      j["occurred_at"] = "2026-01-01T00:00:00.000Z";
      event = Serialize(*MakeEvent(j));
    }
    return ReplyString(Cmd({"XADD", q1_.dlq(), "*", "event", event, "reason", d.reason, "error",
                            "exit 75: down", "category", d.category, "attempts", "6", "failed_at",
                            d.failed_at, "consumer", "h:1", "stream_id", "1-1"})
                           .get());
  }
  void AddAncientDead() override {
    Cmd({"XADD", q1_.dlq(), "1000-0", "event", "{}", "reason", "permanent", "failed_at",
         "1970-01-01T00:00:01.000Z"});
  }
  void AddExpiredWorker(const std::string& consumer) override {
    Cmd({"ZADD", q1_.workers(), std::to_string(NowUnixMillis() - 60000), consumer});
  }
  void PutKey(const std::string& key, bool done, UnixMillis expires_ms) override {
    const UnixMillis ttl = expires_ms - NowUnixMillis();
    if (ttl <= 0) return;  // an expired key is gone in Redis
    Cmd({"SET", q1_.idem(key), done ? "done" : "running h:1", "PX", std::to_string(ttl)});
  }
  BrokenQueue BreakQueue(const std::string& queue) override {
    Cmd({"SET", QueueKeys(ns_, queue).stream(), "x"});
    return {Status::Kind::kConfig, "WRONGTYPE"};
  }

  std::int64_t DeadLetters() override { return ReplyInteger(Cmd({"XLEN", q1_.dlq()}).get()); }
  std::int64_t StreamLength(const std::string& queue) override {
    return ReplyInteger(Cmd({"XLEN", QueueKeys(ns_, queue).stream()}).get());
  }
  bool QueueListed(const std::string& queue) override {
    return ReplyInteger(Cmd({"SISMEMBER", q1_.queues(), queue}).get()) == 1;
  }
  std::int64_t StatusRecords() override {
    std::string pattern = q1_.ev("*");
    return static_cast<std::int64_t>(Cmd({"KEYS", pattern})->elements);
  }
  std::vector<std::map<std::string, std::string>> Audits() override {
    std::vector<std::map<std::string, std::string>> out;
    ReplyPtr audit = Cmd({"XRANGE", q1_.audit(), "-", "+"});
    for (std::size_t e = 0; e < audit->elements; ++e) {
      std::map<std::string, std::string> a;
      const redisReply* kv = audit->element[e]->element[1];
      for (std::size_t i = 0; i + 1 < kv->elements; i += 2) {
        a[ReplyString(kv->element[i])] = ReplyString(kv->element[i + 1]);
      }
      a["actor"] = a["user"] + "@" + a["host"];
      out.push_back(std::move(a));
    }
    return out;
  }

 private:
  ReplyPtr Cmd(const std::vector<std::string>& argv) {
    Result<ReplyPtr> r = client_->Command(argv);
    if (Status s = CheckedReply(r, argv.at(0)); !s.ok()) {
      throw std::runtime_error("redis store harness: " + s.message());
    }
    return std::move(*r);
  }

  static inline int count_ = 0;  // harnesses made, for the namespace
  std::string ns_;
  QueueKeys q1_;
  BrokerConfig broker_;
  std::unique_ptr<RedisClient> client_;
  std::vector<std::unique_ptr<Queue>> queues_;
};

[[maybe_unused]] const bool registered =
    RegisterStoreImpl({"redis", [] { return std::make_unique<RedisStore>(); }});

}  // namespace
}  // namespace evt::contract
