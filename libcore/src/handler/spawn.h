// PRIVATE: starting a child process, shared by every handler kind that runs a program
// (subprocess.cc for commands, coprocess.cc for co-processes), so that the rules of what a
// handler inherits are written once: its own process group, PR_SET_PDEATHSIG, default
// signal dispositions, an empty mask, no inherited descriptor beyond 0..2, and no evt
// credential in its environment.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace evt {

// Everything the child needs, computed before fork so that the child only makes
// async-signal-safe calls (no allocation: another thread may have held malloc's lock).
struct ChildPlan {
  pid_t parent_pid;
  char* const* candidates;  // null-terminated
  char* const* argv;
  char* const* envp;
  int fds[3];  // become the child's 0, 1 and 2
  int exec_error_fd;
};

// vfork + exec of the first runnable `candidates` entry, as execvp would. Returns the
// child's pid, or -1 with errno set. An exec failure is reported by the child as an errno
// written to `exec_error_fd` (which the caller created O_CLOEXEC: EOF means exec worked).
// The child makes only async-signal-safe calls on the prebuilt plan. Thread-safe.
pid_t SpawnChild(const ChildPlan& plan);

// This process's environment less the names in `unset` and those `extra` sets, plus
// `extra` ("NAME=value" each).
std::vector<std::string> BuildEnvironment(const std::vector<std::string>& extra,
                                          const std::vector<std::string>& unset);

// Adds what keeps evt's credentials from a handler: every kCredentialEnvNames to `unset`,
// and EVT_BROKER without its password to `extra` when the broker URL holds one.
void HideCredentials(std::vector<std::string>* extra, std::vector<std::string>* unset);

// Null-terminated pointers into `strings`, for execve. `strings` must outlive them.
std::vector<char*> Pointers(const std::vector<std::string>& strings);

// The paths an execvp-style PATH search tries for `file`, in order: `file` itself when
// it contains '/', else each PATH entry joined with it (an empty entry means ".";
// no PATH means "/bin:/usr/bin", as glibc does).
std::vector<std::string> ExecCandidates(const std::string& file);

}  // namespace evt
