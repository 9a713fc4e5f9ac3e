// evt-replay's command: which combinations make sense, and which stores to open.
#include <unistd.h>

#include <cstdio>

#include "evt/broker_factory.h"
#include "evt/rate.h"
#include "evt/replay.h"

namespace evt {
namespace {

Status CheckCombination(const BrokerConfig& broker, const ReplayCommand& c) {
  const ReplayOptions& o = c.options;
  if (!c.to.empty() && c.to != "-") {
    return Status::Usage(
        "--to: only - (NDJSON on stdout) is a target; for a queue use "
        "--to-queue NAME");
  }
  if (!c.to.empty() && !o.to_queue.empty())
    return Status::Usage(
        "--to - and --to-queue exclude "
        "each other");
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
        "evt-work) or --broker URL");
  }
  return Status::Ok();
}

}  // namespace

Status RunReplayCommand(const std::string& tool, const BrokerConfig& broker, const ReplayCommand& c,
                        int out_fd) {
  if (Status s = CheckCombination(broker, c); !s.ok()) return s;
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

  AdminOptions where;
  where.ns = c.ns;
  where.queue = o.source_queue;
  where.client_name = tool + ":" + DefaultConsumerName();
  if (o.source == ReplayOptions::Source::kFile) {
    where.file = c.from_file;
    o.source_name = "file:" + c.from_file;
  } else {
    o.source_name = o.source == ReplayOptions::Source::kStream ? "stream" : "dlq";
    o.source_name += ":" + o.source_queue;
  }
  Result<std::unique_ptr<QueueAdmin>> source = OpenAdmin(broker, where);
  if (!source.ok()) return source.status();
  std::unique_ptr<QueueAdmin> own_target;
  QueueAdmin* target = nullptr;
  const std::string to_queue = o.to_queue.empty() ? o.source_queue : o.to_queue;
  if (!o.to_stdout) {
    if (o.source != ReplayOptions::Source::kFile && to_queue == o.source_queue) {
      target = source->get();
    } else {
      AdminOptions t = where;
      t.file.clear();
      t.queue = to_queue;
      Result<std::unique_ptr<QueueAdmin>> opened = OpenAdmin(broker, t);
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
