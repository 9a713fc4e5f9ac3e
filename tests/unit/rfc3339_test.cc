#include "evt/rfc3339.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>

namespace evt {
namespace {

constexpr UnixMillis k20260227T0455 = 1772168100000;  // 2026-02-27T04:55:00Z

UnixMillis ParseOk(const std::string& text) {
  Result<UnixMillis> r = ParseRfc3339(text);
  INFO(text << ": " << r.status().message());
  REQUIRE(r.ok());
  return *r;
}

std::string ParseError(const std::string& text) {
  Result<UnixMillis> r = ParseRfc3339(text);
  INFO(text);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().kind() == Status::Kind::kInvalidArgument);
  return r.status().message();
}

TEST_CASE("a UTC timestamp parses to milliseconds since the epoch", "[rfc3339]") {
  CHECK(ParseOk("2026-02-27T04:55:00Z") == k20260227T0455);
  CHECK(ParseOk("1970-01-01T00:00:00Z") == 0);
  CHECK(ParseOk("2026-02-27T04:55:00.000Z") == k20260227T0455);
}

TEST_CASE("lower-case t and z and a space separator are accepted", "[rfc3339]") {
  CHECK(ParseOk("2026-02-27t04:55:00z") == k20260227T0455);
  CHECK(ParseOk("2026-02-27 04:55:00Z") == k20260227T0455);
}

TEST_CASE("an offset timestamp is converted to UTC", "[rfc3339]") {
  CHECK(ParseOk("2026-02-27T10:25:00+05:30") == k20260227T0455);
  CHECK(ParseOk("2026-02-26T20:55:00-08:00") == k20260227T0455);
  CHECK(ParseOk("2026-02-27T04:55:00+00:00") == k20260227T0455);
  CHECK(ParseOk("2026-02-27T04:55:00-00:00") == k20260227T0455);
  // An offset that moves the date across a year boundary.
  CHECK(FormatRfc3339Millis(ParseOk("2027-01-01T01:00:00+02:00")) == "2026-12-31T23:00:00.000Z");
}

TEST_CASE("fractions of any length are truncated to milliseconds", "[rfc3339]") {
  CHECK(ParseOk("2026-02-27T04:55:00.1Z") == k20260227T0455 + 100);
  CHECK(ParseOk("2026-02-27T04:55:00.12Z") == k20260227T0455 + 120);
  CHECK(ParseOk("2026-02-27T04:55:00.123Z") == k20260227T0455 + 123);
  CHECK(ParseOk("2026-02-27T04:55:00.123999999Z") == k20260227T0455 + 123);
  CHECK(ParseOk("2026-02-27T04:55:00.9999999999999999999999999Z") == k20260227T0455 + 999);
}

TEST_CASE("leap days exist only in leap years", "[rfc3339]") {
  CHECK(ParseOk("2024-02-29T12:00:00Z") == 1709208000000);
  CHECK(ParseOk("2000-02-29T00:00:00Z") > 0);  // divisible by 400
  CHECK(ParseError("2023-02-29T12:00:00Z") ==
        "day 29 of February in a year that is not a leap year");
  CHECK(ParseError("1900-02-29T00:00:00Z") ==
        "day 29 of February in a year that is not a leap year");
  CHECK(ParseError("2024-02-30T00:00:00Z") == "day is out of range for the month");
}

TEST_CASE("days beyond the end of each month are rejected", "[rfc3339]") {
  CHECK(ParseOk("2026-01-31T00:00:00Z") > 0);
  CHECK(ParseError("2026-04-31T00:00:00Z") == "day is out of range for the month");
  CHECK(ParseError("2026-06-31T00:00:00Z") == "day is out of range for the month");
  CHECK(ParseError("2026-09-31T00:00:00Z") == "day is out of range for the month");
  CHECK(ParseError("2026-11-31T00:00:00Z") == "day is out of range for the month");
  CHECK(ParseError("2026-12-32T00:00:00Z") == "day is out of range for the month");
  CHECK(ParseError("2026-12-00T00:00:00Z") == "day is out of range for the month");
}

TEST_CASE("out of range fields are rejected with the part named", "[rfc3339]") {
  CHECK(ParseError("2026-13-01T00:00:00Z") == "month must be 01-12");
  CHECK(ParseError("2026-00-01T00:00:00Z") == "month must be 01-12");
  CHECK(ParseError("2026-02-27T24:00:00Z") == "hour must be 00-23");
  CHECK(ParseError("2026-02-27T04:60:00Z") == "minutes must be 00-59");
  CHECK(ParseError("2026-02-27T04:55:60Z") ==
        "seconds must be 00-59 (leap seconds are not supported)");
  CHECK(ParseError("2026-02-27T04:55:00+24:00") == "offset must be within -23:59 and +23:59");
  CHECK(ParseError("2026-02-27T04:55:00+05:60") == "offset must be within -23:59 and +23:59");
}

TEST_CASE("malformed timestamps are rejected", "[rfc3339]") {
  CHECK(ParseError("") == "expected a four-digit year at the start");
  CHECK(ParseError("26-02-27T04:55:00Z") == "expected a four-digit year at the start");
  CHECK(ParseError("2026/02/27T04:55:00Z") == "expected '-' after the year");
  CHECK(ParseError("2026-2-27T04:55:00Z") == "expected a two-digit month");
  CHECK(ParseError("2026-02-7T04:55:00Z") == "expected a two-digit day");
  CHECK(ParseError("2026-02-27") == "expected 'T' between the date and the time");
  CHECK(ParseError("2026-02-27X04:55:00Z") == "expected 'T' between the date and the time");
  CHECK(ParseError("2026-02-27T4:55:00Z") == "expected a two-digit hour");
  CHECK(ParseError("2026-02-27T04:55Z") == "expected ':' after the minutes");
  CHECK(ParseError("2026-02-27T04:55:0Z") == "expected two-digit seconds");
  CHECK(ParseError("2026-02-27T04:55:00.Z") == "expected digits after the decimal point");
  CHECK(ParseError("2026-02-27T04:55:00") ==
        "expected 'Z' or an offset such as +02:00 after the time");
  CHECK(ParseError("2026-02-27T04:55:00 Z") ==
        "expected 'Z' or an offset such as +02:00 after the time");
  CHECK(ParseError("2026-02-27T04:55:00+0530") == "expected the offset as +HH:MM or -HH:MM");
  CHECK(ParseError("2026-02-27T04:55:00+05") == "expected the offset as +HH:MM or -HH:MM");
  CHECK(ParseError("2026-02-27T04:55:00Zjunk") == "unexpected text after the offset");
  CHECK(ParseError("2026-02-27T04:55:00Z ") == "unexpected text after the offset");
  CHECK(ParseError(" 2026-02-27T04:55:00Z") == "expected a four-digit year at the start");
}

TEST_CASE("timestamps outside the years 0000-9999 in UTC are rejected", "[rfc3339]") {
  CHECK(ParseOk("0000-01-01T00:00:00Z") == -62167219200000);
  CHECK(ParseOk("9999-12-31T23:59:59.999Z") == 253402300799999);
  CHECK(ParseError("0000-01-01T00:00:00+00:01") ==
        "the time in UTC falls outside the years 0000-9999");
  CHECK(ParseError("9999-12-31T23:59:59-00:01") ==
        "the time in UTC falls outside the years 0000-9999");
}

TEST_CASE("times are written in UTC with milliseconds", "[rfc3339]") {
  CHECK(FormatRfc3339Millis(k20260227T0455) == "2026-02-27T04:55:00.000Z");
  CHECK(FormatRfc3339Millis(k20260227T0455 + 7) == "2026-02-27T04:55:00.007Z");
  CHECK(FormatRfc3339Millis(0) == "1970-01-01T00:00:00.000Z");
  CHECK(FormatRfc3339Millis(1709208000000) == "2024-02-29T12:00:00.000Z");
  CHECK(FormatRfc3339Millis(253402300799999) == "9999-12-31T23:59:59.999Z");
}

TEST_CASE("times before 1970 are written on the right day", "[rfc3339]") {
  CHECK(FormatRfc3339Millis(-1) == "1969-12-31T23:59:59.999Z");
  CHECK(FormatRfc3339Millis(-86400000) == "1969-12-31T00:00:00.000Z");
  CHECK(FormatRfc3339Millis(-62167219200000) == "0000-01-01T00:00:00.000Z");
}

TEST_CASE("times outside the years 0000-9999 are clamped when written", "[rfc3339]") {
  CHECK(FormatRfc3339Millis(-62167219200001) == "0000-01-01T00:00:00.000Z");
  CHECK(FormatRfc3339Millis(INT64_MIN) == "0000-01-01T00:00:00.000Z");
  CHECK(FormatRfc3339Millis(253402300800000) == "9999-12-31T23:59:59.999Z");
  CHECK(FormatRfc3339Millis(INT64_MAX) == "9999-12-31T23:59:59.999Z");
}

TEST_CASE("writing then parsing gives the same instant", "[rfc3339]") {
  for (UnixMillis ms :
       {UnixMillis{0}, UnixMillis{-1}, k20260227T0455 + 999, UnixMillis{951782400000},
        UnixMillis{-2208988800000}, UnixMillis{4102444799999}}) {
    CHECK(ParseOk(FormatRfc3339Millis(ms)) == ms);
  }
  // Every day of a leap year and of a common year.
  for (UnixMillis day = 1704067200000; day < 1767225600000; day += 86400000) {
    REQUIRE(ParseOk(FormatRfc3339Millis(day + 43200123)) == day + 43200123);
  }
}

TEST_CASE("now is the current wall-clock time", "[rfc3339]") {
  const UnixMillis now = NowUnixMillis();
  CHECK(now > 1700000000000);  // after 2023-11
  CHECK(NowUnixMillis() >= now);
}

}  // namespace
}  // namespace evt
