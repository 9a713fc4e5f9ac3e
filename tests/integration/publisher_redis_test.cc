// EventPublisher on a real redis-server: what evt-emit writes, in which order, in which slot,
// with which credentials, and how it rides out a restart.
#include "redis/publisher_redis.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "redis/redis_client.h"
#include "redis_server.h"

namespace {

using evt::Publication;
using evt::QueueKeys;
using evt::testing::RedisServer;

evt::Event Ev(const std::string& id, const std::string& type = "test.created") {
  evt::Json doc = {{"event_type", type}, {"event_id", id}, {"payload", {{"n", id}}}};
  evt::Result<evt::Event> ev = evt::MakeEvent(doc);
  REQUIRE(ev.ok());
  return *ev;
}

std::vector<Publication> Batch(std::size_t n, const std::string& prefix = "e") {
  std::vector<Publication> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back({Ev(prefix + std::to_string(i)), 0});
  return out;
}

evt::BrokerConfig Broker(const std::string& url) {
  evt::Result<evt::BrokerConfig> b = evt::ParseBrokerUrl(url);
  REQUIRE(b.ok());
  return *b;
}

std::unique_ptr<evt::EventPublisher> Open(const std::string& url, const QueueKeys& keys,
                                          evt::PublisherOptions options = {}) {
  auto p = evt::OpenRedisPublisher(Broker(url), keys, options);
  INFO(p.status().message());
  REQUIRE(p.ok());
  return std::move(*p);
}

// A plain client for looking at what was written.
struct Peek {
  explicit Peek(const RedisServer& server)
      : client([&] {
          evt::RedisClientOptions o;
          o.broker = Broker(server.url());
          return o;
        }()) {}
  evt::ReplyPtr Do(const std::vector<std::string>& argv) {
    auto r = client.Command(argv);
    REQUIRE(r.ok());
    return std::move(*r);
  }
  long long Int(const std::vector<std::string>& argv) { return evt::ReplyInteger(Do(argv).get()); }
  std::string Str(const std::vector<std::string>& argv) { return evt::ReplyString(Do(argv).get()); }
  // The event_id of every stream entry, in stream order.
  std::vector<std::string> StreamIds(const std::string& stream) {
    evt::ReplyPtr r = Do({"XRANGE", stream, "-", "+"});
    std::vector<std::string> ids;
    for (std::size_t i = 0; i < r->elements; ++i) {
      const redisReply* fields = r->element[i]->element[1];
      REQUIRE(evt::ReplyString(fields->element[0]) == "event");
      auto doc = evt::Json::parse(evt::ReplyString(fields->element[1]));
      ids.push_back(doc.at("event_id").get<std::string>());
    }
    return ids;
  }
  evt::RedisClient client;
};

}  // namespace

TEST_CASE("publisher: an event is one stream entry, with no status record written at emit",
          "[publisher]") {
  RedisServer server;
  QueueKeys keys("evt", "mail");
  auto pub = Open(server.url(), keys);
  std::size_t accepted = 99;
  REQUIRE(pub->Publish({{Ev("one", "mail.sent"), 0}}, &accepted).ok());
  CHECK(accepted == 1);

  Peek peek(server);
  CHECK(peek.StreamIds(keys.stream()) == std::vector<std::string>{"one"});
  // Workers write the status from `running` on; evt-status derives `queued` from the stream.
  CHECK(peek.Int({"EXISTS", keys.ev("one")}) == 0);
  CHECK(server.Cli("INFO commandstats").find("cmdstat_hset") == std::string::npos);
  CHECK(peek.Int({"SISMEMBER", "evt:queues", "mail"}) == 1);
  // One transaction for the batch.
  CHECK(server.Cli("INFO commandstats").find("cmdstat_exec:calls=1,") != std::string::npos);
}

TEST_CASE("publisher: 10,000 events keep their input order, one transaction per 256",
          "[publisher]") {
  RedisServer server;
  QueueKeys keys("evt", "bulk");
  auto pub = Open(server.url(), keys);
  std::vector<Publication> batch = Batch(10000);
  std::size_t accepted = 0;
  REQUIRE(pub->Publish(batch, &accepted).ok());
  CHECK(accepted == 10000);

  Peek peek(server);
  std::vector<std::string> ids = peek.StreamIds(keys.stream());
  REQUIRE(ids.size() == 10000);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] != "e" + std::to_string(i)) FAIL("entry " << i << " is " << ids[i]);
  }
  CHECK(peek.Int({"EXISTS", keys.ev("e9999")}) == 0);  // no status record at emit time
  // ceil(10000 / 256) = 40 transactions.
  CHECK(server.Cli("INFO commandstats").find("cmdstat_exec:calls=40,") != std::string::npos);
}

