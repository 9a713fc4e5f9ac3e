// EventPublisher on Redis Streams (DESIGN.md, "Delivery semantics").
//
// A batch of events is one MULTI/EXEC; several transactions go out in one pipelined
// write, so bulk emits pay one round trip per round, not per event. Each event is one
// command (XADD, or ZADD for a delayed one) and nothing else: no status record is written
// at emit time (workers write it from `running` on), and evt-status derives `queued` from
// the stream or the delayed set itself. The one key outside the queue's slot
// (<ns>:queues) is written outside every transaction.
#include "redis/publisher_redis.h"

#include <chrono>
#include <string>
#include <vector>

#include "evt/log.h"
#include "evt/signals.h"
#include "redis/redis_client.h"

namespace evt {
namespace {

using Clock = std::chrono::steady_clock;

// What an error reply means for the caller: the one classification of redis_client.h
// (a refused write under maxmemory is Unavailable, so Publish waits it out like an outage
// and evt-emit --spool keeps the events).
Status RefusalStatus(const std::string& redacted, const std::string& err) {
  return ReplyErrorStatus("redis " + redacted, err);
}

// The first error among `replies[begin, end)`, or "".
std::string FirstError(const std::vector<ReplyPtr>& replies, std::size_t begin, std::size_t end) {
  for (std::size_t i = begin; i < end && i < replies.size(); ++i) {
    std::string e = ReplyError(replies[i].get());
    if (!e.empty()) return e;
    const redisReply* r = replies[i].get();
    if (r != nullptr && r->type == REDIS_REPLY_ARRAY) {
      for (std::size_t j = 0; j < r->elements; ++j) {
        e = ReplyError(r->element[j]);
        if (!e.empty()) return e;
      }
    }
  }
  return {};
}

// The value of `field` in a flat RESP2 map reply (field, value, field, value, ...).
const redisReply* MapField(const redisReply* map, const char* field) {
  if (map == nullptr || map->type != REDIS_REPLY_ARRAY) return nullptr;
  for (std::size_t i = 0; i + 1 < map->elements; i += 2) {
    if (ReplyString(map->element[i]) == field) return map->element[i + 1];
  }
  return nullptr;
}

bool IsNil(const redisReply* r) { return r == nullptr || r->type == REDIS_REPLY_NIL; }

class RedisPublisher : public EventPublisher {
 public:
  RedisPublisher(RedisClientOptions client_options, QueueKeys keys, PublisherOptions options)
      : client_(std::move(client_options)), keys_(std::move(keys)), options_(std::move(options)) {}

  Status Connect() { return client_.Connect(); }

  Status Publish(const std::vector<Publication>& batch, std::size_t* accepted) override {
    *accepted = 0;
    const std::size_t round = options_.batch_events * options_.batches_per_round;
    while (*accepted < batch.size()) {
      const std::size_t end = std::min(batch.size(), *accepted + round);
      Clock::time_point last_progress = Clock::now();
      Status s = client_.Retrying(
          [&]() {
            std::size_t before = *accepted;
            Status r = SendRound(batch, end, accepted);
            if (*accepted > before) last_progress = Clock::now();
            return r;
          },
          [&]() { return GaveUp(last_progress); });
      if (!s.ok()) return s;
    }
    return Status::Ok();
  }

  Result<std::int64_t> Depth() override {
    std::int64_t depth = 0;
    Clock::time_point start = Clock::now();
    Status s =
        client_.Retrying([&]() { return ReadDepth(&depth); }, [&]() { return GaveUp(start); });
    if (!s.ok()) return s;
    return depth;
  }

 private:
  bool GaveUp(Clock::time_point since) const {
    return StopRequested() || Clock::now() - since >= options_.outage_patience;
  }

