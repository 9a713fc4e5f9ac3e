// QueueInspector on Redis: queue counts, groups, heartbeats, the DLQ and the minute
// metrics. Every call is one attempt: an operator's command answers now or says why not.
#include "redis/inspector_redis.h"

#include <algorithm>
#include <cstdlib>

#include "redis/queue_keys.h"

namespace evt {
namespace {

// Counts the entries of a stream from an id on, inside the server: nothing is sent back
// but the count. Read-only, so it also runs on a replica and under OOM.
// KEYS[1] stream. ARGV[1] first id, ARGV[2] most to count.
const RedisScript& CountFromScript() {
  static const RedisScript script(R"lua(#!lua flags=no-writes,allow-stale
return #redis.call('XRANGE', KEYS[1], ARGV[1], '+', 'COUNT', ARGV[2])
)lua");
  return script;
}
constexpr std::int64_t kDlqCountLimit = 1000000;

// The value of `field` in a flat RESP2 map reply (field, value, field, value, ...).
const redisReply* MapField(const redisReply* map, const char* field) {
  if (map == nullptr || map->type != REDIS_REPLY_ARRAY) return nullptr;
  for (std::size_t i = 0; i + 1 < map->elements; i += 2) {
    if (ReplyString(map->element[i]) == field) return map->element[i + 1];
  }
  return nullptr;
}

bool IsNil(const redisReply* r) { return r == nullptr || r->type == REDIS_REPLY_NIL; }

// The millisecond part of a stream id "1709012345678-0", or -1.
UnixMillis StreamIdMillis(const std::string& id) {
  if (id.empty()) return -1;
  char* end = nullptr;
  long long ms = std::strtoll(id.c_str(), &end, 10);
  return end != id.c_str() ? ms : -1;
}

class RedisInspector : public QueueInspector {
 public:
  RedisInspector(RedisClientOptions options, std::string ns)
      : client_(std::move(options)), ns_(std::move(ns)) {}

  Status Connect() { return client_.Connect(); }

  Result<std::vector<std::string>> ListQueues() override {
    Result<ReplyPtr> r = client_.Command({"SMEMBERS", ns_ + ":queues"});
    if (Status s = CheckedReply(r, "SMEMBERS"); !s.ok()) return s;
    std::vector<std::string> out;
    for (std::size_t i = 0; i < (*r)->elements; ++i) out.push_back(ReplyString((*r)->element[i]));
    std::sort(out.begin(), out.end());
    return out;
  }

  Result<QueueState> ReadQueue(const std::string& queue, UnixMillis since_ms) override {
    QueueKeys keys(ns_, queue);
    QueueState q;
    q.queue = queue;
    Result<std::vector<ReplyPtr>> r = client_.Pipeline({{"XLEN", keys.stream()},
                                                        {"ZCARD", keys.delayed()},
                                                        {"XLEN", keys.dlq()},
                                                        {"ZRANGE", keys.workers(), "0", "-1"}});
    if (!r.ok()) return r.status();
    for (const ReplyPtr& reply : *r) {
      if (Status s = ReplyErrorStatus(queue, ReplyError(reply.get())); !s.ok()) return s;
    }
    q.length = ReplyInteger((*r)[0].get());
    q.delayed = ReplyInteger((*r)[1].get());
    q.dlq.size = ReplyInteger((*r)[2].get());
    if (Status s = ReadGroups(keys, &q); !s.ok()) return s;
    if (Status s = ReadConsumers(keys, (*r)[3].get(), &q); !s.ok()) return s;
    if (q.dlq.size > 0) {
      Result<ReplyPtr> n = client_.Eval(
          CountFromScript(), {keys.dlq()},
          {std::to_string(std::max<UnixMillis>(0, since_ms)), std::to_string(kDlqCountLimit)});
      if (Status s = CheckedReply(n, "DLQ count"); !s.ok()) return s;
      q.dlq.added_since = ReplyInteger(n->get());
      q.dlq.added_capped = q.dlq.added_since >= kDlqCountLimit;
    }
    return q;
  }

  Result<MinuteMetrics> ReadMetrics(const std::string& queue, std::int64_t first,
                                    std::int64_t last) override {
    QueueKeys keys(ns_, queue);
    std::vector<std::vector<std::string>> cmds;
    for (std::int64_t m = first; m <= last; ++m) cmds.push_back({"HGETALL", keys.metrics(m)});
    MinuteMetrics out;
    if (cmds.empty()) return out;
    Result<std::vector<ReplyPtr>> r = client_.Pipeline(cmds);
    if (!r.ok()) return r.status();
    for (std::size_t i = 0; i < r->size(); ++i) {
      const redisReply* h = (*r)[i].get();
      if (Status s = ReplyErrorStatus("metrics", ReplyError(h)); !s.ok()) return s;
      if (h->type != REDIS_REPLY_ARRAY || h->elements == 0) continue;
      MetricFields& fields = out[first + static_cast<std::int64_t>(i)];
      for (std::size_t j = 0; j + 1 < h->elements; j += 2) {
        fields[ReplyString(h->element[j])] += ReplyInteger(h->element[j + 1]);
      }
    }
    return out;
  }

  Result<EventStatus> FindEvent(const std::string& queue, const std::string& event_id) override {
    return RedisFindEvent(client_, ns_, queue, event_id);
  }

