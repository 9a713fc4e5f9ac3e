// sd_notify without libsystemd: the test makes the NOTIFY_SOCKET (AF_UNIX datagrams, a
// path or an abstract name), drives the notifier through observer calls and reads what
// arrived. Watchdog pace on a fake clock.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "base/fd.h"
#include "evt/ops.h"
#include "fake_clock.h"
#include "ops/health.h"
#include "ops/sd_notify.h"
#include "temp_dir.h"

namespace evt {
namespace {

// The service manager's end: a bound datagram socket the test reads.
class Manager {
 public:
  // `address`: a path, or "@name" for an abstract socket.
  explicit Manager(const std::string& address) {
    fd_.Reset(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    REQUIRE(fd_.valid());
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    REQUIRE(address.size() < sizeof a.sun_path);
    std::memcpy(a.sun_path, address.data(), address.size());
    if (address[0] == '@') a.sun_path[0] = '\0';
    auto size = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address.size());
    REQUIRE(bind(fd_.get(), reinterpret_cast<sockaddr*>(&a), size) == 0);
  }
  // Every datagram that arrived, waiting up to `wait` for the first.
  std::vector<std::string> Read(int wait_ms = 0) {
    std::vector<std::string> out;
    pollfd p{fd_.get(), POLLIN, 0};
    while (poll(&p, 1, out.empty() ? wait_ms : 0) == 1) {
      char buf[4096];
      ssize_t n = recv(fd_.get(), buf, sizeof buf, 0);
      REQUIRE(n >= 0);
      out.emplace_back(buf, static_cast<std::size_t>(n));
    }
    return out;
  }

