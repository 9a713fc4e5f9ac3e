// The factory without a server: what it refuses before connecting anything. Opening real
// backends is covered by the integration tests.
#include "evt/broker_factory.h"

#include <catch2/catch.hpp>

#include "evt/queue.h"

TEST_CASE("the factory opens nothing durable for the stdio broker", "[broker_factory]") {
  evt::Result<evt::BrokerConfig> stdio = evt::ParseBrokerUrl("-");
  REQUIRE(stdio.ok());
  CHECK_FALSE(stdio->is_durable());
  CHECK(evt::OpenQueue(*stdio, {}).status().kind() == evt::Status::Kind::kInternal);
  CHECK(evt::OpenPublisher(*stdio, "evt", "default", {}).status().kind() ==
        evt::Status::Kind::kInternal);
}

TEST_CASE("a queue with bad options is refused before it connects", "[broker_factory]") {
  evt::Result<evt::BrokerConfig> broker = evt::ParseBrokerUrl("redis://127.0.0.1:1");
  REQUIRE(broker.ok());
  CHECK(broker->is_durable());
  evt::QueueOptions o;
  o.group = "has space";
  evt::Result<std::unique_ptr<evt::Queue>> q = evt::OpenQueue(*broker, o);
  CHECK(q.status().kind() == evt::Status::Kind::kUsage);
  CHECK(q.status().message().find("--group") != std::string::npos);
  o = evt::QueueOptions{};
  o.idempotency_ttl = evt::Millis(0);
  CHECK(evt::OpenQueue(*broker, o).status().message().find("--idempotency-ttl") !=
        std::string::npos);
  // Valid options: a queue, not connected yet (port 1 has no server).
  q = evt::OpenQueue(*broker, evt::QueueOptions{});
  REQUIRE(q.ok());
  CHECK((*q)->Describe().find("queue default") != std::string::npos);
}
