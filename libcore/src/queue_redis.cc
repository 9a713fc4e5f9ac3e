// The Redis Streams queue. Every attempt-ending write is one Lua script
// (queue_redis_scripts.h); reads and housekeeping are single commands or pipelines.
#include "evt/queue_redis.h"

#include <unistd.h>

#include <algorithm>

#include "evt/event.h"
#include "evt/metrics.h"
#include "evt/queue_keys.h"
#include "queue_redis_scripts.h"
#include "redis_client.h"

namespace evt {
namespace {

constexpr std::size_t kMaxErrorBytes = 1024;

const RedisScript& TakeLeaseScript() {
  static const RedisScript s(redis_scripts::kTakeLease);
  return s;
}
const RedisScript& ReleaseLeaseScript() {
  static const RedisScript s(redis_scripts::kReleaseLease);
  return s;
}
const RedisScript& FinishScript() {
  static const RedisScript s(redis_scripts::kFinish);
  return s;
}
const RedisScript& MoveDueScript() {
  static const RedisScript s(redis_scripts::kMoveDue);
  return s;
}
const RedisScript& TrimScript() {
  static const RedisScript s(redis_scripts::kTrim);
  return s;
}
const RedisScript& RenewLeaseScript() {
  static const RedisScript s(redis_scripts::kRenewLease);
  return s;
}

// A bounded error text, cut on a UTF-8 character boundary.
std::string Bounded(const std::string& s) {
  if (s.size() <= kMaxErrorBytes) return s;
  std::size_t n = kMaxErrorBytes;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n) + "...";
}

// The status of a command: its transport status, or a reply error turned into a Status.
Status Checked(const Result<ReplyPtr>& r, const std::string& what) {
  if (!r.ok()) return r.status();
  std::string err = ReplyError(r->get());
  if (err.empty()) return Status::Ok();
  if (err.rfind("NOGROUP", 0) == 0) return Status::NotFound(what + ": " + err);
  // A server that is loading its data, failing over or busy will answer later: treat it
  // like an unreachable one, so callers wait with backoff instead of giving up.
  for (const char* later :
       {"LOADING", "BUSY", "MASTERDOWN", "READONLY", "TRYAGAIN", "CLUSTERDOWN"}) {
    if (err.rfind(later, 0) == 0) return Status::Unavailable(what + ": " + err);
  }
  return Status::Internal(what + ": " + err);
}

// Appends the entries of a stream reply ([[id, [field, value, ...]], ...]).
void AppendEntries(const redisReply* entries, std::vector<Delivery>* out) {
  if (entries == nullptr || entries->type != REDIS_REPLY_ARRAY) return;
  for (std::size_t i = 0; i < entries->elements; ++i) {
    const redisReply* e = entries->element[i];
    if (e == nullptr || e->type != REDIS_REPLY_ARRAY || e->elements < 2) continue;
    Delivery d;
    d.id = ReplyString(e->element[0]);
    const redisReply* fields = e->element[1];
    if (fields != nullptr && fields->type == REDIS_REPLY_ARRAY) {
      for (std::size_t f = 0; f + 1 < fields->elements; f += 2) {
        if (ReplyString(fields->element[f]) == "event") {
          d.raw = ReplyString(fields->element[f + 1]);
          break;
        }
      }
    }
    out->push_back(std::move(d));
  }
}

class RedisQueueSession : public QueueSession {
 public:
  RedisQueueSession(const RedisQueueOptions& o, const std::string& consumer)
      : options_(o), consumer_(consumer), keys_(o.ns, o.queue), client_(ClientOptions(o)) {}

  Status WithRetry(const std::function<Status()>& op,
                   const std::function<bool()>& give_up) override {
    return client_.Retrying(op, give_up);
  }

  Status EnsureGroup() override {
    Result<ReplyPtr> r =
        client_.Command({"XGROUP", "CREATE", keys_.stream(), options_.group, "0", "MKSTREAM"});
    if (!r.ok()) return r.status();
    std::string err = ReplyError(r->get());
    if (!err.empty() && err.rfind("BUSYGROUP", 0) != 0) {
      return Status::Internal("XGROUP CREATE " + keys_.stream() + ": " + err);
    }
    // Outside the queue's slot, and never part of a queue transaction (DESIGN.md).
    return Checked(client_.Command({"SADD", keys_.queues(), keys_.queue()}), "SADD");
  }

