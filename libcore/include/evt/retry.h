// The retry policy: how long to wait before the next attempt, and when to stop.
#pragma once

#include <cstdint>
#include <random>

#include "evt/duration.h"

namespace evt {

struct RetryPolicy {
  Millis backoff_base{1000};  // delay before the first retry, before jitter
  Millis backoff_max{60000};  // cap on the delay before jitter
  double jitter = 0.5;        // extra delay, uniform in [0, jitter * delay]
  int max_retries = 5;        // retries after the first attempt; 0 = never retry
};

// Validates a policy: non-negative durations, max >= base, 0 <= jitter <= 10,
// 0 <= max_retries <= 1000. Returns Usage naming the option on failure.
Status ValidateRetryPolicy(const RetryPolicy& policy);

// The delay before retry number `retry` (0 for the first retry):
//   d = min(base * 2^retry, max);  d + uniform(0, jitter * d)
// Never overflows, whatever `retry` is.
Millis BackoffDelay(const RetryPolicy& policy, int retry, std::mt19937_64& rng);

// True when an event that has failed transiently `attempts` times may run again.
inline bool ShouldRetry(const RetryPolicy& policy, int attempts) {
  return attempts <= policy.max_retries;
}

}  // namespace evt
