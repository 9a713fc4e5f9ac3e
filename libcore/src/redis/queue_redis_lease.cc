// Idempotency leases: `idem:<key>` holds "running <owner>" with a TTL, or "done". Taking a
// lease is one script (kTakeLease), which for StartAttempt also checks the delivery's
// commit marker and start count and writes the `running` status.
#include <algorithm>
#include <string>
#include <vector>

#include "evt/rfc3339.h"
#include "redis/queue_redis_scripts.h"
#include "redis/queue_redis_session.h"

namespace evt {
namespace {

const RedisScript& TakeLeaseScript() {
  static const RedisScript s(redis_scripts::kTakeLease);
  return s;
}
const RedisScript& StartAllScript() {
  static const RedisScript s(redis_scripts::kStartAll);
  return s;
}
const RedisScript& ReleaseLeaseScript() {
  static const RedisScript s(redis_scripts::kReleaseLease);
  return s;
}
const RedisScript& RenewLeaseScript() {
  static const RedisScript s(redis_scripts::kRenewLease);
  return s;
}

std::string TtlArg(Millis ttl) { return std::to_string(std::max<long long>(1, ttl.count())); }

// The lease state of the script's first reply element (see kTakeLease).
Result<LeaseState> LeaseStateOf(long long code) {
  switch (code) {
    case 0:
      return LeaseState::kAcquired;
    case 1:
      return LeaseState::kAlreadyDone;
    case 2:
      return LeaseState::kBusy;
    case 3:
      return LeaseState::kFinished;
    case 4:
      return LeaseState::kPoison;
    case 5:
      return LeaseState::kRunningElsewhere;
    default:
      return Status::Internal("lease: unexpected reply");
  }
}

// The Lease of one {state, pttl, starts} reply of kTakeLease or kStartAll.
Result<Lease> LeaseOf(const redisReply* reply) {
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3) {
    return Status::Internal("lease: unexpected reply");
  }
  Result<LeaseState> state = LeaseStateOf(ReplyInteger(reply->element[0], -1));
  if (!state.ok()) return state.status();
  Lease lease;
  lease.state = *state;
  lease.remaining = Millis(std::max(0LL, ReplyInteger(reply->element[1])));
  lease.starts = ReplyInteger(reply->element[2]);
  return lease;
}

// The Lease of a kTakeLease reply.
Result<Lease> LeaseFrom(const Result<ReplyPtr>& r) {
  if (Status s = CheckedReply(r, "lease"); !s.ok()) return s;
  return LeaseOf(r->get());
}

}  // namespace

Result<Lease> RedisQueueSession::TakeLease(const std::string& key, const std::string& owner,
                                           Millis ttl) {
  return LeaseFrom(client_.Eval(TakeLeaseScript(), {keys_.idem(key)}, {owner, TtlArg(ttl)}));
}

RedisClient::EvalArgs RedisQueueSession::StartArgs(const AttemptEnd& a, Millis ttl,
                                                   int max_starts) const {
  RedisClient::EvalArgs call;
  call.args = {a.lease_owner,
               TtlArg(ttl),
               options_.group,
               a.delivery_id,
               std::to_string(std::max(0, max_starts)),
               std::to_string(kDeliveryKeyTtlMs)};
  std::vector<std::string> running = RunningFields(a);
  call.args.insert(call.args.end(), running.begin(), running.end());
  call.keys = {keys_.idem(a.idempotency_key), keys_.ev(a.event_id), keys_.fin(a.delivery_id),
               keys_.run(a.delivery_id), keys_.stream()};
  return call;
}

Result<Lease> RedisQueueSession::StartAttempt(const AttemptEnd& a, Millis ttl, int max_starts) {
  RedisClient::EvalArgs call = StartArgs(a, ttl, max_starts);
  return LeaseFrom(client_.Eval(TakeLeaseScript(), call.keys, call.args));
}

