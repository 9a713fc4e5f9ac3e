// evt-dlq: list, show, count, export and purge dead letters. See evt-dlq(1).
#include <unistd.h>

#include "evt/broker_factory.h"
#include "evt/cli.h"
#include "evt/dlq.h"
#include "evt/exit_code.h"

int main(int argc, char** argv) {
  const std::string tool = "evt-dlq";
  evt::CommonOptions common;
  evt::FilterFlags flags;
  evt::AdminOptions where;
  evt::PurgeOptions purge;
  std::string id;

  CLI::App app("List, show, count, export and purge dead letters.", tool);
  evt::SetUpApp(app, &common);
  app.add_option("--file", where.file,
                 "Read the dead-letter file FILE (written by evt-work --dlq) instead of a broker")
      ->type_name("FILE");
  evt::AddFilterOptions(app, &flags);
  app.add_flag("-y,--yes", purge.yes, "purge: do not ask (needed when stdin is not a terminal)");
  app.require_subcommand(1, 1);
  app.fallthrough();
  CLI::App* list = app.add_subcommand("list", "One line per dead letter");
  CLI::App* show = app.add_subcommand("show", "Everything about one dead letter");
  show->add_option("ID", id, "The dead letter's id (from list) or its event_id")->required();
  CLI::App* stats = app.add_subcommand("stats", "Counts by type, reason and category");
  CLI::App* exp = app.add_subcommand("export", "NDJSON records, as evt-work --dlq writes them");
  CLI::App* purge_cmd = app.add_subcommand("purge", "Delete the matching dead letters (audited)");
  if (int rc = evt::ParseCommandLine(app, argc, argv); rc >= 0) return rc;

  evt::Result<evt::BrokerConfig> broker = evt::StartCommand(tool, common);
  if (!broker.ok()) return evt::ReportFatal(tool, broker.status());
  const evt::UnixMillis now = evt::NowUnixMillis();
  evt::Result<evt::RecordFilter> filter = evt::MakeFilter(flags, now);
  if (!filter.ok()) return evt::ReportFatal(tool, filter.status());
  where.ns = common.ns;
  where.queue = common.queue;
  where.client_name = tool + ":" + evt::DefaultConsumerName();
  auto admin = evt::OpenAdmin(*broker, where);
  if (!admin.ok()) return evt::ReportFatal(tool, admin.status());

  evt::QueueAdmin& a = **admin;
  evt::Status s;
  if (list->parsed())
    s = evt::DlqList(a, *filter, now, ::isatty(STDOUT_FILENO) == 1, STDOUT_FILENO);
  if (show->parsed()) s = evt::DlqShow(a, id, STDOUT_FILENO);
  if (stats->parsed()) s = evt::DlqStats(a, *filter, STDOUT_FILENO);
  if (exp->parsed()) s = evt::DlqExport(a, *filter, STDOUT_FILENO);
  if (purge_cmd->parsed()) {
    purge.filters = evt::DescribeFilter(flags);
    purge.confirm = evt::TerminalConfirm(STDIN_FILENO, STDERR_FILENO);
    std::int64_t purged = 0;
    s = evt::DlqPurge(a, *filter, purge, &purged);
    if (s.ok())
      std::fprintf(stderr, "%s: purged %lld dead letter(s) from %s\n", tool.c_str(),
                   static_cast<long long>(purged), a.Describe().c_str());
  }
  return s.ok() ? evt::kExitOk : evt::ReportFatal(tool, s);
}
