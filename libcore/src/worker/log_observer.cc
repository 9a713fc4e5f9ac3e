#include "evt/log_observer.h"

#include "evt/worker.h"

namespace evt {

void LogObserver::OnHandlerOutput(const AttemptEnd& a, std::string_view line) {
  LogEvent(LogLevel::kInfo, "handler stderr", Context(a, a.attempt), {{"text", std::string(line)}});
}

void LogObserver::OnHandlerEnded(const AttemptEnd& a, const HandlerResult& r) {
  if (r.interrupted && !options_.line_input) {
    LogEvent(LogLevel::kWarn, "attempt interrupted by shutdown; left pending for another worker",
             Context(a, a.attempt), {{"duration_ms", r.duration.count()}});
    return;
  }
  if (r.outcome == Outcome::kDone && !r.interrupted) {
    LogEvent(LogLevel::kInfo, "attempt finished", Context(a, a.attempt),
             {{"duration_ms", r.duration.count()}, {"outcome", OutcomeName(r.outcome)}});
    return;
  }
  LogEvent(LogLevel::kWarn, r.interrupted ? "attempt interrupted" : "attempt failed",
           Context(a, a.attempt),
           {{"duration_ms", r.duration.count()},
            {"outcome", OutcomeName(r.outcome)},
            {"category", CategoryName(r.category)},
            {"error", r.error}});
}

void LogObserver::DeadLetter(const AttemptEnd& a, const Decision& d) {
  if (a.event_id.empty()) {  // not an event
    if (options_.line_input) {
      Log(LogLevel::kError,
          "line " + a.delivery_id.substr(0, a.delivery_id.find('#')) + ": " + d.error);
      return;
    }
    Log(LogLevel::kError, "dead letter: entry is not a valid event",
        {{"stream_id", a.delivery_id},
         {"consumer", options_.consumer},
         {"reason", DeadReasonName(d.reason)},
         {"error", d.error}});
    return;
  }
  if (options_.line_input) {
    LogEvent(LogLevel::kError, "dead letter", Context(a, a.attempt),
             {{"reason", DeadReasonName(d.reason)},
              {"category", CategoryName(d.category)},
              {"error", d.error},
              {"dlq", options_.dlq_name}});
    return;
  }
  LogEvent(LogLevel::kError, "dead letter", Context(a, a.attempt),
           {{"reason", DeadReasonName(d.reason)},
            {"category", CategoryName(d.category)},
            {"error", d.error}});
}

void LogObserver::OnDecided(const AttemptEnd& a, const Decision& d) {
  switch (d.action) {
    case Action::kRetry:
      LogEvent(LogLevel::kInfo, "retry scheduled", Context(a, a.attempt + 1),
               {{"delay_ms", d.delay.count()}});
      return;
    case Action::kDeadLetter:
      DeadLetter(a, d);
      return;
    case Action::kDuplicate:
      LogEvent(LogLevel::kInfo, "duplicate: idempotency key already done, not run",
               Context(a, a.attempt));
      return;
    case Action::kDefer:
      LogEvent(LogLevel::kDebug, "idempotency key busy elsewhere; trying later",
               Context(a, a.attempt), {{"delay_ms", d.delay.count()}});
      return;
    default:
      return;
  }
}

void LogObserver::OnStopAsked(std::string_view why, const LoopHealth& health) {
  const char* what = options_.line_input ? "; reading no more input" : "; reading no more entries";
  Log(LogLevel::kWarn, "stopping: " + std::string(why) + what,
      {{"running", health.in_flight}, {"grace_ms", options_.shutdown_grace.count()}});
}

void LogObserver::OnNotice(LogLevel level, std::string_view message, const AttemptEnd* attempt,
                           std::initializer_list<LogField> fields) {
  if (attempt != nullptr) {
    LogEvent(level, message, Context(*attempt, attempt->attempt), fields);
  } else {
    Log(level, message, fields);
  }
}

void LogObserver::OnFinished(const WorkerStats& s) {
  if (options_.line_input) {
    // Silent when all went well (at the default level); said when the exit status is not 0.
    const bool trouble = s.failed + s.invalid + s.interrupted > 0;
    Log(trouble ? LogLevel::kWarn : LogLevel::kInfo, "summary",
        {{"events", s.events},
         {"done", s.done},
         {"failed", s.failed},
         {"duplicate", s.duplicate},
         {"invalid", s.invalid},
         {"interrupted", s.interrupted},
         {"retries", s.retries},
         {"dlq", options_.dlq_name}});
    return;
  }
  Log(LogLevel::kInfo, "summary",
      {{"attempts", s.attempts},
       {"done", s.done},
       {"retries", s.retries},
       {"failed", s.failed + s.invalid},
       {"duplicate", s.duplicate},
       {"deferred", s.deferred},
       {"claimed", s.claimed},
       {"left_pending", s.abandoned},
       {"resumed", s.resumed},
       {"replayed", s.replayed},
       {"left_in_journal", s.left_in_journal}});
}

}  // namespace evt
