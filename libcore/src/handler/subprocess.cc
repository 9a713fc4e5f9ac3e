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
#include "handler/reaper.h"
#include "handler/spawn.h"

namespace evt {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kReadChunk = 64 * 1024;
// After the group has been killed every writer is gone, so EOF comes at once; the bound
// only matters for a process that left the group (setsid) and still holds a pipe.
constexpr Millis kDrainBound{250};
// Without a pidfd (old kernel) the loop checks for the child's exit this often.
constexpr Millis kExitPollInterval{10};

// Splits stderr into lines for the callback, each bounded to kMaxStderrLine.
class LineSplitter {
 public:
  explicit LineSplitter(const std::function<void(std::string_view)>& sink) : sink_(sink) {}

  void Feed(std::string_view data) {
    while (!data.empty()) {
      size_t nl = data.find('\n');
      std::string_view part = data.substr(0, nl);
      line_.append(part.data(), std::min(part.size(), kMaxStderrLine - line_.size()));
      if (nl == std::string_view::npos) return;
      sink_(line_);
      line_.clear();
      data.remove_prefix(nl + 1);
    }
  }
  void Finish() {
    if (!line_.empty()) sink_(line_);
    line_.clear();
  }

 private:
  const std::function<void(std::string_view)>& sink_;
  std::string line_;
};

// One pipe we read from: keeps the first `max` bytes and counts the rest.
struct Capture {
  Fd fd;
  std::string* kept;
  std::uint64_t* total;
  LineSplitter* lines;    // may be null
  bool* ends_in_newline;  // may be null: set from the last byte read

  // Reads what is available now. Closes fd at EOF or on a read error.
  void ReadAvailable(char* buf, std::size_t max) {
    // A bounded number of reads per wakeup so one chatty pipe cannot starve the others.
    for (int i = 0; i < 16 && fd.valid(); ++i) {
      ssize_t n = read(fd.get(), buf, kReadChunk);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN) fd.Reset();
        return;
      }
      if (n == 0) {
        fd.Reset();
        return;
      }
      std::size_t room = max - std::min(max, kept->size());
      kept->append(buf, std::min(room, static_cast<std::size_t>(n)));
      *total += static_cast<std::uint64_t>(n);
      if (ends_in_newline != nullptr) *ends_in_newline = buf[n - 1] == '\n';
      if (lines != nullptr) lines->Feed(std::string_view(buf, static_cast<std::size_t>(n)));
      if (static_cast<std::size_t>(n) < kReadChunk) return;  // most likely drained
    }
  }
};

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

// Writing to a pipe whose reader is gone raises SIGPIPE, which kills the process unless it
// is ignored. Rather than require that of every program linking libcore, the writes
// block SIGPIPE in this thread and consume the one they caused, if any.
class SigpipeBlock {
 public:
  SigpipeBlock() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
  }
  ~SigpipeBlock() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }
  SigpipeBlock(const SigpipeBlock&) = delete;
  SigpipeBlock& operator=(const SigpipeBlock&) = delete;

  // After an EPIPE: drop the SIGPIPE it queued (a thread-directed signal), unless one
  // was already pending before we started, which is someone else's to deliver.
  void ConsumePending() {
    if (was_pending_) return;
    const timespec zero{0, 0};
    while (sigtimedwait(&set_, nullptr, &zero) < 0 && errno == EINTR) {
    }
  }

 private:
  sigset_t set_;
  sigset_t old_;
  bool was_pending_ = false;
};

int PollMillis(Clock::time_point now, std::optional<Clock::time_point> until) {
  if (!until) return -1;
  if (*until <= now) return 0;
  auto ms = std::chrono::ceil<Millis>(*until - now).count();
  return static_cast<int>(std::min<decltype(ms)>(ms, 1 << 30));
}

}  // namespace

