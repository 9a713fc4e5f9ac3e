#include "ops/sd_notify.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "evt/log.h"

namespace evt {

Result<std::unique_ptr<NotifySocket>> NotifySocket::Open(std::string_view address) {
  std::unique_ptr<NotifySocket> s(new NotifySocket());
  if (address.size() < 2 || (address[0] != '/' && address[0] != '@') ||
      address.size() >= sizeof(s->address_.sun_path)) {
    return Status::InvalidArgument("NOTIFY_SOCKET=" + std::string(address) +
                                   ": not a socket path or @abstract name");
  }
  s->address_.sun_family = AF_UNIX;
  std::memcpy(s->address_.sun_path, address.data(), address.size());
  // An abstract name starts with a NUL byte instead of '@', and its length counts exactly.
  if (address[0] == '@') s->address_.sun_path[0] = '\0';
  s->address_size_ = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address.size());
  s->fd_.Reset(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!s->fd_.valid()) {
    return Status::IOError(std::string("sd_notify: socket: ") + std::strerror(errno));
  }
  return s;
}

Status NotifySocket::Send(std::string_view message) {
  ssize_t n = sendto(fd_.get(), message.data(), message.size(), MSG_NOSIGNAL,
                     reinterpret_cast<const sockaddr*>(&address_), address_size_);
  if (n < 0) return Status::IOError(std::string("sd_notify: ") + std::strerror(errno));
  return Status::Ok();
}

Millis WatchdogInterval(const char* watchdog_usec, const char* watchdog_pid, int pid) {
  if (watchdog_usec == nullptr || *watchdog_usec == '\0') return Millis(0);
  if (watchdog_pid != nullptr && *watchdog_pid != '\0') {
    char* end = nullptr;
    long long p = std::strtoll(watchdog_pid, &end, 10);
    if (*end != '\0' || p != pid) return Millis(0);
  }
  char* end = nullptr;
  errno = 0;
  unsigned long long usec = std::strtoull(watchdog_usec, &end, 10);
  if (*end != '\0' || errno != 0 || watchdog_usec[0] == '-') return Millis(0);
  return Millis(static_cast<std::int64_t>(usec / 1000));
}

SdNotifier::SdNotifier(NotifySocket* socket, Clock* clock, const HealthTracker* health,
                       Millis watchdog)
    : socket_(socket), clock_(clock), health_(health), watchdog_(watchdog) {}

void SdNotifier::Send(std::string_view message) {
  Status s = socket_->Send(message);
  if (s.ok()) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (send_failed_) return;
  send_failed_ = true;
  Log(LogLevel::kWarn, "cannot notify the service manager", {{"error", s.message()}});
}

void SdNotifier::OnReady() { Send("READY=1\nSTATUS=ready, reading work"); }

void SdNotifier::OnAttemptEnded(const AttemptEnd& /*end*/, Disposition what,
                                DeadReason /*reason*/) {
  switch (what) {
    case Disposition::kDone:
      ++done_;
      break;
    case Disposition::kRetry:
      ++retried_;
      break;
    case Disposition::kFailed:
      ++failed_;
      break;
    case Disposition::kDuplicate:
      ++duplicate_;
      break;
    default:
      break;
  }
}

std::string SdNotifier::StatusText(const LoopHealth& health) const {
  std::string text = health.stopping ? "stopping; " : "";
  text += "in flight " + std::to_string(health.in_flight) + "/" +
          std::to_string(health.concurrency) + "; done " + std::to_string(done_.load()) +
          ", retried " + std::to_string(retried_.load()) + ", failed " +
          std::to_string(failed_.load()) + ", duplicate " + std::to_string(duplicate_.load());
  text += health.store_ok ? "; store ok" : "; store unreachable";
  if (health.waiting_commits > 0) {
    text += ", " + std::to_string(health.waiting_commits) + " outcomes waiting";
  }
  return text;
}

void SdNotifier::OnAlive(const LoopHealth& health) {
  std::string text = StatusText(health);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (text == last_status_) return;
    last_status_ = text;
  }
  Send("STATUS=" + text);
}

void SdNotifier::OnStopping() { Send("STOPPING=1\nSTATUS=stopping"); }

Millis SdNotifier::WatchdogTick() {
  if (watchdog_ <= Millis(0)) return Millis(60000);
  const Millis half = watchdog_ / 2;
  const auto now = clock_->SteadyNow();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (have_pinged_ && now < next_ping_) {
      return std::chrono::duration_cast<Millis>(next_ping_ - now);
    }
  }
  const HealthSnapshot h = health_->Snapshot();
  if (!h.alive) {
    // Stuck (or not started): no ping, so that systemd restarts a stuck loop; look again
    // soon so that a loop that comes back is pinged at once.
    return std::min(half, Millis(250));
  }
  Send("WATCHDOG=1");
  std::lock_guard<std::mutex> lock(mu_);
  have_pinged_ = true;
  next_ping_ = now + half;
  return half;
}

}  // namespace evt
