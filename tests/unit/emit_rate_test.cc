#include <catch2/catch.hpp>
#include <vector>

#include "evt/emit.h"
#include "fake_clock.h"

namespace {

evt::Event MakeOne(int n) {
  return *evt::MakeEvent(evt::Json{{"event_type", "load.test"}, {"payload", {{"n", n}}}});
}

struct Seen {
  std::int64_t at_ms;
  bool more;
};

}  // namespace

TEST_CASE("pacing: --rate paces the events of --stdin and tells the sink when a pause comes",
          "[emit][rate]") {
  evt::testing::FakeClock clock;
  evt::EmitOptions o;
  o.from_stdin = true;
  o.rate = 10;
  o.burst = 3;
  std::vector<Seen> seen;
  const auto start = clock.SteadyMillis();
  evt::EventSink paced = evt::PacedSink(
      o,
      [&](evt::Event, std::uint64_t, bool more) {
        seen.push_back({clock.SteadyMillis() - start, more});
        return evt::Status::Ok();
      },
      clock);
  for (int i = 1; i <= 6; ++i) REQUIRE(paced(MakeOne(i), i, /*more_ready=*/true).ok());
  REQUIRE(seen.size() == 6);
  // A burst of three at once, then one every 100 ms.
  CHECK(seen[0].at_ms == 0);
  CHECK(seen[2].at_ms == 0);
  CHECK(seen[3].at_ms == 100);
  CHECK(seen[5].at_ms == 300);
  // The sink may hold the first two (more follow at once), but must flush before a pause.
  CHECK(seen[0].more);
  CHECK(seen[1].more);
  CHECK_FALSE(seen[2].more);
  CHECK_FALSE(seen[4].more);
}

TEST_CASE("without --rate the sink is unchanged", "[emit][rate]") {
  evt::EmitOptions o;
  int calls = 0;
  evt::EventSink sink = evt::PacedSink(o, [&](evt::Event, std::uint64_t, bool more) {
    ++calls;
    CHECK(more);
    return evt::Status::Ok();
  });
  REQUIRE(sink(MakeOne(1), 1, true).ok());
  CHECK(calls == 1);
}

TEST_CASE("pacing: --rate and --burst are checked", "[emit][rate]") {
  evt::EmitOptions o;
  CHECK(evt::ValidateEmitRate(o).ok());
  o.rate = 5;
  CHECK(evt::ValidateEmitRate(o).kind() == evt::Status::Kind::kUsage);  // not --stdin
  o.from_stdin = true;
  CHECK(evt::ValidateEmitRate(o).ok());
  o.burst = 0;
  CHECK(evt::ValidateEmitRate(o).kind() == evt::Status::Kind::kUsage);
  o.burst = 10;
  o.rate = 0;
  CHECK_THAT(evt::ValidateEmitRate(o).message(), Catch::Contains("--burst needs --rate"));
}
