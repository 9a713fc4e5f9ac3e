// Helpers shared by the admin and inspector contract cases: opening them on a store
// harness through the one factory. Call them from the test's own thread.
#pragma once

#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "contract_support.h"
#include "evt/broker_factory.h"
#include "evt/dlq.h"
#include "evt/inspector.h"
#include "evt/queue_admin.h"
#include "store_impls.h"

namespace evt::contract {

// The admin of `queue` on the harness's store, as evt-dlq and evt-replay open it.
inline std::unique_ptr<QueueAdmin> AdminOf(StoreHarness& h, const std::string& queue = "q1") {
  AdminOptions o;
  o.ns = h.ns();
  o.queue = queue;
  o.client_name = "admin-contract";
  Result<std::unique_ptr<QueueAdmin>> a = OpenAdmin(*ParseBrokerUrl(h.url()), o);
  INFO(a.status().message());
  REQUIRE(a.ok());
  return std::move(*a);
}

// The inspector of the harness's store, as evt-status opens it.
inline std::unique_ptr<QueueInspector> InspectorOf(StoreHarness& h) {
  Result<std::unique_ptr<QueueInspector>> in = OpenInspector(*ParseBrokerUrl(h.url()), h.ns());
  INFO(in.status().message());
  REQUIRE(in.ok());
  return std::move(*in);
}

inline std::vector<std::string> EventIds(const std::vector<DeadLetterRecord>& rs) {
  std::vector<std::string> out;
  for (const auto& r : rs) out.push_back(r.event_id());
  return out;
}

}  // namespace evt::contract
