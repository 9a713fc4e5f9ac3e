// Handing entries out: Receive (new entries), Claim (another consumer's, once idle) and
// ReceivePending (this consumer's own). Each remembers what it handed out in the queue's
// HeldDeliveries, so that no other session of the same queue hands it out again meanwhile.
#include <algorithm>
#include <string>
#include <vector>

#include "redis/queue_redis_session.h"

namespace evt {
namespace {

// The `event` field of an entry's field list ([field, value, ...]), or "".
std::string EventField(const redisReply* fields) {
  for (std::size_t f = 0; f + 1 < fields->elements; f += 2) {
    if (ReplyString(fields->element[f]) == "event") return ReplyString(fields->element[f + 1]);
  }
  return std::string();
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
    if (fields != nullptr && fields->type == REDIS_REPLY_ARRAY) d.raw = EventField(fields);
    out->push_back(std::move(d));
  }
}

}  // namespace

Status RedisQueueSession::Receive(int max, Millis block, std::vector<Delivery>* out) {
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

Status RedisQueueSession::Claim(Millis min_idle, int max, std::vector<Delivery>* out) {
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

Result<std::string> RedisQueueSession::ReceivePending(const std::string& after_id, int max,
                                                      std::vector<Delivery>* out) {
  // XREADGROUP with an id reads this consumer's own pending entries (no BLOCK: they are
  // there or not), and counts the delivery as `>` would.
  Result<ReplyPtr> r = client_.Command({"XREADGROUP", "GROUP", options_.group, consumer_, "COUNT",
                                        std::to_string(std::max(1, max)), "STREAMS", keys_.stream(),
                                        after_id.empty() ? "0" : after_id});
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
    d.raw = EventField(e->element[1]);
    got.push_back(std::move(d));
  }
  if (Status s = CountDeliveries(&got); !s.ok()) return s;
  // Handed out like a Receive: no other session claims them while this one is on.
  held_.Hold(got, 0, &mine_);
  for (Delivery& d : got) out->push_back(std::move(d));
  return last;
}

Status RedisQueueSession::CountDeliveries(std::vector<Delivery>* ds) {
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

}  // namespace evt
