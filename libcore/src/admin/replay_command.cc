// evt-replay's command: which combinations make sense, and which stores to open.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "evt/broker_factory.h"
#include "evt/rate.h"
#include "evt/replay.h"

namespace evt {
namespace {

bool SameFile(const std::string& a, const std::string& b) {
  if (a == b) return true;
  struct stat sa {
  }, sb{};
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

// The record names of the audit: "dlq:QUEUE", "stream:QUEUE" or "file:PATH"; in a
// migration the source's store comes first, as the target's does, so that the record
// says on either store where the events came from.
std::string SourceName(const BrokerConfig& broker, const ReplayCommand& c, bool other_store) {
  const ReplayOptions& o = c.options;
  if (o.source == ReplayOptions::Source::kFile) return "file:" + c.from_file;
  std::string name = o.source == ReplayOptions::Source::kStream ? "stream" : "dlq";
  name += ":" + o.source_queue;
  return other_store ? broker.redacted + " " + name : name;
}

// A migration's target file may be new: it is created (with its schema) as evt-emit
// creates it, where the admin of an existing store would refuse a missing one.
Status CreateMissingTarget(const BrokerConfig& target, const std::string& ns,
                           const std::string& queue) {
  struct stat st {};
  if (target.kind != BrokerConfig::Kind::kSqlite || ::stat(target.path.c_str(), &st) == 0) {
    return Status::Ok();
  }
  return OpenPublisher(target, ns, queue, PublisherOptions()).status();
}

}  // namespace

Result<BrokerConfig> ResolveReplayTarget(const std::string& to, const std::string& password_file) {
  if (to.empty() || to == "-") return BrokerConfig();
  Result<BrokerConfig> target = ParseBrokerUrl(to);
  if (!target.ok()) {
    // ParseBrokerUrl names --broker; this URL is the one of --to.
    std::string why = target.status().message();
    const std::string flag = "--broker ";
    if (why.rfind(flag, 0) == 0) why = why.substr(flag.size());
    return Status::Usage("--to " + why);
  }
  if (!target->is_durable()) {
    return Status::Usage("--to " + target->redacted +
                         ": expected - (NDJSON on stdout) or a durable broker URL: "
                         "redis://, unix:// or sqlite://");
  }
  if (target->is_redis()) {
    Status s = ResolveRedisPassword(&*target, password_file, std::getenv("EVT_REDIS_PASSWORD"));
    if (!s.ok()) return s;
  }
  return target;
}

bool IsOtherStore(const BrokerConfig& source, const BrokerConfig& target) {
  if (source.kind != target.kind) return true;
  switch (target.kind) {
    case BrokerConfig::Kind::kStdio:
      return false;
    case BrokerConfig::Kind::kRedisTcp:
      return source.host != target.host || source.port != target.port || source.db != target.db;
    case BrokerConfig::Kind::kRedisUnix:
      return source.path != target.path || source.db != target.db;
    case BrokerConfig::Kind::kSqlite:
      return !SameFile(source.path, target.path);
  }
  return true;
}

Status CheckReplayCommand(const BrokerConfig& broker, const BrokerConfig& target,
                          const ReplayCommand& c) {
  const ReplayOptions& o = c.options;
  if (c.to == "-" && !o.to_queue.empty()) {
    return Status::Usage("--to - and --to-queue exclude each other");
  }
  if (!c.to.empty() && c.to != "-" && !target.is_durable()) {
    return Status::Internal("--to " + RedactUrl(c.to) + ": not resolved (ResolveReplayTarget)");
  }
  if (!o.to_queue.empty()) {
    if (Status s = ValidateQueueName(o.to_queue); !s.ok()) {
      return Status::Usage("--to-queue: " + s.message());
    }
  }
  if (o.keep && o.source != ReplayOptions::Source::kDeadLetters) {
    return Status::Usage("--keep applies to --from-dlq only (other sources are never changed)");
  }
  if (o.source == ReplayOptions::Source::kStream &&
      (!c.flags.category.empty() || !c.flags.reason.empty())) {
    return Status::Usage(
        "--category and --reason select dead letters, not --from-stream "
        "history");
  }
  if (o.source != ReplayOptions::Source::kFile && !broker.is_durable()) {
    return Status::Usage(
        "--from-dlq and --from-stream read a queue: give --broker URL (or "
        "--from-file FILE for a dead-letter file)");
  }
  if (o.source == ReplayOptions::Source::kFile && c.to.empty() && !broker.is_durable()) {
    return Status::Usage(
        "--from-file needs a target: --to - (NDJSON on stdout, for a stdio "
        "evt-work), --to URL or --broker URL");
  }
  return Status::Ok();
}

Status RunReplayCommand(const std::string& tool, const BrokerConfig& broker,
                        const BrokerConfig& target_broker, const ReplayCommand& c, int out_fd) {
  if (Status s = CheckReplayCommand(broker, target_broker, c); !s.ok()) return s;
  ReplayOptions o = c.options;
  o.to_stdout = c.to == "-";
  if (!c.rate.empty()) {
    Result<double> rate = ParseRate(c.rate);
    if (!rate.ok()) return Status::Usage("--rate: " + rate.status().message());
    o.rate = *rate;
  }
  Result<RecordFilter> filter = MakeFilter(c.flags, NowUnixMillis());
  if (!filter.ok()) return filter.status();
  o.filters = DescribeFilter(c.flags);
  o.progress = ::isatty(STDERR_FILENO) == 1 && !o.dry_run;
  // A file source is no store of the broker: the target is "other" whenever --to names one.
  o.other_store = target_broker.is_durable() &&
                  (o.source == ReplayOptions::Source::kFile || IsOtherStore(broker, target_broker));
  if (o.other_store) o.target_store = target_broker.redacted;
  o.source_name = SourceName(broker, c, o.other_store);

  AdminOptions where;
  where.ns = c.ns;
  where.queue = o.source_queue;
  where.client_name = tool + ":" + DefaultConsumerName();
  if (o.source == ReplayOptions::Source::kFile) where.file = c.from_file;
  Result<std::unique_ptr<QueueAdmin>> source = OpenAdmin(broker, where);
  if (!source.ok()) return source.status();
  std::unique_ptr<QueueAdmin> own_target;
  QueueAdmin* target = nullptr;
  const std::string to_queue = o.to_queue.empty() ? o.source_queue : o.to_queue;
  if (!o.to_stdout) {
    if (!o.other_store && o.source != ReplayOptions::Source::kFile && to_queue == o.source_queue) {
      target = source->get();
    } else {
      AdminOptions t = where;
      t.file.clear();
      t.queue = to_queue;
      if (o.other_store) {
        if (Status st = CreateMissingTarget(target_broker, c.ns, to_queue); !st.ok()) return st;
      }
      Result<std::unique_ptr<QueueAdmin>> opened =
          OpenAdmin(o.other_store ? target_broker : broker, t);
      if (!opened.ok()) return opened.status();
      own_target = std::move(*opened);
      target = own_target.get();
    }
  }
  ReplaySummary summary;
  Status s = RunReplay(**source, target, *filter, o, RealClock(), out_fd, &summary);
  std::fprintf(stderr, "%s: %s\n", tool.c_str(), FormatReplaySummary(summary, o).c_str());
  return s;
}

}  // namespace evt
