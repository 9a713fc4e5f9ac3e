// The one classification of Redis error replies (redis_client.h), shared by the queue and
// the publisher: what waits (Unavailable), what is gone (NotFound), what needs a person
// (Config), and what is a bug (Internal).
#include "redis/redis_client.h"

#include <catch2/catch.hpp>

namespace evt {

TEST_CASE("redis error replies: a server that refuses for now is Unavailable", "[redis]") {
  for (const char* err :
       {"OOM command not allowed when used memory > 'maxmemory'.",
        "LOADING Redis is loading the dataset in memory", "BUSY Redis is busy running a script",
        "MASTERDOWN Link with MASTER is down",
        "READONLY You can't write against a read only replica.",
        "TRYAGAIN Multiple keys request during rehashing of slot",
        "CLUSTERDOWN The cluster is down"}) {
    INFO(err);
    Status s = ReplyErrorStatus("finish done", err);
    CHECK(s.kind() == Status::Kind::kUnavailable);
    CHECK(s.message() == std::string("finish done: ") + err);
  }
}

TEST_CASE("redis error replies: what will not fix itself is Config, a gone group NotFound",
          "[redis]") {
  CHECK(ReplyErrorStatus("x", "NOGROUP No such key 's' or consumer group 'g'").kind() ==
        Status::Kind::kNotFound);
  for (const char* err : {"NOAUTH Authentication required.",
                          "WRONGPASS invalid username-password pair or user is disabled.",
                          "NOPERM this user has no permissions to run the 'xadd' command",
                          "WRONGTYPE evt:{q}:dlq is a list, not a stream; nothing was written",
                          "ERR unknown command 'XAUTOCLAIM', with args beginning with: "}) {
    INFO(err);
    CHECK(ReplyErrorStatus("x", err).kind() == Status::Kind::kConfig);
  }
  // Codes are whole words: BUSYGROUP and BUSYKEY are not BUSY.
  CHECK(ReplyErrorStatus("x", "BUSYGROUP Consumer Group name already exists").kind() ==
        Status::Kind::kInternal);
  CHECK(ReplyErrorStatus("x",
                         "ERR user_script:3: Script attempted to access nonexistent "
                         "global variable 'x'")
            .kind() == Status::Kind::kInternal);
  CHECK(ReplyErrorStatus("x", "").ok());
}

}  // namespace evt