TEST_CASE("publisher: a delayed event lands in the delayed set, scored by its due time",
          "[publisher]") {
  RedisServer server;
  QueueKeys keys("evt", "later");
  auto pub = Open(server.url(), keys);
  const evt::UnixMillis due = evt::NowUnixMillis() + 600000;
  evt::Event ev = Ev("late");
  std::size_t accepted = 0;
  REQUIRE(pub->Publish({{ev, due}}, &accepted).ok());
  CHECK(accepted == 1);

  Peek peek(server);
  CHECK(peek.Int({"EXISTS", keys.stream()}) == 0);
  CHECK(peek.Str({"ZSCORE", keys.delayed(), evt::Serialize(ev)}) == std::to_string(due));
  CHECK(peek.Int({"EXISTS", keys.ev("late")}) == 0);  // no status record at emit time
}

TEST_CASE("publisher: depth counts undelivered plus pending entries of the group", "[publisher]") {
  RedisServer server;
  QueueKeys keys("evt", "deep");
  auto pub = Open(server.url(), keys);
  CHECK(*pub->Depth() == 0);  // no stream yet

  std::size_t accepted = 0;
  REQUIRE(pub->Publish(Batch(10), &accepted).ok());
  CHECK(*pub->Depth() == 10);  // no group: every entry waits

  Peek peek(server);
  REQUIRE(peek.Str({"XGROUP", "CREATE", keys.stream(), "workers", "0"}) == "OK");
  evt::ReplyPtr read = peek.Do(
      {"XREADGROUP", "GROUP", "workers", "c1", "COUNT", "3", "STREAMS", keys.stream(), ">"});
  REQUIRE(read->elements == 1);
  const redisReply* entries = read->element[0]->element[1];
  REQUIRE(entries->elements == 3);
  CHECK(*pub->Depth() == 10);  // 7 undelivered + 3 pending

  const std::string first = evt::ReplyString(entries->element[0]->element[0]);
  const std::string second = evt::ReplyString(entries->element[1]->element[0]);
  REQUIRE(peek.Int({"XACK", keys.stream(), "workers", first, second}) == 2);
  CHECK(*pub->Depth() == 8);  // 7 undelivered + 1 pending

  // Another group's backlog is its own.
  evt::PublisherOptions other;
  other.group = "nobody";
  CHECK(*Open(server.url(), keys, other)->Depth() == 10);

  // A deleted undelivered entry makes Redis's lag unknown: the estimate stays within bounds.
  evt::ReplyPtr rest = peek.Do({"XRANGE", keys.stream(), "-", "+"});
  REQUIRE(peek.Int({"XDEL", keys.stream(), evt::ReplyString(rest->element[5]->element[0])}) == 1);
  const std::int64_t estimate = *pub->Depth();
  CHECK(estimate >= 7);  // 6 undelivered + 1 pending
  CHECK(estimate <= 9 + 1);
}

TEST_CASE("publisher: every key written for one queue maps to one cluster slot", "[publisher]") {
  RedisServer server;
  QueueKeys keys("evt", "slotted");
  auto pub = Open(server.url(), keys);
  std::size_t accepted = 0;
  REQUIRE(pub->Publish({{Ev("now1"), 0}, {Ev("later1"), evt::NowUnixMillis() + 60000}}, &accepted)
              .ok());

  Peek peek(server);
  evt::ReplyPtr all = peek.Do({"KEYS", "*"});
  std::set<std::string> written;
  for (std::size_t i = 0; i < all->elements; ++i) written.insert(evt::ReplyString(all->element[i]));
  // No status records: evt-emit writes only the stream, the delayed set and the queue name.
  CHECK(written == std::set<std::string>{keys.stream(), keys.delayed(), keys.queues()});
  std::set<long long> slots;
  for (const std::string& k : written) {
    if (k != keys.queues()) slots.insert(peek.Int({"CLUSTER", "KEYSLOT", k}));
  }
  CHECK(slots.size() == 1);
  CHECK(*slots.begin() == peek.Int({"CLUSTER", "KEYSLOT", "slotted"}));
}

