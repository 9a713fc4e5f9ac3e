// QueueAdmin on Redis. Reads page through the dead-letter and history streams with XRANGE
// (a bounded page per round trip); a replay's move is one script, so the copy in the queue
// and the deletion of the dead letter happen together or not at all, and two replays of
// the same dead letter cannot both copy it.
#include "redis/admin_redis.h"

#include <cstdlib>
#include <set>

#include "evt/log.h"
#include "redis/queue_keys.h"
#include "redis/redis_client.h"

namespace evt {
namespace {

constexpr const char* kPage = "500";

// KEYS[1] dlq, KEYS[2] the target queue's stream. ARGV[1] dead letter id, ARGV[2] event
// text, ARGV[3] "1" to keep the dead letter. Returns 1 when copied, 0 when the dead letter
// is gone. Key types are checked before anything is written: a script does not roll back.
constexpr const char* kMoveDeadLetter = R"lua(#!lua
local t = redis.call('TYPE', KEYS[2])['ok']
if t ~= 'none' and t ~= 'stream' then
  return redis.error_reply('WRONGTYPE ' .. KEYS[2] .. ' is a ' .. t .. ', not a stream; nothing was written')
end
if #redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1]) == 0 then return 0 end
redis.call('XADD', KEYS[2], '*', 'event', ARGV[2])
if ARGV[3] ~= '1' then redis.call('XDEL', KEYS[1], ARGV[1]) end
return 1
)lua";

const RedisScript& MoveScript() {
  static const RedisScript s(kMoveDeadLetter);
  return s;
}

bool IsStreamId(const std::string& id) {
  const std::size_t dash = id.find('-');
  if (dash == 0 || dash == std::string::npos || dash + 1 == id.size()) return false;
  for (std::size_t i = 0; i < id.size(); ++i) {
    if (i != dash && (id[i] < '0' || id[i] > '9')) return false;
  }
  return true;
}

// The fields of one stream entry [id, [f, v, ...]] as a map.
std::map<std::string, std::string> EntryFields(const redisReply* entry) {
  std::map<std::string, std::string> out;
  if (entry->elements < 2 || entry->element[1]->type != REDIS_REPLY_ARRAY) return out;
  const redisReply* kv = entry->element[1];
  for (std::size_t i = 0; i + 1 < kv->elements; i += 2) {
    out[ReplyString(kv->element[i])] = ReplyString(kv->element[i + 1]);
  }
  return out;
}

Result<DeadLetterRecord> RecordFromEntry(const redisReply* entry) {
  std::map<std::string, std::string> f = EntryFields(entry);
  DeadLetterRecord r;
  r.id = ReplyString(entry->element[0]);
  Result<UnixMillis> failed = ParseRfc3339(f["failed_at"]);
  r.letter.failed_at = failed.ok() ? *failed : std::strtoll(r.id.c_str(), nullptr, 10);
  r.letter.reason = DeadReasonFromName(f["reason"]);
  r.letter.category = f["category"].empty() ? Category::kNone : ParseCategory(f["category"]);
  r.letter.error = f["error"];
  r.letter.attempts = std::atoi(f["attempts"].c_str());
  r.letter.consumer = f["consumer"];
  r.stream_id = f["stream_id"];
  Result<Json> ev = ParseJson(f["event"]);
  if (ev.ok() && ev->is_object()) {
    r.letter.event = std::move(*ev);
  } else {
    r.letter.raw = f["event"];
  }
  return r;
}

HistoryRecord HistoryFromEntry(const redisReply* entry) {
  std::map<std::string, std::string> f = EntryFields(entry);
  HistoryRecord h;
  h.id = ReplyString(entry->element[0]);
  Result<Json> ev = ParseJson(f["event"]);
  if (ev.ok() && ev->is_object()) {
    h.event = std::move(*ev);
  } else {
    h.raw = f["event"];
  }
  return h;
}

class RedisAdmin : public QueueAdmin {
 public:
  RedisAdmin(RedisClientOptions client, const AdminOptions& o)
      : client_(std::move(client)), options_(o), keys_(o.ns, o.queue) {}

  Status Connect() { return client_.Connect(); }

  std::string Describe() const override {
    return client_.broker().redacted + " queue " + keys_.queue();
  }

  Result<std::vector<DeadLetterRecord>> ListDeadLetters(const RecordFilter& filter) override {
    std::vector<DeadLetterRecord> out;
    Status s = Scan(keys_.dlq(), "read dead letters", [&](const redisReply* entry) {
      Result<DeadLetterRecord> r = RecordFromEntry(entry);
      if (r.ok() && RecordMatches(filter, *r)) out.push_back(std::move(*r));
      return filter.limit == 0 || out.size() < filter.limit;
    });
    if (!s.ok()) return s;
    return out;
  }

  Result<std::int64_t> PurgeDeadLetters(const std::vector<std::string>& ids) override {
    std::int64_t deleted = 0;
    std::vector<std::string> cmd = {"XDEL", keys_.dlq()};
    const auto flush = [&]() -> Status {
      if (cmd.size() == 2) return Status::Ok();
      Result<ReplyPtr> r = client_.Command(cmd);
      if (Status s = CheckedReply(r, "redis " + client_.broker().redacted); !s.ok()) return s;
      deleted += ReplyInteger(r->get());
      cmd.resize(2);
      return Status::Ok();
    };
    for (const std::string& id : ids) {
      if (!IsStreamId(id)) continue;
      cmd.push_back(id);
      if (cmd.size() >= 502) {
        if (Status s = flush(); !s.ok()) return s;
      }
    }
    if (Status s = flush(); !s.ok()) return s;
    return deleted;
  }

