// The Redis Streams queue. Every attempt-ending write is one Lua script
// (queue_redis_scripts.h); reads and housekeeping are single commands or pipelines.
#include "redis/queue_redis.h"

#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <set>

#include "evt/event.h"
#include "evt/metrics.h"
#include "redis/queue_keys.h"
#include "redis/queue_redis_scripts.h"
#include "redis/redis_client.h"

namespace evt {
namespace {

constexpr std::size_t kMaxErrorBytes = 1024;
// Life of a delivery's commit marker (fin:) and start count (run:): longer than any
// repeat of a commit (a lost reply, a replayed outcome) or redelivery we guard against.
constexpr long long kDeliveryKeyTtlMs = 24LL * 3600 * 1000;

// How an attempt ends (the `mode` of the finishing script).
enum class FinishMode { kDone, kRetry, kDead, kDuplicate, kDefer };

const char* ModeName(FinishMode m) {
  switch (m) {
    case FinishMode::kDone:
      return "done";
    case FinishMode::kRetry:
      return "retry";
    case FinishMode::kDead:
      return "dead";
    case FinishMode::kDuplicate:
      return "duplicate";
    case FinishMode::kDefer:
      return "defer";
  }
  return "done";
}

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

// The entries the sessions of one Queue have handed out and are still working on: each
// session's last Receive or Claim result, until its next Receive or Claim. All sessions
// share one consumer name (and so one lease owner per entry), so XAUTOCLAIM also finds an
// entry that one of our own threads holds while it waits (for Redis to accept writes
// again, say), and XREADGROUP hands out again what a thread runs when the group was
// re-created; Claim and Receive skip those, or two threads would both own its lease and
// run it twice.
class HeldDeliveries {
 public:
  void Hold(const std::vector<Delivery>& ds, std::size_t from, std::vector<std::string>* mine) {
    std::lock_guard<std::mutex> lock(mu_);
    for (std::size_t i = from; i < ds.size(); ++i) {
      ids_.insert(ds[i].id);
      mine->push_back(ds[i].id);
    }
  }
  void Release(std::vector<std::string>* mine) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const std::string& id : *mine) ids_.erase(ids_.find(id));
    mine->clear();
  }
  bool Held(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    return ids_.count(id) > 0;
  }

 private:
  std::mutex mu_;
  std::multiset<std::string> ids_;
};

class RedisQueueSession : public QueueSession {
 public:
  RedisQueueSession(const RedisQueueOptions& o, const std::string& consumer, HeldDeliveries& held)
      : options_(o),
        consumer_(consumer),
        keys_(o.ns, o.queue),
        client_(ClientOptions(o)),
        held_(held) {}
  ~RedisQueueSession() override { held_.Release(&mine_); }

  Status WithRetry(const std::function<Status()>& op,
                   const std::function<bool()>& give_up) override {
    return client_.Retrying(op, give_up);
  }

  Status EnsureGroup() override {
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

  Status Receive(int max, Millis block, std::vector<Delivery>* out) override {
    held_.Release(&mine_);  // a new call: this session is done with what it had
    const std::size_t from = out->size();
    Result<ReplyPtr> r = client_.Command(
        {"XREADGROUP", "GROUP", options_.group, consumer_, "COUNT", std::to_string(max), "BLOCK",
         std::to_string(std::max<long long>(1, block.count())), "STREAMS", keys_.stream(), ">"});
    if (Status s = CheckedReply(r, "XREADGROUP"); !s.ok()) return s;
    const redisReply* reply = r->get();
    if (reply->type != REDIS_REPLY_ARRAY) return Status::Ok();  // nil: nothing came
    for (std::size_t i = 0; i < reply->elements; ++i) {
      const redisReply* stream = reply->element[i];
      if (stream != nullptr && stream->type == REDIS_REPLY_ARRAY && stream->elements == 2) {
        AppendEntries(stream->element[1], out);
      }
    }
    // After a group was re-created, a thread of ours may still run an entry handed out
    // again now: it stays pending here, and that thread's commit acknowledges it.
    out->erase(std::remove_if(out->begin() + static_cast<std::ptrdiff_t>(from), out->end(),
                              [this](const Delivery& d) { return held_.Held(d.id); }),
               out->end());
    held_.Hold(*out, from, &mine_);
    return Status::Ok();
  }

  Status Claim(Millis min_idle, int max, std::vector<Delivery>* out) override {
    held_.Release(&mine_);
    // JUSTID takes the idle entries over without counting a delivery: one that another
    // session of ours still holds is skipped below, and was not handed out.
    Result<ReplyPtr> r = client_.Command({"XAUTOCLAIM", keys_.stream(), options_.group, consumer_,
                                          std::to_string(min_idle.count()), claim_cursor_, "COUNT",
                                          std::to_string(max), "JUSTID"});
    if (Status s = CheckedReply(r, "XAUTOCLAIM"); !s.ok()) return s;
    const redisReply* reply = r->get();
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 2 ||
        reply->element[1]->type != REDIS_REPLY_ARRAY) {
      return Status::Internal("XAUTOCLAIM: unexpected reply");
    }
    claim_cursor_ = ReplyString(reply->element[0]);
    if (claim_cursor_.empty()) claim_cursor_ = "0-0";
    std::vector<std::string> ids;
    for (std::size_t i = 0; i < reply->element[1]->elements; ++i) {
      std::string id = ReplyString(reply->element[1]->element[i]);
      if (!id.empty() && !held_.Held(id)) ids.push_back(std::move(id));
    }
    if (ids.empty()) return Status::Ok();
    // They are ours now and just reset to idle 0: XCLAIM hands them out, counting this
    // delivery (an entry deleted meanwhile is dropped from the pending list).
    std::vector<std::string> xclaim = {"XCLAIM", keys_.stream(), options_.group, consumer_, "0"};
    xclaim.insert(xclaim.end(), ids.begin(), ids.end());
    Result<ReplyPtr> c = client_.Command(xclaim);
    if (Status s = CheckedReply(c, "XCLAIM"); !s.ok()) return s;
    std::vector<Delivery> claimed;
    AppendEntries(c->get(), &claimed);
    if (Status s = CountDeliveries(&claimed); !s.ok()) return s;
    held_.Hold(claimed, 0, &mine_);
    for (Delivery& d : claimed) out->push_back(std::move(d));
    return Status::Ok();
  }

