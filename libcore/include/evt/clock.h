// Time, as the worker loops see it: a small seam so that backoff, grace and lease timing
// can be tested with a fake clock (tests/support/fake_clock.h) instead of by sleeping.
#pragma once

#include <chrono>
#include <cstdint>

#include "evt/duration.h"
#include "evt/rfc3339.h"

namespace evt {

class Clock {
 public:
  virtual ~Clock() = default;

  // Monotonic time: for deadlines and intervals. Never goes back.
  virtual std::chrono::steady_clock::time_point SteadyNow() const = 0;
  // Wall-clock time, Unix milliseconds: for due times and records others read.
  virtual UnixMillis WallNow() const = 0;
  // Blocks the calling thread for `d` (a fake clock may return at once).
  virtual void SleepFor(Millis d) = 0;

  // SteadyNow() in whole milliseconds since the clock's origin.
  std::int64_t SteadyMillis() const {
    return std::chrono::duration_cast<Millis>(SteadyNow().time_since_epoch()).count();
  }
};

// The system's clocks (std::chrono::steady_clock, system_clock). Thread-safe; lives for
// the whole program.
Clock& RealClock();

}  // namespace evt