  Result<bool> MoveDeadLetter(const std::string& id, const std::string& event_json,
                              const std::string& to_queue, bool keep) override {
    if (!IsStreamId(id)) return false;
    QueueKeys target(keys_.ns(), to_queue);
    if (Status s = Register(target); !s.ok()) return s;
    Result<ReplyPtr> r = client_.Eval(MoveScript(), {keys_.dlq(), target.stream()},
                                      {id, event_json, keep ? "1" : "0"});
    if (Status s = CheckedReply(r, "replay " + id); !s.ok()) return s;
    return ReplyInteger(r->get()) == 1;
  }

  Status Enqueue(const std::string& event_json) override {
    if (Status s = Register(keys_); !s.ok()) return s;
    return CheckedReply(client_.Command({"XADD", keys_.stream(), "*", "event", event_json}),
                        "redis " + client_.broker().redacted);
  }

  Result<std::vector<HistoryRecord>> ReadHistory(const RecordFilter& filter) override {
    std::vector<HistoryRecord> out;
    Status s = Scan(keys_.stream(), "read history", [&](const redisReply* entry) {
      HistoryRecord h = HistoryFromEntry(entry);
      if (HistoryMatches(filter, h)) out.push_back(std::move(h));
      return filter.limit == 0 || out.size() < filter.limit;
    });
    if (!s.ok()) return s;
    return out;
  }

  Result<std::vector<bool>> DoneKeys(const std::vector<std::string>& keys) override {
    std::vector<bool> done;
    for (std::size_t i = 0; i < keys.size(); i += 500) {
      std::vector<std::vector<std::string>> cmds;
      for (std::size_t k = i; k < keys.size() && k < i + 500; ++k) {
        cmds.push_back({"GET", keys_.idem(keys[k])});
      }
      Result<std::vector<ReplyPtr>> replies = client_.Pipeline(cmds);
      if (!replies.ok()) return replies.status();
      for (const ReplyPtr& r : *replies) {
        std::string err = ReplyError(r.get());
        if (!err.empty()) return ReplyErrorStatus("redis " + client_.broker().redacted, err);
        done.push_back(ReplyString(r.get()) == "done");
      }
    }
    return done;
  }

  Status AppendAudit(const AuditRecord& a) override {
    std::vector<std::string> cmd = {"XADD",
                                    keys_.audit(),
                                    "*",
                                    "action",
                                    a.action,
                                    "id",
                                    a.id,
                                    "user",
                                    a.user,
                                    "host",
                                    a.host,
                                    "at",
                                    FormatRfc3339Millis(a.at),
                                    "source",
                                    a.source};
    if (!a.target.empty()) cmd.insert(cmd.end(), {"target", a.target});
    cmd.insert(cmd.end(), {"filters", a.filters, "count", std::to_string(a.count)});
    if (a.action == "replay") {
      cmd.insert(cmd.end(),
                 {"skipped", std::to_string(a.skipped), "failed", std::to_string(a.failed)});
    }
    if (!a.note.empty()) cmd.insert(cmd.end(), {"note", a.note});
    return CheckedReply(client_.Command(cmd), "audit " + keys_.audit());
  }

 private:
  // Calls `each` for every entry of `key`, oldest first, until it returns false.
  template <typename F>
  Status Scan(const std::string& key, const std::string& what, F each) {
    std::string start = "-";
    while (true) {
      Result<ReplyPtr> r = client_.Command({"XRANGE", key, start, "+", "COUNT", kPage});
      if (Status s = CheckedReply(r, what + " " + key); !s.ok()) return s;
      const redisReply* page = r->get();
      if (page->type != REDIS_REPLY_ARRAY || page->elements == 0) return Status::Ok();
      for (std::size_t i = 0; i < page->elements; ++i) {
        const redisReply* entry = page->element[i];
        if (entry->type != REDIS_REPLY_ARRAY || entry->elements < 1) continue;
        if (!each(entry)) return Status::Ok();
        start = "(" + ReplyString(entry->element[0]);
      }
    }
  }

  // Adds the queue to <ns>:queues (outside every script: another slot), once per queue.
  Status Register(const QueueKeys& k) {
    if (registered_.count(k.queue()) != 0) return Status::Ok();
    Status s = CheckedReply(client_.Command({"SADD", k.queues(), k.queue()}),
                            "redis " + client_.broker().redacted);
    if (s.ok()) registered_.insert(k.queue());
    return s;
  }

  RedisClient client_;
  AdminOptions options_;
  QueueKeys keys_;
  std::set<std::string> registered_;
};

}  // namespace

Result<std::unique_ptr<QueueAdmin>> OpenRedisAdmin(const BrokerConfig& broker,
                                                   const AdminOptions& options) {
  RedisClientOptions c;
  c.broker = broker;
  c.io_timeout = options.io_timeout;
  c.client_name = options.client_name;
  auto admin = std::make_unique<RedisAdmin>(std::move(c), options);
  if (Status s = admin->Connect(); !s.ok()) return s;
  return std::unique_ptr<QueueAdmin>(std::move(admin));
}

}  // namespace evt
