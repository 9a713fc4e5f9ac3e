// The test fixture itself: a test process that dies (an abort, a sanitizer report, CTest's
// timeout kill) while its redis-server runs must neither keep CTest waiting for the end of
// its output nor leave the server running. Before the fix, the server inherited the test's
// stdout and stderr and outlived it: CTest then waited for the pipe until its own timeout,
// which is how one failed assertion turned into a hung suite.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <sstream>
#include <string>
#include <thread>

#include "redis_server.h"

namespace {

using Clock = std::chrono::steady_clock;

// Reads `fd` until end of file or until `within` has passed; true on end of file.
bool ReadsToEof(int fd, std::chrono::milliseconds within, std::string* got) {
  const auto until = Clock::now() + within;
  while (Clock::now() < until) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
    pollfd p{fd, POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(left.count()) + 1);
    if (n <= 0) continue;
    char buf[512];
    ssize_t r = ::read(fd, buf, sizeof buf);
    if (r == 0) return true;
    if (r > 0) got->append(buf, static_cast<std::size_t>(r));
  }
  return false;
}

bool Answers(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

TEST_CASE(
    "a test that dies with a live redis-server neither holds its output nor leaves the "
    "server running",
    "[fixture]") {
  int out[2], info[2];
  REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
  REQUIRE(::pipe2(info, O_CLOEXEC) == 0);
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // The "test process": its stdout and stderr are a pipe, as under CTest. It starts a
    // server, reports it, and is killed the way CTest's timeout kills.
    ::dup2(out[1], 1);
    ::dup2(out[1], 2);
    try {
      evt::testing::RedisServer server;
      std::string line = std::to_string(server.port()) + " " + std::to_string(server.pid()) + " " +
                         server.dir() + "\n";
      [[maybe_unused]] ssize_t w = ::write(info[1], line.data(), line.size());
      ::kill(::getpid(), SIGKILL);
    } catch (...) {
    }
    ::_exit(2);
  }
  ::close(out[1]);
  ::close(info[1]);
  std::string reported;
  REQUIRE(ReadsToEof(info[0], std::chrono::seconds(20), &reported));
  ::close(info[0]);
  int port = 0, server_pid = 0;
  std::string dir;
  std::istringstream(reported) >> port >> server_pid >> dir;
  REQUIRE(port > 0);
  REQUIRE(server_pid > 0);

  std::string output;
  const bool eof = ReadsToEof(out[0], std::chrono::seconds(5), &output);
  ::close(out[0]);
  int status = 0;
  ::waitpid(child, &status, 0);  // bounded: the child killed itself
  CHECK(WIFSIGNALED(status));
  CHECK(eof);  // nobody holds the test's output open

  bool gone = false;
  for (auto until = Clock::now() + std::chrono::seconds(5); Clock::now() < until;) {
    if (!Answers(port)) {
      gone = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(gone);  // the server died with its test

  // Clean up whatever the old behaviour left behind.
  if (!gone) ::kill(server_pid, SIGKILL);
  if (dir.rfind("/tmp/evt-redis.", 0) == 0) {
    [[maybe_unused]] int rc = std::system(("rm -rf '" + dir + "'").c_str());
  }
}

TEST_CASE("RedisServer::Start refuses to run off the test's thread", "[fixture]") {
  evt::testing::RedisServer server;
  server.Stop();
  std::string error;
  std::thread other([&] {
    try {
      server.Start();
    } catch (const std::logic_error& e) {
      error = e.what();
    }
  });
  other.join();
  CHECK(error == "RedisServer::Start must run on the test's main thread");
  server.Start();  // and on it, it starts again
  CHECK(server.Cli("PING") == "PONG");
}
