// FinishAll on the Redis queue against a real redis-server: a batch is ONE run of the
// batch script (kFinishAll) with exactly the effects of the single calls, a repeat only
// acknowledges, and a batch with a key of the wrong type falls back to one run per call.
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "attempt_end.h"
#include "evt/metrics.h"
#include "queue_fixture.h"
#include "redis/queue_redis.h"
#include "redis/queue_redis_session.h"

using evt::testing::EventJson;
using evt::testing::QueueFixture;

namespace evt {
namespace {

using testing::Call;

using Dump = std::map<std::string, std::string>;

constexpr UnixMillis kDue = 4102444800000;  // 2100-01-01: never due during the test

// A queue named `name` on the fixture's server, with consumer "c1" (as f.Session("c1")).
struct NamedQueue {
  NamedQueue(QueueFixture& f, const std::string& name) : fixture(f), queue_name(name) {
    RedisQueueOptions o = f.Options("c1");
    o.queue = name;
    queue = MakeRedisQueue(o);
    session = queue->OpenSession();
  }
  std::string Key(const std::string& k) const { return "evt:{" + queue_name + "}:" + k; }
  void Add(const std::string& raw) { fixture.Cmd({"XADD", Key("stream"), "*", "event", raw}); }
  long long Pending() {
    ReplyPtr r = fixture.Cmd({"XPENDING", Key("stream"), "workers"});
    return r->type == REDIS_REPLY_ARRAY && r->elements > 0 ? ReplyInteger(r->element[0]) : -1;
  }

  QueueFixture& fixture;
  std::string queue_name;
  std::unique_ptr<Queue> queue;
  std::unique_ptr<QueueSession> session;
};

AttemptEnd EndFor(const Delivery& d, const std::string& id, const std::string& key) {
  AttemptEnd end = testing::RanEnd(d, id, key, Millis(12));
  // In the middle of a latency bucket, so that both runs count the same bucket.
  const int b = HistogramBucket(1000);
  end.occurred_at =
      NowUnixMillis() - static_cast<UnixMillis>((BucketLower(b) + BucketUpper(b)) / 2);
  return end;
}

// Six events e1..e6 (keys k1..k6), received, with a lease and a running status for
// those that ran; then a mixed batch: done, retry, dead, duplicate, defer, done, and the
// same done again (the second only acknowledges).
std::vector<FinishCall> Prepare(NamedQueue& q) {
  for (int i = 1; i <= 6; ++i) q.Add(EventJson("e" + std::to_string(i), "k" + std::to_string(i)));
  REQUIRE(q.session->EnsureGroup().ok());
  std::vector<Delivery> ds;
  REQUIRE(q.session->Receive(10, Millis(100), &ds).ok());
  REQUIRE(ds.size() == 6);
  std::vector<AttemptEnd> ends;
  for (int i = 0; i < 6; ++i)
    ends.push_back(EndFor(ds[i], "e" + std::to_string(i + 1), "k" + std::to_string(i + 1)));
  for (int i : {0, 1, 2, 5}) {
    REQUIRE(q.session->StartAttempt(ends[i], Millis(60000), 6)->state == LeaseState::kAcquired);
  }
  std::vector<FinishCall> calls;
  calls.push_back(Call(FinishCall::Kind::kDone, ends[0]));
  FinishCall retry = Call(FinishCall::Kind::kRetry, ends[1]);
  retry.end.category = Category::kDependency;
  retry.end.error = "exit 75";
  retry.raw = EventJson("e2", "k2", 1);
  retry.due = kDue;
  calls.push_back(retry);
  FinishCall dead = Call(FinishCall::Kind::kDead, ends[2]);
  dead.end.attempt = 3;
  dead.end.category = Category::kData;
  dead.end.error = "bad input";
  dead.reason = DeadReason::kRetriesExhausted;
  dead.raw = ds[2].raw;
  calls.push_back(dead);
  FinishCall dup = Call(FinishCall::Kind::kDuplicate, ends[3]);
  dup.end.lease_owner = "";
  dup.end.ran = false;
  dup.end.attempt = 0;
  calls.push_back(dup);
  FinishCall defer;
  defer.kind = FinishCall::Kind::kDefer;
  defer.end.delivery_id = ds[4].id;
  defer.raw = ds[4].raw;
  defer.due = kDue + 1;
  calls.push_back(defer);
  calls.push_back(Call(FinishCall::Kind::kDone, ends[5]));
  calls.push_back(Call(FinishCall::Kind::kDone, ends[5]));
  return calls;
}

std::string Replaced(std::string s, const std::map<std::string, std::string>& ids) {
  for (const auto& [from, to] : ids) {
    for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at)) {
      s.replace(at, from.size(), to);
      at += to.size();
    }
  }
  return s;
}