  Status Receive(int max, Millis block, std::vector<Delivery>* out) override {
    Result<ReplyPtr> r = client_.Command(
        {"XREADGROUP", "GROUP", options_.group, consumer_, "COUNT", std::to_string(max), "BLOCK",
         std::to_string(std::max<long long>(1, block.count())), "STREAMS", keys_.stream(), ">"});
    if (Status s = Checked(r, "XREADGROUP"); !s.ok()) return s;
    const redisReply* reply = r->get();
    if (reply->type != REDIS_REPLY_ARRAY) return Status::Ok();  // nil: nothing came
    for (std::size_t i = 0; i < reply->elements; ++i) {
      const redisReply* stream = reply->element[i];
      if (stream != nullptr && stream->type == REDIS_REPLY_ARRAY && stream->elements == 2) {
        AppendEntries(stream->element[1], out);
      }
    }
    return Status::Ok();
  }

  Status Claim(Millis min_idle, int max, std::vector<Delivery>* out) override {
    Result<ReplyPtr> r = client_.Command({"XAUTOCLAIM", keys_.stream(), options_.group, consumer_,
                                          std::to_string(min_idle.count()), claim_cursor_, "COUNT",
                                          std::to_string(max)});
    if (Status s = Checked(r, "XAUTOCLAIM"); !s.ok()) return s;
    const redisReply* reply = r->get();
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 2) {
      return Status::Internal("XAUTOCLAIM: unexpected reply");
    }
    claim_cursor_ = ReplyString(reply->element[0]);
    if (claim_cursor_.empty()) claim_cursor_ = "0-0";
    std::vector<Delivery> claimed;
    AppendEntries(reply->element[1], &claimed);
    if (claimed.empty()) return Status::Ok();
    // The delivery counts (this claim included) come from the pending entries list.
    std::vector<std::vector<std::string>> cmds;
    for (const Delivery& d : claimed) {
      cmds.push_back({"XPENDING", keys_.stream(), options_.group, d.id, d.id, "1"});
    }
    Result<std::vector<ReplyPtr>> counts = client_.Pipeline(cmds);
    if (!counts.ok()) return counts.status();
    for (std::size_t i = 0; i < claimed.size(); ++i) {
      const redisReply* p = (*counts)[i].get();
      if (p != nullptr && p->type == REDIS_REPLY_ARRAY && p->elements == 1 &&
          p->element[0]->type == REDIS_REPLY_ARRAY && p->element[0]->elements == 4) {
        claimed[i].deliveries = ReplyInteger(p->element[0]->element[3], 1);
      }
    }
    for (Delivery& d : claimed) out->push_back(std::move(d));
    return Status::Ok();
  }

  Result<Lease> TakeLease(const std::string& key, const std::string& owner, Millis ttl) override {
    return LeaseFrom(client_.Eval(TakeLeaseScript(), {keys_.idem(key)},
                                  {owner, std::to_string(std::max<long long>(1, ttl.count()))}));
  }

  Result<Lease> StartAttempt(const AttemptEnd& a, Millis ttl) override {
    std::vector<std::string> args = {a.lease_owner,
                                     std::to_string(std::max<long long>(1, ttl.count()))};
    std::vector<std::string> running = RunningFields(a);
    args.insert(args.end(), running.begin(), running.end());
    return LeaseFrom(client_.Eval(TakeLeaseScript(),
                                  {keys_.idem(a.idempotency_key), keys_.ev(a.event_id)}, args));
  }

  Status ReleaseLease(const std::string& key, const std::string& owner) override {
    return Checked(client_.Eval(ReleaseLeaseScript(), {keys_.idem(key)}, {owner}), "release");
  }

  Status MarkRunning(const AttemptEnd& end) override {
    if (end.event_id.empty()) return Status::Ok();
    std::vector<std::string> argv = {"HSET", keys_.ev(end.event_id)};
    std::vector<std::string> running = RunningFields(end);
    argv.insert(argv.end(), running.begin(), running.end());
    return Checked(client_.Command(argv), "HSET");
  }

