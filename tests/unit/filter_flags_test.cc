#include <catch2/catch.hpp>

#include "evt/dlq.h"

TEST_CASE("filters: --since and --until read RFC 3339 times or durations ago", "[admin]") {
  evt::FilterFlags flags;
  flags.since = "4h";
  flags.until = "2026-02-27T04:55:00Z";
  const evt::UnixMillis now = 1772168100000 + 3 * 3600 * 1000;
  evt::Result<evt::RecordFilter> f = evt::MakeFilter(flags, now);
  REQUIRE(f.ok());
  CHECK(*f->since == now - 4 * 3600 * 1000);
  CHECK(*f->until == 1772168100000);
  CHECK_FALSE(f->empty());
}

TEST_CASE("bad filter flags are usage errors that name the flag", "[admin]") {
  evt::FilterFlags flags;
  flags.since = "yesterday";
  CHECK_THAT(evt::MakeFilter(flags, 0).status().message(), Catch::Contains("--since"));
  CHECK(evt::MakeFilter(flags, 0).status().kind() == evt::Status::Kind::kUsage);
  flags = {};
  flags.category = "dependancy";
  CHECK_THAT(evt::MakeFilter(flags, 0).status().message(),
             Catch::Contains("--category: unknown value \"dependancy\" (one of data"));
  flags = {};
  flags.reason = "gone";
  CHECK_THAT(evt::MakeFilter(flags, 0).status().message(), Catch::Contains("retries_exhausted"));
  flags = {};
  flags.since = "1h";
  flags.until = "2h";
  CHECK_THAT(evt::MakeFilter(flags, 10'000'000).status().message(),
             Catch::Contains("is not before --until"));
}

TEST_CASE("DescribeFilter reads back as shell words", "[admin]") {
  evt::FilterFlags flags;
  CHECK(evt::DescribeFilter(flags) == "(none)");
  flags.type = "billing.*";
  flags.since = "2h";
  flags.limit = 5;
  flags.ids = {"it's"};
  CHECK(evt::DescribeFilter(flags) == "--type 'billing.*' --since 2h --limit 5 --id 'it'\\''s'");
}

TEST_CASE("CurrentUser names someone", "[admin]") { CHECK_FALSE(evt::CurrentUser().empty()); }