// Everything under the queue's keys but the stream, as key → text. Normalized: entry
// ids become #1.., timestamps written at the time of the call are left out, the metrics
// hashes of all minutes are summed as m:*, and TTLs are only "ttl" or not. Raw: as stored.
Dump DumpQueue(NamedQueue& q, const std::vector<FinishCall>& calls, bool normalize) {
  std::map<std::string, std::string> ids;
  if (normalize) {
    for (std::size_t i = 0; i < calls.size(); ++i) {
      ids.emplace(calls[i].end.delivery_id, "#" + std::to_string(i + 1));
    }
  }
  QueueFixture& f = q.fixture;
  Dump out;
  std::map<std::string, long long> metrics;
  ReplyPtr keys = f.Cmd({"KEYS", q.Key("*")});
  for (std::size_t k = 0; k < keys->elements; ++k) {
    const std::string key = ReplyString(keys->element[k]);
    std::string name = Replaced(key.substr(q.Key("").size()), ids);
    if (name == "stream") continue;
    const std::string type = ReplyString(f.Cmd({"TYPE", key}).get());
    std::string text = type + (f.Int({"PTTL", key}) > 0 ? " ttl" : " no-ttl");
    if (type == "hash") {
      for (const auto& [field, value] : f.Hash(key)) {
        if (normalize && name.rfind("m:", 0) == 0) {
          metrics[field] += std::atoll(value.c_str());
        } else if (!normalize ||
                   (field != "updated_at" && field != "finished_at" && field != "started_at")) {
          text += " " + field + "=" + Replaced(value, ids);
        }
      }
    } else if (type == "string") {
      text += " " + Replaced(f.Str({"GET", key}), ids);
    } else if (type == "zset") {
      ReplyPtr z = f.Cmd({"ZRANGE", key, "0", "-1", "WITHSCORES"});
      for (std::size_t i = 0; i < z->elements; ++i) text += " " + ReplyString(z->element[i]);
    } else if (type == "stream") {
      ReplyPtr x = f.Cmd({"XRANGE", key, "-", "+"});
      for (std::size_t e = 0; e < x->elements; ++e) {
        if (!normalize) text += " [" + ReplyString(x->element[e]->element[0]) + "]";
        const redisReply* fields = x->element[e]->element[1];
        for (std::size_t i = 0; i + 1 < fields->elements; i += 2) {
          const std::string field = ReplyString(fields->element[i]);
          if (normalize && field == "failed_at") continue;
          text += " " + field + "=" + Replaced(ReplyString(fields->element[i + 1]), ids);
        }
      }
    }
    if (!(normalize && name.rfind("m:", 0) == 0)) out[name] = text;
  }
  for (const auto& [field, n] : metrics) out["m:* " + field] = std::to_string(n);
  return out;
}

void CheckSame(const Dump& got, const Dump& want) {
  std::vector<std::string> got_keys, want_keys;
  for (const auto& kv : got) got_keys.push_back(kv.first);
  for (const auto& kv : want) want_keys.push_back(kv.first);
  CHECK(got_keys == want_keys);
  for (const auto& [key, text] : want) {
    INFO("key " << key);
    auto it = got.find(key);
    CHECK((it == got.end() ? std::string("<missing>") : it->second) == text);
  }
}

// How many times Redis ran `command` (scripts' commands included) since CONFIG RESETSTAT.
long long Calls(QueueFixture& f, const std::string& command) {
  const std::string info = f.Str({"INFO", "commandstats"});
  const std::string tag = "cmdstat_" + command + ":calls=";
  const std::size_t at = info.find(tag);
  return at == std::string::npos ? 0 : std::atoll(info.c_str() + at + tag.size());
}

std::vector<Status> FinishAll(QueueSession& s, const std::vector<FinishCall>& calls) {
  std::vector<Status> out;
  s.FinishAll(calls, &out);
  REQUIRE(out.size() == calls.size());
  return out;
}

}  // namespace

