// The Queue implementations the contract suite runs against, and the harness each provides.
//
// The contract suite (tests/contract/*_test.cc) states the promises of evt/queue.h
// backend-neutrally: its cases reach a queue only through the Queue/QueueSession interface
// and the QueueHarness below. A new implementation is one entry: a file in tests/contract/
// that implements QueueHarness and registers a QueueImpl at static initialization, e.g.
//
//   const bool registered = RegisterQueueImpl(
//       {"sqlite", {/*has_claim=*/true, ...}, [] { return MakeSqliteHarness(); }});
//
// Every case runs once per registered implementation (one DYNAMIC_SECTION named after it;
// select one with `evt_contract_tests -c redis`), skipping those without the capability
// the case needs.
//
// Harnesses are made and used on the test's own thread only (Catch2 v2 is not thread-safe);
// a case that uses threads opens its sessions first and hands them over.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "evt/duration.h"
#include "evt/queue.h"
#include "evt/rfc3339.h"
#include "evt/status.h"

namespace evt::contract {

// What an implementation offers beyond the calls every Queue has. A case that needs a
// capability runs only where it is set.
struct QueueCaps {
  bool has_claim = false;            // Claim takes over other consumers' pending entries
  bool has_consumer_groups = false;  // several Queues (consumers) share the entries, each
                                     // entry going to one; DropGroup works
  bool durable = false;              // a second Queue with the first one's consumer name (a
                                     // restart) finds the entries left pending
  bool counts_starts = false;        // StartAttempt keeps per-delivery state: counts starts
                                     // (Lease::starts, kPoison), knows committed ones (kFinished)
  bool leases_expire = false;        // a lease lives for its ttl (an owner may die without
                                     // ending it): kBusy says the time left; without this a
                                     // lease lives until its holder's outcome or release
  bool schedules = false;            // retries and deferrals wait in the store until MoveDue
                                     // moves them, and a retry gives its key back meanwhile;
                                     // without this the queue hands them out itself (Receive)
                                     // and a retried event keeps its key until its outcome
  bool claims_own = false;           // Claim also takes over this consumer's own idle
                                     // entries once no session of the Queue holds them;
                                     // without this (queue.h promises only other
                                     // consumers') they wait for ReceivePending
};

// One fresh, empty queue on its own store (or namespace), and the means to feed and
// observe it. Made per case section; destroyed at its end (sessions first).
class QueueHarness {
 public:
  virtual ~QueueHarness() = default;

  // The queue under test. Its consumer name is "c1". Lives as long as the harness.
  virtual Queue& queue() = 0;

  // Another Queue on the same store, consumer `consumer`: another worker
  // (has_consumer_groups), or with "c1" a restart of queue() (durable). nullptr when the
  // implementation has no such thing.
  virtual std::unique_ptr<Queue> OpenConsumer(const std::string& consumer) = 0;

  // Appends one entry holding `raw` as a producer does (`raw` need not be a valid event).
  virtual Status Publish(const std::string& raw) = 0;

  // The queue's clock: now (what due times are compared with), and letting `d` pass
  // (sleeping, or advancing a fake clock).
  virtual UnixMillis Now() = 0;
  virtual void Wait(Millis d) = 0;

  // Views of effects queue.h promises but the interface does not read back. nullopt when
  // the store keeps no such record.
  // The `status` of the event's status record ("running", "done", ...); "" when none.
  virtual std::optional<std::string> EventStatus(const std::string& /*event_id*/) {
    return std::nullopt;
  }
  // How many dead letters the queue holds.
  virtual std::optional<std::int64_t> DeadLetters() { return std::nullopt; }
  // How many attempts the metrics counted with `outcome` (done, retry, failed, duplicate).
  virtual std::optional<std::int64_t> Outcomes(const std::string& /*outcome*/) {
    return std::nullopt;
  }
  // Whether `consumer` is listed as a live worker (Heartbeat / Leave).
  virtual std::optional<bool> WorkerListed(const std::string& /*consumer*/) { return std::nullopt; }

  // has_consumer_groups: deletes the consumer group and what is pending in it, as an
  // operator might while workers run (EnsureGroup creates it again, from the start).
  virtual void DropGroup() {}
};

struct QueueImpl {
  std::string name;  // "redis", "stdio", ...: the section name
  QueueCaps caps;
  std::function<std::unique_ptr<QueueHarness>()> make;  // a fresh queue; throws on failure
};

// Every registered implementation, in registration order.
inline std::vector<QueueImpl>& QueueImpls() {
  static std::vector<QueueImpl> impls;
  return impls;
}

// Adds `impl`; returns true so that it can initialize a namespace-scope constant.
inline bool RegisterQueueImpl(QueueImpl impl) {
  QueueImpls().push_back(std::move(impl));
  return true;
}

// The registered implementations that have capability `cap` (all with nullptr).
inline std::vector<QueueImpl> QueueImplsWith(bool QueueCaps::*cap = nullptr) {
  std::vector<QueueImpl> out;
  for (const QueueImpl& impl : QueueImpls()) {
    if (cap == nullptr || impl.caps.*cap) out.push_back(impl);
  }
  return out;
}

}  // namespace evt::contract
