#include "evt/broker.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>

#include "evt/queue_keys.h"

using evt::BrokerConfig;
using evt::ParseBrokerUrl;

TEST_CASE("no broker or - means NDJSON on stdin and stdout", "[broker]") {
  CHECK(ParseBrokerUrl("-")->kind == BrokerConfig::Kind::kStdio);
  CHECK(ParseBrokerUrl("")->kind == BrokerConfig::Kind::kStdio);
}

TEST_CASE("redis URLs give host, port, database, user and password", "[broker]") {
  auto c = ParseBrokerUrl("redis://localhost");
  REQUIRE(c.ok());
  CHECK(c->kind == BrokerConfig::Kind::kRedisTcp);
  CHECK(c->host == "localhost");
  CHECK(c->port == 6379);
  CHECK(c->db == 0);
  c = ParseBrokerUrl("redis://worker:s%40cret@10.0.0.5:6380/3");
  REQUIRE(c.ok());
  CHECK(c->user == "worker");
  CHECK(c->password == "s@cret");
  CHECK(c->host == "10.0.0.5");
  CHECK(c->port == 6380);
  CHECK(c->db == 3);
  CHECK(c->redacted == "redis://worker:***@10.0.0.5:6380/3");
  c = ParseBrokerUrl("redis://:only-pass@[::1]:7000");
  REQUIRE(c.ok());
  CHECK(c->user.empty());
  CHECK(c->password == "only-pass");
  CHECK(c->host == "::1");
  CHECK(c->port == 7000);
}

TEST_CASE("unix socket URLs take a path and an optional db", "[broker]") {
  auto c = ParseBrokerUrl("unix:///run/redis/redis.sock?db=2");
  REQUIRE(c.ok());
  CHECK(c->kind == BrokerConfig::Kind::kRedisUnix);
  CHECK(c->path == "/run/redis/redis.sock");
  CHECK(c->db == 2);
}

TEST_CASE("a bad broker URL is a usage error that never shows the password", "[broker]") {
  for (const char* url :
       {"redis://u:topsecret@host:99999", "redis://u:topsecret@:6379", "amqp://u:topsecret@host",
        "redis://u:topsecret@host/notanumber", "unix://relative.sock", "unix:///x.sock?foo=1"}) {
    auto c = ParseBrokerUrl(url);
    REQUIRE_FALSE(c.ok());
    CHECK(c.status().kind() == evt::Status::Kind::kUsage);
    CHECK_THAT(c.status().message(), !Catch::Contains("topsecret"));
  }
}

TEST_CASE("the password comes from the URL, else the file, else the environment", "[broker]") {
  BrokerConfig c = *ParseBrokerUrl("redis://host");
  REQUIRE(evt::ResolveRedisPassword(&c, "", "from-env").ok());
  CHECK(c.password == "from-env");
  char path[] = "/tmp/evt_pw_XXXXXX";
  int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  REQUIRE(::write(fd, "from-file\n", 10) == 10);
  ::close(fd);
  c = *ParseBrokerUrl("redis://host");
  REQUIRE(evt::ResolveRedisPassword(&c, path, "from-env").ok());
  CHECK(c.password == "from-file");
  c = *ParseBrokerUrl("redis://:from-url@host");
  REQUIRE(evt::ResolveRedisPassword(&c, path, "from-env").ok());
  CHECK(c.password == "from-url");
  ::unlink(path);
  c = *ParseBrokerUrl("redis://host");
  CHECK(evt::ResolveRedisPassword(&c, "/nonexistent/pw", nullptr).kind() ==
        evt::Status::Kind::kConfig);
}

TEST_CASE("queue names and namespaces are checked", "[broker]") {
  CHECK(evt::ValidateQueueName("default").ok());
  CHECK(evt::ValidateQueueName("backups.prod-1_a").ok());
  CHECK_FALSE(evt::ValidateQueueName("").ok());
  CHECK_FALSE(evt::ValidateQueueName("has space").ok());
  CHECK_FALSE(evt::ValidateQueueName("brace{").ok());
  CHECK_FALSE(evt::ValidateQueueName(std::string(65, 'q')).ok());
  CHECK(evt::ValidateNamespace("evt").ok());
  CHECK(evt::ValidateNamespace("team:evt").ok());
  CHECK_FALSE(evt::ValidateNamespace("a{b}").ok());
}

TEST_CASE("every key of a queue carries the queue's hash tag", "[broker]") {
  evt::QueueKeys k("evt", "backups");
  for (const std::string& key : {k.stream(), k.delayed(), k.dlq(), k.audit(), k.workers(),
                                 k.worker("h:1"), k.idem("key"), k.ev("evt_1"), k.metrics(5)}) {
    CHECK(key.rfind("evt:{backups}:", 0) == 0);
  }
  CHECK(k.queues() == "evt:queues");
}
