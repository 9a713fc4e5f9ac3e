#include "evt/exit_code.h"

#include <catch2/catch.hpp>

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
