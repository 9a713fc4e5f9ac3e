// Pacing: a token bucket shared by `evt-emit --rate` and `evt-replay --rate`, so a bulk
// emit, a load test and a replay all keep the same promise: on average at most N writes a
// second, with at most `burst` at once after an idle spell.
#pragma once

#include <chrono>
#include <functional>
#include <string_view>

#include "evt/clock.h"
#include "evt/duration.h"
#include "evt/status.h"

namespace evt {

// Parses "N/s", "N/m", "N/h" or a plain "N" (per second); N may have a fraction ("0.5/s").
// Returns events per second. InvalidArgument naming the text for zero, negative or
// malformed rates.
Result<double> ParseRate(std::string_view text);

// A token bucket on a Clock (clock.h). It starts full; tokens come back at `rate` per
// second up to `burst`. Take() may leave the bucket in debt, so that waits add up and the
// long-run rate is exact even when each wait is shorter than the clock's resolution.
// Not thread-safe.
class TokenBucket {
 public:
  // REQUIRES: rate_per_second > 0, burst >= 1. `clock` outlives the bucket.
  TokenBucket(Clock& clock, double rate_per_second, double burst);

  // Takes one token. Returns how long the caller must wait before acting: zero when a
  // token was there (or the debt is below a millisecond; the bucket keeps the rest).
  Millis Take();

  // Takes one token and sleeps (Clock::SleepFor) until it is due, in slices of at most
  // 200 ms; returns false as soon as `stop` (when given) returns true, true once due.
  bool Acquire(const std::function<bool()>& stop = {});

  // True when the next Take() would have to wait: a good moment for the caller to flush
  // what it holds before it sleeps.
  bool Empty() const;

  double rate() const { return rate_; }

 private:
  void Refill() const;

  Clock& clock_;
  double rate_;
  double burst_;
  mutable double tokens_;
  mutable std::chrono::steady_clock::time_point last_;
};

}  // namespace evt
