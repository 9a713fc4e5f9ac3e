#include "ops/ticker.h"

#include <algorithm>

namespace evt {

Ticker::Ticker(std::function<Millis()> tick) : tick_(std::move(tick)) {
  thread_ = std::thread([this] { Run(); });
}

Ticker::~Ticker() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Ticker::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    lock.unlock();
    const Millis wait = std::max(Millis(1), tick_());
    lock.lock();
    cv_.wait_for(lock, wait, [this] { return stop_; });
  }
}

}  // namespace evt
