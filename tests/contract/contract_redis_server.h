// The one private, real redis-server the contract suites share for the whole run
// (tests/support/redis_server.h); each harness takes a namespace of its own on it.
#pragma once

#include "redis_server.h"

namespace evt::contract {

// Started by the first caller, on the test's own thread (RedisServer requires it), and
// stopped at exit.
inline testing::RedisServer& SharedRedisServer() {
  static testing::RedisServer server;
  return server;
}

}  // namespace evt::contract
