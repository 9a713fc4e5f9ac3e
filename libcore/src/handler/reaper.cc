#include "handler/reaper.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace evt {

namespace {

using Clock = std::chrono::steady_clock;

// Each round kills what the previous one orphaned; a chain deeper than this is left to
// the next sweep.
constexpr int kMaxRounds = 64;

// Reads a small /proc file whole. False on an open or read error.
bool ReadSmallFile(const std::string& path, std::string* out) {
  out->clear();
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) != 0) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    out->append(buf, static_cast<std::size_t>(n));
  }
  close(fd);
  return n == 0;
}

void AppendPids(std::string_view text, std::vector<pid_t>* out) {
  pid_t pid = 0;
  bool in_number = false;
  for (char c : text) {
    if (c >= '0' && c <= '9') {
      pid = pid * 10 + (c - '0');
      in_number = true;
    } else {
      if (in_number) out->push_back(pid);
      pid = 0;
      in_number = false;
    }
  }
  if (in_number) out->push_back(pid);
}

bool IsNumber(const char* s) {
  if (*s == '\0') return false;
  for (; *s != '\0'; ++s) {
    if (*s < '0' || *s > '9') return false;
  }
  return true;
}

}  // namespace

std::vector<pid_t> ListChildren(ChildSource source) {
  static const bool have_children_files = access("/proc/thread-self/children", R_OK) == 0;
  std::vector<pid_t> pids;
  std::string text;
  if (!have_children_files) source = ChildSource::kProcScan;
  if (source == ChildSource::kOrphanThread) {
    const std::string main_thread = std::to_string(getpid());
    if (ReadSmallFile("/proc/self/task/" + main_thread + "/children", &text)) {
      AppendPids(text, &pids);
    } else {
      source = ChildSource::kAllThreads;  // the main thread has exited
    }
  }
  if (source == ChildSource::kAllThreads) {
    if (DIR* tasks = opendir("/proc/self/task")) {
      while (dirent* e = readdir(tasks)) {
        if (!IsNumber(e->d_name)) continue;
        if (ReadSmallFile(std::string("/proc/self/task/") + e->d_name + "/children", &text)) {
          AppendPids(text, &pids);
        }
      }
      closedir(tasks);
    }
  }
  if (source == ChildSource::kProcScan) {
    if (DIR* proc = opendir("/proc")) {
      const pid_t self = getpid();
      while (dirent* e = readdir(proc)) {
        if (!IsNumber(e->d_name)) continue;
        if (!ReadSmallFile(std::string("/proc/") + e->d_name + "/stat", &text)) continue;
        // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        std::size_t paren = text.rfind(')');
        if (paren == std::string::npos || paren + 4 > text.size()) continue;
        if (std::atoi(text.c_str() + paren + 4) == self) pids.push_back(std::atoi(e->d_name));
      }
      closedir(proc);
    }
  }
  std::sort(pids.begin(), pids.end());
  pids.erase(std::unique(pids.begin(), pids.end()), pids.end());
  return pids;
}

namespace {

// Reaps `pid` (a child that has been sent SIGKILL) once it has died. False if it has not
// died by `deadline`.
bool ReapBy(pid_t pid, Clock::time_point deadline) {
  Millis pause(1);
  while (true) {
    siginfo_t info;
    info.si_pid = 0;
    int rc = waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG);
    if (rc == 0 && info.si_pid == pid) return true;
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) return true;  // ECHILD: not a child of ours any more
    Clock::time_point now = Clock::now();
    if (now >= deadline) return false;
    std::this_thread::sleep_for(std::min<Clock::duration>(pause, deadline - now));
    pause = std::min(pause * 2, Millis(16));
  }
}

}  // namespace

Reaper& Reaper::Get() {
  static Reaper* reaper = new Reaper();  // never destroyed: used until the process ends
  return *reaper;
}

bool Reaper::BecomeSubreaper() {
  std::lock_guard<std::mutex> lock(mu_);
  if (subreaper_) return true;
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) return false;
  subreaper_ = true;
  return true;
}

bool Reaper::is_subreaper() const {
  std::lock_guard<std::mutex> lock(mu_);
  return subreaper_;
}

void Reaper::BeginSpawn() {
  std::lock_guard<std::mutex> lock(mu_);
  ++spawning_;
}

void Reaper::EndSpawn(pid_t pid) {
  std::lock_guard<std::mutex> lock(mu_);
  --spawning_;
  if (pid > 0) ++leaders_[pid];
}

void Reaper::RemoveLeader(pid_t pid) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = leaders_.find(pid);
  if (it != leaders_.end() && --it->second == 0) leaders_.erase(it);
}

int Reaper::KillOrphans(Millis bound, ChildSource source) {
  if (!is_subreaper()) return 0;  // orphans go to init: none of our children is one
  std::lock_guard<std::mutex> one_sweep(sweep_mu_);
  const Clock::time_point deadline = Clock::now() + bound;
  const pid_t own_group = getpgrp();
  const pid_t own_session = getsid(0);
  int killed = 0;
  for (int round = 0; round < kMaxRounds; ++round) {
    std::vector<pid_t> orphans;
    {
      // Listing and choosing under mu_: no handler is registered or unregistered
      // meanwhile, and a child being started is covered by spawning_.
      std::lock_guard<std::mutex> lock(mu_);
      for (pid_t pid : ListChildren(source)) {
        if (leaders_.count(pid) != 0) continue;
        // Only we reap an orphan, and one sweep runs at a time, so until we do, `pid`
        // is this child (alive or a zombie) and its group id cannot be recycled.
        const pid_t group = getpgid(pid);
        if (group < 0 || group == own_group || leaders_.count(group) != 0) continue;
        // A handler between its fork and its registration leads its own group in our
        // session; so may an orphan, rarely (job control in a handler's shell).
        if (spawning_ > 0 && group == pid && getsid(pid) == own_session) continue;
        if (group == pid) {
          killpg(pid, SIGKILL);  // a daemon after setsid: it and its group
        } else {
          kill(pid, SIGKILL);  // in a finished attempt's group, or a stranger's: just it
        }
        orphans.push_back(pid);
      }
    }
    if (orphans.empty()) break;
    killed += static_cast<int>(orphans.size());
    // Their deaths reparent their own children here: the next round finds those.
    for (pid_t pid : orphans) {
      if (!ReapBy(pid, deadline)) return killed;
    }
  }
  return killed;
}

}  // namespace evt
