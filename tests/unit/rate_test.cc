#include "evt/rate.h"

#include <catch2/catch.hpp>

#include "fake_clock.h"

using evt::Millis;

TEST_CASE("a rate reads N/s, N/m, N/h or a plain N per second", "[rate]") {
  CHECK(*evt::ParseRate("100/s") == Approx(100));
  CHECK(*evt::ParseRate("600/m") == Approx(10));
  CHECK(*evt::ParseRate("3600/h") == Approx(1));
  CHECK(*evt::ParseRate("5") == Approx(5));
  CHECK(*evt::ParseRate("0.5/s") == Approx(0.5));
  for (const char* bad : {"", "0", "-3/s", "abc", "10/d", "10/", "/s", "1e400", "nan"}) {
    INFO(bad);
    evt::Result<double> r = evt::ParseRate(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().kind() == evt::Status::Kind::kInvalidArgument);
  }
  CHECK_THAT(evt::ParseRate("10/d").status().message(), Catch::Contains("10/d"));
}

TEST_CASE("a full bucket lets a burst through, then paces at the rate", "[rate]") {
  evt::testing::FakeClock clock;
  evt::TokenBucket bucket(clock, 10, 3);
  CHECK(bucket.Take() == Millis(0));
  CHECK(bucket.Take() == Millis(0));
  CHECK_FALSE(bucket.Empty());
  CHECK(bucket.Take() == Millis(0));
  CHECK(bucket.Empty());
  CHECK(bucket.Take() == Millis(100));  // one token of debt: 100 ms at 10/s
  CHECK(bucket.Take() == Millis(200));  // waits add up
  clock.Advance(Millis(200));
  CHECK(bucket.Take() == Millis(100));
}

TEST_CASE("an idle bucket refills only up to its burst", "[rate]") {
  evt::testing::FakeClock clock;
  evt::TokenBucket bucket(clock, 10, 2);
  CHECK(bucket.Take() == Millis(0));
  CHECK(bucket.Take() == Millis(0));
  clock.Advance(Millis(60000));
  CHECK(bucket.Take() == Millis(0));
  CHECK(bucket.Take() == Millis(0));
  CHECK(bucket.Take() == Millis(100));
}

TEST_CASE("Acquire keeps the long-run rate exact, also above 1000/s", "[rate]") {
  for (double rate : {2.0, 50.0, 5000.0}) {
    INFO(rate);
    evt::testing::FakeClock clock;
    evt::TokenBucket bucket(clock, rate, 1);
    const auto start = clock.SteadyMillis();
    const int n = static_cast<int>(rate * 10) + 1;  // the first goes at once
    for (int i = 0; i < n; ++i) REQUIRE(bucket.Acquire());
    // Ten seconds of tokens, give or take the last millisecond of rounding.
    CHECK(clock.SteadyMillis() - start >= 9999);
    CHECK(clock.SteadyMillis() - start <= 10001);
  }
}

TEST_CASE("Acquire sleeps in short slices and gives up when told to stop", "[rate]") {
  evt::testing::FakeClock clock;
  evt::TokenBucket bucket(clock, 0.1, 1);  // one every 10 s
  REQUIRE(bucket.Acquire());
  const auto start = clock.SteadyMillis();
  int checks = 0;
  CHECK_FALSE(bucket.Acquire([&] { return ++checks > 3; }));
  CHECK(clock.SteadyMillis() - start <= 3 * 200);  // never slept more than 200 ms at a time
}