  Status FinishDone(const AttemptEnd& end) override {
    return Finish("done", end, AttemptMetrics::End::kDone, DeadReason::kPermanent, "", 0);
  }
  Status FinishRetry(const AttemptEnd& end, const std::string& next_raw, UnixMillis due) override {
    return Finish("retry", end, AttemptMetrics::End::kRetry, DeadReason::kPermanent, next_raw, due);
  }
  Status FinishDead(const AttemptEnd& end, DeadReason reason, const std::string& raw) override {
    return Finish("dead", end, AttemptMetrics::End::kFailed, reason, raw, 0);
  }
  Status FinishDuplicate(const AttemptEnd& end) override {
    return Finish("duplicate", end, AttemptMetrics::End::kDuplicate, DeadReason::kPermanent, "", 0);
  }
  Status Defer(const Delivery& delivery, UnixMillis due) override {
    AttemptEnd end;
    end.delivery_id = delivery.id;
    return Finish("defer", end, AttemptMetrics::End::kDone, DeadReason::kPermanent, delivery.raw,
                  due);
  }

  Result<int> MoveDue(int max) override {
    Result<ReplyPtr> r = client_.Eval(MoveDueScript(), {keys_.delayed(), keys_.stream()},
                                      {std::to_string(NowUnixMillis()), std::to_string(max)});
    if (Status s = Checked(r, "move due"); !s.ok()) return s;
    return static_cast<int>(ReplyInteger(r->get()));
  }

