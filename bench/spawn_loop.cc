// The reference for evt-work's throughput: the machine's own limit for running a command,
// a plain posix_spawn + waitpid loop with `inflight` children at once.
//   spawn_loop COUNT INFLIGHT COMMAND   → prints "runs/s"
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

extern char** environ;

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: spawn_loop COUNT INFLIGHT COMMAND\n");
    return 64;
  }
  long count = std::atol(argv[1]);
  long inflight = std::atol(argv[2]);
  char* args[] = {argv[3], nullptr};
  auto start = std::chrono::steady_clock::now();
  long started = 0, running = 0;
  while (started < count || running > 0) {
    while (running < inflight && started < count) {
      pid_t pid;
      if (posix_spawn(&pid, argv[3], nullptr, nullptr, args, environ) != 0) return 70;
      ++started;
      ++running;
    }
    int status;
    if (wait(&status) > 0) --running;
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%.0f\n", static_cast<double>(count) / s);
  return 0;
}
