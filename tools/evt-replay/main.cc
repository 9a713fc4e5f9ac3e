// evt-replay: put events back into a queue (or onto stdout) from the dead letters, the
// stream history or an NDJSON file. See evt-replay(1).
#include <unistd.h>

#include "evt/cli.h"
#include "evt/dlq.h"
#include "evt/exit_code.h"
#include "evt/replay.h"

int main(int argc, char** argv) {
  const std::string tool = "evt-replay";
  evt::CommonOptions common;
  evt::ReplayCommand c;
  bool from_dlq = false;
  bool from_stream = false;

  CLI::App app("Replay events from the dead letters, the stream history or a file.", tool);
  evt::SetUpApp(app, &common);
  auto* dlq = app.add_flag("--from-dlq", from_dlq, "Replay dead letters (the default)");
  auto* stream =
      app.add_flag("--from-stream", from_stream, "Replay the queue's retained stream history");
  auto* file = app.add_option("--from-file", c.from_file,
                              "Replay the events or dead-letter records of FILE (- for stdin)")
                   ->type_name("PATH");
  dlq->excludes(stream)->excludes(file);
  stream->excludes(file);
  evt::AddFilterOptions(app, &c.flags);
  app.add_option("--id", c.flags.ids, "Only these ids (dead letter id or event_id); repeatable")
      ->type_name("ID");
  app.add_option("--to-queue", c.options.to_queue, "Target queue (default: the --queue read)");
  app.add_option("--to", c.to,
                 "- writes the events as NDJSON on stdout; a broker URL (redis://, unix://, "
                 "sqlite://) moves them to that store (migration)")
      ->type_name("-|URL");
  app.add_flag("-n,--dry-run", c.options.dry_run,
               "Print what would be replayed, mark done keys, change nothing");
  app.add_option("--rate", c.rate, "Pace the writes: N/s, N/m or N/h (default: unpaced)");
  app.add_flag("--keep-retries", c.options.keep_retries, "Keep retry_count (default: reset to 0)");
  app.add_flag("--force", c.options.force,
               "Run done keys again under a derived key KEY#replay-REPLAYID");
  app.add_flag("--keep", c.options.keep, "Leave the dead letters in place (default: move them)");
  if (int rc = evt::ParseCommandLine(app, argc, argv); rc >= 0) return rc;

  // Before StartCommand wipes EVT_REDIS_PASSWORD: a Redis --to takes it as --broker does.
  evt::Result<evt::BrokerConfig> to = evt::ResolveReplayTarget(c.to, common.password_file);
  evt::Result<evt::BrokerConfig> broker = evt::StartCommand(tool, common);
  if (!broker.ok()) return evt::ReportFatal(tool, broker.status());
  if (!to.ok()) return evt::ReportFatal(tool, to.status());
  c.ns = common.ns;
  c.options.source_queue = common.queue;
  if (from_stream) c.options.source = evt::ReplayOptions::Source::kStream;
  if (!c.from_file.empty()) c.options.source = evt::ReplayOptions::Source::kFile;
  evt::Status s = evt::RunReplayCommand(tool, *broker, *to, c, STDOUT_FILENO);
  return s.ok() ? evt::kExitOk : evt::ReportFatal(tool, s);
}
