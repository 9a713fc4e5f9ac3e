#include "redis/redis_client.h"

#include <openssl/sha.h>
#include <sys/time.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "evt/log.h"

namespace evt {
namespace {

// Clients of this process whose last Retrying() call found Redis unreachable: one warning
// when the first goes down, one notice when the last is through again.
std::atomic<int> g_clients_down{0};

timeval ToTimeval(Millis d) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(d.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((d.count() % 1000) * 1000);
  return tv;
}

std::string Sha1Hex(const std::string& s) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(s.data()), s.size(), digest);
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : digest) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

// Builds the argv arrays hiredis takes; lengths make every argument binary-safe.
struct ArgvBuf {
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
  explicit ArgvBuf(const std::vector<std::string>& argv) {
    ptrs.reserve(argv.size());
    lens.reserve(argv.size());
    for (const std::string& a : argv) {
      ptrs.push_back(a.data());
      lens.push_back(a.size());
    }
  }
};

}  // namespace

RedisScript::RedisScript(std::string src) : source(std::move(src)), sha1(Sha1Hex(source)) {}

RedisClient::RedisClient(RedisClientOptions options) : options_(std::move(options)) {}

RedisClient::~RedisClient() {
  if (reported_down_) --g_clients_down;
  Disconnect();
}

void RedisClient::Disconnect() {
  if (ctx_ != nullptr) redisFree(ctx_);
  ctx_ = nullptr;
}

Status RedisClient::Fail(const std::string& what) {
  std::string reason =
      ctx_ != nullptr && ctx_->errstr[0] != '\0' ? ctx_->errstr : "connection lost";
  Disconnect();
  return Status::Unavailable("redis " + options_.broker.redacted + ": " + what + ": " + reason);
}

Status RedisClient::Connect() {
  if (ctx_ != nullptr) return Status::Ok();
  const BrokerConfig& b = options_.broker;
  timeval tv = ToTimeval(options_.connect_timeout);
  if (b.kind == BrokerConfig::Kind::kRedisUnix) {
    ctx_ = redisConnectUnixWithTimeout(b.path.c_str(), tv);
  } else {
    ctx_ = redisConnectWithTimeout(b.host.c_str(), b.port, tv);
  }
  if (ctx_ == nullptr) return Status::Unavailable("redis " + b.redacted + ": out of memory");
  if (ctx_->err != 0) return Fail("cannot connect");
  if (redisSetTimeout(ctx_, ToTimeval(options_.io_timeout)) != REDIS_OK) {
    return Fail("cannot set timeout");
  }
  auto check = [&](const std::vector<std::string>& argv, const char* what) -> Status {
    ArgvBuf buf(argv);
    ReplyPtr r(static_cast<redisReply*>(
        redisCommandArgv(ctx_, static_cast<int>(argv.size()), buf.ptrs.data(), buf.lens.data())));
    if (!r) return Fail(what);
    if (r->type == REDIS_REPLY_ERROR) {
      std::string err = ReplyError(r.get());
      Disconnect();
      // A refused password or a missing database will not fix itself: a config error, and
      // the message names where the password comes from.
      const std::string where =
          "--broker redis://user:pass@host, EVT_REDIS_PASSWORD or --redis-password-file";
      const std::string said =
          err.empty() || err.back() != '.' ? err : err.substr(0, err.size() - 1);
      if (err.rfind("NOAUTH", 0) == 0) {
        return Status::Config("redis " + b.redacted + ": the server wants a password (" + said +
                              "); give it with " + where);
      }
      if (std::string(what) == "AUTH") {
        return Status::Config("redis " + b.redacted + ": AUTH: " + said +
                              "; check the user and password given with " + where);
      }
      return Status::Config("redis " + b.redacted + ": " + what + ": " + err);
    }
    return Status::Ok();
  };
  if (!b.password.empty()) {
    Status s = b.user.empty() ? check({"AUTH", b.password}, "AUTH")
                              : check({"AUTH", b.user, b.password}, "AUTH");
    if (!s.ok()) return s;
  }
  if (b.db != 0) {
    if (Status s = check({"SELECT", std::to_string(b.db)}, "SELECT"); !s.ok()) return s;
  }
  if (!options_.client_name.empty()) {
    std::string name = options_.client_name;
    for (char& ch : name) {
      if (ch == ' ' || ch == '\n') ch = '_';  // CLIENT SETNAME refuses spaces
    }
    if (Status s = check({"CLIENT", "SETNAME", name}, "CLIENT SETNAME"); !s.ok()) return s;
  }
  return Status::Ok();
}

Result<ReplyPtr> RedisClient::Command(const std::vector<std::string>& argv) {
  if (Status s = Connect(); !s.ok()) return s;
  ArgvBuf buf(argv);
  ReplyPtr r(static_cast<redisReply*>(
      redisCommandArgv(ctx_, static_cast<int>(argv.size()), buf.ptrs.data(), buf.lens.data())));
  if (!r) return Fail(argv.empty() ? std::string("command") : argv[0]);
  return r;
}

Result<std::vector<ReplyPtr>> RedisClient::Pipeline(
    const std::vector<std::vector<std::string>>& commands) {
  std::vector<ReplyPtr> replies;
  if (Status s = PipelineInto(commands, &replies); !s.ok()) return s;
  return replies;
}

