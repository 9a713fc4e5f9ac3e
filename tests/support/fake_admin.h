// An in-memory QueueAdmin for unit tests of the logic above the seam (evt-dlq, evt-replay):
// dead letters, a stream, done keys and audit records in vectors. The real stores are
// tested against a real redis-server (tests/integration/admin_redis_test.cc) and real files.
#pragma once

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "evt/queue_admin.h"

namespace evt::testing {

class FakeAdmin : public QueueAdmin {
 public:
  std::vector<DeadLetterRecord> dead;
  std::vector<HistoryRecord> history;
  std::vector<std::string> stream;  // what Enqueue and MoveDeadLetter appended (this queue)
  std::vector<std::pair<std::string, std::string>> moved_to;  // (queue, event text)
  std::set<std::string> done;
  std::vector<AuditRecord> audit;
  Status fail_writes;  // when set, Enqueue and MoveDeadLetter return it

  std::string Describe() const override { return "fake"; }

  Result<std::vector<DeadLetterRecord>> ListDeadLetters(const RecordFilter& f) override {
    std::vector<DeadLetterRecord> out;
    for (const auto& r : dead) {
      if (f.limit != 0 && out.size() >= f.limit) break;
      if (RecordMatches(f, r)) out.push_back(r);
    }
    return out;
  }
  Result<std::int64_t> PurgeDeadLetters(const std::vector<std::string>& ids) override {
    const auto before = dead.size();
    dead.erase(std::remove_if(dead.begin(), dead.end(),
                              [&](const DeadLetterRecord& r) {
                                return std::find(ids.begin(), ids.end(), r.id) != ids.end();
                              }),
               dead.end());
    return static_cast<std::int64_t>(before - dead.size());
  }
  Result<bool> MoveDeadLetter(const std::string& id, const std::string& json,
                              const std::string& to_queue, bool keep) override {
    if (!fail_writes.ok()) return fail_writes;
    auto it = std::find_if(dead.begin(), dead.end(),
                           [&](const DeadLetterRecord& r) { return r.id == id; });
    if (it == dead.end()) return false;
    moved_to.emplace_back(to_queue, json);
    if (!keep) dead.erase(it);
    return true;
  }
  Status Enqueue(const std::string& json) override {
    if (!fail_writes.ok()) return fail_writes;
    stream.push_back(json);
    return Status::Ok();
  }
  Result<std::vector<HistoryRecord>> ReadHistory(const RecordFilter& f) override {
    std::vector<HistoryRecord> out;
    for (const auto& h : history) {
      if (HistoryMatches(f, h)) out.push_back(h);
    }
    return out;
  }
  Result<std::vector<bool>> DoneKeys(const std::vector<std::string>& keys) override {
    std::vector<bool> out;
    for (const auto& k : keys) out.push_back(done.count(k) != 0);
    return out;
  }
  Status AppendAudit(const AuditRecord& a) override {
    audit.push_back(a);
    return Status::Ok();
  }

  // Adds a dead letter of an event of `type` with `retry_count`, id "N".
  void AddDead(const std::string& type, int retry_count = 5, evt::UnixMillis failed_at = 1000) {
    DeadLetterRecord r;
    r.id = std::to_string(dead.size() + 1) + "-0";
    r.letter.event = Json{{"event_id", "evt_" + std::to_string(dead.size() + 1)},
                          {"event_type", type},
                          {"retry_count", retry_count}};
    r.letter.failed_at = failed_at;
    r.letter.reason = DeadReason::kRetriesExhausted;
    r.letter.category = Category::kDependency;
    r.letter.attempts = retry_count + 1;
    r.letter.error = "exit 75: downstream unavailable\nsecond line";
    dead.push_back(std::move(r));
  }
};

}  // namespace evt::testing