  // Sends batch[*accepted, end) as pipelined transactions and advances *accepted past each
  // transaction whose EXEC reply came back clean. Unavailable when the connection broke
  // (the caller retries the rest; a transaction whose reply was lost may be sent twice).
  Status SendRound(const std::vector<Publication>& batch, std::size_t end, std::size_t* accepted) {
    std::vector<std::vector<std::string>> cmds;
    const bool register_queue = !queue_registered_;
    if (register_queue) cmds.push_back({"SADD", keys_.queues(), keys_.queue()});
    struct Txn {
      std::size_t first_reply, exec_reply, events;
    };
    std::vector<Txn> txns;
    for (std::size_t i = *accepted; i < end; i += options_.batch_events) {
      const std::size_t n = std::min(options_.batch_events, end - i);
      Txn t{cmds.size(), 0, n};
      cmds.push_back({"MULTI"});
      for (std::size_t k = i; k < i + n; ++k) AppendEvent(batch[k], &cmds);
      t.exec_reply = cmds.size();
      cmds.push_back({"EXEC"});
      txns.push_back(t);
    }
    std::vector<ReplyPtr> replies;
    Status conn = client_.PipelineInto(cmds, &replies);
    if (register_queue && !replies.empty()) {
      if (std::string e = ReplyError(replies[0].get()); !e.empty()) {
        return RefusalStatus(client_.broker().redacted, e);
      }
      queue_registered_ = true;
    }
    for (const Txn& t : txns) {
      if (t.exec_reply >= replies.size()) break;  // not answered: the connection broke
      std::string err = FirstError(replies, t.first_reply, t.exec_reply + 1);
      if (!err.empty()) return RefusalStatus(client_.broker().redacted, err);
      if (replies[t.exec_reply]->type != REDIS_REPLY_ARRAY) {
        return Status::Internal("redis " + client_.broker().redacted +
                                ": EXEC gave no results (transaction discarded)");
      }
      *accepted += t.events;
    }
    return conn;
  }

  void AppendEvent(const Publication& p, std::vector<std::vector<std::string>>* cmds) const {
    std::string json = Serialize(p.event);
    if (p.due_ms == 0) {
      cmds->push_back({"XADD", keys_.stream(), "*", "event", std::move(json)});
    } else {
      cmds->push_back({"ZADD", keys_.delayed(), std::to_string(p.due_ms), std::move(json)});
    }
  }

  Status ReadDepth(std::int64_t* depth) {
    Result<ReplyPtr> groups = client_.Command({"XINFO", "GROUPS", keys_.stream()});
    if (!groups.ok()) return groups.status();
    std::string err = ReplyError(groups->get());
    if (err.rfind("ERR no such key", 0) == 0) {
      *depth = 0;
      return Status::Ok();
    }
    if (!err.empty()) return RefusalStatus(client_.broker().redacted, err);
    const redisReply* group = nullptr;
    const redisReply* list = groups->get();
    for (std::size_t i = 0; list->type == REDIS_REPLY_ARRAY && i < list->elements; ++i) {
      if (ReplyString(MapField(list->element[i], "name")) == options_.group) {
        group = list->element[i];
      }
    }
    Result<ReplyPtr> len = client_.Command({"XLEN", keys_.stream()});
    if (!len.ok()) return len.status();
    if (err = ReplyError(len->get()); !err.empty()) {
      return RefusalStatus(client_.broker().redacted, err);
    }
    const std::int64_t xlen = ReplyInteger(len->get());
    if (group == nullptr) {
      *depth = xlen;
      return Status::Ok();
    }
    const std::int64_t pending = ReplyInteger(MapField(group, "pending"));
    const redisReply* lag = MapField(group, "lag");
    if (!IsNil(lag)) {
      *depth = ReplyInteger(lag) + pending;
      return Status::Ok();
    }
    // Redis cannot count the lag exactly (entries were deleted inside the range): estimate
    // it from the counters, never above the stream's length.
    std::int64_t estimate = xlen;
    const redisReply* read = MapField(group, "entries-read");
    if (!IsNil(read)) {
      Result<ReplyPtr> info = client_.Command({"XINFO", "STREAM", keys_.stream()});
      if (!info.ok()) return info.status();
      const redisReply* added = MapField(info->get(), "entries-added");
      if (!IsNil(added)) {
        estimate =
            std::min(xlen, std::max<std::int64_t>(0, ReplyInteger(added) - ReplyInteger(read)));
      }
    }
    *depth = estimate + pending;
    return Status::Ok();
  }

  RedisClient client_;
  QueueKeys keys_;
  PublisherOptions options_;
  bool queue_registered_ = false;  // SADD <ns>:queues done on this connection's server
};

}  // namespace

Result<std::unique_ptr<EventPublisher>> OpenRedisPublisher(const BrokerConfig& broker,
                                                           const QueueKeys& keys,
                                                           const PublisherOptions& options) {
  if (!broker.is_redis()) {
    return Status::Internal("OpenRedisPublisher: not a Redis broker: " + broker.redacted);
  }
  RedisClientOptions co;
  co.broker = broker;
  co.connect_timeout = options.connect_timeout;
  co.client_name = options.client_name;
  auto publisher = std::make_unique<RedisPublisher>(std::move(co), keys, options);
  if (Status s = publisher->Connect(); !s.ok()) return s;
  return std::unique_ptr<EventPublisher>(std::move(publisher));
}

}  // namespace evt
