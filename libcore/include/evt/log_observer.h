// The WorkerObserver that writes evt-work's log lines (log.h) from the loop's steps. Its
// wording is part of the interface people grep: "attempt finished", "attempt failed",
// "retry scheduled", "dead letter", "duplicate: ...", "stopping: SIGTERM; ...", "summary".
#pragma once

#include <string>

#include "evt/duration.h"
#include "evt/worker_observer.h"

namespace evt {

struct LogObserverOptions {
  std::string consumer;      // in every line about an event (Queue::consumer())
  bool line_input = false;   // the queue reads input lines (stdio): an invalid entry is
                             // named by its line, a stopped attempt is interrupted (not
                             // left pending), and the summary is that of a stdio run
  std::string dlq_name;      // line_input: where dead letters go ("stderr", a file name)
  Millis shutdown_grace{0};  // said in the "stopping" line
};

// Thread-safe, as every observer.
class LogObserver : public WorkerObserver {
 public:
  explicit LogObserver(LogObserverOptions options) : options_(std::move(options)) {}

  void OnHandlerOutput(const AttemptEnd& attempt, std::string_view line) override;
  void OnHandlerEnded(const AttemptEnd& attempt, const HandlerResult& result) override;
  void OnDecided(const AttemptEnd& attempt, const Decision& decision) override;
  void OnStopAsked(std::string_view why, const LoopHealth& health) override;
  void OnNotice(LogLevel level, std::string_view message, const AttemptEnd* attempt,
                std::initializer_list<LogField> fields) override;
  void OnFinished(const WorkerStats& stats) override;

 private:
  EventLogContext Context(const AttemptEnd& a, int attempt) const {
    return {a.event_id,        a.idempotency_key, a.event_type,
            options_.consumer, attempt,           a.correlation_id};
  }
  void DeadLetter(const AttemptEnd& attempt, const Decision& decision);

  const LogObserverOptions options_;
};

}  // namespace evt