  Result<Lease> TakeLease(const std::string& key, const std::string& owner, Millis ttl) override {
    return LeaseFrom(client_.Eval(TakeLeaseScript(), {keys_.idem(key)},
                                  {owner, std::to_string(std::max<long long>(1, ttl.count()))}));
  }

  Result<Lease> StartAttempt(const AttemptEnd& a, Millis ttl, int max_starts) override {
    std::vector<std::string> args = {a.lease_owner,
                                     std::to_string(std::max<long long>(1, ttl.count())),
                                     options_.group,
                                     a.delivery_id,
                                     std::to_string(std::max(0, max_starts)),
                                     std::to_string(kDeliveryKeyTtlMs)};
    std::vector<std::string> running = RunningFields(a);
    args.insert(args.end(), running.begin(), running.end());
    return LeaseFrom(
        client_.Eval(TakeLeaseScript(),
                     {keys_.idem(a.idempotency_key), keys_.ev(a.event_id), keys_.fin(a.delivery_id),
                      keys_.run(a.delivery_id), keys_.stream()},
                     args));
  }

  Status ReleaseLease(const std::string& key, const std::string& owner) override {
    return CheckedReply(client_.Eval(ReleaseLeaseScript(), {keys_.idem(key)}, {owner}), "release");
  }

  Status MarkRunning(const AttemptEnd& end) override {
    if (end.event_id.empty()) return Status::Ok();
    std::vector<std::string> argv = {"HSET", keys_.ev(end.event_id)};
    std::vector<std::string> running = RunningFields(end);
    argv.insert(argv.end(), running.begin(), running.end());
    return CheckedReply(client_.Command(argv), "HSET");
  }

  Status FinishDone(const AttemptEnd& end) override {
    return Finish(FinishMode::kDone, end, DeadReason::kPermanent, "", 0);
  }
  Status FinishRetry(const AttemptEnd& end, const std::string& next_raw, UnixMillis due) override {
    return Finish(FinishMode::kRetry, end, DeadReason::kPermanent, next_raw, due);
  }
  Status FinishDead(const AttemptEnd& end, DeadReason reason, const std::string& raw) override {
    return Finish(FinishMode::kDead, end, reason, raw, 0);
  }
  Status FinishDuplicate(const AttemptEnd& end) override {
    return Finish(FinishMode::kDuplicate, end, DeadReason::kPermanent, "", 0);
  }
  Status Defer(const Delivery& delivery, UnixMillis due) override {
    AttemptEnd end;
    end.delivery_id = delivery.id;
    return Finish(FinishMode::kDefer, end, DeadReason::kPermanent, delivery.raw, due);
  }

  Result<int> MoveDue(int max) override {
    Result<ReplyPtr> r = client_.Eval(MoveDueScript(), {keys_.delayed(), keys_.stream()},
                                      {std::to_string(NowUnixMillis()), std::to_string(max)});
    if (Status s = CheckedReply(r, "move due"); !s.ok()) return s;
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
      if (Status s = ReplyErrorStatus("heartbeat", ReplyError(reply.get())); !s.ok()) return s;
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
    if (Status s = CheckedReply(r, "XREADGROUP"); !s.ok()) return s;
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
    // Handed out like a Receive: no other session claims them while this one is on.
    held_.Hold(got, 0, &mine_);
    for (Delivery& d : got) out->push_back(std::move(d));
    return last;
  }