TEST_CASE("publisher: passwords and ACL users authenticate, a wrong one is a Config error",
          "[publisher]") {
  RedisServer server;  // (its readiness check cannot authenticate: set the password after)
  REQUIRE(server.Cli("CONFIG SET requirepass s3cretpw") == "OK");
  QueueKeys keys("evt", "auth");
  std::size_t accepted = 0;

  auto by_password = Open("redis://:s3cretpw@127.0.0.1:" + std::to_string(server.port()), keys);
  CHECK(by_password->Publish(Batch(1, "p"), &accepted).ok());

  REQUIRE(server.Cli("-a s3cretpw --no-auth-warning ACL SETUSER emitter on '>emitpw9' '~*' '&*' "
                     "+@all") == "OK");
  auto by_user = Open("redis://emitter:emitpw9@127.0.0.1:" + std::to_string(server.port()), keys);
  CHECK(by_user->Publish(Batch(1, "u"), &accepted).ok());

  auto wrong = evt::OpenRedisPublisher(
      Broker("redis://emitter:wr0ngpw@127.0.0.1:" + std::to_string(server.port())), keys, {});
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.status().kind() == evt::Status::Kind::kConfig);
  CHECK(wrong.status().message().find("wr0ngpw") == std::string::npos);
  CHECK(wrong.status().message().find("***") != std::string::npos);

  auto none = evt::OpenRedisPublisher(Broker(server.url()), keys, {});
  if (none.ok()) {  // connecting needs no AUTH, the first write does
    CHECK((*none)->Publish(Batch(1, "n"), &accepted).kind() == evt::Status::Kind::kConfig);
  }
}

TEST_CASE("publisher: a refused connection at start is Unavailable, at once", "[publisher]") {
  RedisServer server;
  const std::string url = "redis://u:hidden1@127.0.0.1:" + std::to_string(server.port());
  server.Stop();
  auto start = std::chrono::steady_clock::now();
  auto p = evt::OpenRedisPublisher(Broker(url), QueueKeys("evt", "x"), {});
  REQUIRE_FALSE(p.ok());
  CHECK(p.status().kind() == evt::Status::Kind::kUnavailable);
  CHECK(p.status().message().find("hidden1") == std::string::npos);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
}

TEST_CASE("publisher: a restart of redis-server in the middle is ridden out", "[publisher]") {
  RedisServer server({"--appendonly", "yes", "--appendfsync", "always"});
  QueueKeys keys("evt", "restart");
  evt::PublisherOptions options;
  options.outage_patience = evt::Millis(10000);
  auto pub = Open(server.url(), keys, options);
  std::size_t accepted = 0;
  REQUIRE(pub->Publish(Batch(100, "a"), &accepted).ok());

  server.Stop(/*crash=*/true);
  // The publish runs on a thread and hands its status back; the restart stays on this one
  // (RedisServer::Start must: the server's parent-death signal follows the thread).
  std::vector<Publication> batch = Batch(5000, "b");
  evt::Status s = evt::Status::Internal("not run");
  std::thread publish([&] { s = pub->Publish(batch, &accepted); });
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  std::string restart_error;
  try {
    server.Start();
  } catch (const std::exception& e) {
    restart_error = e.what();
  }
  publish.join();  // bounded: outage_patience is 10 s
  CHECK(restart_error == "");
  INFO(s.message());
  REQUIRE(s.ok());
  CHECK(accepted == 5000);

  Peek peek(server);
  std::vector<std::string> ids = peek.StreamIds(keys.stream());
  REQUIRE(ids.size() == 5100);  // nothing acknowledged before the crash was lost
  CHECK(ids.front() == "a0");
  CHECK(ids.back() == "b4999");
}

TEST_CASE("publisher: an outage longer than the patience gives Unavailable", "[publisher]") {
  RedisServer server;
  evt::PublisherOptions options;
  options.outage_patience = evt::Millis(300);
  auto pub = Open(server.url(), QueueKeys("evt", "gone"), options);
  server.Stop();
  std::size_t accepted = 7;
  auto start = std::chrono::steady_clock::now();
  evt::Status s = pub->Publish(Batch(3), &accepted);
  CHECK(s.kind() == evt::Status::Kind::kUnavailable);
  CHECK(accepted == 0);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(3));
}
