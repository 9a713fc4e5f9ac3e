// Starting a child process the way every handler kind needs it (see spawn.h).
#include "handler/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <unordered_set>

#include "evt/broker.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

extern char** environ;

namespace evt {

namespace {

[[noreturn]] void ReportAndExit(int fd, int err) {
  ssize_t n = write(fd, &err, sizeof err);
  (void)n;
  _exit(127);
}

[[noreturn]] void RunChild(const ChildPlan& plan) {
  setpgid(0, 0);
  // PDEATHSIG fires when the forking *thread* dies; if the parent died before prctl,
  // we were reparented already and must not run unsupervised.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != plan.parent_pid) _exit(127);

  // Ignored signals survive exec (the tools ignore SIGPIPE); handled ones reset anyway.
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, nullptr);
  }
  sigset_t empty;
  sigemptyset(&empty);
  sigprocmask(SIG_SETMASK, &empty, nullptr);

  // Move every fd we need above 2 first: if the worker runs with a closed stdin, pipe2
  // may have handed out 0..2 and a plain dup2 sequence would clobber one with another.
  int err_fd = fcntl(plan.exec_error_fd, F_DUPFD_CLOEXEC, 3);
  if (err_fd < 0) _exit(127);
  int high[3];
  for (int i = 0; i < 3; ++i) {
    high[i] = fcntl(plan.fds[i], F_DUPFD_CLOEXEC, 3);
    if (high[i] < 0) ReportAndExit(err_fd, errno);
  }
  for (int i = 0; i < 3; ++i) {
    if (dup2(high[i], i) < 0) ReportAndExit(err_fd, errno);  // dup2 clears FD_CLOEXEC
  }
  // Descriptors other libraries opened without O_CLOEXEC must not leak into handlers.
  // Marking (not closing) keeps err_fd usable until exec succeeds.
  syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);

  int err = ENOENT;
  bool saw_eacces = false;
  for (char* const* c = plan.candidates; *c != nullptr; ++c) {
    execve(*c, plan.argv, plan.envp);
    err = errno;
    if (err == EACCES) {
      saw_eacces = true;
    } else if (err != ENOENT && err != ENOTDIR && err != ESTALE && err != ENODEV &&
               err != ETIMEDOUT) {
      break;  // as execvp: a real error with a found file ends the search
    }
  }
  ReportAndExit(err_fd, saw_eacces && (err == ENOENT || err == ENOTDIR) ? EACCES : err);
}

}  // namespace

std::vector<std::string> BuildEnvironment(const std::vector<std::string>& extra,
                                          const std::vector<std::string>& unset) {
  std::unordered_set<std::string_view> overridden(unset.begin(), unset.end());
  for (const std::string& kv : extra)
    overridden.insert(std::string_view(kv).substr(0, kv.find('=')));
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view kv(*e);
    if (overridden.count(kv.substr(0, kv.find('='))) == 0) env.emplace_back(kv);
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

std::vector<char*> Pointers(const std::vector<std::string>& strings) {
  std::vector<char*> ptrs;
  ptrs.reserve(strings.size() + 1);
  for (const std::string& s : strings) ptrs.push_back(const_cast<char*>(s.c_str()));
  ptrs.push_back(nullptr);
  return ptrs;
}

void HideCredentials(std::vector<std::string>* extra, std::vector<std::string>* unset) {
  for (const char* name : kCredentialEnvNames) unset->emplace_back(name);
  if (const char* broker = std::getenv("EVT_BROKER")) {
    std::string stripped = StripUrlPassword(broker);
    if (stripped != broker) extra->push_back("EVT_BROKER=" + stripped);
  }
}

std::vector<std::string> ExecCandidates(const std::string& file) {
  if (file.empty()) return {};
  if (file.find('/') != std::string::npos) return {file};
  const char* env_path = std::getenv("PATH");
  std::string_view path = env_path != nullptr ? env_path : "/bin:/usr/bin";
  std::vector<std::string> out;
  while (true) {
    size_t colon = path.find(':');
    std::string_view dir = path.substr(0, colon);
    out.push_back(dir.empty() ? "./" + file : std::string(dir) + "/" + file);
    if (colon == std::string_view::npos) break;
    path.remove_prefix(colon + 1);
  }
  return out;
}

// vfork rather than fork: the child borrows this process's memory and this thread waits
// until the child execs or exits, so starting a handler costs the same however large the
// worker is (fork copies page tables; measured here: 1.3-1.6x slower spawns). The child
// only makes async-signal-safe calls on the prebuilt plan and never returns. Every signal
// is blocked around the call, so no handler of ours can run in the child before RunChild
// has reset them all to the default.
pid_t SpawnChild(const ChildPlan& plan) {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  const pid_t pid = vfork();
  if (pid == 0) RunChild(plan);
  const int saved = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  errno = saved;
  return pid;
}

}  // namespace evt
