// The stdio queue's output: one result line per event (completion order), dead letters
// to the DeadLetterSink, and the end of the run, which records everything read but not
// finished as `interrupted`: nothing read is lost.
#include <unistd.h>

#include "evt/log.h"
#include "stdio/stdio_queue.h"

namespace evt {
namespace {

std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

}  // namespace

void StdioQueue::WriteLine(const std::string& text) {
  if (output_failed_) return;
  if (Status s = writer_.WriteLine(text); !s.ok()) {
    output_failed_ = true;
    io_status_ = Status::IOError("cannot write results to stdout: " + s.message());
    Changed();
  }
}

void StdioQueue::Flush() {
  if (output_failed_) return;
  if (Status s = writer_.Flush(); !s.ok()) {
    output_failed_ = true;
    io_status_ = Status::IOError("cannot write results to stdout: " + s.message());
    Changed();
  }
}

void StdioQueue::WriteResult(const StdioEntry& e, const char* status, const DeadReason* reason) {
  Json r;
  r["event_id"] = e.event_id;
  r["event_type"] = e.event_type;
  r["idempotency_key"] = e.key;
  r["status"] = status;
  r["attempts"] = e.attempts;
  r["duration_ms"] = e.handler_time.count();
  if (reason != nullptr) {
    r["reason"] = DeadReasonName(*reason);
    r["error"] = e.last_error;
    r["category"] = CategoryName(e.last_category);
  }
  WriteLine(Dump(r));
}

void StdioQueue::RecordDeadLetter(const DeadLetter& d) {
  if (Status s = dlq_.Append(d); !s.ok()) {
    // The record must not be lost: put it on stderr, and make the exit status say so.
    Log(LogLevel::kError, s.message());
    std::string line = SerializeDeadLetter(d) + "\n";
    [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
    if (io_status_.ok()) io_status_ = s;
  }
}

void StdioQueue::DeadLetterEntry(const StdioEntry& e, DeadReason reason, const std::string& raw) {
  DeadLetter d;
  d.reason = reason;
  d.category = e.last_category;
  d.error = e.last_error;
  d.attempts = e.attempts;
  d.failed_at = options_.clock->WallNow();
  d.consumer = consumer_;
  d.line = e.line;
  Result<Json> doc = ParseJson(raw);
  if (doc.ok() && doc->is_object()) {
    d.event = std::move(*doc);
    if (!d.event.contains("event_id") && !e.event_id.empty()) d.event["event_id"] = e.event_id;
  } else {
    d.raw = raw;
  }
  RecordDeadLetter(d);
}

// A line that is not an event this worker can run: `invalid` (kept raw), or a newer
// schema_version (`permanent`, kept whole for a newer worker).
void StdioQueue::RejectLine(const StdioEntry& e, DeadReason reason, const std::string& error,
                            const std::string& raw) {
  if (reason == DeadReason::kInvalid) ++invalid_;
  DeadLetter d;
  d.reason = reason;
  d.category = Category::kData;
  d.error = error;
  d.failed_at = options_.clock->WallNow();
  d.consumer = consumer_;
  d.line = e.line;
  if (reason != DeadReason::kInvalid) {
    if (Result<Json> whole = ParseJson(raw); whole.ok()) d.event = std::move(*whole);
  }
  if (d.event.is_null()) d.raw = raw;
  RecordDeadLetter(d);
  Json r;
  r["line"] = e.line;
  r["status"] = reason == DeadReason::kInvalid ? "invalid" : "failed";
  if (reason != DeadReason::kInvalid) r["reason"] = DeadReasonName(reason);
  r["error"] = error;
  WriteLine(Dump(r));
}

void StdioQueue::Interrupt(StdioEntry e) {
  if (e.event_id.empty()) {
    // Read but never started: what it is decides how it is recorded.
    EventDefaults defaults;
    defaults.max_event_bytes = options_.max_event_bytes;
    Result<Event> ev = e.rejected.empty() ? ParseEvent(e.raw, defaults)
                                          : Result<Event>(Status::InvalidArgument(e.rejected));
    if (!ev.ok()) {
      const DeadReason reason =
          IsNewerSchemaVersion(ev.status()) ? DeadReason::kPermanent : DeadReason::kInvalid;
      Log(LogLevel::kError, "line " + std::to_string(e.line) + ": " + ev.status().message());
      RejectLine(e, reason, ev.status().message(), e.raw);
      return;
    }
    e.event_id = ev->event_id();
    e.event_type = ev->event_type();
    e.key = ev->idempotency_key();
    e.raw = Serialize(*ev);
  }
  ++interrupted_;
  if (e.last_error.empty()) e.last_error = "worker stopped before the event finished";
  const DeadReason reason = DeadReason::kInterrupted;
  DeadLetterEntry(e, reason, e.raw);
  WriteResult(e, "interrupted", &reason);
}

// Lines read ahead but not handed out. From a regular file they are given back after a
// stop: the offset moves back to just after the last line taken, so that the next reader
// of the same file (`{ evt-work ...; evt-work ...; } < events.ndjson`) starts on a whole
// line. From a pipe they cannot be: they are ours, so they are recorded, never dropped.
void StdioQueue::InterruptReadAhead() {
  if (stopped_ && reader_.GiveBack()) return;
  Line line;
  while (reader_.HasBufferedLine() && reader_.Next(&line) == LineReader::State::kLine) {
    Interrupt(EntryOf(line));
  }
  std::string_view partial = reader_.Unconsumed();
  if (!partial.empty()) {
    DeadLetter d;
    d.reason = DeadReason::kInterrupted;
    d.error = "unfinished line when the worker stopped";
    d.failed_at = options_.clock->WallNow();
    d.consumer = consumer_;
    d.raw = std::string(partial);
    ++interrupted_;
    RecordDeadLetter(d);
  }
}

Status StdioQueue::EndRun(std::uint64_t* interrupted) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [id, e] : out_) Interrupt(std::move(e));
  out_.clear();
  for (auto& [due, e] : retries_) Interrupt(std::move(e));
  retries_.clear();
  for (StdioEntry& e : ready_) Interrupt(std::move(e));
  ready_.clear();
  for (auto& [key, waiting] : parked_) {
    for (StdioEntry& e : waiting) Interrupt(std::move(e));
  }
  parked_.clear();
  InterruptReadAhead();
  Flush();
  *interrupted += interrupted_;
  if (!io_status_.ok()) return io_status_;
  if (!input_status_.ok()) return input_status_;
  if (invalid_ > 0) {
    return Status::InvalidArgument(std::to_string(invalid_) + " input lines rejected");
  }
  return Status::Ok();
}

}  // namespace evt
