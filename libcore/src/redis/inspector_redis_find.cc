// The event lookups of the Redis inspector. Workers write an event's status record from
// its first attempt on; before that (evt-emit writes none, so bulk emit is one XADD per
// event) the event is `queued` when its entry is still in the stream or the delayed set.
// The stream is searched first around the time in the event id's ULID (an entry arrives
// at or shortly after its id was made), then, bounded, from its newest entry back.
#include <cstdlib>
#include <functional>

#include "evt/event.h"
#include "evt/rfc3339.h"
#include "evt/ulid.h"
#include "redis/inspector_redis.h"
#include "redis/queue_keys.h"

namespace evt {
namespace {

// How far around the id's time an entry is looked for: ids are made before the XADD,
// by a producer whose clock may be a little off the server's.
constexpr UnixMillis kArrivalBefore = 5000;
constexpr UnixMillis kArrivalAfter = 10 * 60 * 1000;

// `s` as a literal inside a SCAN/ZSCAN MATCH pattern.
std::string GlobEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

// `doc` (an event) as the status of a queued event.
EventStatus Queued(const std::string& queue, const Json& doc) {
  EventStatus st;
  st.queue = queue;
  st.status = "queued";
  auto str = [&](const char* name) {
    auto it = doc.find(name);
    return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  st.event_id = str("event_id");
  st.fields["event_type"] = str("event_type");
  st.fields["idempotency_key"] = str("idempotency_key");
  if (st.fields["idempotency_key"].empty()) st.fields["idempotency_key"] = st.event_id;
  if (std::string at = str("occurred_at"); !at.empty()) st.fields["occurred_at"] = at;
  return st;
}

// The event object of `text` when its `field` is `want`, else null.
Json Matching(const std::string& text, const char* field, const std::string& want) {
  if (text.find(want) == std::string::npos) return Json();
  Result<Json> doc = ParseJson(text);
  if (!doc.ok() || !doc->is_object()) return Json();
  auto it = doc->find(field);
  std::string got;
  if (it != doc->end() && it->is_string()) got = it->get<std::string>();
  if (got.empty() && std::string(field) == "idempotency_key") {
    auto id = doc->find("event_id");
    if (id != doc->end() && id->is_string()) got = id->get<std::string>();
  }
  return got == want ? std::move(*doc) : Json();
}

// Looks through the entries of `stream` in [from, to] (XRANGE ids; reversed: newest
// first, from `to` down), at most kInspectScanLimit, for an event whose `field` is
// `want`. Fills *out and returns true when found.
Result<bool> ScanStream(RedisClient& client, const std::string& queue, const std::string& stream,
                        std::string from, std::string to, bool reverse, const char* field,
                        const std::string& want, EventStatus* out) {
  for (int seen = 0; seen < kInspectScanLimit;) {
    Result<ReplyPtr> r = reverse ? client.Command({"XREVRANGE", stream, to, from, "COUNT",
                                                   std::to_string(kInspectScanPage)})
                                 : client.Command({"XRANGE", stream, from, to, "COUNT",
                                                   std::to_string(kInspectScanPage)});
    if (Status s = CheckedReply(r, "XRANGE"); !s.ok()) return s;
    const redisReply* list = r->get();
    if (list->type != REDIS_REPLY_ARRAY || list->elements == 0) return false;
    for (std::size_t i = 0; i < list->elements; ++i) {
      const redisReply* e = list->element[i];
      if (e->type != REDIS_REPLY_ARRAY || e->elements != 2) continue;
      const std::string id = ReplyString(e->element[0]);
      const redisReply* kv = e->element[1];
      for (std::size_t j = 0; kv->type == REDIS_REPLY_ARRAY && j + 1 < kv->elements; j += 2) {
        if (ReplyString(kv->element[j]) != "event") continue;
        Json doc = Matching(ReplyString(kv->element[j + 1]), field, want);
        if (doc.is_null()) continue;
        *out = Queued(queue, doc);
        out->fields["stream_id"] = id;
        out->fields["queued_at"] = FormatRfc3339Millis(std::strtoll(id.c_str(), nullptr, 10));
        return true;
      }
      (reverse ? to : from) = "(" + id;
    }
    seen += static_cast<int>(list->elements);
    if (list->elements < static_cast<std::size_t>(kInspectScanPage)) return false;
  }
  return false;
}

// Looks through the delayed set (bounded) for an event whose `field` is `want`.
Result<bool> ScanDelayed(RedisClient& client, const QueueKeys& keys, const char* field,
                         const std::string& want, EventStatus* out) {
  std::string cursor = "0";
  for (int round = 0; round * kInspectScanPage < kInspectScanLimit; ++round) {
    Result<ReplyPtr> r =
        client.Command({"ZSCAN", keys.delayed(), cursor, "MATCH", "*" + GlobEscape(want) + "*",
                        "COUNT", std::to_string(kInspectScanPage)});
    if (Status s = CheckedReply(r, "ZSCAN"); !s.ok()) return s;
    const redisReply* reply = r->get();
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) return false;
    cursor = ReplyString(reply->element[0]);
    const redisReply* items = reply->element[1];
    for (std::size_t i = 0; i + 1 < items->elements; i += 2) {
      Json doc = Matching(ReplyString(items->element[i]), field, want);
      if (doc.is_null()) continue;
      *out = Queued(keys.queue(), doc);
      out->delayed = true;
      out->fields["due_at"] = FormatRfc3339Millis(ReplyInteger(items->element[i + 1]));
      return true;
    }
    if (cursor == "0") return false;
  }
  return false;
}

// The status record of `event_id`, if any: true and *out filled.
Result<bool> ReadRecord(RedisClient& client, const QueueKeys& keys, const std::string& event_id,
                        EventStatus* out) {
  Result<ReplyPtr> r = client.Command({"HGETALL", keys.ev(event_id)});
  if (Status s = CheckedReply(r, "HGETALL"); !s.ok()) return s;
  const redisReply* h = r->get();
  if (h->type != REDIS_REPLY_ARRAY || h->elements == 0) return false;
  out->queue = keys.queue();
  out->event_id = event_id;
  for (std::size_t i = 0; i + 1 < h->elements; i += 2) {
    out->fields[ReplyString(h->element[i])] = ReplyString(h->element[i + 1]);
  }
  out->status = out->fields["status"];
  out->fields.erase("status");
  return true;
}

// The event id of the status record with idempotency key `key` (the latest that is not a
// duplicate), from a bounded SCAN of the queue's records; "" when none.
Result<std::string> ScanRecords(RedisClient& client, const QueueKeys& keys,
                                const std::string& key) {
  const std::string prefix = keys.ev("");
  std::string cursor = "0", best, best_at;
  bool best_dup = true;
  for (int round = 0; round * kInspectScanPage < kInspectScanLimit; ++round) {
    Result<ReplyPtr> r = client.Command({"SCAN", cursor, "MATCH", GlobEscape(prefix) + "*", "COUNT",
                                         std::to_string(kInspectScanPage)});
    if (Status s = CheckedReply(r, "SCAN"); !s.ok()) return s;
    const redisReply* reply = r->get();
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) break;
    cursor = ReplyString(reply->element[0]);
    std::vector<std::vector<std::string>> cmds;
    std::vector<std::string> names;
    for (std::size_t i = 0; i < reply->element[1]->elements; ++i) {
      names.push_back(ReplyString(reply->element[1]->element[i]));
      cmds.push_back({"HMGET", names.back(), "idempotency_key", "status", "updated_at"});
    }
    Result<std::vector<ReplyPtr>> got =
        cmds.empty() ? std::vector<ReplyPtr>() : client.Pipeline(cmds);
    if (!got.ok()) return got.status();
    for (std::size_t i = 0; i < got->size(); ++i) {
      const redisReply* v = (*got)[i].get();
      if (v->type != REDIS_REPLY_ARRAY || v->elements != 3) continue;
      if (ReplyString(v->element[0]) != key) continue;
      const bool dup = ReplyString(v->element[1]) == "duplicate";
      const std::string at = ReplyString(v->element[2]);
      if (best.empty() || (best_dup && !dup) || (dup == best_dup && at > best_at)) {
        best = names[i].substr(prefix.size());
        best_at = at;
        best_dup = dup;
      }
    }
    if (cursor == "0") break;
  }
  return best;
}

}  // namespace