TEST_CASE(
    "Redis FinishAll: a mixed batch in one script has exactly the effects of the"
    " single calls",
    "[queue][finish_all]") {
  QueueFixture f;
  NamedQueue batch(f, "q1");
  NamedQueue single(f, "q2");
  const std::vector<FinishCall> calls = Prepare(batch);
  const std::vector<FinishCall> single_calls = Prepare(single);

  f.Cmd({"CONFIG", "RESETSTAT"});
  for (const Status& s : FinishAll(*batch.session, calls)) CHECK(s.ok());
  CHECK(Calls(f, "xack") == 1);  // one run of the batch script: one XACK for all
  const long long hincrby = Calls(f, "hincrby");
  CHECK(Calls(f, "expire") == 1);
  for (const FinishCall& c : single_calls) CHECK(FinishOne(*single.session, c).ok());

  CHECK(batch.Pending() == 0);
  CHECK(single.Pending() == 0);
  const Dump got = DumpQueue(batch, calls, true);
  CheckSame(got, DumpQueue(single, single_calls, true));
  // And the effects themselves, on the batch's queue.
  CHECK(got.at("ev:e1").find("status=done") != std::string::npos);
  CHECK(got.at("ev:e2").find("status=retrying") != std::string::npos);
  CHECK(got.at("ev:e3").find("status=failed") != std::string::npos);
  CHECK(got.at("ev:e4").find("status=duplicate") != std::string::npos);
  CHECK(got.count("ev:e5") == 0);  // a deferral is not an attempt
  CHECK(got.at("idem:k1") == "string ttl done");
  CHECK(got.count("idem:k2") == 0);  // released
  CHECK(got.at("fin:#1") == "string ttl done");
  CHECK(got.at("fin:#6") == "string ttl done");
  CHECK(got.count("fin:#5") == 0);
  CHECK(got.count("run:#1") == 0);
  CHECK(got.at("delayed") == "zset no-ttl " + calls[1].raw + " " + std::to_string(kDue) + " " +
                                 calls[4].raw + " " + std::to_string(kDue + 1));
  CHECK(got.at("dlq").find("reason=retries_exhausted") != std::string::npos);
  CHECK(got.at("m:* t.x|outcome:done") == "2");  // e6 counted once
  CHECK(got.at("m:* t.x|attempts") == "4");
  CHECK(got.at("m:* t.x|outcome:duplicate") == "1");
  long long fields = 0;
  for (const auto& kv : got) fields += kv.first.rfind("m:* ", 0) == 0 ? 1 : 0;
  CHECK(hincrby == fields);  // one HINCRBY per distinct metric field
}

TEST_CASE("Redis FinishAll: a repeated batch only acknowledges", "[queue][finish_all]") {
  QueueFixture f;
  NamedQueue q(f, "q1");
  const std::vector<FinishCall> calls = Prepare(q);
  for (const Status& s : FinishAll(*q.session, calls)) CHECK(s.ok());
  const Dump first = DumpQueue(q, calls, false);

  // The group is re-created: every entry is handed out again, then finished again.
  std::this_thread::sleep_for(std::chrono::milliseconds(5));  // new timestamps would differ
  f.Cmd({"XGROUP", "DESTROY", q.Key("stream"), "workers"});
  REQUIRE(q.session->EnsureGroup().ok());
  std::vector<Delivery> again;
  REQUIRE(q.session->Receive(10, Millis(100), &again).ok());
  REQUIRE(again.size() == 6);
  REQUIRE(q.Pending() == 6);
  f.Cmd({"CONFIG", "RESETSTAT"});
  for (const Status& s : FinishAll(*q.session, calls)) CHECK(s.ok());

  CHECK(q.Pending() == 0);
  CHECK(Calls(f, "xack") == 1);
  CHECK(Calls(f, "hincrby") == 0);  // nothing counted twice
  CHECK(Calls(f, "xadd") == 0);     // no second dead letter
  CHECK(Calls(f, "hset") == 0);
  CheckSame(DumpQueue(q, calls, false), first);
}

