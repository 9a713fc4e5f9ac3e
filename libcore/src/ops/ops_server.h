// The HTTP endpoint of --listen: GET /healthz and GET /metrics, served on threads of its
// own (cpp-httplib) so that a slow scraper never slows the loop.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "evt/status.h"
#include "ops/health.h"
#include "ops/metrics_registry.h"

namespace evt {

struct ListenAddress {
  std::string host;  // "127.0.0.1", "::1", "localhost"; "0.0.0.0" for ":PORT"
  int port = 0;      // 0 = any free port
};

// Parses "HOST:PORT", "[V6]:PORT" or ":PORT" (every interface). Usage error naming the
// text otherwise (no port, a port out of 0-65535, an empty or bracketless IPv6 host).
Result<ListenAddress> ParseListenAddress(std::string_view text);

// The /healthz reply for `h`: 200 and {"status":"ok",...} when h.healthy(), else 503.
struct HealthReply {
  int code = 503;
  std::string body;  // one JSON object: status, loop, store, in_flight, last_alive_ms_ago
};
HealthReply MakeHealthReply(const HealthSnapshot& h);

class OpsServer {
 public:
  // Binds `address` and starts serving. Config error naming the address and the reason
  // when it cannot be bound (in use, not an address of this host). `health` and `metrics`
  // are not owned and outlive the server.
  static Result<std::unique_ptr<OpsServer>> Start(const ListenAddress& address,
                                                  const HealthTracker* health,
                                                  const MetricsRegistry* metrics);
  // Stops serving and joins the server's threads.
  ~OpsServer();
  OpsServer(const OpsServer&) = delete;
  OpsServer& operator=(const OpsServer&) = delete;

  int port() const { return port_; }

 private:
  struct Impl;
  explicit OpsServer(std::unique_ptr<Impl> impl, int port);
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace evt
