// evt-emit --stdin --rate N/s [--burst N]: the pacing shared with evt-replay (rate.h).
#include <memory>

#include "evt/emit.h"
#include "evt/rate.h"
#include "evt/signals.h"

namespace evt {

Status ValidateEmitRate(const EmitOptions& o) {
  if (o.rate < 0) return Status::Usage("--rate: must be above 0");
  if (o.rate > 0 && !o.from_stdin) {
    return Status::Usage("--rate paces --stdin: one event from flags needs no pacing");
  }
  if (o.burst < 1) return Status::Usage("--burst: must be at least 1");
  if (o.burst > 1 && o.rate == 0) return Status::Usage("--burst needs --rate");
  return Status::Ok();
}

EventSink PacedSink(const EmitOptions& o, EventSink sink, Clock& clock) {
  if (o.rate <= 0) return sink;
  auto bucket = std::make_shared<TokenBucket>(clock, o.rate, o.burst);
  return [bucket, sink = std::move(sink)](Event ev, std::uint64_t line, bool more) {
    if (!bucket->Acquire(StopRequested)) {
      return Status::TryAgain("stopped by a signal while pacing --rate; the events before line " +
                              std::to_string(line) + " were written");
    }
    return sink(std::move(ev), line, more && !bucket->Empty());
  };
}

}  // namespace evt
