// Where events go: the --broker URL and its credentials.
//
//   -                                              NDJSON on stdout/stdin (no server)
//   redis://[user[:password]@]host[:port][/db]     Redis over TCP (default port 6379)
//   unix:///path/redis.sock[?db=N]                 Redis over a Unix socket
//   sqlite:///path/evt.db[?sync=full]              one SQLite file on this host (no server)
#pragma once

#include <string>
#include <string_view>

#include "evt/status.h"

namespace evt {

struct BrokerConfig {
  enum class Kind { kStdio, kRedisTcp, kRedisUnix, kSqlite };
  Kind kind = Kind::kStdio;
  std::string host;        // kRedisTcp
  int port = 6379;         // kRedisTcp
  std::string path;        // kRedisUnix: the socket; kSqlite: the database file (absolute)
  bool sync_full = false;  // kSqlite: ?sync=full, fsync at every commit (power-loss safe);
                           // otherwise synchronous=NORMAL (safe against a process crash)
  int db = 0;              // SELECT db
  std::string user;        // ACL user name; empty = default user
  std::string password;    // empty = no AUTH
  std::string redacted;    // the URL with its password replaced by "***", for messages

  bool is_redis() const { return kind == Kind::kRedisTcp || kind == Kind::kRedisUnix; }
  // A broker that keeps events (every kind but stdio): OpenPublisher and OpenQueue
  // (broker_factory.h) take it.
  bool is_durable() const { return kind != Kind::kStdio; }
};

// Parses a broker URL. The user name and password end at the URL's LAST '@', so a
// password may hold any character, '@', '/', ':', '?', '#', '[', ']' included; %XX
// escapes are decoded (a '%' not followed by two hex digits stands for itself). Usage
// error naming the redacted URL (never the password) and what is wrong.
Result<BrokerConfig> ParseBrokerUrl(std::string_view url);

// The URL with its password replaced by "***" ("redis://user:***@host"); a URL without a
// password unchanged. Cuts the URL as ParseBrokerUrl does, and hides more rather than
// less when the URL is malformed (an '@' in a path), so it is safe on any text.
std::string RedactUrl(std::string_view url);

// The URL with its password removed ("redis://user@host", "redis://host"); a URL without
// a password unchanged. What a handler may see of the broker (see ExecHandler).
std::string StripUrlPassword(std::string_view url);

// The environment variables that hold evt credentials (ResolveRedisPassword's sources).
// A handler never inherits them; EVT_BROKER reaches it through StripUrlPassword.
inline constexpr const char* kCredentialEnvNames[] = {"EVT_REDIS_PASSWORD",
                                                      "EVT_REDIS_PASSWORD_FILE"};

// Wipes the credentials out of this process's own environment block, in place, once they
// have been read: the value of EVT_REDIS_PASSWORD becomes NUL bytes and EVT_BROKER loses
// its password (StripUrlPassword). A handler running as the same user can read
// /proc/<evt-work>/environ, and that file shows the block the process started with, not
// what unsetenv(3) leaves: only overwriting the bytes hides them. Call it from the main
// thread at start-up, before other threads run.
void ScrubCredentialEnvironment();

// Fills config->password when the URL had none: from the file at `password_file` (first
// line, if the path is non-empty) or else from `env_password` (EVT_REDIS_PASSWORD). A
// password file that cannot be read is a Config error naming it.
Status ResolveRedisPassword(BrokerConfig* config, const std::string& password_file,
                            const char* env_password);

// Queue names: 1-64 of [A-Za-z0-9_.-]. Usage error otherwise.
Status ValidateQueueName(std::string_view queue);
// Namespaces (key prefixes): 1-64 of [A-Za-z0-9_.:-], no braces. Usage error otherwise.
Status ValidateNamespace(std::string_view ns);

}  // namespace evt
