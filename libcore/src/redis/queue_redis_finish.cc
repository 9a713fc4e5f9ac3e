// The attempt-ending calls. Each is ONE run of the finishing script (kFinish): it checks
// every key first, writes the status hash, the metrics and the retry, dead letter or done
// record with the delivery's commit marker, and acknowledges last; with the marker already
// there it only acknowledges. A batch of them (FinishAll) is one run of kFinishAll, with
// the same effects per call. This file builds the scripts' arguments.
#include <algorithm>
#include <string>
#include <vector>

#include "evt/metrics.h"
#include "redis/queue_redis_scripts.h"
#include "redis/queue_redis_session.h"

namespace evt {
namespace {

constexpr std::size_t kMaxErrorBytes = 1024;

const RedisScript& FinishScript() {
  static const RedisScript s(redis_scripts::kFinish);
  return s;
}

const RedisScript& FinishAllScript() {
  static const RedisScript s(redis_scripts::kFinishAll);
  return s;
}

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

FinishMode ModeOf(FinishCall::Kind k) {
  switch (k) {
    case FinishCall::Kind::kDone:
      return FinishMode::kDone;
    case FinishCall::Kind::kRetry:
      return FinishMode::kRetry;
    case FinishCall::Kind::kDead:
      return FinishMode::kDead;
    case FinishCall::Kind::kDuplicate:
      return FinishMode::kDuplicate;
    case FinishCall::Kind::kDefer:
      return FinishMode::kDefer;
  }
  return FinishMode::kDone;
}

// A bounded error text, cut on a UTF-8 character boundary.
std::string Bounded(const std::string& s) {
  if (s.size() <= kMaxErrorBytes) return s;
  std::size_t n = kMaxErrorBytes;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n) + "...";
}

// kFinishAll's keys and arguments, from kFinish's of each call (FinishArgs; all of them
// share the stream, delayed and dlq keys, the group and the three ttls). kFinish takes
// KEYS 1 stream, 2 ev, 3 idem, 4 m, 5 delayed, 6 dlq, 7 fin, 8 run and ARGV 1 group,
// 2 entry id, 3 mode, 4 owner, 5 idempotency ttl, 6 metrics ttl, 7 due, 8 raw, 9 marker
// ttl, 10.. the three counted lists.
RedisClient::EvalArgs BatchArgs(const std::vector<RedisClient::EvalArgs>& runs) {
  const RedisClient::EvalArgs& first = runs.front();
  RedisClient::EvalArgs batch;
  batch.keys = {first.keys[0], first.keys[4], first.keys[5]};
  batch.args = {first.args[0], first.args[4], first.args[5], first.args[8]};
  batch.keys.reserve(3 + 5 * runs.size());
  for (const RedisClient::EvalArgs& r : runs) {
    for (std::size_t k : {1, 2, 3, 6, 7}) batch.keys.push_back(r.keys[k]);
    for (std::size_t a : {1, 2, 3, 6, 7}) batch.args.push_back(r.args[a]);
    batch.args.insert(batch.args.end(), r.args.begin() + 9, r.args.end());
  }
  return batch;
}

// Appends the statuses of the calls from the reply of their run of kFinishAll: OK each when it ran
// (1 written, 0 only acknowledged), the one Unavailable when Redis did not take it (or
// the connection failed: it may or may not have run). False when the reply says nothing
// of each call (a key of the wrong type: nothing was written; any other error): then
// each call is made on its own.
bool BatchStatuses(const Result<ReplyPtr>& reply, const std::vector<FinishMode>& modes,
                   std::vector<Status>* out) {
  const Status s = CheckedReply(reply, "finish all");
  if (s.kind() == Status::Kind::kUnavailable) {
    for (FinishMode m : modes) {
      out->push_back(CheckedReply(reply, std::string("finish ") + ModeName(m)));
    }
    return true;
  }
  const redisReply* r = s.ok() ? reply->get() : nullptr;
  if (r == nullptr || r->type != REDIS_REPLY_ARRAY || r->elements != modes.size()) return false;
  out->insert(out->end(), modes.size(), Status::Ok());
  return true;
}

}  // namespace

