// Housekeeping, safe to run from several workers at once: moving due events into the
// stream (one script: each moved exactly once), heartbeats, and trimming the stream below
// what any consumer group still needs (one script).
#include <string>
#include <vector>

#include "redis/queue_redis_scripts.h"
#include "redis/queue_redis_session.h"

namespace evt {
namespace {

const RedisScript& MoveDueScript() {
  static const RedisScript s(redis_scripts::kMoveDue);
  return s;
}
const RedisScript& TrimScript() {
  static const RedisScript s(redis_scripts::kTrim);
  return s;
}

// The value of `field` in a flat RESP2 map reply (XINFO GROUPS' entries), or null.
const redisReply* GroupField(const redisReply* map, const char* field) {
  if (map == nullptr || map->type != REDIS_REPLY_ARRAY) return nullptr;
  for (std::size_t i = 0; i + 1 < map->elements; i += 2) {
    if (ReplyString(map->element[i]) == field) return map->element[i + 1];
  }
  return nullptr;
}

}  // namespace

// XINFO GROUPS and ZCARD in one round trip: O(groups), no scan. Redis 7 counts a group's
// lag itself; when it cannot (entries deleted inside the range) the backlog is unknown (-1),
// as evt-status, which can afford a bounded scan, would count it instead.
Result<std::optional<QueueDepth>> RedisQueueSession::Depth() {
  Result<std::vector<ReplyPtr>> r =
      client_.Pipeline({{"XINFO", "GROUPS", keys_.stream()}, {"ZCARD", keys_.delayed()}});
  if (!r.ok()) return r.status();
  QueueDepth d;
  d.queue = options_.queue;
  d.group = options_.group;
  const std::string err = ReplyError((*r)[0].get());
  const bool no_stream = err.rfind("ERR no such key", 0) == 0;
  if (!no_stream) {
    if (Status s = ReplyErrorStatus("XINFO GROUPS", err); !s.ok()) return s;
  }
  d.undelivered = no_stream ? 0 : -1;  // a stream without our group (deleted): unknown
  if (Status s = ReplyErrorStatus("ZCARD", ReplyError((*r)[1].get())); !s.ok()) return s;
  d.delayed = ReplyInteger((*r)[1].get());
  const redisReply* groups = (*r)[0].get();
  for (std::size_t i = 0; groups->type == REDIS_REPLY_ARRAY && i < groups->elements; ++i) {
    const redisReply* g = groups->element[i];
    if (ReplyString(GroupField(g, "name")) != options_.group) continue;
    d.pending = ReplyInteger(GroupField(g, "pending"));
    const redisReply* lag = GroupField(g, "lag");
    d.undelivered = lag == nullptr || lag->type == REDIS_REPLY_NIL ? -1 : ReplyInteger(lag);
  }
  return std::optional<QueueDepth>(std::move(d));
}

Result<int> RedisQueueSession::MoveDue(int max) {
  Result<ReplyPtr> r = client_.Eval(MoveDueScript(), {keys_.delayed(), keys_.stream()},
                                    {std::to_string(NowUnixMillis()), std::to_string(max)});
  if (Status s = CheckedReply(r, "move due"); !s.ok()) return s;
  return static_cast<int>(ReplyInteger(r->get()));
}

Result<std::optional<UnixMillis>> RedisQueueSession::NextDue() {
  Result<ReplyPtr> r = client_.Command({"ZRANGE", keys_.delayed(), "0", "0", "WITHSCORES"});
  if (Status s = CheckedReply(r, "next due " + keys_.delayed()); !s.ok()) return s;
  const redisReply* reply = r->get();
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 2) {
    return std::optional<UnixMillis>();
  }
  return std::optional<UnixMillis>(ReplyInteger(reply->element[1]));
}

Status RedisQueueSession::Heartbeat(const WorkerInfo& info) {
  UnixMillis now = NowUnixMillis();
  const std::string hash = keys_.worker(consumer_);
  Result<std::vector<ReplyPtr>> r = client_.Pipeline({
      {"ZADD", keys_.workers(), std::to_string(now), consumer_},
      {"HSET", hash, "host", info.host, "pid", std::to_string(info.pid), "started_at",
       FormatRfc3339Millis(info.started_at), "concurrency", std::to_string(info.concurrency),
       "in_flight", std::to_string(info.in_flight), "heartbeat_at", FormatRfc3339Millis(now)},
      {"PEXPIRE", hash, std::to_string(info.ttl.count())},
      // Consumers silent for a day are gone for good: keep the set from growing forever.
      {"ZREMRANGEBYSCORE", keys_.workers(), "-inf", std::to_string(now - 24LL * 3600 * 1000)},
  });
  if (!r.ok()) return r.status();
  for (const ReplyPtr& reply : *r) {
    if (Status s = ReplyErrorStatus("heartbeat", ReplyError(reply.get())); !s.ok()) return s;
  }
  return Status::Ok();
}

Status RedisQueueSession::Leave() {
  Result<std::vector<ReplyPtr>> r =
      client_.Pipeline({{"ZREM", keys_.workers(), consumer_}, {"DEL", keys_.worker(consumer_)}});
  return r.ok() ? Status::Ok() : r.status();
}

Result<std::int64_t> RedisQueueSession::Trim(Millis retention) {
  Result<ReplyPtr> r =
      client_.Eval(TrimScript(), {keys_.stream()}, {std::to_string(retention.count())});
  if (Status s = CheckedReply(r, "trim"); !s.ok()) return s;
  return static_cast<std::int64_t>(ReplyInteger(r->get()));
}

}  // namespace evt
