#include "evt/signals.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>

namespace evt {
namespace {

volatile sig_atomic_t g_stop_signal = 0;
int g_wake[2] = {-1, -1};

extern "C" void OnStopSignal(int sig) {
  int saved = errno;  // write() may change errno under the interrupted code's feet
  g_stop_signal = sig;
  WakeUp();
  errno = saved;
}

}  // namespace

void InstallStopSignals() {
  if (g_wake[0] < 0 && ::pipe2(g_wake, O_CLOEXEC | O_NONBLOCK) != 0) {
    g_wake[0] = g_wake[1] = -1;
  }
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
  struct sigaction ign {};
  ign.sa_handler = SIG_IGN;
  sigemptyset(&ign.sa_mask);
  ::sigaction(SIGPIPE, &ign, nullptr);
}

bool StopRequested() { return g_stop_signal != 0; }
int StopSignal() { return g_stop_signal; }
int WakeFd() { return g_wake[0]; }

void WakeUp() {
  if (g_wake[1] >= 0) {
    char b = 1;
    // A full pipe already means "wake up": the lost byte does not matter.
    [[maybe_unused]] ssize_t n = ::write(g_wake[1], &b, 1);
  }
}

void DrainWake() {
  char buf[256];
  while (g_wake[0] >= 0 && ::read(g_wake[0], buf, sizeof buf) > 0) {
  }
}

}  // namespace evt
