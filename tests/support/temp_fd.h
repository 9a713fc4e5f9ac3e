// File descriptors with known contents for tests: memfd-backed, read from the start.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>

namespace evt::testing {

// A new descriptor holding `content`, positioned at its start. The caller closes it.
inline int FdWith(const std::string& content, const char* name = "evt_test") {
  int fd = ::memfd_create(name, MFD_CLOEXEC);
  REQUIRE(fd >= 0);
  REQUIRE(::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()));
  REQUIRE(::lseek(fd, 0, SEEK_SET) == 0);
  return fd;
}

// Everything in `fd`, from its start.
inline std::string ReadFd(int fd) {
  REQUIRE(::lseek(fd, 0, SEEK_SET) == 0);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  return out;
}

}  // namespace evt::testing
