// The durable stores the admin and inspector contract suites run against, and the harness
// each provides (as queue_impls.h does for the Queue contract).
//
// The cases (admin_contract*_test.cc, inspector_contract*_test.cc) reach a store through
// the one factory (OpenAdmin, OpenInspector, OpenPublisher with url() and ns()) and through
// the StoreHarness below, which writes records as a worker or evt-emit would and reads back
// what the interfaces do not. A new store is one file in tests/contract/ that implements
// StoreHarness and registers a StoreImpl at static initialization. Every case runs once
// per registered store, in a DYNAMIC_SECTION named after it (`evt_contract_tests -c sqlite`).
//
// Harnesses are made and used on the test's own thread only; a case that uses threads
// opens its sessions and admins first and hands them over.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "evt/queue.h"
#include "evt/rfc3339.h"
#include "evt/status.h"

namespace evt::contract {

// A dead letter as the worker's attempt-ending call writes it (error "exit 75: down",
// attempts 6, consumer "h:1", stream id "1-1").
struct DeadSpec {
  std::string event_id;
  std::string type = "t.x";
  std::string failed_at = "2026-01-01T00:00:00.000Z";
  std::string category = "dependency";
  std::string reason = "retries_exhausted";
  std::string raw;  // the event text when it is not the usual event (e.g. "not json")
};

inline DeadSpec Dead(std::string event_id, std::string type = "t.x",
                     std::string failed_at = "2026-01-01T00:00:00.000Z",
                     std::string category = "dependency", std::string reason = "retries_exhausted",
                     std::string raw = "") {
  return {std::move(event_id), std::move(type),   std::move(failed_at),
          std::move(category), std::move(reason), std::move(raw)};
}

// What a move into a queue the harness broke (BreakQueue) returns.
struct BrokenQueue {
  Status::Kind kind;
  std::string says;  // a part of the message
};

// One fresh, empty store (a file, or a namespace on a server) holding queue "q1" and
// whatever else a case adds. Made per case section; destroyed at its end.
class StoreHarness {
 public:
  virtual ~StoreHarness() = default;

  // The --broker URL and the namespace of the queues.
  virtual std::string url() = 0;
  virtual std::string ns() = 0;
  // The URL of a store that is not there (a server not listening, a missing file).
  virtual std::string AbsentUrl() = 0;
  // After opening AbsentUrl(): whether something was created there (false: nothing).
  virtual bool AbsentCreated() { return false; }

  // A worker's session on queue q1 (group "workers"), consumer `consumer`.
  virtual std::unique_ptr<QueueSession> Session(const std::string& consumer) = 0;
  // Appends `raw` to the stream of `queue` as evt-emit does.
  virtual void Add(const std::string& raw, const std::string& queue = "q1") = 0;
  // Puts `raw` in q1's delayed set, due at `due`.
  virtual void AddDelayed(const std::string& raw, UnixMillis due) = 0;
  // Makes `queue` known (listed) without anything in it.
  virtual void RegisterQueue(const std::string& queue) = 0;
  // Adds a dead letter to q1; returns its dead-letter id.
  virtual std::string AddDead(const DeadSpec& dead) = 0;
  // Adds a dead letter to q1 that failed in 1970 (before any time window). REQUIRES: q1
  // holds no dead letter yet.
  virtual void AddAncientDead() = 0;
  // Lists `consumer` as a worker of q1 whose heartbeat expired long ago.
  virtual void AddExpiredWorker(const std::string& consumer) = 0;
  // An idempotency record of q1: `done`, or a running lease of "h:1"; `expires_ms` in the
  // past means one that expired.
  virtual void PutKey(const std::string& key, bool done, UnixMillis expires_ms) = 0;
  // Makes every write into `queue`'s stream fail; says how a move there fails.
  virtual BrokenQueue BreakQueue(const std::string& queue) = 0;

  // Read-backs.
  virtual std::int64_t DeadLetters() = 0;                           // in q1's DLQ
  virtual std::int64_t StreamLength(const std::string& queue) = 0;  // entries in its stream
  virtual bool QueueListed(const std::string& queue) = 0;           // among the known queues
  virtual std::int64_t StatusRecords() = 0;                         // of q1's events
  // q1's audit records, each as action, id, actor (user@host), filters, count, at.
  virtual std::vector<std::map<std::string, std::string>> Audits() = 0;
};

struct StoreImpl {
  std::string name;                                     // "redis", "sqlite": the section name
  std::function<std::unique_ptr<StoreHarness>()> make;  // a fresh store; throws on failure
};

inline std::vector<StoreImpl>& StoreImpls() {
  static std::vector<StoreImpl> impls;
  return impls;
}

// Adds `impl`; returns true so that it can initialize a namespace-scope constant.
inline bool RegisterStoreImpl(StoreImpl impl) {
  StoreImpls().push_back(std::move(impl));
  return true;
}

// Runs the block once per registered store, in a section named after it.
#define FOR_EACH_STORE(impl)                                                   \
  for (const ::evt::contract::StoreImpl& impl : ::evt::contract::StoreImpls()) \
  DYNAMIC_SECTION(impl.name)

}  // namespace evt::contract
