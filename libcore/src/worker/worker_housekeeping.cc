#include "worker/worker_housekeeping.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "evt/event.h"

namespace evt {
void HeldLeases::Add(const std::string& key, const std::string& owner) {
  if (key.empty() || owner.empty()) return;
  std::lock_guard<std::mutex> lock(mu_);
  held_.emplace(key, owner);
}

void HeldLeases::Remove(const std::string& key, const std::string& owner) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = held_.find({key, owner});
  if (it != held_.end()) held_.erase(it);
}

std::vector<std::pair<std::string, std::string>> HeldLeases::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::set<std::pair<std::string, std::string>> unique(held_.begin(), held_.end());
  return {unique.begin(), unique.end()};
}

void Housekeeper::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
}

Status Housekeeper::MoveDue(QueueSession& session, const std::function<bool()>& stop,
                            std::int64_t now, std::int64_t* next_move) {
  int moved = 0;
  Status s = session.WithRetry(
      [&] {
        Result<int> r = session.MoveDue(1000);
        if (r.ok()) moved = *r;
        return r.ok() ? Status::Ok() : r.status();
      },
      stop);
  *next_move = moved >= 1000 ? now : now + options_.move_interval.count();
  return s;
}

Status Housekeeper::Beat(QueueSession& session, const std::function<bool()>& stop,
                         UnixMillis started_at) {
  WorkerInfo info;
  info.host = HostName();
  info.pid = static_cast<int>(::getpid());
  info.started_at = started_at;
  info.concurrency = options_.concurrency;
  info.in_flight = health_().in_flight;
  info.ttl = options_.heartbeat * 3;
  return session.WithRetry([&] { return session.Heartbeat(info); }, stop);
}

// One try, no retry: a depth missed in an outage is counted at the next heartbeat.
Status Housekeeper::CountDepth(QueueSession& session) {
  Result<std::optional<QueueDepth>> depth = session.Depth();
  if (!depth.ok()) return depth.status();
  if (depth->has_value()) observer_.OnQueueDepth(**depth);
  return Status::Ok();
}

Status Housekeeper::Trim(QueueSession& session, const std::function<bool()>& stop) {
  std::int64_t trimmed = 0;
  Status s = session.WithRetry(
      [&] {
        Result<std::int64_t> r = session.Trim(options_.retention);
        if (r.ok()) trimmed = *r;
        return r.ok() ? Status::Ok() : r.status();
      },
      stop);
  if (trimmed > 0) {
    observer_.OnNotice(LogLevel::kDebug, "trimmed stream history", nullptr, {{"entries", trimmed}});
  }
  return s;
}

void Housekeeper::Run() {
  std::unique_ptr<QueueSession> session = queue_.OpenSession();
  auto stop = [this] {
    std::lock_guard<std::mutex> lock(mu_);
    return stop_;
  };
  const UnixMillis started_at = options_.clock->WallNow();
  std::int64_t next_move = 0, next_beat = 0, next_trim = 0, next_renew = 0, next_alive = 0;
  bool count_depth = false;
  const std::int64_t renew_interval = std::max<std::int64_t>(100, options_.lease_ttl.count() / 3);
  while (!stop()) {
    std::int64_t now = options_.clock->SteadyMillis();
    Status s;
    if (now >= next_move) s = MoveDue(*session, stop, now, &next_move);
    if (s.ok() && now >= next_beat) {
      s = Beat(*session, stop, started_at);
      count_depth = s.ok();
      next_beat = now + options_.heartbeat.count();
    }
    if (s.ok() && now >= next_renew) {
      s = RenewLeases(*session, stop);
      next_renew = now + renew_interval;
    }
    if (s.ok() && now >= next_trim) {
      s = Trim(*session, stop);
      next_trim = now + options_.trim_interval.count();
    }
    if (count_depth) {  // last: a count that fails holds up no lease renewal
      count_depth = false;
      Status d = CountDepth(*session);
      if (s.ok()) s = d;
    }
    if (!s.ok() && s.kind() != Status::Kind::kUnavailable) {
      // Housekeeping errors do not stop the handlers; say so and try again later.
      observer_.OnNotice(LogLevel::kError, "housekeeping: " + s.message(), nullptr,
                         {{"consumer", queue_.consumer()}});
    }
    if (now >= next_alive) {
      observer_.OnAlive(health_());
      next_alive = now + 1000;
    }
    std::int64_t wake = std::min({next_move, next_beat, next_trim, next_renew, next_alive});
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock,
                 Millis(std::clamp<std::int64_t>(wake - options_.clock->SteadyMillis(), 1, 1000)),
                 [this] { return stop_; });
  }
  session->WithRetry([&] { return session->Leave(); }, [] { return true; });
}

Status Housekeeper::RenewLeases(QueueSession& session, const std::function<bool()>& stop) {
  for (const auto& [key, owner] : leases_.Snapshot()) {
    bool renewed = false;
    Status s = session.WithRetry(
        [&] {
          Result<bool> r = session.RenewLease(key, owner, options_.lease_ttl);
          if (r.ok()) renewed = *r;
          return r.ok() ? Status::Ok() : r.status();
        },
        stop);
    if (!s.ok()) return s;
    // Not renewed: the outcome was committed meanwhile (the key is done or free), or the
    // lease lapsed during an outage longer than it.
    if (!renewed) {
      observer_.OnNotice(LogLevel::kDebug, "lease not renewed: no longer held", nullptr,
                         {{"idempotency_key", key}, {"consumer", queue_.consumer()}});
    }
  }
  return Status::Ok();
}

}  // namespace evt