Status RedisQueueSession::FinishDone(const AttemptEnd& end) {
  return Finish(FinishMode::kDone, end, DeadReason::kPermanent, "", 0);
}

Status RedisQueueSession::FinishRetry(const AttemptEnd& end, const std::string& next_raw,
                                      UnixMillis due) {
  return Finish(FinishMode::kRetry, end, DeadReason::kPermanent, next_raw, due);
}

Status RedisQueueSession::FinishDead(const AttemptEnd& end, DeadReason reason,
                                     const std::string& raw) {
  return Finish(FinishMode::kDead, end, reason, raw, 0);
}

Status RedisQueueSession::FinishDuplicate(const AttemptEnd& end) {
  return Finish(FinishMode::kDuplicate, end, DeadReason::kPermanent, "", 0);
}

Status RedisQueueSession::Defer(const Delivery& delivery, UnixMillis due) {
  AttemptEnd end;
  end.delivery_id = delivery.id;
  return Finish(FinishMode::kDefer, end, DeadReason::kPermanent, delivery.raw, due);
}

std::vector<std::string> RedisQueueSession::StatusFields(FinishMode m, const AttemptEnd& end,
                                                         DeadReason reason, UnixMillis due,
                                                         UnixMillis now) const {
  if (end.event_id.empty() || m == FinishMode::kDefer) return {};
  const char* status = m == FinishMode::kDone        ? "done"
                       : m == FinishMode::kRetry     ? "retrying"
                       : m == FinishMode::kDuplicate ? "duplicate"
                                                     : "failed";
  std::vector<std::string> hash = {"status",          status,
                                   "event_type",      end.event_type,
                                   "idempotency_key", end.idempotency_key,
                                   "consumer",        consumer_,
                                   "stream_id",       end.delivery_id,
                                   "updated_at",      FormatRfc3339Millis(now)};
  if (end.attempt > 0) hash.insert(hash.end(), {"attempts", std::to_string(end.attempt)});
  if (end.ran) hash.insert(hash.end(), {"duration_ms", std::to_string(end.duration.count())});
  if (m == FinishMode::kRetry) {
    hash.insert(hash.end(), {"next_attempt_at", FormatRfc3339Millis(due)});
  } else {
    hash.insert(hash.end(), {"finished_at", FormatRfc3339Millis(now)});
  }
  if (m == FinishMode::kRetry || m == FinishMode::kDead) {
    hash.insert(hash.end(),
                {"error", Bounded(end.error), "category", std::string(CategoryName(end.category))});
  }
  if (m == FinishMode::kDead) {
    hash.insert(hash.end(), {"reason", std::string(DeadReasonName(reason))});
  }
  return hash;
}

std::vector<std::string> RedisQueueSession::MetricFields(FinishMode m, const AttemptEnd& end,
                                                         DeadReason reason, UnixMillis now) {
  if (m == FinishMode::kDefer) return {};
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
  std::vector<std::string> incr;
  for (auto& [field, amount] : MetricIncrements(am)) {
    incr.push_back(field);
    incr.push_back(std::to_string(amount));
  }
  return incr;
}

std::vector<std::string> RedisQueueSession::DeadLetterFields(const AttemptEnd& end,
                                                             DeadReason reason,
                                                             const std::string& raw,
                                                             UnixMillis now) const {
  return {"event",     raw,
          "reason",    std::string(DeadReasonName(reason)),
          "error",     Bounded(end.error),
          "category",  std::string(CategoryName(end.category)),
          "attempts",  std::to_string(end.attempt),
          "failed_at", FormatRfc3339Millis(now),
          "consumer",  consumer_,
          "stream_id", end.delivery_id};
}

