// A scripted in-memory Handler for unit tests of the worker loop: each event's
// payload.script names the outcome of each attempt, e.g. ["transient","done"].
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "evt/handler.h"

namespace evt::testing {

class FakeHandler : public Handler {
 public:
  // Outcome of attempt N (1-based) comes from payload.script[N-1] ("done", "transient",
  // "permanent", "retry-after:MS", "fatal", "block"); past the end of the script, or
  // without one, the attempt is done. "block" runs until the attempt is cancelled (then it
  // is interrupted) or Release() is called (then done), 20 s at most.
  HandlerResult Run(const AttemptContext& ctx) override {
    const Event& ev = *ctx.event;
    {
      std::lock_guard<std::mutex> lock(mu_);
      starts_[ev.event_id()].push_back(std::chrono::steady_clock::now());
      runs_[ev.idempotency_key()] += 1;
      retry_counts_[ev.event_id()].push_back(ev.retry_count());
    }
    HandlerResult r;
    r.duration = Millis(1);
    const Json& payload = ev.doc.at("payload");
    auto script = payload.find("script");
    if (script == payload.end() || !script->is_array() ||
        static_cast<std::size_t>(ctx.attempt) > script->size()) {
      return r;
    }
    std::string what = (*script)[static_cast<std::size_t>(ctx.attempt - 1)].get<std::string>();
    if (what == "transient") {
      r.outcome = Outcome::kTransient;
      r.category = Category::kDependency;
      r.error = "exit 75";
    } else if (what.rfind("retry-after:", 0) == 0) {  // "retry-after:300": Retry-After 300ms
      r.outcome = Outcome::kTransient;
      r.category = Category::kDependency;
      r.error = "HTTP 429";
      r.retry_after = Millis(std::stoll(what.substr(12)));
    } else if (what == "fatal") {  // the handler kind cannot go on (a dying co-process)
      r.outcome = Outcome::kTransient;
      r.category = Category::kCrash;
      r.error = "the co-process died at start-up 5 times in a row";
      r.interrupted = true;
      r.fatal = true;
    } else if (what == "block") {
      return Block(ctx, r);
    } else if (what == "permanent") {
      r.outcome = Outcome::kPermanent;
      r.category = Category::kData;
      r.error = "exit 65";
    }
    return r;
  }

  // Lets every "block" attempt finish (done).
  void Release() { released_ = true; }
  // "block" attempts running now.
  int blocked() const { return blocked_.load(); }

  int runs(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    return runs_[key];
  }
  // When each attempt of event `id` started.
  std::vector<std::chrono::steady_clock::time_point> starts(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    return starts_[id];
  }
  std::vector<std::int64_t> retry_counts(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    return retry_counts_[id];
  }

 private:
  HandlerResult Block(const AttemptContext& ctx, HandlerResult r) {
    ++blocked_;
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!released_ && std::chrono::steady_clock::now() < give_up) {
      if (ctx.cancel != nullptr && ctx.cancel->cancelled()) {
        r.outcome = Outcome::kTransient;
        r.category = Category::kCrash;
        r.error = "stopped at shutdown";
        r.interrupted = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    --blocked_;
    return r;
  }

  std::atomic<bool> released_{false};
  std::atomic<int> blocked_{0};
  std::mutex mu_;
  std::map<std::string, int> runs_;
  std::map<std::string, std::vector<std::chrono::steady_clock::time_point>> starts_;
  std::map<std::string, std::vector<std::int64_t>> retry_counts_;
};

}  // namespace evt::testing