// One run of kStartAll for the batch; when it refuses the batch (a key of the wrong type
// somewhere, nothing written), one pipelined run of kTakeLease per item, so that each gets
// its own answer.
void RedisQueueSession::StartAttempts(const std::vector<AttemptEnd>& attempts, Millis ttl,
                                      int max_starts, std::vector<Result<Lease>>* out) {
  out->clear();
  if (attempts.size() > 1) {
    Result<ReplyPtr> r = client_.Eval(StartAllScript(), StartAllKeys(attempts),
                                      StartAllArgs(attempts, ttl, max_starts));
    if (!r.ok()) {
      out->assign(attempts.size(), r.status());
      return;
    }
    const redisReply* reply = r->get();
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == attempts.size()) {
      for (std::size_t i = 0; i < reply->elements; ++i) {
        out->push_back(LeaseOf(reply->element[i]));
      }
      return;
    }
    if (reply->type != REDIS_REPLY_ERROR) {
      out->assign(attempts.size(), Status::Internal("lease: unexpected reply"));
      return;
    }
  }
  std::vector<RedisClient::EvalArgs> runs;
  runs.reserve(attempts.size());
  for (const AttemptEnd& a : attempts) runs.push_back(StartArgs(a, ttl, max_starts));
  std::vector<Result<ReplyPtr>> replies;
  client_.EvalAll(TakeLeaseScript(), runs, &replies);
  for (const Result<ReplyPtr>& r : replies) out->push_back(LeaseFrom(r));
}

std::vector<std::string> RedisQueueSession::StartAllKeys(
    const std::vector<AttemptEnd>& attempts) const {
  std::vector<std::string> keys = {keys_.stream()};
  keys.reserve(1 + 4 * attempts.size());
  for (const AttemptEnd& a : attempts) {
    keys.push_back(keys_.idem(a.idempotency_key));
    keys.push_back(keys_.ev(a.event_id));
    keys.push_back(keys_.fin(a.delivery_id));
    keys.push_back(keys_.run(a.delivery_id));
  }
  return keys;
}

std::vector<std::string> RedisQueueSession::StartAllArgs(const std::vector<AttemptEnd>& attempts,
                                                         Millis ttl, int max_starts) const {
  std::vector<std::string> args = {options_.group,
                                   TtlArg(ttl),
                                   std::to_string(std::max(0, max_starts)),
                                   std::to_string(kDeliveryKeyTtlMs),
                                   consumer_,
                                   FormatRfc3339Millis(NowUnixMillis())};
  args.reserve(6 + 5 * attempts.size());
  for (const AttemptEnd& a : attempts) {
    args.push_back(a.lease_owner);
    args.push_back(a.delivery_id);
    args.push_back(a.event_type);
    args.push_back(a.idempotency_key);
    args.push_back(std::to_string(a.attempt));
  }
  return args;
}

// An attempt whose handler never started also gives its start back (run:<entry id>).
Status RedisQueueSession::Abandon(const AttemptEnd& end) {
  std::vector<std::string> keys = {keys_.idem(end.idempotency_key)};
  if (!end.ran && !end.delivery_id.empty()) keys.push_back(keys_.run(end.delivery_id));
  return CheckedReply(client_.Eval(ReleaseLeaseScript(), keys, {end.lease_owner}), "release");
}

Status RedisQueueSession::ReleaseLease(const std::string& key, const std::string& owner) {
  return CheckedReply(client_.Eval(ReleaseLeaseScript(), {keys_.idem(key)}, {owner}), "release");
}

Result<bool> RedisQueueSession::RenewLease(const std::string& key, const std::string& owner,
                                           Millis ttl) {
  Result<ReplyPtr> r = client_.Eval(RenewLeaseScript(), {keys_.idem(key)}, {owner, TtlArg(ttl)});
  if (Status s = CheckedReply(r, "renew lease"); !s.ok()) return s;
  return ReplyInteger(r->get()) == 1;
}

Status RedisQueueSession::MarkRunning(const AttemptEnd& end) {
  if (end.event_id.empty()) return Status::Ok();
  std::vector<std::string> argv = {"HSET", keys_.ev(end.event_id)};
  std::vector<std::string> running = RunningFields(end);
  argv.insert(argv.end(), running.begin(), running.end());
  return CheckedReply(client_.Command(argv), "HSET");
}

std::vector<std::string> RedisQueueSession::RunningFields(const AttemptEnd& a) const {
  return {"status",          "running",
          "event_type",      a.event_type,
          "idempotency_key", a.idempotency_key,
          "attempts",        std::to_string(a.attempt),
          "consumer",        consumer_,
          "stream_id",       a.delivery_id,
          "started_at",      FormatRfc3339Millis(NowUnixMillis())};
}

}  // namespace evt
