#include "evt/duration.h"

#include <catch2/catch.hpp>

using evt::Millis;
using evt::ParseDuration;

TEST_CASE("durations read the units operators write", "[duration]") {
  CHECK(*ParseDuration("250ms") == Millis(250));
  CHECK(*ParseDuration("90s") == Millis(90'000));
  CHECK(*ParseDuration("5m") == Millis(300'000));
  CHECK(*ParseDuration("2h") == Millis(7'200'000));
  CHECK(*ParseDuration("7d") == Millis(604'800'000));
  CHECK(*ParseDuration("0") == Millis(0));
}

TEST_CASE("durations accept fractions and compound forms", "[duration]") {
  CHECK(*ParseDuration("1.5s") == Millis(1500));
  CHECK(*ParseDuration("1m30s") == Millis(90'000));
  CHECK(*ParseDuration("1h30m15s250ms") == Millis(5'415'250));
}

TEST_CASE("a duration without a unit, with an unknown unit, or negative is rejected",
          "[duration]") {
  auto bad = [](const char* text) {
    auto r = ParseDuration(text);
    REQUIRE_FALSE(r.ok());
    return r.status().message();
  };
  CHECK_THAT(bad("90"), Catch::Contains("a number needs a unit"));
  CHECK_THAT(bad("5y"), Catch::Contains("unknown unit"));
  CHECK_THAT(bad("-5s"), Catch::Contains("expected a number"));
  CHECK_THAT(bad(""), Catch::Contains("empty"));
  CHECK_THAT(bad("s"), Catch::Contains("expected a number"));
  CHECK_THAT(bad("99999999999999d"), Catch::Contains("too large"));
  CHECK_THAT(bad("5 s"), Catch::Contains("invalid duration \"5 s\""));
}

TEST_CASE("durations are formatted in their largest exact unit", "[duration]") {
  CHECK(evt::FormatDuration(Millis(0)) == "0s");
  CHECK(evt::FormatDuration(Millis(250)) == "250ms");
  CHECK(evt::FormatDuration(Millis(90'000)) == "90s");
  CHECK(evt::FormatDuration(Millis(300'000)) == "5m");
  CHECK(evt::FormatDuration(Millis(604'800'000)) == "7d");
  CHECK(evt::FormatDuration(Millis(1500)) == "1500ms");
}
