// The defaults of QueueSession's batch calls (queue.h): one single call after another, for
// a store that has no cheaper way to make several.
#include "evt/queue.h"

namespace evt {

Status FinishOne(QueueSession& session, const FinishCall& call) {
  switch (call.kind) {
    case FinishCall::Kind::kDone:
      return session.FinishDone(call.end);
    case FinishCall::Kind::kRetry:
      return session.FinishRetry(call.end, call.raw, call.due);
    case FinishCall::Kind::kDead:
      return session.FinishDead(call.end, call.reason, call.raw);
    case FinishCall::Kind::kDuplicate:
      return session.FinishDuplicate(call.end);
    case FinishCall::Kind::kDefer: {
      Delivery d;
      d.id = call.end.delivery_id;
      d.raw = call.raw;
      return session.Defer(d, call.due);
    }
  }
  return Status::Internal("unknown finishing call");
}

void QueueSession::FinishAll(const std::vector<FinishCall>& calls, std::vector<Status>* out) {
  out->clear();
  out->reserve(calls.size());
  for (const FinishCall& call : calls) out->push_back(FinishOne(*this, call));
}

void QueueSession::StartAttempts(const std::vector<AttemptEnd>& attempts, Millis ttl,
                                 int max_starts, std::vector<Result<Lease>>* out) {
  out->clear();
  out->reserve(attempts.size());
  for (const AttemptEnd& a : attempts) out->push_back(StartAttempt(a, ttl, max_starts));
}

}  // namespace evt