RedisClient::EvalArgs RedisQueueSession::FinishArgs(FinishMode m, const AttemptEnd& end,
                                                    DeadReason reason, const std::string& raw,
                                                    UnixMillis due, UnixMillis now) const {
  const std::vector<std::string> hash = StatusFields(m, end, reason, due, now);
  const std::vector<std::string> incr = MetricFields(m, end, reason, now);
  const std::vector<std::string> dead =
      m == FinishMode::kDead ? DeadLetterFields(end, reason, raw, now) : std::vector<std::string>{};
  RedisClient::EvalArgs call;
  call.args = {options_.group,
               end.delivery_id,
               ModeName(m),
               end.lease_owner,
               std::to_string(options_.idempotency_ttl.count()),
               std::to_string(kMetricsTtlSeconds),
               std::to_string(due),
               raw,
               std::to_string(kDeliveryKeyTtlMs)};
  for (const auto* list : {&hash, &incr, &dead}) {
    call.args.push_back(std::to_string(list->size() / 2));
    call.args.insert(call.args.end(), list->begin(), list->end());
  }
  call.keys = {keys_.stream(),
               keys_.ev(end.event_id),
               keys_.idem(end.idempotency_key),
               keys_.metrics(MetricsMinute(now)),
               keys_.delayed(),
               keys_.dlq(),
               keys_.fin(end.delivery_id),
               keys_.run(end.delivery_id)};
  return call;
}

Status RedisQueueSession::Finish(FinishMode m, const AttemptEnd& end, DeadReason reason,
                                 const std::string& raw, UnixMillis due) {
  RedisClient::EvalArgs call = FinishArgs(m, end, reason, raw, due, NowUnixMillis());
  return CheckedReply(client_.Eval(FinishScript(), call.keys, call.args),
                      std::string("finish ") + ModeName(m));
}

// Runs of kFinishAll of at most kMaxBatchRun calls each (see FinishChunk).
void RedisQueueSession::FinishAll(const std::vector<FinishCall>& calls, std::vector<Status>* out) {
  const UnixMillis now = NowUnixMillis();
  out->clear();
  out->reserve(calls.size());
  for (std::size_t from = 0; from < calls.size(); from += kMaxBatchRun) {
    const std::size_t n = std::min(kMaxBatchRun, calls.size() - from);
    FinishChunk(&calls[from], n, now, out);
  }
}

// One run of kFinishAll for more than one call; when it says nothing of each call (see
// BatchStatuses), or for a single call, one pipelined round trip of kFinish runs, each
// call atomic alone with its own answer.
void RedisQueueSession::FinishChunk(const FinishCall* calls, std::size_t n, UnixMillis now,
                                    std::vector<Status>* out) {
  std::vector<RedisClient::EvalArgs> runs;
  std::vector<FinishMode> modes;
  runs.reserve(n);
  for (const FinishCall* c = calls; c != calls + n; ++c) {
    const FinishMode m = ModeOf(c->kind);
    modes.push_back(m);
    AttemptEnd end;
    const AttemptEnd* e = &c->end;
    if (m == FinishMode::kDefer) {  // as Defer: nothing but the entry id
      end.delivery_id = c->end.delivery_id;
      e = &end;
    }
    runs.push_back(FinishArgs(m, *e, c->reason, c->raw, c->due, now));
  }
  if (runs.size() > 1) {
    RedisClient::EvalArgs batch = BatchArgs(runs);
    if (BatchStatuses(client_.Eval(FinishAllScript(), batch.keys, batch.args), modes, out)) {
      return;
    }
  }
  std::vector<Result<ReplyPtr>> replies;
  client_.EvalAll(FinishScript(), runs, &replies);
  for (std::size_t i = 0; i < replies.size(); ++i) {
    out->push_back(CheckedReply(replies[i], std::string("finish ") + ModeName(modes[i])));
  }
}

}  // namespace evt
