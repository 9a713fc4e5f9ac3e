// A scripted in-memory Handler for unit tests of the worker loop: each event's
// payload.script names the outcome of each attempt, e.g. ["transient","done"].
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "evt/handler.h"

namespace evt::testing {

class FakeHandler : public Handler {
 public:
  // Outcome of attempt N (1-based) comes from payload.script[N-1] ("done", "transient",
  // "permanent"); past the end of the script, or without one, the attempt is done.
  HandlerResult Run(const AttemptContext& ctx) override {
    const Event& ev = *ctx.event;
    {
      std::lock_guard<std::mutex> lock(mu_);
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
    } else if (what == "permanent") {
      r.outcome = Outcome::kPermanent;
      r.category = Category::kData;
      r.error = "exit 65";
    }
    return r;
  }

  int runs(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    return runs_[key];
  }
  std::vector<std::int64_t> retry_counts(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    return retry_counts_[id];
  }

 private:
  std::mutex mu_;
  std::map<std::string, int> runs_;
  std::map<std::string, std::vector<std::int64_t>> retry_counts_;
};

}  // namespace evt::testing