 private:
  Fd fd_;
};

int Count(const std::vector<std::string>& messages, const std::string& m) {
  int n = 0;
  for (const auto& s : messages) n += s == m ? 1 : 0;
  return n;
}

std::string AbstractName() { return "@evt-test-notify-" + std::to_string(getpid()); }

TEST_CASE("NOTIFY_SOCKET addresses: a path or an abstract @name") {
  testing::TempDir dir;
  const std::string path = dir / "notify";
  for (const std::string& address : {path, AbstractName()}) {
    INFO(address);
    Manager manager(address);
    Result<std::unique_ptr<NotifySocket>> s = NotifySocket::Open(address);
    REQUIRE(s.ok());
    REQUIRE((*s)->Send("READY=1").ok());
    CHECK(manager.Read(2000) == std::vector<std::string>{"READY=1"});
  }
  CHECK_FALSE(NotifySocket::Open("").ok());
  CHECK_FALSE(NotifySocket::Open("relative/path").ok());
  CHECK_FALSE(NotifySocket::Open("@").ok());
  CHECK_FALSE(NotifySocket::Open("/" + std::string(200, 'x')).ok());
  Result<std::unique_ptr<NotifySocket>> gone = NotifySocket::Open(dir / "nobody");
  REQUIRE(gone.ok());
  CHECK((*gone)->Send("READY=1").kind() == Status::Kind::kIOError);
}

TEST_CASE("WATCHDOG_USEC is read when WATCHDOG_PID is unset or ours") {
  CHECK(WatchdogInterval(nullptr, nullptr, 42) == Millis(0));
  CHECK(WatchdogInterval("", nullptr, 42) == Millis(0));
  CHECK(WatchdogInterval("30000000", nullptr, 42) == Millis(30000));
  CHECK(WatchdogInterval("30000000", "42", 42) == Millis(30000));
  CHECK(WatchdogInterval("30000000", "43", 42) == Millis(0));
  CHECK(WatchdogInterval("abc", nullptr, 42) == Millis(0));
  CHECK(WatchdogInterval("-5", nullptr, 42) == Millis(0));
}

TEST_CASE("READY=1 on OnReady, STATUS= with counts when they change, STOPPING=1 on OnStopping") {
  const std::string address = AbstractName();
  Manager manager(address);
  auto socket = NotifySocket::Open(address);
  REQUIRE(socket.ok());
  testing::FakeClock clock;
  HealthTracker health(&clock, Millis(1000));
  SdNotifier n(socket->get(), &clock, &health, Millis(0));
  n.OnReady();
  CHECK(manager.Read(2000) == std::vector<std::string>{"READY=1\nSTATUS=ready, reading work"});

  n.OnAttemptEnded(AttemptEnd{}, Disposition::kDone, DeadReason::kPermanent);
  n.OnAttemptEnded(AttemptEnd{}, Disposition::kRetry, DeadReason::kPermanent);
  LoopHealth h;
  h.in_flight = 1;
  h.concurrency = 4;
  n.OnAlive(h);
  n.OnAlive(h);  // nothing changed: no second STATUS
  CHECK(manager.Read(2000) ==
        std::vector<std::string>{"STATUS=in flight 1/4; done 1, retried 1, failed 0, "
                                 "duplicate 0; store ok"});
  h.store_ok = false;
  h.waiting_commits = 3;
  n.OnAlive(h);
  CHECK(manager.Read(2000) ==
        std::vector<std::string>{"STATUS=in flight 1/4; done 1, retried 1, failed 0, "
                                 "duplicate 0; store unreachable, 3 outcomes waiting"});
  n.OnStopping();
  CHECK(manager.Read(2000) == std::vector<std::string>{"STOPPING=1\nSTATUS=stopping"});
}

TEST_CASE("WATCHDOG=1 every half WATCHDOG_USEC while the loop is alive, none while it is stuck") {
  const std::string address = AbstractName();
  Manager manager(address);
  auto socket = NotifySocket::Open(address);
  REQUIRE(socket.ok());
  testing::FakeClock clock;
  HealthTracker health(&clock, Millis(1000));
  SdNotifier n(socket->get(), &clock, &health, Millis(10000));

  // No OnAlive yet: no ping, however long it waits.
  for (int i = 0; i < 10; ++i) {
    clock.Advance(n.WatchdogTick());
  }
  CHECK(manager.Read().empty());

  // Alive, reporting every second: one ping every 5 s (half of 10 s).
  health.OnAlive(LoopHealth{});
  CHECK(n.WatchdogTick() == Millis(5000));
  CHECK(Count(manager.Read(2000), "WATCHDOG=1") == 1);
  int pings = 0;
  for (int second = 1; second <= 20; ++second) {
    clock.Advance(Millis(1000));
    health.OnAlive(LoopHealth{});
    n.WatchdogTick();
    pings += Count(manager.Read(second % 5 == 0 ? 2000 : 0), "WATCHDOG=1");
  }
  CHECK(pings == 4);  // at 5, 10, 15 and 20 s

  // Stuck: OnAlive stops. Within 3 s the loop counts as stuck; no ping after that.
  for (int i = 0; i < 60; ++i) {
    clock.Advance(Millis(500));
    n.WatchdogTick();
  }
  std::vector<std::string> stuck = manager.Read(200);
  CHECK(Count(stuck, "WATCHDOG=1") == 0);

  // Back: pinged at once.
  health.OnAlive(LoopHealth{});
  n.WatchdogTick();
  CHECK(Count(manager.Read(2000), "WATCHDOG=1") == 1);
}

TEST_CASE("AttachOperations notifies through NOTIFY_SOCKET and hides it from handlers") {
  const std::string address = AbstractName();
  Manager manager(address);
  setenv("NOTIFY_SOCKET", address.c_str(), 1);
  setenv("WATCHDOG_USEC", "200000", 1);  // 200 ms: pings every 100 ms of real time
  unsetenv("WATCHDOG_PID");
  OpsOptions options;
  options.tick = Millis(100000);  // so that the one OnAlive below keeps the loop alive
  ObserverList observers;
  {
    auto ops = AttachOperations(options, &observers);
    REQUIRE(ops.ok());
    CHECK(std::getenv("NOTIFY_SOCKET") == nullptr);
    CHECK(std::getenv("WATCHDOG_USEC") == nullptr);
    observers.OnReady();
    CHECK(Count(manager.Read(2000), "READY=1\nSTATUS=ready, reading work") == 1);
    observers.OnAlive(LoopHealth{});
    std::vector<std::string> got;
    for (int i = 0; i < 100 && Count(got, "WATCHDOG=1") < 2; ++i) {
      for (auto& m : manager.Read(100)) got.push_back(m);
    }
    CHECK(Count(got, "WATCHDOG=1") >= 2);
  }  // destroyed without OnStopping: it says STOPPING=1 itself
  std::vector<std::string> last = manager.Read(2000);
  REQUIRE_FALSE(last.empty());
  CHECK(last.back() == "STOPPING=1\nSTATUS=stopping");
}

}  // namespace
}  // namespace evt
