// The stdio transport as a Queue (queue.h): events are NDJSON lines read from a file
// descriptor, one result line per event is written to another, dead letters go to a
// DeadLetterSink. Nothing outlives the run: leases are a table in memory, retries wait in
// memory until due, and what is not finished when the run ends is dead-lettered as
// `interrupted` (EndRun).
//
// Result lines, in completion order (evt-work(1)):
//   {"event_id","event_type","idempotency_key","status","attempts","duration_ms"
//    [,"reason","error","category"]}
// status: done | failed | duplicate | interrupted; for an invalid line:
//   {"line":N,"status":"invalid","error":"..."} (a newer schema_version: "status":"failed",
//   "reason":"permanent").
// An idempotency key that succeeded is not run again in the same run (StartAttempt says
// kAlreadyDone: `duplicate`); an event whose key is in flight waits for that outcome
// (kBusy, then Defer parks it until the key is released).
// Lines are read only when a thread asks for work (Receive). When the run ends after a
// stop, lines read ahead of a regular file but not handed out are given back: the file
// offset is left just after the last line taken (LineReader::GiveBack); from a pipe they
// are dead-lettered as `interrupted`.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "evt/clock.h"
#include "evt/dead_letter.h"
#include "evt/event.h"
#include "evt/queue.h"

namespace evt {

struct StdioQueueOptions {
  std::size_t max_event_bytes = kDefaultMaxEventBytes;  // longer lines are invalid
  std::string consumer;         // in dead letters; empty = DefaultConsumerName()
  Clock* clock = &RealClock();  // due times of retries, failed_at; not owned
};

// The stdio queue of `in_fd` (events) and `out_fd` (results); neither is owned or closed.
// `dlq` must outlive the queue. Thread-safe, as every Queue.
std::unique_ptr<Queue> OpenStdioQueue(int in_fd, int out_fd, DeadLetterSink& dlq,
                                      const StdioQueueOptions& options);

}  // namespace evt
