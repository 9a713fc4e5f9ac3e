#include "base/fd.h"

#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <utility>

namespace {
bool IsOpen(int fd) { return ::fcntl(fd, F_GETFD) != -1; }
}  // namespace

TEST_CASE("an Fd closes what it holds when it goes, and not after a move or Release", "[fd]") {
  evt::Fd r, w;
  REQUIRE(evt::MakePipe(&r, &w));
  const int rfd = r.get(), wfd = w.get();
  CHECK((::fcntl(rfd, F_GETFD) & FD_CLOEXEC) != 0);  // close-on-exec from birth
  {
    evt::Fd moved(std::move(w));
    CHECK_FALSE(w.valid());
    CHECK(moved.get() == wfd);
  }
  CHECK_FALSE(IsOpen(wfd));
  const int released = r.Release();
  CHECK(released == rfd);
  CHECK_FALSE(r.valid());
  CHECK(IsOpen(rfd));
  ::close(rfd);
}

TEST_CASE("SetNonBlocking sets O_NONBLOCK", "[fd]") {
  evt::Fd r, w;
  REQUIRE(evt::MakePipe(&r, &w));
  REQUIRE(evt::SetNonBlocking(r.get()));
  CHECK((::fcntl(r.get(), F_GETFL) & O_NONBLOCK) != 0);
  CHECK((::fcntl(w.get(), F_GETFL) & O_NONBLOCK) == 0);
}
