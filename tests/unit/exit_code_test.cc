#include "evt/exit_code.h"

#include <catch2/catch.hpp>
#include <cstdint>

#include "evt/worker.h"

using evt::Status;

TEST_CASE("each status kind maps to its sysexits code", "[exit_code]") {
  CHECK(evt::ExitCodeFor(Status::Ok()) == 0);
  CHECK(evt::ExitCodeFor(Status::Usage("x")) == 64);
  CHECK(evt::ExitCodeFor(Status::InvalidArgument("x")) == 65);
  CHECK(evt::ExitCodeFor(Status::NotFound("x")) == 66);
  CHECK(evt::ExitCodeFor(Status::Unavailable("x")) == 69);
  CHECK(evt::ExitCodeFor(Status::Internal("x")) == 70);
  CHECK(evt::ExitCodeFor(Status::IOError("x")) == 74);
  CHECK(evt::ExitCodeFor(Status::TryAgain("x")) == 75);
  CHECK(evt::ExitCodeFor(Status::Timeout("x")) == 75);
  CHECK(evt::ExitCodeFor(Status::Config("x")) == 78);
}

namespace {

evt::WorkerStats Stats(std::uint64_t done, std::uint64_t failed, std::uint64_t invalid,
                       std::uint64_t interrupted, std::uint64_t duplicate = 0) {
  evt::WorkerStats s;
  s.events = done + failed + interrupted + duplicate;
  s.done = done;
  s.failed = failed;
  s.invalid = invalid;
  s.interrupted = interrupted;
  s.duplicate = duplicate;
  return s;
}

}  // namespace

TEST_CASE("a stdio run exits 0 only when every event is done or a duplicate", "[exit_code]") {
  CHECK(evt::ExitCodeForStdioRun(Status::Ok(), Stats(0, 0, 0, 0)) == 0);  // empty input
  CHECK(evt::ExitCodeForStdioRun(Status::Ok(), Stats(5, 0, 0, 0, 2)) == 0);
  // As xargs: some events failed (dead letters), or a stop interrupted them.
  CHECK(evt::ExitCodeForStdioRun(Status::Ok(), Stats(4, 1, 0, 0)) == 123);
  CHECK(evt::ExitCodeForStdioRun(Status::Ok(), Stats(0, 3, 0, 0)) == 123);
  CHECK(evt::ExitCodeForStdioRun(Status::Ok(), Stats(4, 0, 0, 1)) == 123);
  CHECK(evt::ExitCodeForStdioRun(Status::Ok(), Stats(4, 0, 0, 1)) == evt::kExitSomeFailed);
}

TEST_CASE("a stdio run's exit: I/O error, then invalid input, then failed events", "[exit_code]") {
  Status rejected = Status::InvalidArgument("2 input lines rejected");
  CHECK(evt::ExitCodeForStdioRun(rejected, Stats(3, 0, 2, 0)) == 65);
  CHECK(evt::ExitCodeForStdioRun(rejected, Stats(3, 1, 2, 1)) == 65);
  Status io = Status::IOError("cannot write results to stdout");
  CHECK(evt::ExitCodeForStdioRun(io, Stats(3, 0, 0, 0)) == 74);
  CHECK(evt::ExitCodeForStdioRun(io, Stats(3, 1, 2, 1)) == 74);
  // The counts alone say invalid even if the status did not.
  CHECK(evt::ExitCodeForStdioRun(Status::Ok(), Stats(3, 1, 1, 0)) == 65);
}

TEST_CASE("the statuses of a run are apart from the usage and configuration codes", "[exit_code]") {
  for (const Status& s : {Status::Usage("x"), Status::InvalidArgument("x"), Status::NotFound("x"),
                          Status::Unavailable("x"), Status::Internal("x"), Status::IOError("x"),
                          Status::TryAgain("x"), Status::Timeout("x"), Status::Config("x")}) {
    CHECK(evt::ExitCodeFor(s) != evt::kExitSomeFailed);
  }
  CHECK(evt::kExitSomeFailed == 123);
}
