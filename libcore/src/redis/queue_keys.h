// The Redis key names of one queue (DESIGN.md, "Delivery semantics"). Every key of a queue
// carries the hash tag {<queue>}, so all of them live in one Redis Cluster slot and every
// transaction or script on one queue stays single-slot.
#pragma once

#include <cstdint>
#include <string>

namespace evt {

class QueueKeys {
 public:
  // REQUIRES: ns and queue passed ValidateNamespace / ValidateQueueName.
  QueueKeys(std::string ns, std::string queue)
      : ns_(std::move(ns)), queue_(std::move(queue)), base_(ns_ + ":{" + queue_ + "}:") {}

  const std::string& ns() const { return ns_; }
  const std::string& queue() const { return queue_; }

  std::string stream() const { return base_ + "stream"; }    // stream, field `event`
  std::string delayed() const { return base_ + "delayed"; }  // zset, score = due ms
  std::string dlq() const { return base_ + "dlq"; }          // stream of dead letters
  std::string audit() const { return base_ + "audit"; }      // stream
  std::string workers() const { return base_ + "workers"; }  // zset consumer → heartbeat ms
  std::string worker(const std::string& consumer) const { return base_ + "worker:" + consumer; }
  std::string idem(const std::string& key) const { return base_ + "idem:" + key; }
  std::string ev(const std::string& event_id) const { return base_ + "ev:" + event_id; }
  // Commit marker of one delivery (string, TTL a day): its outcome is written, so a
  // repeated attempt-ending script only acknowledges it.
  std::string fin(const std::string& stream_id) const { return base_ + "fin:" + stream_id; }
  // Handler starts of one delivery (string counter, TTL a day): the poison rule.
  std::string run(const std::string& stream_id) const { return base_ + "run:" + stream_id; }
  // Metrics hash of the minute `unix_minute` (= unix ms / 60000).
  std::string metrics(std::int64_t unix_minute) const {
    return base_ + "m:" + std::to_string(unix_minute);
  }
  // The set of queue names in use: the one key outside the queue's slot.
  std::string queues() const { return ns_ + ":queues"; }

 private:
  std::string ns_;
  std::string queue_;
  std::string base_;
};

}  // namespace evt