ProcessResult RunProcess(const ProcessSpec& spec) {
  ProcessResult result;
  const Clock::time_point start = Clock::now();
  auto finish = [&]() -> ProcessResult {
    result.duration = std::chrono::duration_cast<Millis>(Clock::now() - start);
    return std::move(result);
  };
  if (spec.argv.empty()) {
    result.start_errno = EINVAL;
    return finish();
  }

  const std::vector<std::string> candidates = ExecCandidates(spec.argv[0]);
  const std::vector<std::string> env = BuildEnvironment(spec.extra_env, spec.unset_env);
  std::vector<char*> candidate_ptrs = Pointers(candidates);
  std::vector<char*> argv_ptrs = Pointers(spec.argv);
  std::vector<char*> env_ptrs = Pointers(env);

  Fd in_r, in_w, out_r, out_w, err_r, err_w, exec_r, exec_w;
  if (!MakePipe(&in_r, &in_w) || !MakePipe(&out_r, &out_w) || !MakePipe(&err_r, &err_w) ||
      !MakePipe(&exec_r, &exec_w) || !SetNonBlocking(in_w.get()) || !SetNonBlocking(out_r.get()) ||
      !SetNonBlocking(err_r.get())) {
    result.start_errno = errno;
    return finish();
  }

  const ChildPlan plan{getpid(),
                       candidate_ptrs.data(),
                       argv_ptrs.data(),
                       env_ptrs.data(),
                       {in_r.get(), out_w.get(), err_w.get()},
                       exec_w.get()};
  // Until the new child is registered, no sweep may take it for an orphan.
  Reaper::Get().BeginSpawn();
  const pid_t pid = SpawnChild(plan);
  const int spawn_errno = errno;
  Reaper::Get().EndSpawn(pid);
  errno = spawn_errno;
  if (pid < 0) {
    result.start_errno = errno;
    return finish();
  }

  LeaderRegistration registration(pid);
  Child child(pid);
  // Both sides call setpgid so that the group exists before either one relies on it;
  // EACCES here just means the child got there and exec'd first.
  setpgid(pid, pid);
  in_r.Reset();
  out_w.Reset();
  err_w.Reset();
  exec_w.Reset();

  // The exec error pipe closes on a successful exec (O_CLOEXEC) or carries errno.
  int exec_errno = 0;
  ssize_t got;
  do {
    got = read(exec_r.get(), &exec_errno, sizeof exec_errno);
  } while (got < 0 && errno == EINTR);
  exec_r.Reset();
  if (got == static_cast<ssize_t>(sizeof exec_errno)) {
    child.Reap();
    result.start_errno = exec_errno != 0 ? exec_errno : ENOEXEC;
    return finish();
  }
  result.started = true;

  Fd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));

  LineSplitter splitter(spec.on_stderr_line);
  Capture out{std::move(out_r), &result.out, &result.out_total, nullptr, nullptr};
  Capture err{std::move(err_r), &result.err, &result.err_total,
              spec.on_stderr_line ? &splitter : nullptr, &result.err_ends_in_newline};
  std::unique_ptr<char[]> buf(new char[kReadChunk]);
  std::size_t in_off = 0;
  if (spec.stdin_data.empty()) in_w.Reset();

  enum class Stage { kRunning, kTermSent, kKillSent } stage = Stage::kRunning;
  std::optional<Clock::time_point> deadline;
  if (spec.timeout > Millis::zero()) deadline = start + spec.timeout;
  Clock::time_point kill_deadline{};
  auto begin_stop = [&](Clock::time_point now) {
    killpg(pid, SIGTERM);
    stage = Stage::kTermSent;
    kill_deadline = now + std::max(spec.kill_after, Millis::zero());
  };

  bool leader_exited = false;
  while (!leader_exited) {
    pollfd fds[5];
    nfds_t n = 0;
    int in_i = -1, out_i = -1, err_i = -1, pid_i = -1, cancel_i = -1;
    if (in_w.valid()) {
      in_i = static_cast<int>(n);
      fds[n++] = {in_w.get(), POLLOUT, 0};
    }
    if (out.fd.valid()) {
      out_i = static_cast<int>(n);
      fds[n++] = {out.fd.get(), POLLIN, 0};
    }
    if (err.fd.valid()) {
      err_i = static_cast<int>(n);
      fds[n++] = {err.fd.get(), POLLIN, 0};
    }
    if (pidfd.valid()) {
      pid_i = static_cast<int>(n);
      fds[n++] = {pidfd.get(), POLLIN, 0};
    }
    if (spec.cancel_fd >= 0 && stage == Stage::kRunning) {
      cancel_i = static_cast<int>(n);
      fds[n++] = {spec.cancel_fd, POLLIN, 0};
    }

    Clock::time_point now = Clock::now();
    std::optional<Clock::time_point> wake;
    if (stage == Stage::kRunning) wake = deadline;
    if (stage == Stage::kTermSent) wake = kill_deadline;
    if (!pidfd.valid()) {
      Clock::time_point soon = now + kExitPollInterval;
      wake = wake ? std::min(*wake, soon) : soon;
    }
    int ready = poll(fds, n, PollMillis(now, wake));
    if (ready < 0 && errno != EINTR) break;  // cannot happen with valid fds; kill below
    auto fired = [&](int i, short events) {
      return ready > 0 && i >= 0 && (fds[i].revents & events) != 0;
    };
    const short kAny = POLLIN | POLLOUT | POLLHUP | POLLERR;

    if (fired(in_i, kAny)) {
      SigpipeBlock no_sigpipe;
      while (in_off < spec.stdin_data.size()) {
        std::size_t len = std::min(spec.stdin_data.size() - in_off, kReadChunk);
        ssize_t w = write(in_w.get(), spec.stdin_data.data() + in_off, len);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
          // EAGAIN: wait for room. EPIPE and the rest: the child stopped reading,
          // which is its right; we simply stop writing.
          const int write_errno = errno;
          if (write_errno == EPIPE) no_sigpipe.ConsumePending();
          if (write_errno != EAGAIN) in_w.Reset();
          break;
        }
        in_off += static_cast<std::size_t>(w);
      }
      if (in_off >= spec.stdin_data.size()) in_w.Reset();  // EOF for the child
    }
    if (fired(out_i, kAny)) out.ReadAvailable(buf.get(), spec.max_capture);
    if (fired(err_i, kAny)) err.ReadAvailable(buf.get(), spec.max_capture);

    if (fired(pid_i, POLLIN)) {
      leader_exited = true;
    } else if (!pidfd.valid()) {
      siginfo_t info;
      info.si_pid = 0;
      if (waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
          info.si_pid == pid) {
        leader_exited = true;
      }
    }
    if (leader_exited) break;

    now = Clock::now();
    if (fired(cancel_i, POLLIN) && stage == Stage::kRunning) {
      result.cancelled = true;
      begin_stop(now);
    }
    if (stage == Stage::kRunning && deadline && now >= *deadline) {
      result.timed_out = true;
      begin_stop(now);
    }
    if (stage == Stage::kTermSent && now >= kill_deadline) {
      killpg(pid, SIGKILL);
      stage = Stage::kKillSent;
    }
  }

  // The leader is a zombie, so its pgid cannot have been reused: kill what it left
  // behind, then reap it.
  killpg(pid, SIGKILL);
  int status = child.Reap();
  registration.Release();
  // What left the group (setsid) and was orphaned came to us as the subreaper: kill it
  // too, before draining, so that a daemon holding our pipes does not delay the end.
  Reaper::Get().KillOrphans();
  in_w.Reset();

  const Clock::time_point drain_until = Clock::now() + kDrainBound;
  while (out.fd.valid() || err.fd.valid()) {
    pollfd fds[2];
    nfds_t n = 0;
    if (out.fd.valid()) fds[n++] = {out.fd.get(), POLLIN, 0};
    if (err.fd.valid()) fds[n++] = {err.fd.get(), POLLIN, 0};
    int ready = poll(fds, n, PollMillis(Clock::now(), drain_until));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) break;
    for (nfds_t i = 0; i < n; ++i) {
      if (fds[i].revents == 0) continue;
      Capture& c = fds[i].fd == out.fd.get() ? out : err;
      c.ReadAvailable(buf.get(), spec.max_capture);
    }
  }
  if (err.lines != nullptr) splitter.Finish();

  if (WIFEXITED(status)) {
    result.exited = true;
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.term_signal = WTERMSIG(status);
  }
  return finish();
}

}  // namespace evt
