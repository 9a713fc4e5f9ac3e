// The queue gauges of /metrics and --metrics-file: fed by OnQueueDepth (the housekeeper's
// count, every heartbeat), absent until the first count, accepted by promtool.
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

#include "fake_clock.h"
#include "ops/health.h"
#include "ops/metrics_registry.h"
#include "temp_dir.h"

namespace evt {
namespace {

bool Has(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

QueueDepth Depth(const std::string& queue, std::int64_t undelivered, std::int64_t pending,
                 std::int64_t delayed) {
  QueueDepth d;
  d.queue = queue;
  d.group = "workers";
  d.undelivered = undelivered;
  d.pending = pending;
  d.delayed = delayed;
  return d;
}

TEST_CASE("the queue gauges show the depth as last counted", "[ops]") {
  testing::FakeClock clock;
  HealthTracker health(&clock, Millis(1000));
  MetricsRegistry m(&health, &clock);
  CHECK(m.Render().find("evt_queue_") == std::string::npos);  // nothing counted (stdio)

  m.OnQueueDepth(Depth("backups", 12, 3, 2));
  clock.Advance(Millis(5000));
  m.OnQueueDepth(Depth("backups", 7, 4, 1));  // the later count replaces the earlier
  const std::string t = m.Render();
  CHECK(Has(t, "# TYPE evt_queue_depth gauge"));
  CHECK(Has(t, "evt_queue_depth{queue=\"backups\",group=\"workers\"} 7"));
  CHECK(Has(t, "evt_queue_pending{queue=\"backups\",group=\"workers\"} 4"));
  CHECK(Has(t, "evt_queue_delayed{queue=\"backups\"} 1"));
  const std::string at =
      std::to_string((clock.WallNow()) / 1000) + (clock.WallNow() % 1000 == 0 ? "" : ".");
  CHECK(t.find("evt_queue_depth_timestamp_seconds{queue=\"backups\",group=\"workers\"} " + at) !=
        std::string::npos);
  CHECK(t.find("evt_queue_depth{queue=\"backups\",group=\"workers\"} 12") == std::string::npos);

  m.OnQueueDepth(Depth("backups", -1, 4, 1));  // the store could not count the backlog
  const std::string unknown = m.Render();
  CHECK(unknown.find("evt_queue_depth{") == std::string::npos);
  CHECK(Has(unknown, "evt_queue_pending{queue=\"backups\",group=\"workers\"} 4"));
}

TEST_CASE("promtool check metrics accepts the queue gauges", "[ops]") {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) {
    WARN("promtool not found (Debian package prometheus): the format check is skipped");
    return;
  }
  testing::FakeClock clock;
  HealthTracker health(&clock, Millis(1000));
  MetricsRegistry m(&health, &clock);
  m.OnQueueDepth(Depth("backups", 12, 3, 2));
  m.OnQueueDepth(Depth("a\"b", -1, 0, 0));
  health.OnAlive(LoopHealth{});
  testing::TempDir dir;
  testing::WriteFile(dir / "metrics.prom", m.Render());
  const std::string cmd =
      "promtool check metrics < " + (dir / "metrics.prom") + " > " + (dir / "out") + " 2>&1";
  const int rc = std::system(cmd.c_str());
  INFO(testing::ReadFile(dir / "out"));
  INFO(m.Render());
  CHECK(WIFEXITED(rc));
  CHECK(WEXITSTATUS(rc) == 0);
  CHECK(testing::ReadFile(dir / "out").empty());
}

}  // namespace
}  // namespace evt
