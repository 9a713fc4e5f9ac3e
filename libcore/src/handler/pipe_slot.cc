#include "handler/pipe_slot.h"

#include <errno.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "evt/log.h"
#include "handler/handler_text.h"
#include "handler/subprocess.h"  // kMaxStderrLine

namespace evt {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kReadChunk = 16 * 1024;
// Once the group is killed every writer of stderr is gone and EOF comes at once; the bound
// only matters for a process that left the group and still holds the pipe.
constexpr Millis kDrainBound{250};

}  // namespace

int PollMillisUntil(std::optional<Clock::time_point> until) {
  if (!until) return -1;
  const Clock::time_point now = Clock::now();
  if (*until <= now) return 0;
  return static_cast<int>(
      std::min<Millis::rep>(std::chrono::ceil<Millis>(*until - now).count(), 1 << 30));
}

void PipeSlot::Adopt(std::unique_ptr<Coprocess> started) {
  proc = std::move(started);
  answered = false;
  last_stderr.clear();
  err_partial.clear();
  out.clear();
}

void StderrSink::Line(std::string_view line) {
  if (!IsBlank(line)) last_line->assign(line.data(), std::min(line.size(), kMaxPipeErrorText + 1));
  if (ctx == nullptr) {
    Log(LogLevel::kInfo, "co-process stderr", {{"pid", pid}, {"text", std::string(line)}});
    return;
  }
  if (!ctx->on_stderr_line || budget == 0) return;
  budget -= std::min(budget, line.size() + 1);
  ctx->on_stderr_line(line);
}

bool PipeSlot::ReadStderr(StderrSink* sink) {
  char buf[kReadChunk];
  for (int i = 0; i < 16; ++i) {
    const ssize_t n = read(proc->stderr_fd(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return true;
    if (n <= 0) {
      proc->CloseStderr();
      FlushStderr(sink);
      return false;
    }
    std::string_view data(buf, static_cast<std::size_t>(n));
    while (!data.empty()) {
      const std::size_t nl = data.find('\n');
      const std::string_view part = data.substr(0, nl);
      err_partial.append(
          part.data(),
          std::min(part.size(), kMaxStderrLine - std::min(kMaxStderrLine, err_partial.size())));
      if (nl == std::string_view::npos) break;
      sink->Line(err_partial);
      err_partial.clear();
      data.remove_prefix(nl + 1);
    }
    if (static_cast<std::size_t>(n) < sizeof buf) return true;
  }
  return true;
}

void PipeSlot::FlushStderr(StderrSink* sink) {
  if (!err_partial.empty()) sink->Line(err_partial);
  err_partial.clear();
}

ssize_t PipeSlot::ReadStdout() {
  char buf[kReadChunk];
  while (true) {
    const ssize_t n = read(proc->stdout_fd(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno == EAGAIN ? -1 : 0;
    out.append(buf, static_cast<std::size_t>(n));
    return n;
  }
}

const char* PipeSlot::CheckIdle(StderrSink* sink) {
  pollfd fds[3] = {
      {proc->stdout_fd(), POLLIN, 0}, {proc->stderr_fd(), POLLIN, 0}, {proc->exit_fd(), POLLIN, 0}};
  const bool ready = poll(fds, 3, 0) > 0;
  if (ready && fds[1].revents != 0) ReadStderr(sink);
  const bool wrote = ready && fds[0].revents != 0;
  if (wrote) ReadStdout();
  if ((ready && fds[2].revents != 0) || (proc->exit_fd() < 0 && proc->LeaderExited())) {
    return "co-process ended between events; starting a new one";
  }
  if (wrote || !out.empty()) {
    return "co-process wrote to stdout between events (more than one line per event?); "
           "restarting it";
  }
  return nullptr;
}

Exchange PipeSlot::Ask(const std::string& line, std::optional<Clock::time_point> deadline,
                       const Cancellation* cancel, std::size_t max_reply, StderrSink* sink,
                       std::string* reply) {
  std::size_t written = 0;
  while (true) {
    pollfd fds[5];
    nfds_t n = 0;
    const int out_i = static_cast<int>(n);
    fds[n++] = {proc->stdout_fd(), POLLIN, 0};
    int err_i = -1, in_i = -1, exit_i = -1, cancel_i = -1;
    if (proc->stderr_fd() >= 0) {
      err_i = static_cast<int>(n);
      fds[n++] = {proc->stderr_fd(), POLLIN, 0};
    }
    if (written < line.size() && proc->stdin_fd() >= 0) {
      in_i = static_cast<int>(n);
      fds[n++] = {proc->stdin_fd(), POLLOUT, 0};
    }
    if (proc->exit_fd() >= 0) {
      exit_i = static_cast<int>(n);
      fds[n++] = {proc->exit_fd(), POLLIN, 0};
    }
    if (cancel != nullptr && cancel->fd() >= 0) {
      cancel_i = static_cast<int>(n);
      fds[n++] = {cancel->fd(), POLLIN, 0};
    }
    // Without a pidfd the exit shows as stdout's EOF, or is polled for.
    int wait = PollMillisUntil(deadline);
    if (exit_i < 0) wait = wait < 0 ? 50 : std::min(wait, 50);
    const int ready = poll(fds, n, wait);
    if (ready < 0 && errno != EINTR) return Exchange::kClosed;
    auto fired = [&](int i) { return ready > 0 && i >= 0 && fds[i].revents != 0; };

    if (fired(in_i)) {
      // SIGPIPE is ignored by the tools and the tests (signals.h); EPIPE only means the
      // co-process is gone, which the reads below find out.
      const ssize_t w = write(proc->stdin_fd(), line.data() + written, line.size() - written);
      if (w > 0) written += static_cast<std::size_t>(w);
      if (w < 0 && errno != EAGAIN && errno != EINTR) proc->CloseStdin();
    }
    if (fired(err_i)) ReadStderr(sink);
    const bool closed = fired(out_i) && ReadStdout() == 0;
    const bool exited = fired(exit_i) || (exit_i < 0 && proc->LeaderExited());
    // One last look after an exit: a reply written just before it still counts.
    if (exited && !closed) ReadStdout();
    if (const std::size_t nl = out.find('\n'); nl != std::string::npos) {
      reply->assign(out, 0, nl);
      out.erase(0, nl + 1);
      return Exchange::kReply;
    }
    if (out.size() > max_reply) return Exchange::kTooLong;
    if (closed || exited) return Exchange::kClosed;
    if (fired(cancel_i) || (cancel != nullptr && cancel->cancelled())) {
      return Exchange::kCancelled;
    }
    if (deadline && Clock::now() >= *deadline) return Exchange::kTimeout;
  }
}

std::string PipeSlot::End(Millis kill_after, StderrSink* sink) {
  const int status = proc->Stop(kill_after);
  const Clock::time_point until = Clock::now() + kDrainBound;
  while (proc->stderr_fd() >= 0) {
    pollfd p{proc->stderr_fd(), POLLIN, 0};
    const int ready = poll(&p, 1, PollMillisUntil(until));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) break;
    if (!ReadStderr(sink)) break;
  }
  FlushStderr(sink);
  proc.reset();
  out.clear();
  return DescribeWaitStatus(status);
}

}  // namespace evt