  Status Heartbeat(const WorkerInfo& info) override {
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
      std::string err = ReplyError(reply.get());
      if (!err.empty()) return Status::Internal("heartbeat: " + err);
    }
    return Status::Ok();
  }

  Status Leave() override {
    Result<std::vector<ReplyPtr>> r =
        client_.Pipeline({{"ZREM", keys_.workers(), consumer_}, {"DEL", keys_.worker(consumer_)}});
    return r.ok() ? Status::Ok() : r.status();
  }

  Result<std::string> ReceivePending(const std::string& after_id, int max,
                                     std::vector<Delivery>* out) override {
    // XREADGROUP with an id reads this consumer's own pending entries (no BLOCK: they are
    // there or not), and counts the delivery as `>` would.
    Result<ReplyPtr> r = client_.Command({"XREADGROUP", "GROUP", options_.group, consumer_, "COUNT",
                                          std::to_string(std::max(1, max)), "STREAMS",
                                          keys_.stream(), after_id.empty() ? "0" : after_id});
    if (Status s = Checked(r, "XREADGROUP"); !s.ok()) return s;
    const redisReply* reply = r->get();
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0) return std::string();
    const redisReply* stream = reply->element[0];
    if (stream == nullptr || stream->type != REDIS_REPLY_ARRAY || stream->elements != 2 ||
        stream->element[1] == nullptr || stream->element[1]->type != REDIS_REPLY_ARRAY) {
      return std::string();
    }
    const redisReply* entries = stream->element[1];
    if (entries->elements == 0) return std::string();
    std::string last;
    std::vector<Delivery> got;
    for (std::size_t i = 0; i < entries->elements; ++i) {
      const redisReply* e = entries->element[i];
      if (e == nullptr || e->type != REDIS_REPLY_ARRAY || e->elements < 2) continue;
      last = ReplyString(e->element[0]);
      // An entry deleted from the stream while pending comes back without its fields.
      if (e->element[1] == nullptr || e->element[1]->type != REDIS_REPLY_ARRAY) continue;
      Delivery d;
      d.id = last;
      const redisReply* fields = e->element[1];
      for (std::size_t f = 0; f + 1 < fields->elements; f += 2) {
        if (ReplyString(fields->element[f]) == "event") {
          d.raw = ReplyString(fields->element[f + 1]);
          break;
        }
      }
      got.push_back(std::move(d));
    }
    if (Status s = CountDeliveries(&got); !s.ok()) return s;
    for (Delivery& d : got) out->push_back(std::move(d));
    return last;
  }

  Result<bool> RenewLease(const std::string& key, const std::string& owner, Millis ttl) override {
    Result<ReplyPtr> r = client_.Eval(RenewLeaseScript(), {keys_.idem(key)},
                                      {owner, std::to_string(std::max<long long>(1, ttl.count()))});
    if (Status s = Checked(r, "renew lease"); !s.ok()) return s;
    return ReplyInteger(r->get()) == 1;
  }

  Result<std::int64_t> Trim(Millis retention) override {
    Result<ReplyPtr> r =
        client_.Eval(TrimScript(), {keys_.stream()}, {std::to_string(retention.count())});
    if (Status s = Checked(r, "trim"); !s.ok()) return s;
    return static_cast<std::int64_t>(ReplyInteger(r->get()));
  }

 private:
  std::vector<std::string> RunningFields(const AttemptEnd& a) const {
    return {"status",          "running",
            "event_type",      a.event_type,
            "idempotency_key", a.idempotency_key,
            "attempts",        std::to_string(a.attempt),
            "consumer",        consumer_,
            "stream_id",       a.delivery_id,
            "started_at",      FormatRfc3339Millis(NowUnixMillis())};
  }

  static Result<Lease> LeaseFrom(const Result<ReplyPtr>& r) {
    if (Status s = Checked(r, "lease"); !s.ok()) return s;
    const redisReply* reply = r->get();
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
      return Status::Internal("lease: unexpected reply");
    }
    Lease lease;
    long long state = ReplyInteger(reply->element[0]);
    lease.state = state == 0   ? LeaseState::kAcquired
                  : state == 1 ? LeaseState::kAlreadyDone
                               : LeaseState::kBusy;
    lease.remaining = Millis(std::max(0LL, ReplyInteger(reply->element[1])));
    return lease;
  }

  // Sets each delivery's count (this delivery included) from the pending entries list.
  Status CountDeliveries(std::vector<Delivery>* ds) {
    if (ds->empty()) return Status::Ok();
    std::vector<std::vector<std::string>> cmds;
    for (const Delivery& d : *ds) {
      cmds.push_back({"XPENDING", keys_.stream(), options_.group, d.id, d.id, "1"});
    }
    Result<std::vector<ReplyPtr>> counts = client_.Pipeline(cmds);
    if (!counts.ok()) return counts.status();
    for (std::size_t i = 0; i < ds->size(); ++i) {
      const redisReply* p = (*counts)[i].get();
      if (p != nullptr && p->type == REDIS_REPLY_ARRAY && p->elements == 1 &&
          p->element[0]->type == REDIS_REPLY_ARRAY && p->element[0]->elements == 4) {
        (*ds)[i].deliveries = ReplyInteger(p->element[0]->element[3], 1);
      }
    }
    return Status::Ok();
  }

  static RedisClientOptions ClientOptions(const RedisQueueOptions& o) {
    RedisClientOptions c;
    c.broker = o.broker;
    c.io_timeout = o.io_timeout;
    c.backoff_max = o.backoff_max;
    c.client_name = "evt-work:" + o.queue;
    return c;
  }

  Status Finish(const char* mode, const AttemptEnd& end, AttemptMetrics::End metric_end,
                DeadReason reason, const std::string& raw, UnixMillis due) {
    const std::string m = mode;
    const UnixMillis now = NowUnixMillis();
    std::vector<std::string> hash, incr, dead;
    if (!end.event_id.empty() && m != "defer") {
      const char* status = m == "done"        ? "done"
                           : m == "retry"     ? "retrying"
                           : m == "duplicate" ? "duplicate"
                                              : "failed";
      hash = {"status",          status,
              "event_type",      end.event_type,
              "idempotency_key", end.idempotency_key,
              "consumer",        consumer_,
              "stream_id",       end.delivery_id,
              "updated_at",      FormatRfc3339Millis(now)};
      if (end.attempt > 0) {
        hash.insert(hash.end(), {"attempts", std::to_string(end.attempt)});
      }
      if (end.ran) hash.insert(hash.end(), {"duration_ms", std::to_string(end.duration.count())});
      if (m == "retry") {
        hash.insert(hash.end(), {"next_attempt_at", FormatRfc3339Millis(due)});
      } else {
        hash.insert(hash.end(), {"finished_at", FormatRfc3339Millis(now)});
      }
      if (m == "retry" || m == "dead") {
        hash.insert(hash.end(), {"error", Bounded(end.error), "category",
                                 std::string(CategoryName(end.category))});
      }
      if (m == "dead") hash.insert(hash.end(), {"reason", std::string(DeadReasonName(reason))});
    }
    if (m != "defer") {
      AttemptMetrics am;
      am.event_type = end.event_type;
      am.end = metric_end;
      am.ran = end.ran;
      am.duration = end.duration;
      am.category = end.category;
      am.reason = reason;
      am.occurred_at = end.occurred_at;
      am.now = now;
      for (auto& [field, amount] : MetricIncrements(am)) {
        incr.push_back(field);
        incr.push_back(std::to_string(amount));
      }
    }
    if (m == "dead") {
      dead = {"event",     raw,
              "reason",    std::string(DeadReasonName(reason)),
              "error",     Bounded(end.error),
              "category",  std::string(CategoryName(end.category)),
              "attempts",  std::to_string(end.attempt),
              "failed_at", FormatRfc3339Millis(now),
              "consumer",  consumer_,
              "stream_id", end.delivery_id};
    }
    std::vector<std::string> args = {options_.group,
                                     end.delivery_id,
                                     m,
                                     end.lease_owner,
                                     std::to_string(options_.idempotency_ttl.count()),
                                     std::to_string(kMetricsTtlSeconds),
                                     std::to_string(due),
                                     raw};
    for (const auto* list : {&hash, &incr, &dead}) {
      args.push_back(std::to_string(list->size() / 2));
      args.insert(args.end(), list->begin(), list->end());
    }
    std::vector<std::string> keys = {keys_.stream(),
                                     keys_.ev(end.event_id),
                                     keys_.idem(end.idempotency_key),
                                     keys_.metrics(MetricsMinute(now)),
                                     keys_.delayed(),
                                     keys_.dlq()};
    return Checked(client_.Eval(FinishScript(), keys, args), std::string("finish ") + mode);
  }

  const RedisQueueOptions& options_;
  const std::string& consumer_;
  QueueKeys keys_;
  RedisClient client_;
  std::string claim_cursor_ = "0-0";
};

