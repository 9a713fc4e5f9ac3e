#include "handler/coprocess.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <system_error>
#include <thread>
#include <utility>

#include "base/fd.h"
#include "handler/spawn.h"

namespace evt {

namespace {

using Clock = std::chrono::steady_clock;

// Without a pidfd (old kernel) waits check for the leader's exit this often.
constexpr Millis kExitPollInterval{10};

}  // namespace

Result<std::unique_ptr<Coprocess>> Coprocess::Start(const std::vector<std::string>& argv) {
  const std::string cmd = argv.empty() ? "" : argv[0];
  auto failed = [&](int err) {
    return Status::Unavailable("cannot run " + cmd + ": " + std::generic_category().message(err));
  };
  if (argv.empty()) return failed(EINVAL);
  const std::vector<std::string> candidates = ExecCandidates(argv[0]);
  std::vector<char*> candidate_ptrs = Pointers(candidates);
  std::vector<char*> argv_ptrs = Pointers(argv);
  // No evt credential reaches a co-process, as none reaches a command handler.
  std::vector<std::string> extra_env, unset_env;
  HideCredentials(&extra_env, &unset_env);
  const std::vector<std::string> env = BuildEnvironment(extra_env, unset_env);
  std::vector<char*> env_ptrs = Pointers(env);

  Fd in_r, in_w, out_r, out_w, err_r, err_w, exec_r, exec_w;
  if (!MakePipe(&in_r, &in_w) || !MakePipe(&out_r, &out_w) || !MakePipe(&err_r, &err_w) ||
      !MakePipe(&exec_r, &exec_w) || !SetNonBlocking(in_w.get()) || !SetNonBlocking(out_r.get()) ||
      !SetNonBlocking(err_r.get())) {
    return failed(errno);
  }
  const ChildPlan plan{getpid(),
                       candidate_ptrs.data(),
                       argv_ptrs.data(),
                       env_ptrs.data(),
                       {in_r.get(), out_w.get(), err_w.get()},
                       exec_w.get()};
  const pid_t pid = SpawnChild(plan);
  if (pid < 0) return failed(errno);
  // Both sides call setpgid so the group exists before either relies on it.
  setpgid(pid, pid);
  std::unique_ptr<Coprocess> child(
      new Coprocess(pid, std::move(in_w), std::move(out_r), std::move(err_r)));
  in_r.Reset();
  out_w.Reset();
  err_w.Reset();
  exec_w.Reset();

  // The error pipe closes on a successful exec (O_CLOEXEC) or carries the errno.
  int exec_errno = 0;
  ssize_t got;
  do {
    got = read(exec_r.get(), &exec_errno, sizeof exec_errno);
  } while (got < 0 && errno == EINTR);
  if (got == static_cast<ssize_t>(sizeof exec_errno)) {
    child->Stop(Millis(0));
    return failed(exec_errno != 0 ? exec_errno : ENOEXEC);
  }
  child->pidfd_.Reset(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  if (child->pidfd_.valid()) fcntl(child->pidfd_.get(), F_SETFD, FD_CLOEXEC);
  return child;
}

Coprocess::Coprocess(pid_t pid, Fd in, Fd out, Fd err)
    : pid_(pid), in_(std::move(in)), out_(std::move(out)), err_(std::move(err)) {}

Coprocess::~Coprocess() {
  if (!reaped_) {
    killpg(pid_, SIGKILL);
    Stop(Millis(0));
  }
  // The descriptors close as the members go.
}

void Coprocess::CloseStdin() { in_.Reset(); }
void Coprocess::CloseStdout() { out_.Reset(); }
void Coprocess::CloseStderr() { err_.Reset(); }

bool Coprocess::LeaderExited() const {
  if (reaped_) return true;
  siginfo_t info;
  info.si_pid = 0;
  return waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
         info.si_pid == pid_;
}

bool Coprocess::WaitForExit(Millis wait) const {
  const Clock::time_point until = Clock::now() + wait;
  while (!LeaderExited()) {
    const Clock::time_point now = Clock::now();
    if (now >= until) return false;
    const auto left = std::chrono::ceil<Millis>(until - now);
    if (pidfd_.valid()) {
      pollfd p{pidfd_.get(), POLLIN, 0};
      poll(&p, 1, static_cast<int>(std::min<Millis::rep>(left.count(), 1 << 30)));
    } else {
      std::this_thread::sleep_for(std::min(left, kExitPollInterval));
    }
  }
  return true;
}

int Coprocess::Stop(Millis kill_after) {
  if (reaped_) return status_;
  if (!LeaderExited()) {
    killpg(pid_, SIGTERM);
    if (!WaitForExit(kill_after)) killpg(pid_, SIGKILL);
  }
  // The leader is (or is about to be) a zombie, so its pgid cannot have been reused: kill
  // what it left behind, then reap it.
  killpg(pid_, SIGKILL);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
  status_ = status;
  return status_;
}

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    std::string text = "killed by signal " + std::to_string(sig);
    if (const char* abbrev = sigabbrev_np(sig)) text += " (SIG" + std::string(abbrev) + ")";
    return text;
  }
  return "ended";
}

}  // namespace evt
