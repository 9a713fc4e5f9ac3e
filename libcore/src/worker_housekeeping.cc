#include "worker_housekeeping.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "evt/log.h"

namespace evt {
namespace {

std::int64_t SteadyMillis() {
  return std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void Housekeeper::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
}

void Housekeeper::Run() {
  std::unique_ptr<QueueSession> session = queue_.OpenSession();
  auto stop = [this] {
    std::lock_guard<std::mutex> lock(mu_);
    return stop_;
  };
  const UnixMillis started_at = NowUnixMillis();
  std::int64_t next_move = 0, next_beat = 0, next_trim = 0;
  while (!stop()) {
    std::int64_t now = SteadyMillis();
    Status s;
    if (now >= next_move) {
      int moved = 0;
      s = session->WithRetry(
          [&] {
            Result<int> r = session->MoveDue(1000);
            if (r.ok()) moved = *r;
            return r.ok() ? Status::Ok() : r.status();
          },
          stop);
      next_move = moved >= 1000 ? now : now + options_.move_interval.count();
    }
    if (s.ok() && now >= next_beat) {
      WorkerInfo info;
      info.host = HostName();
      info.pid = static_cast<int>(::getpid());
      info.started_at = started_at;
      info.concurrency = options_.concurrency;
      info.in_flight = in_flight_.load();
      info.ttl = options_.heartbeat * 3;
      s = session->WithRetry([&] { return session->Heartbeat(info); }, stop);
      next_beat = now + options_.heartbeat.count();
    }
    if (s.ok() && now >= next_trim) {
      std::int64_t trimmed = 0;
      s = session->WithRetry(
          [&] {
            Result<std::int64_t> r = session->Trim(options_.retention);
            if (r.ok()) trimmed = *r;
            return r.ok() ? Status::Ok() : r.status();
          },
          stop);
      if (trimmed > 0) Log(LogLevel::kDebug, "trimmed stream history", {{"entries", trimmed}});
      next_trim = now + options_.trim_interval.count();
    }
    if (!s.ok() && s.kind() != Status::Kind::kUnavailable) {
      // Housekeeping errors do not stop the handlers; say so and try again later.
      Log(LogLevel::kError, "housekeeping: " + s.message(), {{"consumer", queue_.consumer()}});
    }
    std::int64_t wake = std::min({next_move, next_beat, next_trim});
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, Millis(std::max<std::int64_t>(1, wake - SteadyMillis())),
                 [this] { return stop_; });
  }
  session->WithRetry([&] { return session->Leave(); }, [] { return true; });
}

}  // namespace evt
