#include "handler/reaper.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <thread>
#include <vector>

namespace evt {
namespace {

// Starts `sleep 30` as a child; in a new process group of its own when `own_group`.
pid_t StartSleeper(bool own_group, pid_t join_group = 0) {
  pid_t pid = fork();
  if (pid == 0) {
    if (own_group) setpgid(0, join_group);
    execl("/bin/sleep", "sleep", "30", nullptr);
    _exit(127);
  }
  if (pid > 0 && own_group) setpgid(pid, join_group == 0 ? pid : join_group);
  return pid;
}

bool Listed(pid_t pid, ChildSource source) {
  std::vector<pid_t> children = ListChildren(source);
  return std::find(children.begin(), children.end(), pid) != children.end();
}

// True once `pid` is no child of ours: it was killed and reaped.
bool Reaped(pid_t pid) {
  siginfo_t info;
  info.si_pid = 0;
  return waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG) == -1 && errno == ECHILD;
}

// Still running (not even a zombie).
bool Running(pid_t pid) {
  siginfo_t info;
  info.si_pid = 0;
  return waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
         info.si_pid == 0;
}

void Stop(pid_t pid) {
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
}

TEST_CASE("both ways of listing children find them", "[reaper]") {
  pid_t a = StartSleeper(false), b = StartSleeper(true);
  REQUIRE(a > 0);
  REQUIRE(b > 0);
  for (ChildSource source :
       {ChildSource::kOrphanThread, ChildSource::kAllThreads, ChildSource::kProcScan}) {
    INFO("source " << static_cast<int>(source));
    CHECK(Listed(a, source));
    CHECK(Listed(b, source));
    CHECK_FALSE(Listed(getpid(), source));
  }
  Stop(a);
  Stop(b);
  CHECK_FALSE(Listed(a, ChildSource::kOrphanThread));
  CHECK_FALSE(Listed(a, ChildSource::kProcScan));
}

TEST_CASE("an orphan outside our group is killed with its group and reaped", "[reaper]") {
  Reaper& reaper = Reaper::Get();
  REQUIRE(reaper.BecomeSubreaper());
  REQUIRE(reaper.is_subreaper());
  pid_t leader = StartSleeper(true);
  pid_t member = StartSleeper(true, leader);  // in the orphan's group
  REQUIRE(leader > 0);
  REQUIRE(member > 0);
  CHECK(reaper.KillOrphans() == 2);
  CHECK(Reaped(leader));
  CHECK(Reaped(member));
  CHECK(reaper.KillOrphans() == 0);
}

TEST_CASE("children in our own group, running handlers and their groups are spared", "[reaper]") {
  Reaper& reaper = Reaper::Get();
  REQUIRE(reaper.BecomeSubreaper());
  pid_t ours = StartSleeper(false);  // what the embedding program started itself
  pid_t handler = StartSleeper(true);
  REQUIRE(ours > 0);
  REQUIRE(handler > 0);
  reaper.BeginSpawn();
  reaper.EndSpawn(handler);
  pid_t handlers_own = StartSleeper(true, handler);  // e.g. orphaned, still in its group
  REQUIRE(handlers_own > 0);
  CHECK(reaper.KillOrphans() == 0);
  CHECK(Running(ours));
  CHECK(Running(handler));
  CHECK(Running(handlers_own));

  // Once the handler has been reaped and unregistered, what is left of it is an orphan.
  Stop(handler);
  reaper.RemoveLeader(handler);
  CHECK(reaper.KillOrphans() == 1);
  CHECK(Reaped(handlers_own));
  CHECK(Running(ours));
  Stop(ours);
}

TEST_CASE("a leader registered twice stays registered until removed twice", "[reaper]") {
  Reaper& reaper = Reaper::Get();
  REQUIRE(reaper.BecomeSubreaper());
  pid_t handler = StartSleeper(true);
  REQUIRE(handler > 0);
  for (int i = 0; i < 2; ++i) {
    reaper.BeginSpawn();
    reaper.EndSpawn(handler);
  }
  reaper.RemoveLeader(handler);
  CHECK(reaper.KillOrphans() == 0);
  CHECK(Running(handler));
  reaper.RemoveLeader(handler);
  CHECK(reaper.KillOrphans() == 1);
  CHECK(Reaped(handler));
}

// Starts `sleep 30` as a child in a new session (setsid), as a daemon is.
pid_t StartDaemon() {
  pid_t pid = fork();
  if (pid == 0) {
    setsid();
    execl("/bin/sleep", "sleep", "30", nullptr);
    _exit(127);
  }
  // Wait until it has left our session, so the test sees it as a daemon.
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (pid > 0 && getsid(pid) != pid && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return pid;
}

TEST_CASE("while a handler is being started, only what looks like one is spared", "[reaper]") {
  Reaper& reaper = Reaper::Get();
  REQUIRE(reaper.BecomeSubreaper());
  pid_t like_a_handler = StartSleeper(true);  // leads its group, in our session
  pid_t daemon = StartDaemon();
  REQUIRE(like_a_handler > 0);
  REQUIRE(daemon > 0);
  reaper.BeginSpawn();
  CHECK(reaper.KillOrphans() == 1);
  CHECK(Reaped(daemon));
  CHECK(Running(like_a_handler));
  reaper.EndSpawn(-1);  // the spawn failed: nothing registered
  CHECK(reaper.KillOrphans() == 1);
  CHECK(Reaped(like_a_handler));
}

TEST_CASE("a zombie orphan is reaped", "[reaper]") {
  Reaper& reaper = Reaper::Get();
  REQUIRE(reaper.BecomeSubreaper());
  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    _exit(0);
  }
  REQUIRE(pid > 0);
  setpgid(pid, pid);
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (Running(pid) && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  CHECK(reaper.KillOrphans() == 1);
  CHECK(Reaped(pid));
}

}  // namespace
}  // namespace evt
