// Helpers for tests of the Redis queue: a real redis-server plus sessions on it.
//
// Call everything here from the test's own thread: Catch2 v2 assertions (REQUIRE, CHECK)
// are not thread-safe. Session() alone locks, so it is safe from any thread, but a test
// should still open its sessions first and hand them to its threads.
#pragma once

#include <catch2/catch.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "evt/broker.h"
#include "evt/event.h"
#include "redis/queue_redis.h"
#include "redis/redis_client.h"
#include "redis_server.h"

namespace evt::testing {

struct QueueFixture {
  explicit QueueFixture(std::vector<std::string> server_args = {})
      : server(std::move(server_args)) {}

  RedisQueueOptions Options(const std::string& consumer) const {
    RedisQueueOptions o;
    Result<BrokerConfig> b = ParseBrokerUrl(server.url());
    if (!b.ok()) throw std::runtime_error("bad test broker url: " + b.status().message());
    o.broker = *b;
    o.queue = "q1";
    o.consumer = consumer;
    o.idempotency_ttl = Millis(3600 * 1000);
    return o;
  }
  // A queue (and so a consumer) named `consumer`; kept alive by the fixture.
  std::unique_ptr<QueueSession> Session(const std::string& consumer) {
    std::unique_ptr<Queue> queue = MakeRedisQueue(Options(consumer));
    std::unique_ptr<QueueSession> session = queue->OpenSession();
    std::lock_guard<std::mutex> lock(queues_mu);
    queues.push_back(std::move(queue));
    return session;
  }
  // A raw client for checking keys.
  RedisClient& Client() {
    if (!client) {
      RedisClientOptions o;
      o.broker = *ParseBrokerUrl(server.url());
      client = std::make_unique<RedisClient>(o);
    }
    return *client;
  }
  ReplyPtr Cmd(const std::vector<std::string>& argv) {
    Result<ReplyPtr> r = Client().Command(argv);
    REQUIRE(r.ok());
    return std::move(*r);
  }
  std::string Str(const std::vector<std::string>& argv) { return ReplyString(Cmd(argv).get()); }
  long long Int(const std::vector<std::string>& argv) { return ReplyInteger(Cmd(argv).get()); }
  // Adds an event to the stream as evt-emit does; returns the entry id.
  std::string Add(const std::string& raw) {
    return Str({"XADD", "evt:{q1}:stream", "*", "event", raw});
  }
  // A hash as field → value.
  std::map<std::string, std::string> Hash(const std::string& key) {
    ReplyPtr r = Cmd({"HGETALL", key});
    std::map<std::string, std::string> out;
    for (std::size_t i = 0; i + 1 < r->elements; i += 2) {
      out[ReplyString(r->element[i])] = ReplyString(r->element[i + 1]);
    }
    return out;
  }
  long long Pending() {
    ReplyPtr r = Cmd({"XPENDING", "evt:{q1}:stream", "workers"});
    return r->type == REDIS_REPLY_ARRAY && r->elements > 0 ? ReplyInteger(r->element[0]) : -1;
  }

  RedisServer server;
  std::mutex queues_mu;  // guards queues
  std::vector<std::unique_ptr<Queue>> queues;
  std::unique_ptr<RedisClient> client;
};

inline std::string EventJson(const std::string& id, const std::string& key = "",
                             std::int64_t retry_count = 0) {
  Json j;
  j["event_type"] = "t.x";
  j["event_id"] = id;
  if (!key.empty()) j["idempotency_key"] = key;
  j["retry_count"] = retry_count;
  j["occurred_at"] = "2026-01-01T00:00:00.000Z";
  Result<Event> ev = MakeEvent(j);
  REQUIRE(ev.ok());
  return Serialize(*ev);
}

}  // namespace evt::testing
