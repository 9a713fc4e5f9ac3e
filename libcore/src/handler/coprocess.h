// PRIVATE: a long-lived child process with pipes on stdin, stdout and stderr, for the
// pipe handler. Where subprocess.h runs one process to its end, a Coprocess stays up
// between calls and its owner talks to it through the three descriptors.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "base/fd.h"
#include "evt/duration.h"
#include "evt/status.h"

namespace evt {

class Coprocess {
 public:
  // Starts argv (argv[0] searched in PATH when it has no '/') in a new process group
  // (pgid = its pid), without a shell, with the worker's environment less evt's
  // credentials (EVT_REDIS_PASSWORD, EVT_REDIS_PASSWORD_FILE, an EVT_BROKER with a user or
  // password), default signal dispositions, an empty signal mask, PR_SET_PDEATHSIG(SIGKILL)
  // tied to the CALLING THREAD (call it from a thread that lives as long as the process
  // should), and no inherited descriptor but the three pipes. The parent's ends are
  // non-blocking and close-on-exec. Unavailable "cannot run CMD: <errno text>" when it
  // cannot be started.
  static Result<std::unique_ptr<Coprocess>> Start(const std::vector<std::string>& argv);

  // Kills the group (SIGKILL) and reaps the leader unless that was done already.
  ~Coprocess();
  Coprocess(const Coprocess&) = delete;
  Coprocess& operator=(const Coprocess&) = delete;

  pid_t pid() const { return pid_; }
  int stdin_fd() const { return in_.get(); }    // -1 after CloseStdin()
  int stdout_fd() const { return out_.get(); }  // -1 after CloseStdout()
  int stderr_fd() const { return err_.get(); }  // -1 after CloseStderr()
  // Readable (POLLIN) once the leader has exited; -1 on kernels without pidfd_open.
  int exit_fd() const { return pidfd_.get(); }

  void CloseStdin();  // end of file for the process
  void CloseStdout();
  void CloseStderr();

  // True once the leader has exited (not reaped yet: its pgid stays reserved).
  bool LeaderExited() const;

  // Waits up to `wait` for the leader to exit by itself. True when it has.
  bool WaitForExit(Millis wait) const;

  // Ends the process: SIGTERM to its group, SIGKILL to the group `kill_after` later if the
  // leader still lives, then SIGKILL to whatever is left of the group, and reaps the
  // leader. Returns its wait status. Idempotent: a second call returns the first status.
  int Stop(Millis kill_after);

 private:
  Coprocess(pid_t pid, Fd in, Fd out, Fd err);

  pid_t pid_;
  Fd in_, out_, err_;
  Fd pidfd_;
  bool reaped_ = false;
  int status_ = 0;
};

// "exit 3", "killed by signal 9 (SIGKILL)".
std::string DescribeWaitStatus(int status);

}  // namespace evt
