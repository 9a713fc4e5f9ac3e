#include "evt/retry.h"

#include <algorithm>

namespace evt {

Status ValidateRetryPolicy(const RetryPolicy& p) {
  if (p.backoff_base.count() < 0) return Status::Usage("--backoff-base must not be negative");
  if (p.backoff_max < p.backoff_base) {
    return Status::Usage("--backoff-max (" + FormatDuration(p.backoff_max) +
                         ") must be at least --backoff-base (" + FormatDuration(p.backoff_base) +
                         ")");
  }
  if (!(p.jitter >= 0 && p.jitter <= 10)) return Status::Usage("--jitter must be between 0 and 10");
  if (p.max_retries < 0 || p.max_retries > 1000) {
    return Status::Usage("--max-retries must be between 0 and 1000");
  }
  return Status::Ok();
}

Millis BackoffDelay(const RetryPolicy& p, int retry, std::mt19937_64& rng) {
  // Doubling stops as soon as the cap is reached, so a large `retry` cannot overflow.
  std::int64_t d = p.backoff_base.count();
  const std::int64_t cap = p.backoff_max.count();
  for (int i = 0; i < retry && d < cap; ++i) d = (d > cap / 2) ? cap : d * 2;
  d = std::min(d, cap);
  if (p.jitter > 0 && d > 0) {
    std::uniform_real_distribution<double> extra(0.0, p.jitter * static_cast<double>(d));
    d += static_cast<std::int64_t>(extra(rng));
  }
  return Millis(d);
}

}  // namespace evt
