// GET /healthz and GET /metrics of --listen, against a real cpp-httplib client; the health
// comes from observer calls made by the test (no loop), the time from a fake clock.
#include "ops/ops_server.h"

#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <catch2/catch.hpp>
#include <string>

#include "evt/event.h"
#include "fake_clock.h"
#include "ops/health.h"
#include "ops/metrics_registry.h"

namespace evt {
namespace {

TEST_CASE("listen addresses: host:port, [v6]:port, :port") {
  Result<ListenAddress> a = ParseListenAddress("127.0.0.1:9464");
  REQUIRE(a.ok());
  CHECK(a->host == "127.0.0.1");
  CHECK(a->port == 9464);
  a = ParseListenAddress("[::1]:80");
  REQUIRE(a.ok());
  CHECK(a->host == "::1");
  CHECK(a->port == 80);
  a = ParseListenAddress(":9100");
  REQUIRE(a.ok());
  CHECK(a->host == "0.0.0.0");
  a = ParseListenAddress("localhost:0");
  REQUIRE(a.ok());
  CHECK(a->port == 0);
  for (const char* bad : {"", "9464", "127.0.0.1", "127.0.0.1:", "host:http", "host:65536",
                          "::1:80", "[::1:80", "[]:80", "host:-1", "host:1234567"}) {
    INFO(bad);
    Result<ListenAddress> r = ParseListenAddress(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().kind() == Status::Kind::kUsage);
    CHECK(r.status().message().find("--listen") != std::string::npos);
  }
}

TEST_CASE("/healthz says why it is unavailable") {
  HealthSnapshot h;
  HealthReply r = MakeHealthReply(h);
  CHECK(r.code == 503);
  Json j = Json::parse(r.body);
  CHECK(j["status"] == "unavailable");
  CHECK(j["loop"] == "starting");

  h.seen_alive = h.alive = h.store_ok = true;
  h.last.in_flight = 2;
  r = MakeHealthReply(h);
  CHECK(r.code == 200);
  j = Json::parse(r.body);
  CHECK(j["status"] == "ok");
  CHECK(j["loop"] == "alive");
  CHECK(j["store"] == "reachable");
  CHECK(j["in_flight"] == 2);

  h.store_ok = false;
  r = MakeHealthReply(h);
  CHECK(r.code == 503);
  CHECK(Json::parse(r.body)["store"] == "unreachable");
  h.store_ok = true;
  h.alive = false;
  r = MakeHealthReply(h);
  CHECK(r.code == 503);
  CHECK(Json::parse(r.body)["loop"] == "stuck");
}

TEST_CASE(
    "the server answers /healthz 503, then 200 while alive, 503 when stuck or the store is down") {
  testing::FakeClock clock;
  HealthTracker health(&clock, Millis(1000));
  MetricsRegistry metrics(&health);
  Result<std::unique_ptr<OpsServer>> server =
      OpsServer::Start(ListenAddress{"127.0.0.1", 0}, &health, &metrics);
  REQUIRE(server.ok());
  const int port = (*server)->port();
  REQUIRE(port > 0);
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(5);
  client.set_read_timeout(5);

  auto status = [&client] {
    httplib::Result r = client.Get("/healthz");
    return r ? r->status : -1;
  };
  CHECK(status() == 503);  // no OnAlive yet
  health.OnAlive(LoopHealth{});
  CHECK(status() == 200);
  clock.Advance(Millis(2500));
  CHECK(status() == 200);
  clock.Advance(Millis(1000));  // 3.5 s without OnAlive: stuck
  CHECK(status() == 503);
  LoopHealth down;
  down.store_ok = false;
  health.OnAlive(down);
  CHECK(status() == 503);
  health.OnAlive(LoopHealth{});
  httplib::Result r = client.Get("/healthz");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->get_header_value("Content-Type") == "application/json");

  metrics.OnAttemptEnded(AttemptEnd{}, Disposition::kDone, DeadReason::kPermanent);
  r = client.Get("/metrics");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->get_header_value("Content-Type").rfind("text/plain; version=0.0.4", 0) == 0);
  CHECK(r->body.find("evt_worker_events_total{event_type=\"-\",outcome=\"done\"} 1\n") !=
        std::string::npos);
  CHECK(r->body.find("evt_worker_store_reconnects_total 1\n") != std::string::npos);
  r = client.Get("/nothing");
  REQUIRE(r);
  CHECK(r->status == 404);
}

TEST_CASE("a port in use is a configuration error that names the address and the reason") {
  testing::FakeClock clock;
  HealthTracker health(&clock, Millis(1000));
  MetricsRegistry metrics(&health);
  Result<std::unique_ptr<OpsServer>> first =
      OpsServer::Start(ListenAddress{"127.0.0.1", 0}, &health, &metrics);
  REQUIRE(first.ok());
  const int port = (*first)->port();
  Result<std::unique_ptr<OpsServer>> second =
      OpsServer::Start(ListenAddress{"127.0.0.1", port}, &health, &metrics);
  REQUIRE_FALSE(second.ok());
  CHECK(second.status().kind() == Status::Kind::kConfig);
  CHECK(second.status().message() == "--listen 127.0.0.1:" + std::to_string(port) +
                                         ": cannot listen there: Address already in use");
}

TEST_CASE("a server stopped right after its start does not hang") {
  testing::FakeClock clock;
  HealthTracker health(&clock, Millis(1000));
  MetricsRegistry metrics(&health);
  for (int i = 0; i < 20; ++i) {
    Result<std::unique_ptr<OpsServer>> s =
        OpsServer::Start(ListenAddress{"127.0.0.1", 0}, &health, &metrics);
    REQUIRE(s.ok());
  }
}

}  // namespace
}  // namespace evt
