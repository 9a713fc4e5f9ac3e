// The backends behind the --broker URL: one case per kind of BrokerConfig.
#include "evt/broker_factory.h"

#include "admin/admin_file.h"
#include "evt/inspector.h"
#include "evt/queue.h"
#include "redis/admin_redis.h"
#include "redis/inspector_redis.h"
#include "redis/publisher_redis.h"
#include "redis/queue_keys.h"
#include "redis/queue_redis.h"
#include "sqlite/admin_sqlite.h"
#include "sqlite/inspector_sqlite.h"
#include "sqlite/publisher_sqlite.h"
#include "sqlite/queue_sqlite.h"

namespace evt {
namespace {

Status ValidateName(const std::string& option, const std::string& value, bool may_be_empty) {
  if (value.empty() && may_be_empty) return Status::Ok();
  if (value.empty() || value.size() > 255) {
    return Status::Usage(option + ": must be 1-255 characters");
  }
  for (char c : value) {
    if (static_cast<unsigned char>(c) <= ' ' || c == '{' || c == '}') {
      return Status::Usage(option + ": no spaces, control characters or braces (got \"" + value +
                           "\")");
    }
  }
  return Status::Ok();
}
}  // namespace

Status ValidateQueueOptions(const QueueOptions& o) {
  if (Status s = ValidateName("--group", o.group, false); !s.ok()) return s;
  if (Status s = ValidateName("--consumer", o.consumer, true); !s.ok()) return s;
  if (o.idempotency_ttl.count() <= 0) return Status::Usage("--idempotency-ttl: must be above 0");
  return Status::Ok();
}

Result<std::unique_ptr<EventPublisher>> OpenPublisher(const BrokerConfig& broker,
                                                      const std::string& ns,
                                                      const std::string& queue,
                                                      const PublisherOptions& options) {
  switch (broker.kind) {
    case BrokerConfig::Kind::kRedisTcp:
    case BrokerConfig::Kind::kRedisUnix:
      return OpenRedisPublisher(broker, QueueKeys(ns, queue), options);
    case BrokerConfig::Kind::kSqlite:
      return OpenSqlitePublisher(broker, ns, queue, options);
    case BrokerConfig::Kind::kStdio:
      break;
  }
  return Status::Internal("OpenPublisher: not a durable broker: " + broker.redacted);
}

Result<std::unique_ptr<Queue>> OpenQueue(const BrokerConfig& broker, const QueueOptions& options) {
  switch (broker.kind) {
    case BrokerConfig::Kind::kRedisTcp:
    case BrokerConfig::Kind::kRedisUnix: {
      if (Status s = ValidateQueueOptions(options); !s.ok()) return s;
      RedisQueueOptions ro;
      static_cast<QueueOptions&>(ro) = options;
      ro.broker = broker;
      return MakeRedisQueue(std::move(ro));
    }
    case BrokerConfig::Kind::kSqlite: {
      if (Status s = ValidateQueueOptions(options); !s.ok()) return s;
      SqliteQueueOptions so;
      static_cast<QueueOptions&>(so) = options;
      so.broker = broker;
      return MakeSqliteQueue(std::move(so));
    }
    case BrokerConfig::Kind::kStdio:
      break;
  }
  return Status::Internal("OpenQueue: not a durable broker: " + broker.redacted);
}

Result<std::unique_ptr<QueueInspector>> OpenInspector(const BrokerConfig& broker,
                                                      const std::string& ns) {
  switch (broker.kind) {
    case BrokerConfig::Kind::kRedisTcp:
    case BrokerConfig::Kind::kRedisUnix:
      return OpenRedisInspector(broker, ns);
    case BrokerConfig::Kind::kSqlite:
      return OpenSqliteInspector(broker, ns);
    case BrokerConfig::Kind::kStdio:
      break;
  }
  return Status::Internal("OpenInspector: not a durable broker: " + broker.redacted);
}

Result<std::unique_ptr<QueueAdmin>> OpenAdmin(const BrokerConfig& broker,
                                              const AdminOptions& options) {
  if (!options.file.empty()) return OpenFileAdmin(options.file);
  switch (broker.kind) {
    case BrokerConfig::Kind::kRedisTcp:
    case BrokerConfig::Kind::kRedisUnix:
      return OpenRedisAdmin(broker, options);
    case BrokerConfig::Kind::kSqlite:
      return OpenSqliteAdmin(broker, options);
    case BrokerConfig::Kind::kStdio:
      break;
  }
  return Status::Usage(
      "no dead letters to read: give --broker URL, or --file FILE for a "
      "dead-letter file written by evt-work --dlq");
}

}  // namespace evt
