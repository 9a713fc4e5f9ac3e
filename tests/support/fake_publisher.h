// An in-memory EventPublisher for tests of the logic above the transport seam (the spool,
// evt-emit's delivery order). It records what it accepted and can be told to fail.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "evt/publisher.h"

namespace evt::testing {

class FakePublisher : public EventPublisher {
 public:
  // Accepts at most `budget` more events, then returns `failure` (unlimited when < 0).
  long long budget = -1;
  Status failure = Status::Unavailable("fake: broker down");
  std::int64_t depth = 0;
  std::function<void()> on_publish;  // runs at the start of every Publish call

  std::vector<Publication> accepted;

  Status Publish(const std::vector<Publication>& batch, std::size_t* n) override {
    if (on_publish) on_publish();
    *n = 0;
    for (const Publication& p : batch) {
      if (budget == 0) return failure;
      if (budget > 0) --budget;
      accepted.push_back(p);
      ++*n;
    }
    return Status::Ok();
  }
  Result<std::int64_t> Depth() override { return depth; }

  std::vector<std::string> Ids() const {
    std::vector<std::string> ids;
    for (const Publication& p : accepted) ids.push_back(p.event.event_id());
    return ids;
  }
};

}  // namespace evt::testing