  Result<bool> RenewLease(const std::string& key, const std::string& owner, Millis ttl) override {
    Result<ReplyPtr> r = client_.Eval(RenewLeaseScript(), {keys_.idem(key)},
                                      {owner, std::to_string(std::max<long long>(1, ttl.count()))});
    if (Status s = CheckedReply(r, "renew lease"); !s.ok()) return s;
    return ReplyInteger(r->get()) == 1;
  }

  Result<std::int64_t> Trim(Millis retention) override {
    Result<ReplyPtr> r =
        client_.Eval(TrimScript(), {keys_.stream()}, {std::to_string(retention.count())});
    if (Status s = CheckedReply(r, "trim"); !s.ok()) return s;
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
    if (Status s = CheckedReply(r, "lease"); !s.ok()) return s;
    const redisReply* reply = r->get();
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3) {
      return Status::Internal("lease: unexpected reply");
    }
    Lease lease;
    switch (ReplyInteger(reply->element[0], -1)) {
      case 0:
        lease.state = LeaseState::kAcquired;
        break;
      case 1:
        lease.state = LeaseState::kAlreadyDone;
        break;
      case 2:
        lease.state = LeaseState::kBusy;
        break;
      case 3:
        lease.state = LeaseState::kFinished;
        break;
      case 4:
        lease.state = LeaseState::kPoison;
        break;
      case 5:
        lease.state = LeaseState::kRunningElsewhere;
        break;
      default:
        return Status::Internal("lease: unexpected reply");
    }
    lease.remaining = Millis(std::max(0LL, ReplyInteger(reply->element[1])));
    lease.starts = ReplyInteger(reply->element[2]);
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

  Status Finish(FinishMode m, const AttemptEnd& end, DeadReason reason, const std::string& raw,
                UnixMillis due) {
    const UnixMillis now = NowUnixMillis();
    std::vector<std::string> hash, incr, dead;
    if (!end.event_id.empty() && m != FinishMode::kDefer) {
      const char* status = m == FinishMode::kDone        ? "done"
                           : m == FinishMode::kRetry     ? "retrying"
                           : m == FinishMode::kDuplicate ? "duplicate"
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
      if (m == FinishMode::kRetry) {
        hash.insert(hash.end(), {"next_attempt_at", FormatRfc3339Millis(due)});
      } else {
        hash.insert(hash.end(), {"finished_at", FormatRfc3339Millis(now)});
      }
      if (m == FinishMode::kRetry || m == FinishMode::kDead) {
        hash.insert(hash.end(), {"error", Bounded(end.error), "category",
                                 std::string(CategoryName(end.category))});
      }
      if (m == FinishMode::kDead) {
        hash.insert(hash.end(), {"reason", std::string(DeadReasonName(reason))});
      }
    }
    if (m != FinishMode::kDefer) {
      AttemptMetrics am;
      am.event_type = end.event_type;
      am.end = m == FinishMode::kDone        ? AttemptMetrics::End::kDone
               : m == FinishMode::kRetry     ? AttemptMetrics::End::kRetry
               : m == FinishMode::kDuplicate ? AttemptMetrics::End::kDuplicate
                                             : AttemptMetrics::End::kFailed;
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
    if (m == FinishMode::kDead) {
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
                                     ModeName(m),
                                     end.lease_owner,
                                     std::to_string(options_.idempotency_ttl.count()),
                                     std::to_string(kMetricsTtlSeconds),
                                     std::to_string(due),
                                     raw,
                                     std::to_string(kDeliveryKeyTtlMs)};
    for (const auto* list : {&hash, &incr, &dead}) {
      args.push_back(std::to_string(list->size() / 2));
      args.insert(args.end(), list->begin(), list->end());
    }
    std::vector<std::string> keys = {keys_.stream(),
                                     keys_.ev(end.event_id),
                                     keys_.idem(end.idempotency_key),
                                     keys_.metrics(MetricsMinute(now)),
                                     keys_.delayed(),
                                     keys_.dlq(),
                                     keys_.fin(end.delivery_id),
                                     keys_.run(end.delivery_id)};
    return CheckedReply(client_.Eval(FinishScript(), keys, args),
                        std::string("finish ") + ModeName(m));
  }

  const RedisQueueOptions& options_;
  const std::string& consumer_;
  QueueKeys keys_;
  RedisClient client_;
  HeldDeliveries& held_;
  std::vector<std::string> mine_;  // what this session holds in held_
  std::string claim_cursor_ = "0-0";
};

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

std::unique_ptr<Queue> MakeRedisQueue(RedisQueueOptions options) {
  return std::make_unique<RedisQueue>(std::move(options));
}

}  // namespace evt
