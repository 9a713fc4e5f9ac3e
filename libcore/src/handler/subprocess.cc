#include "handler/subprocess.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <unordered_set>

#include "base/fd.h"
#include "handler/child_io.h"
#include "handler/reaper.h"
#include "handler/spawn.h"

namespace evt {

namespace {

using Clock = std::chrono::steady_clock;

// After the group has been killed every writer is gone, so EOF comes at once; the bound
// only matters for a process that left the group (setsid) and still holds a pipe.
constexpr Millis kDrainBound{250};
// Without a pidfd (old kernel) the loop checks for the child's exit this often.
constexpr Millis kExitPollInterval{10};

// Owns the child until it is reaped; on an early exit (exception) it kills the group and
// reaps, so no path leaves a zombie or a running handler behind.
class Child {
 public:
  explicit Child(pid_t pid) : pid_(pid) {}
  ~Child() {
    if (!reaped_) {
      killpg(pid_, SIGKILL);
      Reap();
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  int Reap() {
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
    return status;
  }

 private:
  pid_t pid_;
  bool reaped_ = false;
};

// Keeps a started handler registered with the Reaper until it has been reaped. Declared
// before the Child, so that on an early exit the Child reaps first.
class LeaderRegistration {
 public:
  explicit LeaderRegistration(pid_t pid) : pid_(pid) {}
  ~LeaderRegistration() { Release(); }
  LeaderRegistration(const LeaderRegistration&) = delete;
  LeaderRegistration& operator=(const LeaderRegistration&) = delete;

  // REQUIRES: the leader has been reaped.
  void Release() {
    if (pid_ > 0) Reaper::Get().RemoveLeader(pid_);
    pid_ = -1;
  }

 private:
  pid_t pid_;
};

int PollMillis(Clock::time_point now, std::optional<Clock::time_point> until) {
  if (!until) return -1;
  if (*until <= now) return 0;
  auto ms = std::chrono::ceil<Millis>(*until - now).count();
  return static_cast<int>(std::min<decltype(ms)>(ms, 1 << 30));
}

// The pipes of one child: its stdin, stdout and stderr, and the pipe that carries the
// errno of a failed exec.
struct ChildPipes {
  Fd in_r, in_w, out_r, out_w, err_r, err_w, exec_r, exec_w;

  // False with errno set when a pipe cannot be made.
  bool Open() {
    return MakePipe(&in_r, &in_w) && MakePipe(&out_r, &out_w) && MakePipe(&err_r, &err_w) &&
           MakePipe(&exec_r, &exec_w) && SetNonBlocking(in_w.get()) &&
           SetNonBlocking(out_r.get()) && SetNonBlocking(err_r.get());
  }

  // Once the child has them: closes the child's ends here.
  void CloseChildEnds() {
    in_r.Reset();
    out_w.Reset();
    err_w.Reset();
    exec_w.Reset();
  }
};

// Forks the child that execs spec.argv on `pipes`. Its pid, or -1 with errno set.
pid_t Spawn(const ProcessSpec& spec, const ChildPipes& pipes) {
  const std::vector<std::string> candidates = ExecCandidates(spec.argv[0]);
  const std::vector<std::string> env = BuildEnvironment(spec.extra_env, spec.unset_env);
  std::vector<char*> candidate_ptrs = Pointers(candidates);
  std::vector<char*> argv_ptrs = Pointers(spec.argv);
  std::vector<char*> env_ptrs = Pointers(env);
  const ChildPlan plan{getpid(),
                       candidate_ptrs.data(),
                       argv_ptrs.data(),
                       env_ptrs.data(),
                       {pipes.in_r.get(), pipes.out_w.get(), pipes.err_w.get()},
                       pipes.exec_w.get()};
  // Until the new child is registered, no sweep may take it for an orphan.
  Reaper::Get().BeginSpawn();
  const pid_t pid = SpawnChild(plan);
  const int spawn_errno = errno;
  Reaper::Get().EndSpawn(pid);
  errno = spawn_errno;
  return pid;
}

// Waits for the exec: the exec error pipe closes on success (O_CLOEXEC) or carries errno.
// 0 on success, else why the exec failed.
int WaitForExec(Fd* exec_r) {
  int exec_errno = 0;
  ssize_t got;
  do {
    got = read(exec_r->get(), &exec_errno, sizeof exec_errno);
  } while (got < 0 && errno == EINTR);
  exec_r->Reset();
  if (got != static_cast<ssize_t>(sizeof exec_errno)) return 0;
  return exec_errno != 0 ? exec_errno : ENOEXEC;
}

// Runs a started child to the exit of its leader: feeds its stdin, captures its stdout
// and stderr, and stops its group at the deadline or on cancellation (SIGTERM, then
// SIGKILL after kill_after).
class Pump {
 public:
  Pump(const ProcessSpec& spec, pid_t pid, Clock::time_point start, Fd in_w, Capture* out,
       Capture* err, char* buf, ProcessResult* result)
      : spec_(spec),
        pid_(pid),
        pidfd_(static_cast<int>(syscall(SYS_pidfd_open, pid, 0))),
        in_w_(std::move(in_w)),
        out_(out),
        err_(err),
        buf_(buf),
        result_(result) {
    if (spec.stdin_data.empty()) in_w_.Reset();
    if (spec.timeout > Millis::zero()) deadline_ = start + spec.timeout;
  }

  // Returns once the leader has exited (or poll failed, which valid fds rule out).
  void Run() {
    while (Step()) {
    }
  }

  void CloseStdin() { in_w_.Reset(); }

 private:
  enum class Stage { kRunning, kTermSent, kKillSent };

  static int Add(pollfd* fds, nfds_t* n, int fd, short events) {
    if (fd < 0) return -1;
    fds[*n] = {fd, events, 0};
    return static_cast<int>((*n)++);
  }

  // One poll round. False once the leader has exited.
  bool Step() {
    pollfd fds[5];
    nfds_t n = 0;
    const int in_i = Add(fds, &n, in_w_.valid() ? in_w_.get() : -1, POLLOUT);
    const int out_i = Add(fds, &n, out_->fd.valid() ? out_->fd.get() : -1, POLLIN);
    const int err_i = Add(fds, &n, err_->fd.valid() ? err_->fd.get() : -1, POLLIN);
    const int pid_i = Add(fds, &n, pidfd_.valid() ? pidfd_.get() : -1, POLLIN);
    const int cancel_i = Add(fds, &n, stage_ == Stage::kRunning ? spec_.cancel_fd : -1, POLLIN);
    const int ready = poll(fds, n, WaitMillis(Clock::now()));
    if (ready < 0 && errno != EINTR) return false;  // cannot happen with valid fds; kill after
    auto fired = [&](int i, short events) {
      return ready > 0 && i >= 0 && (fds[i].revents & events) != 0;
    };
    const short kAny = POLLIN | POLLOUT | POLLHUP | POLLERR;
    if (fired(in_i, kAny)) WriteStdin();
    if (fired(out_i, kAny)) out_->ReadAvailable(buf_, spec_.max_capture);
    if (fired(err_i, kAny)) err_->ReadAvailable(buf_, spec_.max_capture);
    if (LeaderExited(fired(pid_i, POLLIN))) return false;
    Escalate(fired(cancel_i, POLLIN));
    return true;
  }

  // How long poll may wait: until the next stage's deadline, and briefly without a pidfd.
  int WaitMillis(Clock::time_point now) const {
    std::optional<Clock::time_point> wake;
    if (stage_ == Stage::kRunning) wake = deadline_;
    if (stage_ == Stage::kTermSent) wake = kill_deadline_;
    if (!pidfd_.valid()) {
      Clock::time_point soon = now + kExitPollInterval;
      wake = wake ? std::min(*wake, soon) : soon;
    }
    return PollMillis(now, wake);
  }

  void WriteStdin() {
    SigpipeBlock no_sigpipe;
    const std::string& data = spec_.stdin_data;
    while (in_off_ < data.size()) {
      std::size_t len = std::min(data.size() - in_off_, kCaptureChunk);
      ssize_t w = write(in_w_.get(), data.data() + in_off_, len);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        // EAGAIN: wait for room. EPIPE and the rest: the child stopped reading,
        // which is its right; we simply stop writing.
        const int write_errno = errno;
        if (write_errno == EPIPE) no_sigpipe.ConsumePending();
        if (write_errno != EAGAIN) in_w_.Reset();
        break;
      }
      in_off_ += static_cast<std::size_t>(w);
    }
    if (in_off_ >= data.size()) in_w_.Reset();  // EOF for the child
  }

  bool LeaderExited(bool pidfd_fired) const {
    if (pidfd_fired) return true;
    if (pidfd_.valid()) return false;
    siginfo_t info;
    info.si_pid = 0;
    return waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
           info.si_pid == pid_;
  }

  // Cancellation and the deadline send SIGTERM to the group; kill_after later, SIGKILL.
  void Escalate(bool cancel_fired) {
    const Clock::time_point now = Clock::now();
    if (cancel_fired && stage_ == Stage::kRunning) {
      result_->cancelled = true;
      BeginStop(now);
    }
    if (stage_ == Stage::kRunning && deadline_ && now >= *deadline_) {
      result_->timed_out = true;
      BeginStop(now);
    }
    if (stage_ == Stage::kTermSent && now >= kill_deadline_) {
      killpg(pid_, SIGKILL);
      stage_ = Stage::kKillSent;
    }
  }

  void BeginStop(Clock::time_point now) {
    killpg(pid_, SIGTERM);
    stage_ = Stage::kTermSent;
    kill_deadline_ = now + std::max(spec_.kill_after, Millis::zero());
  }

  const ProcessSpec& spec_;
  const pid_t pid_;
  Fd pidfd_;
  Fd in_w_;
  std::size_t in_off_ = 0;  // bytes of stdin_data written
  Capture* out_;
  Capture* err_;
  char* buf_;  // kCaptureChunk bytes
  ProcessResult* result_;
  Stage stage_ = Stage::kRunning;
  std::optional<Clock::time_point> deadline_;
  Clock::time_point kill_deadline_{};
};

// After the leader's reaping: reads what the pipes still hold, until EOF or kDrainBound.
void Drain(Capture* out, Capture* err, char* buf, std::size_t max_capture) {
  const Clock::time_point drain_until = Clock::now() + kDrainBound;
  while (out->fd.valid() || err->fd.valid()) {
    pollfd fds[2];
    nfds_t n = 0;
    if (out->fd.valid()) fds[n++] = {out->fd.get(), POLLIN, 0};
    if (err->fd.valid()) fds[n++] = {err->fd.get(), POLLIN, 0};
    int ready = poll(fds, n, PollMillis(Clock::now(), drain_until));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) break;
    for (nfds_t i = 0; i < n; ++i) {
      if (fds[i].revents == 0) continue;
      Capture* c = fds[i].fd == out->fd.get() ? out : err;
      c->ReadAvailable(buf, max_capture);
    }
  }
}

void SetExitStatus(int status, ProcessResult* result) {
  if (WIFEXITED(status)) {
    result->exited = true;
    result->exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result->term_signal = WTERMSIG(status);
  }
}

// Spawns, pumps and reaps: fills *result, all but its duration.
void Supervise(const ProcessSpec& spec, Clock::time_point start, ProcessResult* result) {
  if (spec.argv.empty()) {
    result->start_errno = EINVAL;
    return;
  }
  ChildPipes pipes;
  const pid_t pid = pipes.Open() ? Spawn(spec, pipes) : -1;
  if (pid < 0) {
    result->start_errno = errno;
    return;
  }
  LeaderRegistration registration(pid);
  Child child(pid);
  // Both sides call setpgid so that the group exists before either one relies on it;
  // EACCES here just means the child got there and exec'd first.
  setpgid(pid, pid);
  pipes.CloseChildEnds();
  if (const int exec_errno = WaitForExec(&pipes.exec_r); exec_errno != 0) {
    child.Reap();
    result->start_errno = exec_errno;
    return;
  }
  result->started = true;
  LineSplitter splitter(spec.on_stderr_line);
  Capture out{std::move(pipes.out_r), &result->out, &result->out_total, nullptr, nullptr};
  Capture err{std::move(pipes.err_r), &result->err, &result->err_total,
              spec.on_stderr_line ? &splitter : nullptr, &result->err_ends_in_newline};
  std::unique_ptr<char[]> buf(new char[kCaptureChunk]);
  Pump pump(spec, pid, start, std::move(pipes.in_w), &out, &err, buf.get(), result);
  pump.Run();
  // The leader is a zombie, so its pgid cannot have been reused: kill what it left
  // behind, then reap it.
  killpg(pid, SIGKILL);
  const int status = child.Reap();
  registration.Release();
  // What left the group (setsid) and was orphaned came to us as the subreaper: kill it
  // too, before draining, so that a daemon holding our pipes does not delay the end.
  Reaper::Get().KillOrphans();
  pump.CloseStdin();
  Drain(&out, &err, buf.get(), spec.max_capture);
  if (err.lines != nullptr) splitter.Finish();
  SetExitStatus(status, result);
}

}  // namespace

ProcessResult RunProcess(const ProcessSpec& spec) {
  ProcessResult result;
  const Clock::time_point start = Clock::now();
  Supervise(spec, start, &result);
  result.duration = std::chrono::duration_cast<Millis>(Clock::now() - start);
  return result;
}

}  // namespace evt
