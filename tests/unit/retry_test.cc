#include "evt/retry.h"

#include <catch2/catch.hpp>

using evt::Millis;
using evt::RetryPolicy;

TEST_CASE("without jitter the backoff doubles from the base up to the cap", "[retry]") {
  RetryPolicy p;
  p.backoff_base = Millis(1000);
  p.backoff_max = Millis(60'000);
  p.jitter = 0;
  std::mt19937_64 rng(1);
  CHECK(evt::BackoffDelay(p, 0, rng) == Millis(1000));
  CHECK(evt::BackoffDelay(p, 1, rng) == Millis(2000));
  CHECK(evt::BackoffDelay(p, 5, rng) == Millis(32'000));
  CHECK(evt::BackoffDelay(p, 6, rng) == Millis(60'000));
  CHECK(evt::BackoffDelay(p, 1000, rng) == Millis(60'000));  // no overflow
  CHECK(evt::BackoffDelay(p, 2'000'000'000, rng) == Millis(60'000));
}

TEST_CASE("jitter adds between 0 and jitter times the delay, and is seedable", "[retry]") {
  RetryPolicy p;
  p.backoff_base = Millis(1000);
  p.backoff_max = Millis(60'000);
  p.jitter = 0.5;
  std::mt19937_64 rng(42);
  std::int64_t lo = 1 << 30, hi = 0;
  for (int i = 0; i < 2000; ++i) {
    std::int64_t d = evt::BackoffDelay(p, 2, rng).count();  // base delay 4000
    REQUIRE(d >= 4000);
    REQUIRE(d <= 6000);
    lo = std::min(lo, d);
    hi = std::max(hi, d);
  }
  // Spread over the range, not stuck at one end.
  CHECK(lo < 4200);
  CHECK(hi > 5800);
  std::mt19937_64 a(7), b(7);
  CHECK(evt::BackoffDelay(p, 3, a) == evt::BackoffDelay(p, 3, b));
}

TEST_CASE("the capped delay still gets its jitter", "[retry]") {
  RetryPolicy p;
  p.backoff_base = Millis(1000);
  p.backoff_max = Millis(10'000);
  p.jitter = 1.0;
  std::mt19937_64 rng(3);
  for (int i = 0; i < 200; ++i) {
    auto d = evt::BackoffDelay(p, 30, rng).count();
    REQUIRE(d >= 10'000);
    REQUIRE(d <= 20'000);
  }
}

TEST_CASE("max_retries bounds the attempts", "[retry]") {
  RetryPolicy p;
  p.max_retries = 2;
  CHECK(evt::ShouldRetry(p, 1));
  CHECK(evt::ShouldRetry(p, 2));
  CHECK_FALSE(evt::ShouldRetry(p, 3));
  p.max_retries = 0;
  CHECK_FALSE(evt::ShouldRetry(p, 1));
}

TEST_CASE("an inconsistent retry policy is a usage error naming the option", "[retry]") {
  RetryPolicy p;
  CHECK(evt::ValidateRetryPolicy(p).ok());
  p.backoff_max = Millis(10);
  CHECK_THAT(evt::ValidateRetryPolicy(p).message(), Catch::Contains("--backoff-max"));
  p = RetryPolicy{};
  p.jitter = -1;
  CHECK_THAT(evt::ValidateRetryPolicy(p).message(), Catch::Contains("--jitter"));
  p = RetryPolicy{};
  p.max_retries = -1;
  CHECK(evt::ValidateRetryPolicy(p).kind() == evt::Status::Kind::kUsage);
}
