// evt-emit: build, validate and publish events. See evt-emit(1).
#include <unistd.h>

#include "evt/cli.h"
#include "evt/emit.h"
#include "evt/exit_code.h"
#include "evt/log.h"
#include "evt/ndjson.h"
#include "evt/rate.h"

namespace {

// The options of one event, of --stdin, and of delivery through a durable broker.
void AddEmitOptions(CLI::App& app, evt::EmitOptions* options, std::string* format,
                    std::string* rate) {
  evt::EmitOptions& o = *options;
  app.add_option("-t,--type", o.type, "event_type, e.g. server.backup.requested");
  // Not EVT_SOURCE: evt-work sets that for its handlers to the source of the event being
  // handled, and a handler that emits a follow-up event must not pass it on unasked.
  app.add_option("-s,--source", o.source, "source (default: the host name)")
      ->envname("EVT_EMIT_SOURCE");
  app.add_option("-k,--key", o.key, "idempotency_key (default: the event_id)");
  app.add_option("--id", o.id, "event_id (default: evt_ + a new ULID)");
  app.add_option("--correlation-id", o.correlation_id, "correlation_id (default: the event_id)");
  app.add_option("-p,--payload", o.payload, "payload: JSON object text, @FILE, or - for stdin");
  app.add_option("-f,--field", o.fields,
                 "payload field: KEY=VALUE (string) or KEY:=JSON; repeatable");
  app.add_flag("--stdin", o.from_stdin, "Read many events as NDJSON (evt or CloudEvents) on stdin")
      ->envname("EVT_STDIN");
  app.add_option("--format", *format, "Output format: evt or cloudevents")
      ->envname("EVT_FORMAT")
      ->check(CLI::IsMember({"evt", "cloudevents"}))
      ->capture_default_str();
  // Delivery through a durable broker.
  evt::AddDurationOption(app, "--delay", &o.delay, "Deliver after DURATION (delayed queue)",
                         "EVT_DELAY");
  app.add_option("--at", o.at, "Deliver at this RFC 3339 time (delayed queue)")->envname("EVT_AT");
  app.add_option("--max-depth", o.max_depth,
                 "Backpressure: refuse while this many events wait or run (0: no limit)")
      ->envname("EVT_MAX_DEPTH")
      ->capture_default_str();
  app.add_option("--on-full", o.on_full, "At --max-depth: fail (exit 75) or wait")
      ->envname("EVT_ON_FULL")
      ->check(CLI::IsMember({"wait", "fail"}))
      ->capture_default_str();
  evt::AddDurationOption(app, "--wait-timeout", &o.wait_timeout,
                         "Longest wait for room (--on-full wait) or for the broker in an outage",
                         "EVT_WAIT_TIMEOUT");
  app.add_option("--spool", o.spool_dir,
                 "Keep events durably in DIR while the broker is down; sent by the next run")
      ->envname("EVT_SPOOL")
      ->type_name("DIR");
  app.add_option("--group", o.group, "Consumer group whose backlog --max-depth counts")
      ->envname("EVT_GROUP")
      ->capture_default_str();
  app.add_option("--rate", *rate, "Pace --stdin: N/s, N/m or N/h (default: unpaced)")
      ->envname("EVT_RATE");
  app.add_option("--burst", o.burst, "With --rate: events that may go at once after a pause")
      ->envname("EVT_BURST")
      ->capture_default_str();
}

// Writes the events: to the broker when it is durable, else to stdout.
int Emit(const std::string& tool, const evt::BrokerConfig& broker, const evt::CommonOptions& common,
         const evt::EmitOptions& o) {
  if (broker.is_durable()) {
    evt::EmitStats stats;
    evt::Status s =
        evt::EmitToBroker(broker, common.ns, common.queue, o, STDIN_FILENO, STDOUT_FILENO, &stats);
    return s.ok() ? evt::kExitOk : evt::ReportFatal(tool, s);
  }

  if (o.from_stdin) {
    evt::EmitStats stats;
    evt::Status s = evt::EmitStream(STDIN_FILENO, STDOUT_FILENO, o, &stats);
    return s.ok() ? evt::kExitOk : evt::ReportFatal(tool, s);
  }
  evt::Result<evt::Event> ev = evt::BuildEventFromFlags(o, STDIN_FILENO);
  if (!ev.ok()) return evt::ReportFatal(tool, ev.status());
  evt::LineWriter out(STDOUT_FILENO);
  evt::Status s = out.WriteLine(evt::Serialize(*ev, o.format));
  if (s.ok()) s = out.Flush();
  return s.ok() ? evt::kExitOk
                : evt::ReportFatal(tool, evt::Status::IOError("stdout: " + s.message()));
}

}  // namespace

int main(int argc, char** argv) {
  const std::string tool = "evt-emit";
  evt::CommonOptions common;
  evt::EmitOptions o;
  std::string format = "evt";
  std::string rate;
  CLI::App app("Build, validate and publish events (evt contract v1).", tool);
  evt::SetUpApp(app, &common);
  AddEmitOptions(app, &o, &format, &rate);
  if (int rc = evt::ParseCommandLine(app, argc, argv); rc >= 0) return rc;

  evt::Result<evt::BrokerConfig> broker = evt::StartCommand(tool, common);
  if (!broker.ok()) return evt::ReportFatal(tool, broker.status());
  o.max_event_bytes = common.max_event_bytes;
  o.format = *evt::ParseEventFormat(format);
  if (!rate.empty()) {
    evt::Result<double> r = evt::ParseRate(rate);
    if (!r.ok()) {
      return evt::ReportFatal(tool, evt::Status::Usage("--rate: " + r.status().message()));
    }
    o.rate = *r;
  }
  if (evt::Status s = evt::ValidateEmitOptions(o, broker->is_durable()); !s.ok()) {
    return evt::ReportFatal(tool, s);
  }
  if (evt::Status s = evt::ValidateEmitRate(o); !s.ok()) return evt::ReportFatal(tool, s);
  return Emit(tool, *broker, common, o);
}
