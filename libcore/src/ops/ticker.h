// A thread that calls a function again and again, waiting between calls as long as the
// function's last return asks, until it is destroyed.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "evt/duration.h"

namespace evt {

class Ticker {
 public:
  // Starts the thread; its first call of `tick` is right away. `tick` returns the wait
  // before the next call (real time).
  explicit Ticker(std::function<Millis()> tick);
  // Wakes the thread, waits for the call in progress (if any) and joins it.
  ~Ticker();
  Ticker(const Ticker&) = delete;
  Ticker& operator=(const Ticker&) = delete;

 private:
  void Run();

  std::function<Millis()> tick_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace evt