TEST_CASE("Redis FinishAll: a key of the wrong type fails its call alone, nothing of it written",
          "[queue][finish_all]") {
  QueueFixture f;
  NamedQueue q(f, "q1");
  for (int i = 1; i <= 3; ++i) q.Add(EventJson("e" + std::to_string(i), "k" + std::to_string(i)));
  REQUIRE(q.session->EnsureGroup().ok());
  std::vector<Delivery> ds;
  REQUIRE(q.session->Receive(10, Millis(100), &ds).ok());
  REQUIRE(ds.size() == 3);
  std::vector<FinishCall> calls;
  for (int i = 0; i < 3; ++i) {
    AttemptEnd end = EndFor(ds[i], "e" + std::to_string(i + 1), "k" + std::to_string(i + 1));
    REQUIRE(q.session->StartAttempt(end, Millis(60000), 6)->state == LeaseState::kAcquired);
    calls.push_back(Call(FinishCall::Kind::kDone, end));
  }
  f.Cmd({"DEL", q.Key("ev:e2")});
  f.Cmd({"SET", q.Key("ev:e2"), "not a hash"});

  f.Cmd({"CONFIG", "RESETSTAT"});
  std::vector<Status> st = FinishAll(*q.session, calls);
  CHECK(st[0].ok());
  CHECK(st[1].kind() == Status::Kind::kConfig);
  CHECK(st[1].message().find("WRONGTYPE") != std::string::npos);
  CHECK(st[2].ok());
  // Only the two single runs of the fallback wrote: the batch run wrote nothing.
  CHECK(Calls(f, "hset") == 2);
  CHECK(Calls(f, "xack") == 2);

  CHECK(q.Pending() == 1);
  for (const char* e : {"e1", "e3"}) {
    CHECK(f.Hash(q.Key("ev:") + e)["status"] == "done");
  }
  CHECK(f.Str({"GET", q.Key("idem:k1")}) == "done");
  CHECK(f.Str({"GET", q.Key("idem:k3")}) == "done");
  CHECK(f.Str({"GET", q.Key("ev:e2")}) == "not a hash");
  CHECK(f.Str({"GET", q.Key("idem:k2")}) == "running c1 " + ds[1].id);
  CHECK(f.Int({"EXISTS", q.Key("fin:" + ds[1].id)}) == 0);
  CHECK(f.Str({"GET", q.Key("run:" + ds[1].id)}) == "1");
  ReplyPtr pending = f.Cmd({"XPENDING", q.Key("stream"), "workers", "-", "+", "10"});
  REQUIRE(pending->elements == 1);
  CHECK(ReplyString(pending->element[0]->element[0]) == ds[1].id);
  const Dump d = DumpQueue(q, calls, true);
  CHECK(d.at("m:* t.x|outcome:done") == "2");
  CHECK(d.at("m:* t.x|attempts") == "2");
}

TEST_CASE("Redis FinishAll: a batch longer than one script run takes is split into runs",
          "[queue][finish_all]") {
  QueueFixture f;
  NamedQueue q(f, "q1");
  const int n = static_cast<int>(kMaxBatchRun) + 500;
  std::vector<std::string> xadd = {"XADD", q.Key("stream"), "*", "event", ""};
  for (int i = 0; i < n; ++i) {
    xadd[4] = EventJson("e" + std::to_string(i), "k" + std::to_string(i));
    f.Cmd(xadd);
  }
  REQUIRE(q.session->EnsureGroup().ok());
  std::vector<Delivery> ds;
  REQUIRE(q.session->Receive(n, Millis(1000), &ds).ok());
  REQUIRE(static_cast<int>(ds.size()) == n);
  std::vector<FinishCall> calls;
  for (int i = 0; i < n; ++i) {
    AttemptEnd end = EndFor(ds[i], "e" + std::to_string(i), "k" + std::to_string(i));
    end.lease_owner = "";
    calls.push_back(Call(FinishCall::Kind::kDone, end));
  }
  f.Cmd({"CONFIG", "RESETSTAT"});
  int ok = 0;
  for (const Status& s : FinishAll(*q.session, calls)) ok += s.ok() ? 1 : 0;
  CHECK(ok == n);
  CHECK(Calls(f, "xack") == 2);
  CHECK(q.Pending() == 0);
  long long done = 0;
  ReplyPtr keys = f.Cmd({"KEYS", q.Key("m:*")});
  for (std::size_t k = 0; k < keys->elements; ++k) {
    done += std::atoll(f.Hash(ReplyString(keys->element[k]))["t.x|outcome:done"].c_str());
  }
  CHECK(done == n);
  CHECK(f.Str({"GET", q.Key("idem:k") + std::to_string(n - 1)}) == "done");
}

}  // namespace evt