  Result<EventStatus> FindByKey(const std::string& queue, const std::string& key) override {
    return RedisFindByKey(client_, ns_, queue, key);
  }

  std::string Describe() const override { return client_.broker().redacted; }

 private:
  Status ReadGroups(const QueueKeys& keys, QueueState* q) {
    Result<ReplyPtr> groups = client_.Command({"XINFO", "GROUPS", keys.stream()});
    if (!groups.ok()) return groups.status();
    std::string err = ReplyError(groups->get());
    if (err.rfind("ERR no such key", 0) == 0) return Status::Ok();
    if (Status s = ReplyErrorStatus("XINFO GROUPS", err); !s.ok()) return s;
    const redisReply* list = groups->get();
    for (std::size_t i = 0; list->type == REDIS_REPLY_ARRAY && i < list->elements; ++i) {
      const redisReply* g = list->element[i];
      GroupState gs;
      gs.name = ReplyString(MapField(g, "name"));
      gs.pending = ReplyInteger(MapField(g, "pending"));
      const redisReply* lag = MapField(g, "lag");
      // Redis cannot always count the lag (entries deleted inside the range): then the
      // entries after the last delivered one are counted below, bounded.
      gs.undelivered = IsNil(lag) ? -1 : ReplyInteger(lag);
      if (Status s = ReadGroupAge(keys, ReplyString(MapField(g, "last-delivered-id")), &gs);
          !s.ok()) {
        return s;
      }
      q->groups.push_back(std::move(gs));
    }
    return Status::Ok();
  }

  // The oldest entry the group owes work on: its oldest pending entry, else the first
  // entry after its last delivered one.
  Status ReadGroupAge(const QueueKeys& keys, const std::string& last_delivered, GroupState* g) {
    Result<std::vector<ReplyPtr>> r =
        client_.Pipeline({{"XPENDING", keys.stream(), g->name},
                          {"XRANGE", keys.stream(), "(" + last_delivered, "+", "COUNT", "1"}});
    if (!r.ok()) return r.status();
    for (const ReplyPtr& reply : *r) {
      if (Status s = ReplyErrorStatus("group " + g->name, ReplyError(reply.get())); !s.ok()) {
        return s;
      }
    }
    const redisReply* pending = (*r)[0].get();
    if (g->pending > 0 && pending->type == REDIS_REPLY_ARRAY && pending->elements >= 2) {
      g->oldest_ms = StreamIdMillis(ReplyString(pending->element[1]));
    }
    const redisReply* next = (*r)[1].get();
    if (next->type == REDIS_REPLY_ARRAY && next->elements > 0 &&
        next->element[0]->type == REDIS_REPLY_ARRAY && next->element[0]->elements > 0) {
      UnixMillis ms = StreamIdMillis(ReplyString(next->element[0]->element[0]));
      if (g->oldest_ms < 0 || (ms >= 0 && ms < g->oldest_ms)) g->oldest_ms = ms;
      if (g->undelivered < 0) {
        Result<ReplyPtr> n = client_.Eval(CountFromScript(), {keys.stream()},
                                          {"(" + last_delivered, std::to_string(kDlqCountLimit)});
        if (Status s = CheckedReply(n, "lag count"); !s.ok()) return s;
        g->undelivered = ReplyInteger(n->get());
      }
    }
    if (g->undelivered < 0) g->undelivered = 0;
    return Status::Ok();
  }

  // Heartbeat hashes expire with their worker: a name whose hash is gone is not live.
  Status ReadConsumers(const QueueKeys& keys, const redisReply* names, QueueState* q) {
    if (names->type != REDIS_REPLY_ARRAY || names->elements == 0) return Status::Ok();
    std::vector<std::vector<std::string>> cmds;
    for (std::size_t i = 0; i < names->elements; ++i) {
      cmds.push_back({"HGETALL", keys.worker(ReplyString(names->element[i]))});
    }
    Result<std::vector<ReplyPtr>> r = client_.Pipeline(cmds);
    if (!r.ok()) return r.status();
    for (std::size_t i = 0; i < r->size(); ++i) {
      const redisReply* h = (*r)[i].get();
      if (h->type != REDIS_REPLY_ARRAY || h->elements == 0) continue;
      ConsumerState c;
      c.name = ReplyString(names->element[i]);
      c.host = ReplyString(MapField(h, "host"));
      c.pid = static_cast<int>(ReplyInteger(MapField(h, "pid")));
      c.concurrency = static_cast<int>(ReplyInteger(MapField(h, "concurrency")));
      c.in_flight = static_cast<int>(ReplyInteger(MapField(h, "in_flight")));
      c.heartbeat_at = ReplyString(MapField(h, "heartbeat_at"));
      q->consumers.push_back(std::move(c));
    }
    return Status::Ok();
  }

  RedisClient client_;
  std::string ns_;
};

}  // namespace

Result<std::unique_ptr<QueueInspector>> OpenRedisInspector(const BrokerConfig& broker,
                                                           const std::string& ns) {
  if (!broker.is_redis()) {
    return Status::Internal("OpenRedisInspector: not a Redis broker: " + broker.redacted);
  }
  RedisClientOptions co;
  co.broker = broker;
  co.client_name = "evt-status";
  auto inspector = std::make_unique<RedisInspector>(std::move(co), ns);
  if (Status s = inspector->Connect(); !s.ok()) return s;
  return std::unique_ptr<QueueInspector>(std::move(inspector));
}

}  // namespace evt
