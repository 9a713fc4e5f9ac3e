// Private: runs one child process with bounded capture, a deadline and cancellation.
// The only place in libcore that calls fork/exec; handler_exec.cc builds on it.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "evt/duration.h"
#include "handler/spawn.h"  // ExecCandidates

namespace evt {

struct ProcessSpec {
  std::vector<std::string> argv;        // argv[0] is searched in PATH when it has no '/'
  std::vector<std::string> extra_env;   // "K=V" entries added to (or replacing in) environ
  std::vector<std::string> unset_env;   // names removed from environ (extra_env still adds)
  std::string stdin_data;               // written to the child's stdin, which is then closed
  Millis timeout{0};                    // SIGTERM to the group after this; <= 0: no deadline
  Millis kill_after{10000};             // SIGKILL to the group this long after the SIGTERM
  std::size_t max_capture = 64 * 1024;  // bytes of stdout and of stderr kept, each
  int cancel_fd = -1;                   // when readable: stop the child like a timeout; -1 for none
  // Called from the calling thread with each stderr line, without its newline; a line
  // longer than kMaxStderrLine is truncated. May be empty.
  std::function<void(std::string_view)> on_stderr_line;
};

inline constexpr std::size_t kMaxStderrLine = 4096;

struct ProcessResult {
  bool started = false;  // exec succeeded
  int start_errno = 0;   // why not, when !started
  bool exited = false;   // exited normally: exit_code is valid
  int exit_code = -1;
  int term_signal = 0;          // the signal that killed it, when !exited and started
  bool timed_out = false;       // stopped because the timeout passed
  bool cancelled = false;       // stopped because cancel_fd became readable
  std::string out;              // first max_capture bytes of stdout
  std::string err;              // first max_capture bytes of stderr
  std::uint64_t out_total = 0;  // bytes the child wrote to stdout, kept or not
  std::uint64_t err_total = 0;
  bool err_ends_in_newline = false;  // the last byte written to stderr was '\n'
  Millis duration{0};                // from just before fork to the reaping of the child
};

// Runs spec.argv in a new process group (pgid = its pid) with stdin, stdout and stderr
// on pipes, default signal dispositions, an empty signal mask, PR_SET_PDEATHSIG(SIGKILL)
// (tied to the calling thread) and no other inherited descriptors. Returns when the
// child has been reaped and every fd this call opened is closed.
//
// When the child exits, the rest of its process group is SIGKILLed before the child is
// reaped (the pgid cannot be reused while the zombie leader exists), so a background
// process the command left behind never outlives the call. This is deliberate: a handler
// attempt owns everything it started. A process that left the group (setsid) and was
// orphaned is killed too when this process is a child subreaper (Reaper::KillOrphans):
// the child is registered with the Reaper from its start until it is reaped. Reading of
// stdout/stderr then stops at EOF or after a short bound.
//
// Thread-safe: several threads may call it at once. A child that stops reading stdin
// costs nothing: SIGPIPE is blocked in the calling thread around the writes and the one
// an EPIPE raises is consumed, so the caller need not ignore SIGPIPE (the tools do anyway).
// REQUIRES: SIGCHLD is not SIG_IGN (the child must stay waitable), and nobody else in the
// process reaps arbitrary children (waitpid(-1, ...)). Once Reaper::BecomeSubreaper has
// been called, every child of the process that is outside its own process group and is
// not a running handler counts as an orphan and is killed. The environment is read, so no
// other thread may call setenv/putenv meanwhile.
ProcessResult RunProcess(const ProcessSpec& spec);

}  // namespace evt
