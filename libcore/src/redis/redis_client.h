// PRIVATE: the one wrapper around hiredis. Replies are owned by unique_ptr, commands go
// through redisCommandArgv / redisAppendCommandArgv only (never a format string with event
// data in it), and the error kind is turned into a Status right after each call.
// One RedisClient per thread: it is not thread-safe.
#pragma once

#include <hiredis/hiredis.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "evt/broker.h"
#include "evt/duration.h"
#include "evt/status.h"

namespace evt {

struct ReplyDeleter {
  void operator()(redisReply* r) const {
    if (r != nullptr) freeReplyObject(r);
  }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

struct RedisClientOptions {
  BrokerConfig broker;           // where, and the credentials
  Millis connect_timeout{2000};  // TCP/Unix connect
  Millis io_timeout{10000};      // socket read/write timeout of a command (blocking
                                 // commands must block for less than this)
  Millis backoff_min{100};       // first reconnect delay
  Millis backoff_max{5000};      // cap on the reconnect delay
  std::string client_name;       // CLIENT SETNAME, e.g. "evt-work:host:123"
};

// A Lua script run by EVALSHA, loaded with EVAL on NOSCRIPT (e.g. after a restart).
struct RedisScript {
  std::string source;
  std::string sha1;  // computed by the constructor
  explicit RedisScript(std::string src);
};

class RedisClient {
 public:
  explicit RedisClient(RedisClientOptions options);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Connects (AUTH, SELECT, SETNAME) if not connected. Unavailable with the reason on
  // failure; the password never appears in it.
  Status Connect();
  bool connected() const { return ctx_ != nullptr; }
  void Disconnect();

  // One command. Unavailable when the connection failed (it is dropped, the next call
  // reconnects); a reply of type ERROR comes back as a reply, see ReplyError().
  Result<ReplyPtr> Command(const std::vector<std::string>& argv);

  // Sends all commands in one write, then reads one reply per command, in order.
  Result<std::vector<ReplyPtr>> Pipeline(const std::vector<std::vector<std::string>>& commands);

  // Like Pipeline, but on a connection failure keeps in `*replies` the replies read before
  // it (the first replies->size() commands were answered; the others may or may not have
  // run) and returns Unavailable. `*replies` is cleared first.
  Status PipelineInto(const std::vector<std::vector<std::string>>& commands,
                      std::vector<ReplyPtr>* replies);

  // EVALSHA, falling back to EVAL when the server does not know the script.
  Result<ReplyPtr> Eval(const RedisScript& script, const std::vector<std::string>& keys,
                        const std::vector<std::string>& args);

  // The keys and arguments of one run of a script, for EvalAll.
  struct EvalArgs {
    std::vector<std::string> keys, args;
  };
  // Several runs of `script` in one round trip (EVALSHA pipelined; a run the server answers
  // NOSCRIPT, which ran nothing, is made again alone by Eval). (*out)[i] is the reply of
  // calls[i], or Unavailable when the connection failed before it was read (that run may
  // or may not have been made).
  void EvalAll(const RedisScript& script, const std::vector<EvalArgs>& calls,
               std::vector<Result<ReplyPtr>>* out);

  // Runs `attempt` (which uses this client) until it returns anything but Unavailable,
  // reconnecting with capped exponential backoff between tries, or until `give_up()` is
  // true; then returns the last status. Logs once when Redis becomes unreachable and once
  // when it is back, for the whole process: with several clients (one per thread), the
  // first to find it down and the last to get through again log.
  Status Retrying(const std::function<Status()>& attempt, const std::function<bool()>& give_up);

  const BrokerConfig& broker() const { return options_.broker; }

 private:
  Status Fail(const std::string& what);

  RedisClientOptions options_;
  redisContext* ctx_ = nullptr;
  bool reported_down_ = false;
};

// The message of a reply of type ERROR, or empty when `r` is not an error.
std::string ReplyError(const redisReply* r);

// What an error reply of Redis means for the caller: the one classification of every
// module that talks to Redis. OK when `err` is empty; otherwise a Status whose message is
// "<what>: <err>":
//   Unavailable  the server will take it later: it is loading its data, busy with a
//                script, failing over, read-only, or refusing writes (OOM: maxmemory
//                reached under a noeviction policy; the command did nothing). Wait with
//                backoff (RedisClient::Retrying), run nothing, count nothing.
//   NotFound     NOGROUP: the consumer group (or its stream) is gone.
//   Config       it refuses for good until someone acts: credentials or ACL (NOAUTH,
//                WRONGPASS, NOPERM), a key of the wrong type (WRONGTYPE), a command this
//                server does not know (too old).
//   Internal     anything else, e.g. an error inside one of our scripts: a bug.
Status ReplyErrorStatus(const std::string& what, const std::string& err);
// The status of a command: its transport status, or ReplyErrorStatus of its reply.
Status CheckedReply(const Result<ReplyPtr>& reply, const std::string& what);
// A reply's string (STRING/STATUS/ERROR), or "" otherwise.
std::string ReplyString(const redisReply* r);
// A reply's integer (INTEGER, or a STRING of digits), or `fallback`.
long long ReplyInteger(const redisReply* r, long long fallback = 0);

}  // namespace evt
