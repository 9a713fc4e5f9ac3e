// sd_notify(3) without libsystemd: datagrams to the AF_UNIX socket that systemd names in
// NOTIFY_SOCKET (a path, or "@name" for an abstract socket), and the observer that sends
// READY=1, STATUS=, WATCHDOG=1 and STOPPING=1 at the right steps of the loop.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "base/fd.h"
#include "evt/clock.h"
#include "evt/status.h"
#include "evt/worker_observer.h"
#include "ops/health.h"

namespace evt {

// A datagram socket and the service manager's address. Thread-safe (one send per call).
class NotifySocket {
 public:
  // Connects to `address` ("/run/systemd/notify" or "@abstract"). InvalidArgument for an
  // address that is neither or too long, IOError when the socket cannot be made.
  static Result<std::unique_ptr<NotifySocket>> Open(std::string_view address);
  // Sends `message` ("READY=1", "STATUS=...") as one datagram. IOError on failure.
  Status Send(std::string_view message);

 private:
  NotifySocket() = default;
  Fd fd_;
  sockaddr_un address_{};
  socklen_t address_size_ = 0;
};

// The watchdog interval systemd asks for: WATCHDOG_USEC, when WATCHDOG_PID is unset or
// names `pid`. Zero when there is no watchdog (unset, empty, malformed, another pid).
Millis WatchdogInterval(const char* watchdog_usec, const char* watchdog_pid, int pid);

// Sends READY=1 on OnReady, STATUS= with counts on OnAlive (when they changed),
// STOPPING=1 on OnStopping, and WATCHDOG=1 from WatchdogTick() every half `watchdog`
// while the loop is alive (HealthTracker: an OnAlive within 3 ticks), never when it is
// stuck. A failed send is logged once. Thread-safe.
class SdNotifier : public WorkerObserver {
 public:
  // Not owned: `socket`, `clock` and `health` outlive this. `watchdog` zero: no pings.
  SdNotifier(NotifySocket* socket, Clock* clock, const HealthTracker* health, Millis watchdog);

  void OnReady() override;
  void OnAttemptEnded(const AttemptEnd& end, Disposition what, DeadReason reason) override;
  void OnAlive(const LoopHealth& health) override;
  void OnStopping() override;

  // Sends WATCHDOG=1 when one is due and the loop is alive. Returns how long to wait
  // before the next call (a real thread waits that long; a test moves its fake clock).
  Millis WatchdogTick();
  Millis watchdog() const { return watchdog_; }
  // The STATUS= text for `health` and the counts so far.
  std::string StatusText(const LoopHealth& health) const;

 private:
  void Send(std::string_view message);

  NotifySocket* const socket_;
  Clock* const clock_;
  const HealthTracker* const health_;
  const Millis watchdog_;
  std::atomic<std::uint64_t> done_{0}, retried_{0}, failed_{0}, duplicate_{0};
  std::mutex mu_;  // guards the fields below
  std::string last_status_;
  bool have_pinged_ = false;
  std::chrono::steady_clock::time_point next_ping_{};
  bool send_failed_ = false;
};

}  // namespace evt
