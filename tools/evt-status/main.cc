// evt-status: queues, event types and single events at a glance; checks for monitoring.
// See evt-status(1).
#include <unistd.h>

#include "evt/cli.h"
#include "evt/status_command.h"

int main(int argc, char** argv) {
  const std::string tool = "evt-status";
  evt::CommonOptions common;
  evt::StatusOptions o;
  evt::StatusFlags flags;

  CLI::App app("Show queues, event types and events of a durable broker; check them.", tool);
  evt::SetUpApp(app, &common);
  evt::AddStatusOptions(app, &o, &flags);
  if (int rc = evt::ParseCommandLine(app, argc, argv); rc >= 0) return rc;

  if (o.summary) common.broker = "-";  // result lines on stdin: no broker to resolve
  evt::Result<evt::BrokerConfig> broker = evt::StartCommand(tool, common);
  if (!broker.ok()) return evt::ReportFatal(tool, broker.status());
  o.ns = common.ns;
  if (evt::Status s = evt::FinishStatusOptions(app, flags, common.queue, &o); !s.ok()) {
    return evt::ReportFatal(tool, s);
  }
  return evt::RunStatus(tool, o, *broker, STDIN_FILENO, STDOUT_FILENO);
}