UnixMillis EventIdMillis(const std::string& event_id) {
  std::string ulid = event_id.rfind("evt_", 0) == 0 ? event_id.substr(4) : event_id;
  if (!IsUlid(ulid)) return -1;
  static const std::string kAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  UnixMillis ms = 0;
  for (int i = 0; i < 10; ++i) {
    std::size_t v = kAlphabet.find(static_cast<char>(std::toupper(ulid[i])));
    if (v == std::string::npos) return -1;
    ms = ms * 32 + static_cast<UnixMillis>(v);
  }
  return ms;
}

Result<EventStatus> RedisFindEvent(RedisClient& client, const std::string& ns,
                                   const std::string& queue, const std::string& event_id) {
  QueueKeys keys(ns, queue);
  EventStatus st;
  Result<bool> found = ReadRecord(client, keys, event_id, &st);
  if (!found.ok() || *found) return found.ok() ? Result<EventStatus>(st) : found.status();
  if (UnixMillis ms = EventIdMillis(event_id); ms >= 0) {
    found = ScanStream(client, queue, keys.stream(),
                       std::to_string(std::max<UnixMillis>(0, ms - kArrivalBefore)),
                       std::to_string(ms + kArrivalAfter), false, "event_id", event_id, &st);
    if (!found.ok() || *found) return found.ok() ? Result<EventStatus>(st) : found.status();
  }
  found = ScanStream(client, queue, keys.stream(), "-", "+", true, "event_id", event_id, &st);
  if (found.ok() && !*found) found = ScanDelayed(client, keys, "event_id", event_id, &st);
  if (!found.ok()) return found.status();
  if (!*found) return Status::NotFound("no event " + event_id + " in queue " + queue);
  return st;
}

Result<EventStatus> RedisFindByKey(RedisClient& client, const std::string& ns,
                                   const std::string& queue, const std::string& key) {
  QueueKeys keys(ns, queue);
  Result<std::string> id = ScanRecords(client, keys, key);
  if (!id.ok()) return id.status();
  if (!id->empty()) return RedisFindEvent(client, ns, queue, *id);
  EventStatus st;
  Result<bool> found =
      ScanStream(client, queue, keys.stream(), "-", "+", true, "idempotency_key", key, &st);
  if (found.ok() && !*found) found = ScanDelayed(client, keys, "idempotency_key", key, &st);
  if (!found.ok()) return found.status();
  if (!*found)
    return Status::NotFound("no event with idempotency key " + key + " in queue " + queue);
  return st;
}

}  // namespace evt