class RedisQueue : public Queue {
 public:
  explicit RedisQueue(RedisQueueOptions o) : options_(std::move(o)) {
    consumer_ = options_.consumer.empty() ? DefaultConsumerName() : options_.consumer;
  }
  std::unique_ptr<QueueSession> OpenSession() override {
    return std::make_unique<RedisQueueSession>(options_, consumer_);
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
};

Status ValidateName(const std::string& option, const std::string& value, bool may_be_empty) {
  if (value.empty() && may_be_empty) return Status::Ok();
  if (value.empty() || value.size() > 255) {
    return Status::Usage(option + ": must be 1-255 characters");
  }
  for (char c : value) {
    if (static_cast<unsigned char>(c) <= ' ' || c == '{' || c == '}') {
      return Status::Usage(option + ": no spaces, control characters or braces (got \"" + value +
                           "\")");
    }
  }
  return Status::Ok();
}

}  // namespace

Status ValidateRedisQueueOptions(const RedisQueueOptions& o) {
  if (!o.broker.is_redis()) return Status::Usage("--broker: not a Redis URL");
  if (Status s = ValidateName("--group", o.group, false); !s.ok()) return s;
  if (Status s = ValidateName("--consumer", o.consumer, true); !s.ok()) return s;
  if (o.idempotency_ttl.count() <= 0) return Status::Usage("--idempotency-ttl: must be above 0");
  return Status::Ok();
}

std::unique_ptr<Queue> MakeRedisQueue(RedisQueueOptions options) {
  return std::make_unique<RedisQueue>(std::move(options));
}

std::string DefaultConsumerName() { return HostName() + ":" + std::to_string(::getpid()); }

}  // namespace evt