Status RedisClient::PipelineInto(const std::vector<std::vector<std::string>>& commands,
                                 std::vector<ReplyPtr>* replies) {
  replies->clear();
  if (Status s = Connect(); !s.ok()) return s;
  for (const auto& argv : commands) {
    ArgvBuf buf(argv);
    if (redisAppendCommandArgv(ctx_, static_cast<int>(argv.size()), buf.ptrs.data(),
                               buf.lens.data()) != REDIS_OK) {
      return Fail("pipeline");
    }
  }
  replies->reserve(commands.size());
  for (std::size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(ctx_, &raw) != REDIS_OK) return Fail("pipeline");
    replies->emplace_back(static_cast<redisReply*>(raw));
  }
  return Status::Ok();
}

Result<ReplyPtr> RedisClient::Eval(const RedisScript& script, const std::vector<std::string>& keys,
                                   const std::vector<std::string>& args) {
  std::vector<std::string> argv{"EVALSHA", script.sha1, std::to_string(keys.size())};
  argv.insert(argv.end(), keys.begin(), keys.end());
  argv.insert(argv.end(), args.begin(), args.end());
  Result<ReplyPtr> r = Command(argv);
  if (!r.ok()) return r;
  if (ReplyError(r->get()).rfind("NOSCRIPT", 0) == 0) {
    argv[0] = "EVAL";
    argv[1] = script.source;
    return Command(argv);
  }
  return r;
}

void RedisClient::EvalAll(const RedisScript& script, const std::vector<EvalArgs>& calls,
                          std::vector<Result<ReplyPtr>>* out) {
  out->clear();
  std::vector<std::vector<std::string>> commands;
  commands.reserve(calls.size());
  for (const EvalArgs& c : calls) {
    std::vector<std::string> argv{"EVALSHA", script.sha1, std::to_string(c.keys.size())};
    argv.insert(argv.end(), c.keys.begin(), c.keys.end());
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    commands.push_back(std::move(argv));
  }
  std::vector<ReplyPtr> replies;
  Status s = PipelineInto(commands, &replies);
  for (std::size_t i = 0; i < calls.size(); ++i) {
    if (i >= replies.size()) {
      out->push_back(s);
    } else if (ReplyError(replies[i].get()).rfind("NOSCRIPT", 0) == 0) {
      out->push_back(Eval(script, calls[i].keys, calls[i].args));
    } else {
      out->push_back(std::move(replies[i]));
    }
  }
}

Status RedisClient::Retrying(const std::function<Status()>& attempt,
                             const std::function<bool()>& give_up) {
  Millis delay = options_.backoff_min;
  while (true) {
    Status s = attempt();
    if (s.kind() != Status::Kind::kUnavailable) {
      // The process logs the change, not each connection: the last client to get through
      // says so.
      if (reported_down_) {
        reported_down_ = false;
        if (--g_clients_down == 0) {
          Log(LogLevel::kInfo, "redis reachable again", {{"broker", options_.broker.redacted}});
        }
      }
      return s;
    }
    if (!reported_down_) {
      reported_down_ = true;
      if (g_clients_down++ == 0) {
        // Still connected: Redis answered, but refuses for now (out of memory, loading).
        Log(LogLevel::kWarn,
            connected() ? "redis refuses the command for now, retrying with backoff"
                        : "redis unreachable, retrying with backoff",
            {{"broker", options_.broker.redacted}, {"error", s.message()}});
      }
    }
    if (give_up && give_up()) return s;
    // Sleep in short steps so that a stop request is noticed quickly.
    auto until = std::chrono::steady_clock::now() + delay;
    while (std::chrono::steady_clock::now() < until) {
      if (give_up && give_up()) return s;
      std::this_thread::sleep_for(std::min<Millis>(Millis(50), delay));
    }
    delay = std::min(options_.backoff_max, delay * 2);
  }
}

std::string ReplyError(const redisReply* r) {
  if (r == nullptr || r->type != REDIS_REPLY_ERROR) return {};
  return std::string(r->str, r->len);
}

Status ReplyErrorStatus(const std::string& what, const std::string& err) {
  if (err.empty()) return Status::Ok();
  const std::string code = err.substr(0, err.find(' '));
  std::string msg = what + ": " + err;
  for (const char* later :
       {"LOADING", "BUSY", "MASTERDOWN", "READONLY", "TRYAGAIN", "CLUSTERDOWN", "OOM"}) {
    if (code == later) return Status::Unavailable(std::move(msg));
  }
  if (code == "NOGROUP") return Status::NotFound(std::move(msg));
  for (const char* refused : {"NOAUTH", "WRONGPASS", "NOPERM", "WRONGTYPE"}) {
    if (code == refused) return Status::Config(std::move(msg));
  }
  if (err.rfind("ERR unknown command", 0) == 0) return Status::Config(std::move(msg));
  return Status::Internal(std::move(msg));
}

Status CheckedReply(const Result<ReplyPtr>& reply, const std::string& what) {
  if (!reply.ok()) return reply.status();
  return ReplyErrorStatus(what, ReplyError(reply->get()));
}

std::string ReplyString(const redisReply* r) {
  if (r == nullptr) return {};
  if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS ||
      r->type == REDIS_REPLY_ERROR) {
    return std::string(r->str, r->len);
  }
  return {};
}

long long ReplyInteger(const redisReply* r, long long fallback) {
  if (r == nullptr) return fallback;
  if (r->type == REDIS_REPLY_INTEGER) return r->integer;
  if (r->type == REDIS_REPLY_STRING) {
    char* end = nullptr;
    long long v = std::strtoll(r->str, &end, 10);
    if (end != r->str) return v;
  }
  return fallback;
}

}  // namespace evt
